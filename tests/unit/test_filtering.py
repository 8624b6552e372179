"""The triage grammar's pure parts: filter (/ ~ !), sort (S), marks (space), the : commands,
ui.keys and the theme files."""

from __future__ import annotations

import pytest
from rich.text import Text

from console.core.config import ConfigError, parse_config
from console.core.rows import Column, Row
from console.derive.filtering import (
    MARK,
    SortOrder,
    TableState,
    apply,
    filter_rows,
    highlight,
    index_rows,
    mark_rows,
    parse_filter,
    select,
    sort_rows,
)
from console.derive.jump import Jump, completions, parse_jump

ROWS = (
    Row("guest:mw151", ("mw151", Text("✔ running", style="green"), "3m")),
    Row("guest:mw152", ("mw152", Text("✖ CRITICAL", style="bold red"), "2h")),
    Row("guest:db161", ("db161", "✔ running", "40s")),
    Row("node:cloud15", ("cloud15", "online", "—")),
)
COLUMNS = (Column("host", "host"), Column("state", "state"), Column("age", "age"))


def keys(rows) -> list[str]:
    return [row.key for row in rows]


def test_a_filter_is_a_case_insensitive_substring_of_any_cell():
    assert keys(filter_rows(ROWS, parse_filter("MW15"))) == ["guest:mw151", "guest:mw152"]
    assert keys(filter_rows(ROWS, parse_filter("critical"))) == ["guest:mw152"]


def test_a_substring_filter_takes_regex_characters_literally():
    assert keys(filter_rows(ROWS, parse_filter("mw15."))) == []


def test_a_leading_tilde_makes_a_regex_and_a_bang_inverts():
    assert keys(filter_rows(ROWS, parse_filter("~^mw15[2-9]$"))) == ["guest:mw152"]
    assert keys(filter_rows(ROWS, parse_filter("!mw"))) == ["guest:db161", "node:cloud15"]
    assert keys(filter_rows(ROWS, parse_filter("!~^(mw|db)"))) == ["node:cloud15"]


def test_a_broken_regex_filters_nothing_and_says_why():
    row_filter = parse_filter("~mw[")
    assert row_filter.error and "regular expression" in row_filter.error
    assert keys(filter_rows(ROWS, row_filter)) == keys(ROWS)


@pytest.mark.parametrize("text", ["", "!", "~", "!~"])
def test_an_empty_filter_keeps_every_row(text):
    assert not parse_filter(text).active
    assert filter_rows(ROWS, parse_filter(text)) == ROWS


def test_matches_are_highlighted_with_the_cells_styles_kept():
    selection = select(ROWS, index_rows(ROWS), TableState(row_filter=parse_filter("crit")))
    assert [row.key for row in selection.rows] == ["guest:mw152"]
    state = highlight(selection.rows[0].cells[1], selection.highlight)
    assert isinstance(state, Text) and state.plain == "✖ CRITICAL" and state.style == "bold red"
    assert any(span.start == 2 and span.end == 6 and "reverse" in str(span.style) for span in state.spans)
    name = highlight("mw152", parse_filter("mw152").pattern)
    assert isinstance(name, Text) and name.spans
    assert select(ROWS, index_rows(ROWS), TableState(row_filter=parse_filter("!crit"))).highlight is None


def test_a_substring_filter_never_matches_across_two_cells_and_a_regex_sees_each_cell():
    rows = (Row("a", ("mw1", "51")), Row("b", ("mw151", "x")))
    index = index_rows(rows)
    assert [r.key for r in select(rows, index, TableState(row_filter=parse_filter("mw151"))).rows] == ["b"]
    assert [r.key for r in select(rows, index, TableState(row_filter=parse_filter("~^51$"))).rows] == ["a"]
    assert [r.key for r in select(rows, index, TableState(row_filter=parse_filter("~1\\s5"))).rows] == []


def test_select_leaves_out_hidden_keys_and_gives_each_row_its_widths():
    state = TableState(order=SortOrder(0), marked=frozenset({"guest:mw151"}))
    selection = select(ROWS, index_rows(ROWS), state, hidden={"node:cloud15"})
    assert keys(selection.rows) == ["guest:db161", "guest:mw151", "guest:mw152"]
    assert selection.widths[0] == (5, 9, 3)
    assert selection.widths[1][0] == len(f"{MARK} mw151")  # the mark widens its cell


