"""Puppet disabled, when and by whom (issue 26, item 8): who from the message (`- user@host`, as the
console's own reasons say it), since when from the last report, and the leftovers board's cell that
puts how long ago before the message. No Textual, no sockets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from console.core.hosts import HostIdentity
from console.core.model import PuppetNodeStatus
from console.derive.detail import Loaded, PuppetRun, disabled_by, puppet_text, report_time
from console.derive.leftovers import PUPPET_DISABLED, Leftover, since_and_what

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)


def identity(last: datetime) -> HostIdentity:
    node = PuppetNodeStatus("mw153.fsslc.wtnet", "unchanged", last)
    return HostIdentity("mw153", fqdn=node.certname, puppet=node, puppet_source="puppetdb", stale_after=1800)


def test_who_is_the_user_at_host_the_consoles_reasons_end_with():
    assert disabled_by("kernel upgrade - alice@bast161") == "alice@bast161"
    assert disabled_by("kernel upgrade - alice@bast161 - T123") == "alice@bast161"
    assert disabled_by("step 1 - then 2 - bob@bast181 - T9") == "bob@bast181"  # the reason may hold " - " itself
    assert disabled_by("mail alice@example.org when done") is None  # an address in the text names no one
    assert disabled_by("testing new nginx config --alice") is None
    assert disabled_by("") is None


def test_since_is_the_last_run_and_who_follows_the_message():
    last = NOW - timedelta(hours=2, minutes=5)
    run = PuppetRun({"hash": "h", "producer_timestamp": last, "end_time": last}, (), "kernel upgrade - alice@bast161 - T1")
    lines = puppet_text(identity(last), Loaded(run), NOW, configured=True).plain.splitlines()
    assert lines[1:3] == ["⏸ agent disabled: kernel upgrade - alice@bast161 - T1",
                          "  since its last run, 2h ago (09:55 UTC) · by alice@bast161"]


def test_a_message_naming_no_one_says_only_since_and_a_report_without_times_nothing_more():
    last = NOW - timedelta(minutes=40)
    run = PuppetRun({"hash": "h", "receive_time": last}, (), "testing --alice")
    lines = puppet_text(identity(last), Loaded(run), NOW, configured=True).plain.splitlines()
    assert lines[1:3] == ["⏸ agent disabled: testing --alice", "  since its last run, 40m ago (11:20 UTC)"]
    bare = PuppetRun({"hash": "h"}, (), True)
    assert puppet_text(identity(last), Loaded(bare), NOW, True).plain.splitlines()[1:] == [
        "⏸ agent disabled: no message given", "no resource events in the last run"]
    assert report_time(None) is None and report_time({"start_time": last}) == last


def test_the_board_cell_leads_with_how_long_ago():
    row = Leftover(PUPPET_DISABLED, "mw153", "agent disabled: php upgrade - alice@bast161", NOW - timedelta(hours=6, minutes=3),
                   "enable Puppet")
    assert since_and_what(NOW, row) == "6h03m ago · agent disabled: php upgrade - alice@bast161"
    unknown = Leftover(PUPPET_DISABLED, "mw153", "agent disabled (no message); no report known", None, "enable Puppet")
    assert since_and_what(NOW, unknown) == "agent disabled (no message); no report known"
