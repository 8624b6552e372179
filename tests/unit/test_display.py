"""Properties of the display-safe function (console.core.display) over any text: what comes out holds
nothing a terminal acts on (no C0 but a kept line break, no ESC, DEL, C1, bidi, zero-width or lone
surrogate), `safe` is idempotent, the safe characters stay in order, and joiners are stand-ins only in
identifiers. `safe_text` shows exactly what `safe` says, its stand-ins in reverse video."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text

from console.core.display import STAND_IN_STYLE, safe, safe_text

C0 = {chr(c) for c in range(0x20)}
NEVER = (
    {"\x1b", "\x7f"}
    | {chr(c) for c in range(0x80, 0xA0)}
    | set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    | set("\u200b\u2060\ufeff\u2028\u2029")
)
JOINERS = {"\u200c", "\u200d"}
# the characters that matter, often; any character (lone surrogates too) now and then
HOSTILE = sorted(C0 | NEVER | JOINERS | {"\ud800", "[", "]", "/", "\\", "⟨", "⟩", "^", "\r\n", "é", "👩"})
chars = st.one_of(st.sampled_from(HOSTILE), st.characters(exclude_categories=()))
texts = st.lists(chars, max_size=40).map("".join)
modes = st.fixed_dictionaries({"identifier": st.booleans(), "multiline": st.booleans()})


def is_surrogate(char: str) -> bool:
    return 0xD800 <= ord(char) < 0xE000


def allowed_c0(identifier: bool, multiline: bool) -> set[str]:
    return {"\n"} if multiline and not identifier else set()


def kept(char: str, identifier: bool, multiline: bool) -> bool:
    """The character is shown as itself in this mode."""
    if char in C0:
        return char in allowed_c0(identifier, multiline)
    if char in JOINERS:
        return not identifier
    return char not in NEVER and not is_surrogate(char)


def is_subsequence(part: list[str], whole: str) -> bool:
    rest = iter(whole)
    return all(char in rest for char in part)


def check_shown(shown: str, original: str, identifier: bool, multiline: bool) -> None:
    extra = allowed_c0(identifier, multiline)
    assert not [char for char in shown if char in C0 and char not in extra], repr(shown)
    assert not [char for char in shown if char in NEVER or is_surrogate(char)], repr(shown)
    if identifier:
        assert not JOINERS & set(shown), repr(shown)
    source = original.replace("\r\n", "\n") if multiline else original
    assert is_subsequence([char for char in source if kept(char, identifier, multiline)], shown)
    if all(kept(char, identifier, multiline) for char in source):
        assert shown == source  # nothing to stand in: the text itself


@settings(max_examples=400, deadline=None)
@given(texts, modes)
def test_safe_output_holds_nothing_a_terminal_acts_on_and_keeps_the_safe_characters_in_order(text, mode):
    shown = safe(text, **mode)
    check_shown(shown, text, **mode)
    assert safe(shown, **mode) == shown  # idempotent


@settings(max_examples=200, deadline=None)
@given(texts, modes, st.sampled_from(["", "bold", "red on black"]))
def test_safe_text_shows_what_safe_says_and_marks_the_stand_ins(text, mode, style):
    for value in (text, Text(text, style=style)):  # (rich's Text() itself drops BEL, BS, VT, FF and CR)
        original = value.plain if isinstance(value, Text) else value
        shown = safe_text(value, **mode)
        assert isinstance(shown, Text) and shown.plain == safe(original, **mode)
        check_shown(shown.plain, original, **mode)
        assert safe_text(shown, **mode).plain == shown.plain
        for span in shown.spans:
            assert 0 <= span.start <= span.end <= len(shown.plain)
    stand_ins = [char for char in text.replace("\r\n", "\n") if not kept(char, **mode) and char != "\t"]
    if stand_ins:
        assert any(span.style == STAND_IN_STYLE for span in safe_text(text, **mode).spans)


@settings(max_examples=100, deadline=None)
@given(texts, texts)
def test_joiners_are_stand_ins_in_identifiers_and_kept_in_prose(before, after):
    text = before + "\u200d" + after
    assert "⟨U+200D⟩" in safe(text, identifier=True) and "\u200d" not in safe(text, identifier=True)
    assert "\u200d" in safe(text) and "\u200d" in safe(text, multiline=True)
    assert "\u200d" in safe_text(text).plain and "⟨U+200D⟩" in safe_text(text, identifier=True).plain


def test_the_stand_ins_of_the_issue():
    assert safe("\x1b]52;c;UFdO\x07") == "⟨U+001B⟩]52;c;UFdO^G"
    assert safe("a\nb") == "a^Jb" and safe("a\r\nb", multiline=True) == "a\nb"
    assert safe("[bold]x[/") == "[bold]x[/"  # never markup: the brackets are text
    assert safe("\u202eevil") == "⟨U+202E⟩evil"