def test_sort_cycles_every_column_both_ways_then_back_to_the_view_order():
    order, seen = SortOrder(), []
    for _ in range(7):
        order = order.next(3)
        seen.append((order.index, order.descending))
    assert seen == [(0, False), (0, True), (1, False), (1, True), (2, False), (2, True), (None, False)]


def test_sorting_is_natural_ages_by_duration_and_empty_last():
    assert keys(sort_rows(ROWS, SortOrder(0))) == ["node:cloud15", "guest:db161", "guest:mw151", "guest:mw152"]
    assert keys(sort_rows(ROWS, SortOrder(2))) == ["guest:db161", "guest:mw151", "guest:mw152", "node:cloud15"]
    assert keys(sort_rows(ROWS, SortOrder(2, True))) == ["guest:mw152", "guest:mw151", "guest:db161", "node:cloud15"]


def test_the_sorted_column_shows_its_arrow():
    columns, _ = apply(COLUMNS, ROWS, TableState(order=SortOrder(1, True)))
    assert [c.label for c in columns] == ["host", "state ▼", "age"]
    columns, _ = apply(COLUMNS, ROWS, TableState(order=SortOrder(0)))
    assert columns[0].label == "host ▲"


def test_a_marked_row_carries_a_symbol_not_only_a_colour():
    marked = mark_rows(ROWS, {"guest:mw152", "gone:key"})
    assert marked[1].cells[0] == f"{MARK} mw152"
    assert marked[0].cells[0] == "mw151"


def test_apply_filters_then_sorts_then_marks():
    state = TableState(row_filter=parse_filter("mw"), order=SortOrder(0, True), marked=frozenset({"guest:mw151"}))
    _, rows = apply(COLUMNS, ROWS, state)
    assert keys(rows) == ["guest:mw152", "guest:mw151"]
    assert str(rows[1].cells[0]).startswith(MARK) or rows[1].cells[0].plain.startswith(MARK)


# --- the : commands --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "jump"),
    [
        ("hosts", Jump("pane", 1)),
        ("alerts", Jump("pane", 2)),
        (" services ", Jump("pane", 3)),
        ("commits", Jump("pane", 4)),
        (":a", Jump("pane", 2)),
        ("host mw151", Jump("host", "mw151")),
        ("theme light", Jump("theme", "light")),
        ("q", Jump("quit")),
        ("quit", Jump("quit")),
    ],
)
def test_jump_commands(text, jump):
    assert parse_jump(text, ["dark", "light"]) == jump


@pytest.mark.parametrize(("text", "says"), [("nodes", "unknown command 'nodes'"), ("host", "one name"), ("theme pink", "unknown theme 'pink'"), ("", "type a command")])
def test_an_unknown_jump_says_what_exists(text, says):
    jump = parse_jump(text, ["dark", "light"])
    assert jump.what == "error" and says in str(jump.arg)


def test_completions_name_panes_hosts_and_themes():
    assert completions(["mw151"], ["light"]) == ["hosts", "alerts", "services", "commits", "q", "logs", "handled", "backends", "timeline", "leftovers", "host mw151", "theme light"]
    assert completions([], [], ["pve"])[-1] == "pause pve"


def test_pause_names_one_known_source():
    assert parse_jump("pause icinga", sources=["pve", "icinga"]) == Jump("pause", "icinga")
    assert parse_jump("pause nope", sources=["pve", "icinga"]) == Jump("error", "pause needs one source: icinga, pve")


# --- ui.keys ---------------------------------------------------------------------------------

FARM = "farm: {name: wikitide, environment: demo}\n"


def test_keys_default_to_k9s_and_can_be_rebound():
    assert parse_config(FARM, "<t>").ui.keys.model_dump() == {"filter": "/", "jump": ":", "sort": "S", "mark": "space", "pause": "p"}
    keys = parse_config(FARM + "ui: {keys: {filter: f, pause: f5}}\n", "<t>").ui.keys
    assert keys.filter == "f" and keys.pause == "f5" and keys.jump == ":"


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ("{filter: ctrl+f}", "not a key name"),
        ("{filter: q}", "already taken"),
        ("{mark: a}", "already taken"),  # the safe actions' key
        ("{sort: p}", "both on 'p'"),
        ("{bogus: x}", "bogus"),
    ],
)
def test_bad_keys_are_config_errors(keys, says):
    with pytest.raises(ConfigError) as caught:
        parse_config(FARM + f"ui: {{keys: {keys}}}\n", "<t>")
    assert says in str(caught.value)
