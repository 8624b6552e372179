"""What `c` and `y` in the host detail may put on the clipboard (OSC 52): a plain host name, a
well-formed http(s) link; anything else is refused with the reason."""

from __future__ import annotations

import pytest

from console.core.hosts import name_copy_problem, url_copy_problem


@pytest.mark.parametrize("name", ["mw152", "mw152.fsslc.wtnet", "db_1", "cloud15"])
def test_plain_host_names_may_be_copied(name):
    assert name_copy_problem(name) is None


@pytest.mark.parametrize(("name", "why"), [
    ("mw1\x1b]52;c;UFdO\x07", "the name holds a control character (U+001B ESC)"),
    ("mw\u202e1", "the name holds an invisible or bidi character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    ("mw\u200d1", "the name holds an invisible or bidi character (U+200D ZERO WIDTH JOINER)"),
    ("mw 1", "the name holds whitespace (U+0020 SPACE)"),
    ("mw1\n", "the name holds a control character (U+000A LINE FEED)"),
    ("mw[/]1", "the name is not a plain host name (letters, digits, _ . - only)"),
    ("mwé1", "the name is not a plain host name (letters, digits, _ . - only)"),
    ("-rf", "the name is not a plain host name (letters, digits, _ . - only)"),
])
def test_other_names_are_refused_saying_why(name, why):
    assert name_copy_problem(name) == why


@pytest.mark.parametrize("url", [
    "https://logging.wikitide.net/search?q=source%3Amw152&rangetype=relative&relative=3600",
    "https://cloud15.fsslc.wtnet:8006/#v1:0:=qemu%2F1502:4:::::::",
    "http://grafana.wikitide.net/d/x?var-instance=mw152.fsslc.wtnet:9100",
    "https://example.org/%E2%80%AE",  # a bidi character, percent-encoded: text, not a control
])
def test_well_formed_http_links_may_be_copied(url):
    assert url_copy_problem(url) is None


@pytest.mark.parametrize(("url", "why"), [
    ("https://x.org/\x1b]52;c;UFdO\x07", "the link holds a control character (U+001B ESC)"),
    ("https://x.org/a\u202egnp.exe", "the link holds an invisible or bidi character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    ("https://x.org/a b", "the link holds whitespace (U+0020 SPACE)"),
    ("https://x.org/\u00a0", "the link holds whitespace (U+00A0 NO-BREAK SPACE)"),
    ("https://x.org/é", "the link holds a character that is not percent-encoded (U+00E9 LATIN SMALL LETTER E WITH ACUTE)"),
    ("https://x.org/%zz", "the link holds a % that is not a percent-encoding (%XX)"),
    ("javascript:alert(1)", "the link is not an http(s) URL"),
    ("file:///etc/passwd", "the link is not an http(s) URL"),
    ("https:///path", "the link names no host"),
    ("http://[::1/", "the link is not a valid URL (Invalid IPv6 URL)"),
    ("https://x.org:99999/", "the link is not a valid URL (Port out of range 0-65535)"),
])
def test_other_links_are_refused_saying_why(url, why):
    assert url_copy_problem(url) == why
