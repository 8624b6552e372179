"""One display-safe function for every string that came from outside: a backend, a file or the operator.

Values stay exact in the model, the store, `--json` and every request the engine sends; only what is
shown (the TUI, the CLI's tables and progress, the clipboard, SAL, the audit's titles, the Markdown
report) passes through here. What comes out is plain text — never markup, never a control byte a
terminal would act on:

- C0 controls as caret notation, `^[`-style (`^G` for BEL, `^M` for CR); tab as a space; a line
  break stays one only where a whole message is shown (`multiline=True`), else `^J`;
- ESC, DEL, the C1 controls, the bidi controls (U+202A–202E, U+2066–2069), the invisible U+200B,
  U+2060, U+FEFF, the line and paragraph separators and lone surrogates as `⟨U+202E⟩`;
- U+200C and U+200D (joiners that Persian, Indic scripts and emoji need) are kept in prose and shown as
  placeholders only in identifiers (host, service, check, certname, URL, lock key, anything an
  operator confirms by name): there they would hide a difference between two names.

In the TUI the stand-ins are in reverse video (`safe_text`), so `^[` is never mistaken for data.
"""

from __future__ import annotations

import re
import unicodedata

from rich.style import Style
from rich.text import Span, Text

_C0 = "".join(chr(c) for c in range(0x20))
_PLACEHOLDER_CHARS = (
    "\x1b\x7f"  # ESC, DEL
    + "".join(chr(c) for c in range(0x80, 0xA0))  # C1
    + "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi embeddings, overrides, isolates
    + "\u200b\u2060\ufeff"  # zero-width space, word joiner, byte-order mark
    + "\u2028\u2029"  # line and paragraph separators
    + "".join(chr(c) for c in range(0xD800, 0xE000))  # lone surrogates (from surrogateescape'd bytes)
)
_JOINERS = "\u200c\u200d"

# one character class per mode: everything that is not shown as itself
_PROSE = re.compile("[" + re.escape(_C0 + _PLACEHOLDER_CHARS) + "]")
_IDENTIFIER = re.compile("[" + re.escape(_C0 + _PLACEHOLDER_CHARS + _JOINERS) + "]")
_PROSE_LINES = re.compile("[" + re.escape(_C0.replace("\n", "") + _PLACEHOLDER_CHARS) + "]")

STAND_IN_STYLE = Style(reverse=True)

# What the operator types into a reason or a comment may hold none of these (they would reach SAL's IRC
# channel, the audit and Icinga as formatting or as terminal commands).
_TYPED_FORBIDDEN = re.compile("[" + re.escape(_C0 + _PLACEHOLDER_CHARS) + "]")


def stand_in(char: str) -> str:
    """How one unsafe character is shown: `^X` for C0 controls (ESC excepted), `⟨U+001B⟩`-style (the code point in hex) otherwise."""
    code = ord(char)
    if char == "\t":
        return " "
    if code < 0x20 and char != "\x1b":
        return "^" + chr(code + 0x40)
    return f"⟨U+{code:04X}⟩"


def _pattern(identifier: bool, multiline: bool) -> re.Pattern[str]:
    if identifier:
        return _IDENTIFIER
    return _PROSE_LINES if multiline else _PROSE


def safe(value: object, *, identifier: bool = False, multiline: bool = False) -> str:
    """`value` as text a terminal shows and acts on not at all: see the module's docstring."""
    text = value if isinstance(value, str) else str(value)
    if multiline:
        text = text.replace("\r\n", "\n")
    pattern = _pattern(identifier, multiline)
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda match: stand_in(match.group()), text)


def safe_text(value: str | Text, *, identifier: bool = False, multiline: bool = False, style: str | Style = "") -> Text:
    """`safe` for the TUI: a rich Text (never markup), its stand-ins in reverse video. A Text keeps its
    styles; only its unsafe characters are replaced. (Build Texts of outside data from the string with
    this: rich's own Text() drops BEL, BS, VT, FF and CR without a trace.)"""
    pattern = _pattern(identifier, multiline)
    if isinstance(value, str):
        raw = value.replace("\r\n", "\n") if multiline else value
        out = Text(style=style)
        at = 0
        for match in pattern.finditer(raw):
            out.append(raw[at:match.start()])
            char = match.group()
            out.append(stand_in(char), style=None if char == "\t" else STAND_IN_STYLE)
            at = match.end()
        out.append(raw[at:])
        return out
    text = _replace_crlf(value) if multiline and "\r\n" in value.plain else value
    plain = text.plain
    matches = list(pattern.finditer(plain))
    if not matches:
        return text  # unchanged: the caller's own Text
    cuts = sorted({offset for match in matches for offset in (match.start(), match.end())})
    pieces = text.divide(cuts)
    starts = [0, *cuts]
    out = Text(style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end)
    unsafe = {match.start() for match in matches}
    for start, piece in zip(starts, pieces, strict=True):
        if start in unsafe and piece.plain:
            out.append_text(_stand_in_text(piece))
        else:
            out.append_text(piece)
    return out


def _stand_in_text(piece: Text) -> Text:
    """One unsafe character's stand-in, with the character's styles, in reverse video (a tab: a space)."""
    shown = stand_in(piece.plain)
    stand = Text(shown, style=piece.style)
    stand.spans.extend(Span(0, len(shown), span.style) for span in piece.spans)
    if piece.plain != "\t":
        stand.stylize(STAND_IN_STYLE)
    return stand


def _replace_crlf(text: Text) -> Text:
    return Text("\n").join(text.split("\r\n", allow_blank=True))


def control_characters(text: str) -> list[str]:
    """The control and invisible formatting characters in typed text, named (`U+001B ESC`), in order."""
    return [f"U+{ord(char):04X} {_name(char)}" for char in dict.fromkeys(_TYPED_FORBIDDEN.findall(text))]


def _name(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return {0x1B: "ESC", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN", 0x07: "BEL",
                0x02: "IRC bold", 0x03: "IRC colour", 0x0F: "IRC reset", 0x16: "IRC reverse", 0x1D: "IRC italic",
                0x1F: "IRC underline"}.get(code, f"control ^{chr(code + 0x40)}")
    if 0xD800 <= code < 0xE000:
        return "lone surrogate"
    return unicodedata.name(char, "DEL" if code == 0x7F else "control")


def refuse_controls(text: str, what: str) -> None:
    """Raise ValueError naming the first control characters in `text` (a typed reason or comment)."""
    if any(0xD800 <= ord(char) < 0xE000 for char in text):
        raise ValueError(f"{what} is not valid UTF-8 (the terminal sent bytes that are not text)")
    found = control_characters(text)
    if found:
        raise ValueError(f"{what} contains control characters ({', '.join(found[:3])}); type it without them")


# What would make data format, link or break a Markdown line: emphasis, code, links and images, raw HTML
# and entities, strikethrough, maths, a table cell's end, a heading's closing #. `-`, `.`, `!`, `+`, `(`,
# `)` format only at a line's start or after `]`: data is never at a line's start, and `[`/`]` are escaped,
# so "PHP-FPM" and "HTTP/1.1 502" read as they are.
_MARKDOWN_INLINE = re.compile(r"([\\`*_{}\[\]<>|~#&$])")


def markdown(value: object) -> str:
    """`safe` text for inside a Markdown line (a table cell, a list item): one line, its Markdown escaped,
    so data never formats, links or ends the cell."""
    return _MARKDOWN_INLINE.sub(r"\\\1", safe(str(value).replace("\r\n", " ").replace("\n", " ")))
