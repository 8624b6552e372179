"""PuppetDB v4: the latest Puppet run of every active node, in one query."""

from __future__ import annotations

from typing import Any

from console.core.clock import Clock, utc_now
from console.core.config import PuppetDBConfig
from console.core.model import PuppetInventory, PuppetNodeStatus
from console.sources.base import MalformedAnswer
from console.sources.httpclient import Body, HttpSource, answer_items
from console.sources.parsing import as_dict, as_list, first_line, flag, iso_time, opt_str, req_str

# Active nodes. Not ["=", ["node", "active"], true]: equivalent on a real PuppetDB, but the simulated
# one (and any proxy that validates field names) refuses the ["node", ...] form.
ACTIVE_NODES = ["null?", "deactivated", True]
NODES = "/pdb/query/v4/nodes"
REPORTS = "/pdb/query/v4/reports"
EVENTS = "/pdb/query/v4/events"
FACTS = "/pdb/query/v4/facts"


class PuppetDBSource(HttpSource[PuppetInventory]):
    """Puppet run status per node (changed / unchanged / failed, noop, when)."""

    kind = "puppetdb"
    auth_hint = "PuppetDB refused the request; check its certificate allowlist or the proxy in front"

    def __init__(self, config: PuppetDBConfig, clock: Clock = utc_now) -> None:
        super().__init__(config, clock)

    async def _fetch(self) -> PuppetInventory:
        # ~3 MB at 5,000 nodes: decoded item by item (ijson) in the parser thread, off the UI's loop
        return await self._parsed("POST", NODES, parse_nodes_answer, json={"query": ACTIVE_NODES})

    async def reports(self, certname: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest `limit` reports of one node, newest first (see `parse_reports`). Raises SourceError."""
        body = {
            "query": ["=", "certname", certname],
            "order_by": [{"field": "receive_time", "order": "desc"}],
            "limit": int(limit),
        }
        return parse_reports(await self._guard(self._json("POST", REPORTS, json=body)))[:limit]

    async def events(self, report_hash: str) -> list[dict[str, Any]]:
        """The resource events of one report (see `parse_events`). Raises SourceError."""
        body = {"query": ["=", "report", report_hash]}
        return parse_events(await self._guard(self._json("POST", EVENTS, json=body)))

    async def fact(self, certname: str, name: str) -> Any:
        """The value of one fact of one node, or None when the node does not have it. Raises SourceError."""
        body = {"query": ["and", ["=", "certname", certname], ["=", "name", name]]}
        return parse_fact(await self._guard(self._json("POST", FACTS, json=body)))

    async def fact_everywhere(self, name: str) -> dict[str, Any]:
        """{certname: value} of one fact on every node that has it, in ONE query. Raises SourceError."""
        return parse_fact_values(await self._guard(self._json("POST", FACTS, json={"query": ["=", "name", name]})))


# --- parsers (pure) ----------------------------------------------------------------------------


def records(payload: Any, where: str) -> list[Any]:
    """The list of records of a query answer; PuppetDB's `{"error": "..."}` in a 200 answer (instead of
    the records) becomes a MalformedAnswer (a SourceError) quoting it: a parser raises nothing else."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        raise MalformedAnswer(f"PuppetDB: {first_line(payload['error'], 160)}")
    return as_list(payload, where)


def parse_nodes(payload: Any) -> PuppetInventory:
    """`/pdb/query/v4/nodes` records → PuppetInventory (sorted by certname)."""
    nodes = [parse_node(item, f"nodes[{i}]") for i, item in enumerate(records(payload, "nodes"))]
    return PuppetInventory(nodes=tuple(sorted(nodes, key=lambda n: n.certname)))


def parse_nodes_answer(content: Body) -> PuppetInventory:
    """The body of a `/pdb/query/v4/nodes` answer → PuppetInventory, decoded one record at a time;
    the same result and MalformedAnswer messages as parse_nodes (see answer_items)."""
    items = answer_items(content, lambda payload: records(payload, "nodes"))
    nodes = [parse_node(item, f"nodes[{i}]") for i, item in enumerate(items)]
    return PuppetInventory(nodes=tuple(sorted(nodes, key=lambda n: n.certname)))


