"""PuppetDB's query API v4: nodes, reports, events, facts; AST queries, order_by, limit, offset.

No auth: a real PuppetDB relies on TLS client certificates, which the sim does not ask for.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from console.sim.farm_api import FarmApi
from console.sim.logs import iso_ms
from console.sim.puppet import ENVIRONMENT, PUPPET_VERSION, PUPPETSERVER, Run, facts
from console.sim.puppetdb_query import PSEUDO, QueryError, page, parse_count, parse_order_by, parse_query

VERSION = "8.8.1"
ENTITIES = ("nodes", "reports", "events", "facts")


def _json(data: Any, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), 200, headers=headers, media_type="application/json; charset=utf-8")


def _text(status: int, text: str) -> Response:
    return Response(text, status, media_type="text/plain; charset=utf-8")


def _unknown_node(certname: str) -> Response:
    # PuppetDB 7.12 says "about node X" (APIS.md abbreviates it to "about X")
    return Response(json.dumps({"error": f"No information is known about node {certname}"}), 404,
                    media_type="application/json; charset=utf-8")


class PuppetDbApi(FarmApi):
    def handle(self, request: Request, body: bytes) -> Response:
        # split the raw path, then decode: a certname may hold a "/" (sent as %2F) or a "%" (sent as %25)
        raw = request.scope.get("raw_path") or request.url.path.encode()
        parts = [unquote(p) for p in raw.decode("latin-1").split("?")[0].split("/") if p]
        if parts == ["pdb", "meta", "v1", "version"]:
            return _json({"version": VERSION})
        if parts[:2] == ["status", "v1"]:
            return _json({"service_version": VERSION, "service_status_version": 1, "detail_level": "info",
                          "state": "running", "status": {"maintenance_mode?": False, "queue_depth": 0,
                                                          "read_db_up?": True, "write_db_up?": True}})
        if parts[:3] != ["pdb", "query", "v4"]:
            return _text(404, "Not Found")
        if request.method not in ("GET", "POST"):
            return _text(405, "Method Not Allowed")
        try:
            options = self._options(request, body)
        except QueryError as exc:
            return _text(exc.status, str(exc))
        now = self.farm.now()
        rest = parts[3:]
        match rest:
            case []:
                return _text(400, "PQL queries are not supported by the simulated PuppetDB; use the AST endpoints")
            case ["nodes", certname]:
                node = self._node(certname, now)
                if node is None:
                    return _unknown_node(certname)
                return _json(node)
            case ["nodes", certname, "facts"]:
                if self._node(certname, now) is None:
                    return _unknown_node(certname)
                return self._query("facts", options, [r for r in self.facts(now) if r["certname"] == certname])
            case ["facts", name]:
                return self._query("facts", options, [r for r in self.facts(now) if r["name"] == name])
            case [entity] if entity in ENTITIES:
                records = {"nodes": self.nodes, "reports": self.reports, "events": self.events, "facts": self.facts}[entity](now)
                return self._query(entity, options, records)
        return _text(404, "Not Found")

    @staticmethod
    def _options(request: Request, body: bytes) -> dict[str, Any]:
        options: dict[str, Any] = dict(request.query_params)
        if request.method == "POST" and body.strip():
            try:
                posted = json.loads(body)
            except ValueError:
                raise QueryError(f"Malformed JSON for body: {body.decode(errors='replace')}") from None
            if not isinstance(posted, dict):
                raise QueryError("The POST body must be a JSON object")
            options.update(posted)
        return options

    def _query(self, entity: str, options: dict[str, Any], records: list[dict]) -> Response:
        try:
            query = parse_query(options.get("query"), entity)
            order_by = parse_order_by(options.get("order_by"), entity)
            limit = parse_count(options.get("limit"), "limit", allow_zero=False)
            offset = parse_count(options.get("offset"), "offset", allow_zero=True)
            selected = [r for r in records if query.predicate(r)]
        except QueryError as exc:
            return _text(exc.status, str(exc))
        total = len(selected)
        rows = page(selected, order_by, limit, offset)
        if query.columns is not None:
            rows = [{c: r.get(c) for c in query.columns} for r in rows]
        else:
            rows = [{k: v for k, v in r.items() if k not in PSEUDO} for r in rows]
        include_total = str(options.get("include_total", "")).lower() in ("true", "1")
        return _json(rows, {"x-records": str(total)} if include_total else None)

    # --- records -------------------------------------------------------------------------------

    def _node(self, certname: str, now: datetime) -> dict | None:
        return next((n for n in self.nodes(now) if n["certname"] == certname), None)

    def nodes(self, now: datetime) -> list[dict]:
        out = []
        for name in sorted(self.farm.agents, key=lambda n: self.farm.hosts[n].fqdn):
            agent = self.farm.agents[name]
            latest = agent.latest(self.farm.seed, now)
            if latest is None:
                continue
            out.append({
                "certname": agent.host.fqdn,
                "deactivated": None,
                "expired": None,
                "catalog_timestamp": iso_ms(latest.start + timedelta(seconds=4.2)),
                "facts_timestamp": iso_ms(latest.start + timedelta(seconds=1.1)),
                "report_timestamp": iso_ms(latest.producer_timestamp),
                "catalog_environment": ENVIRONMENT,
                "facts_environment": ENVIRONMENT,
                "report_environment": ENVIRONMENT,
                "latest_report_status": latest.status,
                "latest_report_noop": False,
                "latest_report_noop_pending": False,
                "latest_report_hash": latest.hash,
                "latest_report_job_id": None,
                "latest_report_corrective_change": None,  # PE only: open-source PuppetDB 7 stores null (seen)
                "cached_catalog_status": "not_used",
            })
        return out

    def _runs(self, now: datetime) -> list[tuple[Run, bool]]:
        out = []
        for name in sorted(self.farm.agents, key=lambda n: self.farm.hosts[n].fqdn):
            runs = self.farm.agents[name].runs(self.farm.seed, now)
            out += [(run, i == 0) for i, run in enumerate(runs)]
        return out

    def reports(self, now: datetime) -> list[dict]:
        return [self._report(run, latest) for run, latest in self._runs(now)]

    def _report(self, run: Run, latest: bool) -> dict:
        href = f"/pdb/query/v4/reports/{run.hash}"
        events = [_event_body(run, i, e) for i, e in enumerate(run.events)]
        return {
            "hash": run.hash,
            "certname": run.host.fqdn,
            "puppet_version": PUPPET_VERSION,
            "report_format": 12,
            "configuration_version": run.configuration_version,
            "start_time": iso_ms(run.start),
            "end_time": iso_ms(run.end),
            "producer_timestamp": iso_ms(run.producer_timestamp),
            "receive_time": iso_ms(run.receive_time),
            "producer": PUPPETSERVER,
            "transaction_uuid": run.transaction_uuid,
            "catalog_uuid": run.catalog_uuid,
            "code_id": run.code_id,
            "job_id": None,
            "cached_catalog_status": "not_used",
            "noop": False,
            "noop_pending": False,
            "corrective_change": None,  # PE only, null in open-source PuppetDB
            "environment": ENVIRONMENT,
            "status": run.status,
            "type": "agent",
            "metrics": {"href": f"{href}/metrics", "data": _metrics(run)},
            "logs": {"href": f"{href}/logs", "data": _logs(run)},
            "resource_events": {"href": f"{href}/events", "data": events},
            "latest_report?": latest,
        }

    def events(self, now: datetime) -> list[dict]:
        out = []
        for run, latest in self._runs(now):
            for i, event in enumerate(run.events):
                body = _event_body(run, i, event)
                out.append({
                    "certname": run.host.fqdn,
                    "report": run.hash,
                    **body,
                    "run_start_time": iso_ms(run.start),
                    "run_end_time": iso_ms(run.end),
                    "report_receive_time": iso_ms(run.receive_time),
                    "environment": ENVIRONMENT,
                    "configuration_version": run.configuration_version,
                    "latest_report?": latest,
                })
        return out

    def facts(self, now: datetime) -> list[dict]:
        out = []
        for name in sorted(self.farm.agents, key=lambda n: self.farm.hosts[n].fqdn):
            spec = self.farm.hosts[name]
            guest = self.farm.guests.get(name)
            agent = self.farm.agents[name]
            disabled = agent.disabled_reason if agent.disabled_since is not None and agent.disabled_since <= now else None
            for fact, value in facts(self.farm.seed, spec, now, guest.boot_at if guest else None, disabled).items():
                out.append({"certname": spec.fqdn, "environment": ENVIRONMENT, "name": fact, "value": value})
        return out


def _event_body(run: Run, index: int, event) -> dict:
    return {
        "status": event.status,
        "timestamp": iso_ms(run.start + timedelta(seconds=8 + 1.7 * index)),
        "resource_type": event.resource_type,
        "resource_title": event.resource_title,
        "property": event.prop,
        "name": event.prop,
        "new_value": event.new_value,
        "old_value": event.old_value,
        # a skipped resource's event is PuppetDB's own: no message, whatever the agent logged (seen on 7.12)
        "message": None if event.status == "skipped" else event.message,
        "file": event.file,
        "line": event.line,
        "containment_path": ["Stage[main]", event.containing_class, event.resource] if event.containing_class else None,
        "containing_class": event.containing_class,
        "corrective_change": None,
    }


def _metrics(run: Run) -> list[dict]:
    failed = sum(1 for e in run.events if e.status == "failure")
    skipped = sum(1 for e in run.events if e.status == "skipped")
    changed = sum(1 for e in run.events if e.status == "success")
    total = 900 + sum(ord(c) for c in run.host.role) % 600
    took = round((run.end - run.start).total_seconds(), 6)
    values = [
        ("resources", "total", total), ("resources", "changed", changed), ("resources", "failed", failed),
        ("resources", "failed_to_restart", 0), ("resources", "out_of_sync", changed + failed),
        ("resources", "restarted", 0), ("resources", "scheduled", 0), ("resources", "skipped", skipped),
        ("resources", "corrective_change", 0),
        ("time", "total", took), ("time", "config_retrieval", round(took * 0.41, 6)),
        ("time", "catalog_application", round(took * 0.52, 6)),
        ("changes", "total", changed), ("events", "failure", failed), ("events", "success", changed),
        ("events", "total", failed + changed + skipped),
    ]
    return [{"category": c, "name": n, "value": v} for c, n, v in values]


def _logs(run: Run) -> list[dict]:
    logs = []
    for i, event in enumerate(run.events):
        level = {"failure": "err", "skipped": "warning"}.get(event.status, "notice")
        source = f"/Stage[main]/{event.containing_class}/{event.resource}" if event.containing_class else "Puppet"
        prop = f"/{event.prop}" if event.prop else ""
        logs.append({"file": event.file, "line": event.line, "level": level, "message": event.message or "",
                     "source": source + prop, "tags": [level, event.resource_type.lower()],
                     "time": iso_ms(run.start + timedelta(seconds=8 + 1.7 * i))})
    took = (run.end - run.start).total_seconds()
    logs.append({"file": None, "line": None, "level": "notice", "message": f"Applied catalog in {took * 0.52:.2f} seconds",
                 "source": "Puppet", "tags": ["notice"], "time": iso_ms(run.end)})
    return logs
