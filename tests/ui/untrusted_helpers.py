"""Shared by the tests of untrusted text on screen: what the terminal is shown, and the toasts."""

from __future__ import annotations

import io

from rich.console import Console


def screen_text(app) -> str:
    """What the terminal is shown: the screen composed as App.export_screenshot does, as text (the
    cursor moves left out, every character of every cell kept)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False)


INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def assert_nothing_raw(text: str) -> None:
    """No control character (line breaks aside), no bidi or zero-width character on screen."""
    raw = {char for char in text if (ord(char) < 0x20 and char != "\n") or 0x7F <= ord(char) < 0xA0 or char in INVISIBLE}
    assert not raw, f"{sorted(raw)!r} reached the screen"


def toasts(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]
