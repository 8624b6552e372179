"""The simulated farm's query languages on their own (no server): Icinga filters, Graylog queries, PuppetDB ASTs."""

from __future__ import annotations

import pytest

from console.sim.graylog_query import QueryError as GraylogQueryError
from console.sim.graylog_query import compile_query
from console.sim.icinga_filter import FilterError, IcingaObject, compile_filter, matches
from console.sim.puppetdb_query import QueryError as PuppetQueryError
from console.sim.puppetdb_query import page, parse_order_by, parse_query

pytestmark = pytest.mark.sim

SERVICE = IcingaObject("Service", {"name": "PHP-FPM", "state": 2.0, "handled": False, "acknowledgement": 0.0,
                                   "last_state_change": 1000.0, "vars": {"team": "mw"}})
HOST = IcingaObject("Host", {"name": "mw152", "state": 0.0, "groups": ["mediawiki", "linux-servers"]})


@pytest.mark.parametrize("text, expected", [
    ("service.state != ServiceOK", True),
    ('match("mw1*", host.name) && service.state == ServiceCritical', True),
    ('match("cp*", host.name) || service.name == "PHP-FPM"', True),
    ("!service.handled", True),
    ("!service.handled == true", True),  # ! binds tighter than ==, as in the Icinga DSL
    ("service.handled == 0", True),  # booleans compare with numbers by value
    ('"mediawiki" in host.groups', True),
    ('"varnish" !in host.groups', True),
    ("service.vars.team == \"mw\" && service.vars.missing == null", True),
    ("service.last_state_change < 20m", True),  # durations are numbers of seconds
    ('regex("^mw15[0-9]$", host.name)', True),
    ("(service.state == 1 || service.state == 3) && !service.handled", False),
])
def test_icinga_filters(text, expected):
    assert matches(compile_filter(text), {"service": SERVICE, "host": HOST}) is expected


@pytest.mark.parametrize("text", ["service.state ==", "service.state = 2", "service.nosuch == 1", "nosuch == 1",
                                  "system(\"id\")", "service.name == 'single quotes'", "(service.state == 2"])
def test_icinga_filter_errors(text):
    with pytest.raises(FilterError):
        matches(compile_filter(text), {"service": SERVICE, "host": HOST})


MESSAGE = {"source": "mw152", "level": 3, "application_name": "nginx",
           "message": "connect() to unix:/run/php/fpm-www.sock failed (111: Connection refused)"}


@pytest.mark.parametrize("text, expected", [
    ("*", True), ("", True), ("source:mw152", True), ("source:MW152", True), ("source:mw15*", True),
    ("level:<=3", True), ("level:<3", False), ("level:[0 TO 3]", True), ("level:{3 TO 7]", False),
    ('application_name:"nginx"', True), ("refused", True), ('"connection refused"', True), ('"refused connection"', False),
    ("source:cp171 source:mw152", True),  # terms side by side are OR-ed, as in Graylog
    ("source:cp171 AND source:mw152", False), ("NOT source:mw152", False), ("-level:>4", True),
    ("_exists_:application_name", True), ("_exists_:mediawiki_level", False),
    ("(source:cp171 OR level:3) AND application_name:nginx", True),
])
def test_graylog_queries(text, expected):
    assert compile_query(text)(MESSAGE) is expected


@pytest.mark.parametrize("text", ["(source:mw152", '"unterminated', "source:", "AND"])
def test_graylog_query_errors(text):
    with pytest.raises(GraylogQueryError):
        compile_query(text)


NODES = [{"certname": "a", "report_timestamp": "2026-08-22T11:00:00.000Z", "latest_report_status": "failed", "deactivated": None},
         {"certname": "b", "report_timestamp": "2026-08-22T11:30:00.000Z", "latest_report_status": "unchanged", "deactivated": None},
         {"certname": "c", "report_timestamp": None, "latest_report_status": None, "deactivated": None}]


@pytest.mark.parametrize("ast, expected", [
    (["=", "latest_report_status", "failed"], ["a"]),
    ([">", "report_timestamp", "2026-08-22T11:10:00Z"], ["b"]),
    (["null?", "report_timestamp", True], ["c"]),
    (["not", ["null?", "latest_report_status", True]], ["a", "b"]),
    (["~", "certname", "^[ab]$"], ["a", "b"]),
    (["in", "certname", ["array", ["a", "c"]]], ["a", "c"]),
    (["or", ["=", "certname", "a"], ["and", ["=", "certname", "b"], ["=", "latest_report_status", "unchanged"]]], ["a", "b"]),
])
def test_puppetdb_ast(ast, expected):
    query = parse_query(ast, "nodes")
    assert [n["certname"] for n in NODES if query.predicate(n)] == expected


def test_puppetdb_ordering_puts_nulls_where_postgres_does():
    asc = page(NODES, parse_order_by([{"field": "report_timestamp"}], "nodes"), None, None)
    desc = page(NODES, parse_order_by('[{"field": "report_timestamp", "order": "desc"}]', "nodes"), 2, 0)
    assert [n["certname"] for n in asc] == ["a", "b", "c"]
    assert [n["certname"] for n in desc] == ["c", "b"]


@pytest.mark.parametrize("ast", [["=", "report_status", "x"], ["like", "certname", "x"], ["<", "certname", "x"],
                                 ["=", "certname"], ["in", "certname", ["a"]], "not a list", []])
def test_puppetdb_ast_errors(ast):
    with pytest.raises(PuppetQueryError):
        parse_query(ast, "nodes")
