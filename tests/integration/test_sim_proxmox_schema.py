"""Conformance: the simulated Proxmox VE against the project's copy of the Proxmox API schema.

`tests/fixtures/proxmox/apidata-v9.json` is pve-docs' api-viewer data: a list of trees
`{path, text, info: {GET|POST..: {parameters, returns, permissions}}, children}`. Every route the
simulator serves (read from `console/sim/proxmox_api.py`'s `match` statements, so a new route cannot
slip past) is exercised with a real HTTPS request, and:

- its path template and method exist in the schema (and no other method is served);
- every field of every answer is declared in the schema's `returns` (`items.properties` for arrays,
  `properties` for objects, recursively), with the declared type and enumeration, except the schema gaps
  documented in docs/reference/APIS.md (rrddata points, booleans as 0/1, fields pveproxy sends undeclared);
- its enumerated query parameters accept exactly the schema's values.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import pytest

from console.sim import proxmox_api
from console.sim.proxmox_api import TOKEN_ID

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests/fixtures/proxmox/apidata-v9.json"
APIS_MD = ROOT / "docs/reference/APIS.md"
STOPPED = "mw161"  # stopped in the farm below: a stopped guest's answers have their own shape

# APIS.md, Proxmox "Schema gaps": fields pveproxy sends that the schema leaves undeclared, by route and
# place in the answer. Nothing else may be undeclared (test_every_gap_is_documented_in_apis_md keeps
# this table and APIS.md together).
UNDECLARED = {
    ("/nodes", "data[]"): {"id", "type", "disk", "maxdisk"},
    ("/cluster/resources", "data[]"): {"shared"},  # storage items
    ("/nodes/{node}/status", "data"): {"uptime", "idle", "wait", "kversion", "ksm", "swap"},
    ("/nodes/{node}/status", "data.cpuinfo"): {"hvm", "mhz", "user_hz", "flags"},
    ("/nodes/{node}/qemu", "data[]"): {"disk"},
    ("/nodes/{node}/qemu/{vmid}/status/current", "data"): {"disk"},
}


# --- the schema -------------------------------------------------------------------------------------


@cache
def schema_index() -> dict[str, dict]:
    """path template -> {method: {parameters, returns, ...}}"""
    index: dict[str, dict] = {}

    def walk(node: dict) -> None:
        index[node["path"]] = node.get("info", {})
        for child in node.get("children", []):
            walk(child)

    for tree in json.loads(SCHEMA.read_text()):
        walk(tree)
    return index


@cache
def rrd_points() -> dict[str, set[str]]:
    """APIS.md's gap for `rrddata` (its items declare no properties): the points it lists, node then guest."""
    text = APIS_MD.read_text()
    found = re.findall(r"\(points: ([^)]*)\)", text)
    assert len(found) == 2, f"APIS.md should list the node and the guest rrddata points, found {found}"
    node, guest = ({name.strip(" `") for name in points.split(",")} for points in found)
    return {"/nodes/{node}/rrddata": node, "/nodes/{node}/qemu/{vmid}/rrddata": guest}


def check(value, schema: dict, where: str, route: str) -> list[str]:
    """Where `value` is not what `schema` declares, one line per problem (with its place in the answer)."""
    kind = schema.get("type")
    problems: list[str] = []
    if kind == "object" or (kind is None and isinstance(value, dict)):
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        declared = schema.get("properties")
        if declared is None:
            return []  # a free-form object (e.g. status/current's `ha`): nothing declared inside
        if not declared and route in rrd_points():  # gap: rrddata items declare no properties
            for key, point in value.items():
                if key not in rrd_points()[route]:
                    problems.append(f"{where}.{key}: not an rrddata point listed in APIS.md")
                elif not isinstance(point, (int, float)) or isinstance(point, bool):
                    problems.append(f"{where}.{key}: {point!r} is not a number")
            return problems
        allowed = UNDECLARED.get((route, where), set())
        for key, item in value.items():
            if key in declared:
                problems += check(item, declared[key], f"{where}.{key}", route)
            elif key not in allowed:
                problems.append(f"{where}.{key}: not declared in the schema (value {item!r})")
        return problems
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        for item in value:
            problems += check(item, schema.get("items", {}), f"{where}[]", route)
        return sorted(set(problems), key=problems.index)
    if kind == "boolean":
        if not isinstance(value, bool) and value not in (0, 1):  # gap: booleans arrive as 0/1
            problems.append(f"{where}: {value!r} is not a boolean (nor 0/1)")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: {value!r} is not an integer")
    elif kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{where}: {value!r} is not a number")
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: {value!r} is not a string")
    elif kind is not None and kind not in ("null",):
        problems.append(f"{where}: schema type {kind!r} not handled by this test")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value!r} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value!r} is above the maximum {schema['maximum']}")
    return problems