def parse_node(item: Any, at: str) -> PuppetNodeStatus:
    """One node record. `deactivated`/`expired` are timestamps or null: set means true."""
    record = as_dict(item, at)
    return PuppetNodeStatus(
        certname=req_str(record, "certname", at),
        latest_report_status=opt_str(record.get("latest_report_status"), f"{at}.latest_report_status"),
        report_timestamp=iso_time(record.get("report_timestamp"), f"{at}.report_timestamp"),
        noop=flag(record.get("latest_report_noop"), f"{at}.latest_report_noop"),
        deactivated=_is_set(record.get("deactivated"), f"{at}.deactivated"),
        expired=_is_set(record.get("expired"), f"{at}.expired"),
        cached_catalog_status=opt_str(record.get("cached_catalog_status"), f"{at}.cached_catalog_status"),
    )


def _is_set(value: Any, where: str) -> bool:
    if isinstance(value, bool):  # tolerated: some proxies/simulators send a flag
        return value
    return iso_time(value, where) is not None


def parse_fact(payload: Any) -> Any:
    """`/pdb/query/v4/facts` records of one fact of one node → its value (None when there is none)."""
    found = records(payload, "facts")
    return as_dict(found[0], "facts[0]").get("value") if found else None


def parse_fact_values(payload: Any) -> dict[str, Any]:
    """`/pdb/query/v4/facts` records of one fact on many nodes → {certname: value}."""
    found = {}
    for index, item in enumerate(records(payload, "facts")):
        record = as_dict(item, f"facts[{index}]")
        found[req_str(record, "certname", f"facts[{index}]")] = record.get("value")
    return found


REPORT_TIMES = ("start_time", "end_time", "producer_timestamp", "receive_time")
REPORT_TEXTS = ("status", "environment", "configuration_version", "puppet_version", "cached_catalog_status")


def parse_reports(payload: Any) -> list[dict[str, Any]]:
    """`/pdb/query/v4/reports` → dicts with hash, certname, status, noop, noop_pending,
    corrective_change, environment, configuration_version, puppet_version, cached_catalog_status and
    the times start_time, end_time, producer_timestamp, receive_time (aware UTC or None); newest first."""
    found = []
    for index, item in enumerate(records(payload, "reports")):
        at = f"reports[{index}]"
        record = as_dict(item, at)
        report: dict[str, Any] = {"hash": req_str(record, "hash", at), "certname": req_str(record, "certname", at)}
        report.update({key: opt_str(record.get(key), f"{at}.{key}") for key in REPORT_TEXTS})
        report.update({key: iso_time(record.get(key), f"{at}.{key}") for key in REPORT_TIMES})
        for key in ("noop", "noop_pending", "corrective_change"):
            report[key] = flag(record.get(key), f"{at}.{key}")
        found.append(report)
    return sorted(found, key=_report_time, reverse=True)


def _report_time(report: dict[str, Any]) -> Any:
    moment = report["end_time"] or report["receive_time"] or report["start_time"]
    return (moment is not None, moment)


EVENT_TEXTS = ("status", "resource_type", "resource_title", "property", "message", "containing_class", "file")


def parse_events(payload: Any) -> list[dict[str, Any]]:
    """`/pdb/query/v4/events` → dicts with certname, report, status (success|failure|noop|skipped),
    timestamp, resource_type, resource_title, property, message, containing_class, file, line,
    old_value, new_value (as sent); failures first, then by time."""
    found = []
    for index, item in enumerate(records(payload, "events")):
        at = f"events[{index}]"
        record = as_dict(item, at)
        event: dict[str, Any] = {
            "certname": opt_str(record.get("certname"), f"{at}.certname"),
            "report": opt_str(record.get("report"), f"{at}.report"),
            "timestamp": iso_time(record.get("timestamp"), f"{at}.timestamp"),
            "line": record.get("line") if isinstance(record.get("line"), int) else None,
            "old_value": record.get("old_value"),
            "new_value": record.get("new_value"),
        }
        event.update({key: opt_str(record.get(key), f"{at}.{key}") for key in EVENT_TEXTS})
        found.append(event)
    return sorted(found, key=lambda e: (e["status"] != "failure", e["timestamp"] is None, e["timestamp"] or 0))