# --- the simulator's routes, read from its source ---------------------------------------------------


def _case_paths(case: ast.match_case) -> tuple[list[list[str]], str | None]:
    """A `case [..]:` as path templates; the name of a `*rest` passed on to another matcher, if any."""
    assert isinstance(case.pattern, ast.MatchSequence), ast.dump(case.pattern)
    fixed: list[str] = []
    star = None
    for element in case.pattern.patterns:
        if isinstance(element, ast.MatchValue):
            fixed.append(ast.literal_eval(element.value))
        elif isinstance(element, ast.MatchAs) and element.pattern is None and element.name:
            fixed.append("{" + element.name + "}")
        elif isinstance(element, ast.MatchStar):
            star = element.name
        else:
            raise AssertionError(f"a route pattern this test cannot read: {ast.unparse(case.pattern)}")
    if star is None:
        return [fixed], None
    guard = case.guard
    if (isinstance(guard, ast.Compare) and isinstance(guard.left, ast.Name) and guard.left.id == star
            and isinstance(guard.ops[0], ast.In)):
        return [fixed + list(tail) for tail in ast.literal_eval(guard.comparators[0])], None
    return [fixed], star


def _matches(function: ast.FunctionDef) -> list[ast.match_case]:
    return [case for node in ast.walk(function) if isinstance(node, ast.Match) for case in node.cases]


@cache
def sim_routes() -> frozenset[str]:
    """Every path template `ProxmoxApi` answers (handle's routes, node_route's under /nodes/{node})."""
    tree = ast.parse(Path(proxmox_api.__file__).read_text())
    api = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ProxmoxApi")
    methods = {n.name: n for n in api.body if isinstance(n, ast.FunctionDef)}
    routes = set()
    for case in _matches(methods["handle"]):
        paths, star = _case_paths(case)
        if star is None:
            routes |= {"/" + "/".join(p) for p in paths}
            continue
        calls = {c.func.attr for c in ast.walk(case) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)}
        assert calls == {"node_route"}, f"{ast.unparse(case.pattern)} hands its rest to {calls}: teach this test"
        for sub in _matches(methods["node_route"]):
            subpaths, substar = _case_paths(sub)
            assert substar is None, f"an open-ended route under /nodes/{{node}}: {ast.unparse(sub.pattern)}"
            routes |= {"/" + "/".join(paths[0] + p) for p in subpaths}
    return frozenset(routes)


# --- requests -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    farm.model.set_guest_status(STOPPED, "stopped", since=None)
    return farm


@pytest.fixture(scope="module")
def pve(farm, sim_client_factory):
    client = sim_client_factory(farm)
    secret = farm.secret_path("proxmox").read_text().strip()
    client.headers["Authorization"] = f"PVEAPIToken={TOKEN_ID}={secret}"
    base = farm.urls["proxmox"] + "/api2/json"

    def request(method: str, path: str, params: dict | None = None):
        return client.request(method, base + path, params=params)

    return request


def _enum_params(template: str) -> dict[str, list[str]]:
    properties = schema_index()[template]["GET"].get("parameters", {}).get("properties", {})
    return {name: spec["enum"] for name, spec in properties.items() if "enum" in spec}


def requests_for(farm) -> dict[str, list[tuple[str, dict]]]:
    """path template -> concrete (path, query) requests: each enumerated parameter value of the schema once
    (required ones at their first value), running and stopped guests, every node."""
    running = farm.model.guests["mw152"].spec
    stopped = farm.model.guests[STOPPED].spec
    guests = [(running.node, running.vmid), (stopped.node, stopped.vmid)]
    out: dict[str, list[tuple[str, dict]]] = {}
    for template in sim_routes():
        if "{vmid}" in template:
            paths = [template.replace("{node}", n).replace("{vmid}", str(v)) for n, v in guests]
        elif "{node}" in template:
            paths = [template.replace("{node}", n) for n in sorted(farm.model.nodes)]
        else:
            paths = [template]
        properties = schema_index().get(template, {}).get("GET", {}).get("parameters", {}).get("properties", {})
        required = {name: spec["enum"][0] for name, spec in properties.items()
                    if "enum" in spec and not spec.get("optional")}
        queries = [dict(required)]
        for name, options in (_enum_params(template) if template in schema_index() else {}).items():
            queries += [{**required, name: option} for option in options]
        out[template] = [(p, q) for p in paths for q in queries]
    return out


# --- the tests -----------------------------------------------------------------------------------------


def test_the_route_reader_finds_the_known_routes():
    assert {"/version", "/cluster/resources", "/nodes/{node}/status", "/nodes/{node}/qemu/{vmid}/status/current",
            "/nodes/{node}/qemu/{vmid}/rrddata"} <= sim_routes()


@pytest.mark.parametrize("template", sorted(sim_routes()))
def test_each_route_exists_in_the_schema_with_get_only(pve, farm, template):
    assert template in schema_index(), f"the sim serves {template}, which the Proxmox API schema does not have"
    assert "GET" in schema_index()[template], f"the schema has no GET {template} (only {sorted(schema_index()[template])})"
    path, query = requests_for(farm)[template][0]
    assert pve("GET", path, query).status_code == 200
    for method in ("POST", "PUT", "DELETE"):
        answer = pve(method, path)
        assert answer.status_code == 501, f"{method} {template}: the sim serves only GET, got {answer.status_code}"
        assert answer.reason_phrase == f"Method '{method} {path}' not implemented"


@pytest.mark.parametrize("template", sorted(sim_routes()))
def test_every_field_answered_is_declared(pve, farm, template):
    returns = schema_index()[template]["GET"]["returns"]
    problems: dict[str, list[str]] = {}  # problem -> the requests that showed it
    for path, query in requests_for(farm)[template]:
        answer = pve("GET", path, query)
        assert answer.status_code == 200, f"GET {path} {query}: {answer.status_code} {answer.reason_phrase}"
        body = answer.json()
        assert list(body) == ["data"], f"GET {path}: the answer is wrapped in {{'data': ...}} only"
        for problem in check(body["data"], returns, "data", template):
            problems.setdefault(problem, []).append(f"GET {path}" + (f"?{urlencode(query)}" if query else ""))
    assert not problems, f"{template}: answers the schema does not declare:\n" + "\n".join(
        f"  {problem}  [{seen[0]}" + (f" and {len(seen) - 1} more]" if len(seen) > 1 else "]")
        for problem, seen in problems.items())


@pytest.mark.parametrize("template", sorted(t for t in sim_routes() if _enum_params(t)))
def test_enumerated_parameters_are_the_schemas(pve, farm, template):
    path = requests_for(farm)[template][0][0]
    properties = schema_index()[template]["GET"]["parameters"]["properties"]
    required = {n: s["enum"][0] for n, s in properties.items() if "enum" in s and not s.get("optional")}
    for name, options in _enum_params(template).items():
        answer = pve("GET", path, {**required, name: "nosuch"})
        assert answer.status_code == 400 and answer.reason_phrase == "Parameter verification failed."
        assert answer.json()["errors"] == {
            name: f"value 'nosuch' does not have a value in the enumeration '{', '.join(options)}'"
        }, f"{template}: the sim's {name} values differ from the schema's {options}"
    for name in required:
        answer = pve("GET", path, {k: v for k, v in required.items() if k != name})
        assert answer.status_code == 400 and answer.json()["errors"] == {name: "property is missing and it is not optional"}


def test_every_gap_is_documented_in_apis_md():
    text = APIS_MD.read_text()
    gaps = text[text.index("Schema gaps"):text.index("- `GET /cluster/resources")]
    for (route, _where), fields in UNDECLARED.items():
        for name in fields:
            assert f"`{name}`" in gaps, f"{route}: `{name}` is allowed undeclared but not documented in APIS.md"
    assert "booleans" in gaps and "0/1" in gaps and "`rrddata` items declare no properties" in gaps


def test_the_checker_reports_undeclared_fields_precisely():
    returns = schema_index()["/nodes/{node}/qemu/{vmid}/status/current"]["GET"]["returns"]
    route = "/nodes/{node}/qemu/{vmid}/status/current"
    problems = check({"vmid": 100, "status": "paused", "template": 2, "nosuch": 1, "ha": {"managed": 0}}, returns,
                     "data", route)
    assert problems == [
        "data.status: 'paused' is not one of ['stopped', 'running']",
        "data.template: 2 is not a boolean (nor 0/1)",
        "data.nosuch: not declared in the schema (value 1)",
    ]
    assert check([{"time": 1, "cpu": "x", "nope": 1}], {"items": {"properties": {}, "type": "object"}, "type": "array"},
                 "data", "/nodes/{node}/rrddata") == [
        "data[].cpu: 'x' is not a number", "data[].nope: not an rrddata point listed in APIS.md"]
