"""Safety properties of the engine, with its executors pointed at a loopback server that counts
every request (and reads the audit file the moment a request arrives):

- no request without the right confirmation;
- a read-only session blocks every executor, even called directly;
- the audit intent is on disk when the first request arrives;
- a second start of the same running action is refused.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.actions import (
    Acknowledge,
    ActionEngine,
    AlreadyRunning,
    BanPattern,
    Confirmation,
    IcingaTarget,
    NotConfirmed,
    Operator,
    PurgeUrls,
    ReadOnlySession,
    Recheck,
    RemoveAcknowledgement,
    RemoveDowntime,
    Risk,
    ScheduleDowntime,
    Session,
    challenge_for,
)  # fmt: skip
from console.actions.executors import CacheExecutor, IcingaExecutor
from console.core.config import parse_config

PASSWORD = "loopback-icinga-pw-31337"
ALICE = Operator("alice", "bast161")


@dataclass
class Counter:
    """What the loopback server saw: every request, and whether the audit intent was on disk then."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    intent_on_disk: list[bool] = field(default_factory=list)
    audit_path: Path | None = None
    plan_id: str | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self, audit_path: Path | None = None, plan_id: str | None = None) -> None:
        with self.lock:
            self.requests.clear()
            self.intent_on_disk.clear()
            self.audit_path, self.plan_id = audit_path, plan_id
        self.gate.set()

    def intent_written(self) -> bool:
        if self.audit_path is None or not self.audit_path.exists():
            return False
        records = [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]
        return any(r.get("event") == "intent" and r.get("id") == self.plan_id for r in records)


def make_handler(counter: Counter):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with counter.lock:
                counter.requests.append((self.command, self.path))
                counter.intent_on_disk.append(counter.intent_written())
            counter.gate.wait(10)
            if self.path.startswith("/v1/objects/"):
                body = json.dumps({"results": [{"name": "x", "attrs": {"state": 2.0, "acknowledgement": 1.0}}]})
                headers = {"Content-Type": "application/json"}
            elif self.path.startswith("/v1/actions/"):
                body = json.dumps({"results": [{"code": 200.0, "status": "Successfully done."}]})
                headers = {"Content-Type": "application/json"}
            else:
                body, headers = "ok\n", {"X-Cache": "MISS", "X-Varnish": "32770", "Age": "0"}
            data = body.encode()
            self.send_response(200)
            for key, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PURGE = do_BAN = _answer  # noqa: N815

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def server():
    counter = Counter()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(counter))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    counter.gate.set()
    yield counter, f"http://127.0.0.1:{httpd.server_address[1]}"
    counter.gate.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("secret") / "icinga.secret"
    path.write_text(PASSWORD)
    path.chmod(0o600)
    return path


def engine_for(url: str, secret: Path, audit: Path) -> ActionEngine:
    text = f"""\
farm: {{name: wikitide, environment: test}}
sources:
  icinga: [{{name: icinga, url: "{url}", username: opsconsole, password: {{file: "{secret}"}}}}]
actions:
  caches: [{{name: cp161, url: "{url}"}}, {{name: cp171, url: "{url}"}}, {{name: cp191, url: "{url}"}}]
  audit: {{path: "{audit}"}}
"""
    return ActionEngine(parse_config(text), Session(ALICE))


NAMES = st.text(alphabet="abcmw0123456789-._ \"'\\&|()=!/", min_size=1, max_size=12).map(str.strip).filter(
    lambda s: s and "!" not in s)
TARGETS = st.lists(st.builds(IcingaTarget, NAMES, st.one_of(st.none(), NAMES)), min_size=1, max_size=3)
URLS = st.lists(st.sampled_from(["https://meta.miraheze.org/wiki/Main_Page", "https://login.miraheze.org/",
                                 "http://static.wikitide.net/x.png?y=1", "https://meta.miraheze.org/w/load.php"]),
                min_size=1, max_size=3)
ACTIONS = st.one_of(
    st.builds(PurgeUrls, URLS.map(tuple)),
    st.builds(BanPattern, st.just("meta.miraheze.org"), st.sampled_from(["^/wiki/", ".", "load\\.php"])),
    st.builds(Acknowledge, TARGETS.map(tuple), st.booleans(), st.sampled_from([None, timedelta(hours=1)])),
    st.builds(RemoveAcknowledgement, TARGETS.map(tuple)),
    st.builds(ScheduleDowntime, TARGETS.map(tuple), st.just(timedelta(hours=2))),
    st.builds(RemoveDowntime, TARGETS.map(tuple)),
    st.builds(Recheck, TARGETS.map(tuple)),
)
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def wrong_answers(plan):
    challenge = challenge_for(plan)
    candidates = [None, "", "n", "no", "N", "go ", "yes please", "y" if plan.risk is not Risk.REVERSIBLE else "nope",
                  "go" if plan.risk is not Risk.SEVERAL else "GO", challenge.expected.upper() + "x"]
    return [c for c in candidates if not challenge.accepts(c)]


@PROPERTY
@given(action=ACTIONS, pick=st.integers(min_value=0, max_value=100))
def test_no_request_without_confirmation(server, secret_file, action, pick):
    counter, url = server
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_for(url, secret_file, Path(tmp) / "audit.jsonl")
        counter.reset()
        engine.session.enable_write(engine.audit)
        plan = engine.plan(action, "testing the guard", "T1")
        answers = wrong_answers(plan)
        answer = answers[pick % len(answers)]
        with pytest.raises(NotConfirmed):
            asyncio.run(engine.run(plan, Confirmation(answer) if answer is not None else None))
        assert counter.requests == []
        assert [r["event"] for r in engine.audit.records()] == ["write-enabled"]  # no intent either


@PROPERTY
@given(action=ACTIONS)
def test_read_only_blocks_every_executor(server, secret_file, action):
    counter, url = server
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_for(url, secret_file, Path(tmp) / "audit.jsonl")
        counter.reset()
        plan = engine.plan(action, "testing read-only")
        confirmation = Confirmation(challenge_for(plan).expected)
        with pytest.raises(ReadOnlySession):
            asyncio.run(engine.run(plan, confirmation))

        async def straight_to_the_executors():
            config = engine.config
            for step in plan.steps:
                if step.executor.startswith("cache:"):
                    cache = next(c for c in config.actions.caches if f"cache:{c.name}" == step.executor)
                    executor = CacheExecutor(cache, engine.session)
                else:
                    executor = IcingaExecutor(config.sources.icinga[0], engine.session, 5)
                try:
                    with pytest.raises(ReadOnlySession):
                        await executor.execute(step)
                    with pytest.raises(ReadOnlySession):
                        await executor.write(step.request)
                finally:
                    await executor.aclose()

        asyncio.run(straight_to_the_executors())
        assert counter.requests == []
        assert engine.audit.records() == []


@PROPERTY
@given(action=ACTIONS)
def test_audit_intent_is_on_disk_before_the_first_request(server, secret_file, action):
    counter, url = server
    with tempfile.TemporaryDirectory() as tmp:
        audit = Path(tmp) / "audit.jsonl"
        engine = engine_for(url, secret_file, audit)
        engine.session.enable_write(engine.audit)
        plan = engine.plan(action, "testing the audit", "T77")
        counter.reset(audit, plan.id)

        async def go():
            try:
                return await engine.run(plan, Confirmation(challenge_for(plan).expected))
            finally:
                await engine.aclose()

        result = asyncio.run(go())
        assert counter.requests, "the action sent nothing"
        assert all(counter.intent_on_disk), counter.intent_on_disk
        events = [r["event"] for r in engine.audit.records()]
        assert events == ["write-enabled", "intent", "result"]
        intent, final = engine.audit.records()[1:]
        assert (intent["id"], final["id"]) == (plan.id, plan.id)
        assert intent["reason"] == "testing the audit - alice@bast161 - T77" and intent["task"] == "T77"
        assert final["outcome"] == result.outcome
        text = audit.read_text()
        assert PASSWORD not in text and "Authorization" not in text


def test_a_running_action_does_not_start_twice(server, secret_file, tmp_path):
    counter, url = server
    engine = engine_for(url, secret_file, tmp_path / "audit.jsonl")
    engine.session.enable_write(engine.audit)
    plan = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page",)), "twice", None)
    again = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page",)), "twice", None)

    async def go():
        counter.reset()
        counter.gate.clear()  # the server holds every request until released
        first = asyncio.ensure_future(engine.run(plan, Confirmation("y")))
        while not counter.requests:
            await asyncio.sleep(0.01)
        assert engine.is_running(again)
        with pytest.raises(AlreadyRunning, match="already running"):
            await engine.run(again, Confirmation("y"))
        seen = len(counter.requests)
        counter.gate.set()
        result = await first
        await engine.aclose()
        return seen, result

    seen, result = asyncio.run(go())
    assert seen <= 3 and result.outcome == "success"
    assert len(counter.requests) == 6  # 3 PURGE + 3 GET: the second start sent nothing
    assert not engine.is_running(again)
    assert [r["event"] for r in engine.audit.records()].count("intent") == 1


def test_stream_yields_progress_then_the_result(server, secret_file, tmp_path):
    counter, url = server
    counter.reset()
    engine = engine_for(url, secret_file, tmp_path / "audit.jsonl")
    engine.session.enable_write(engine.audit)
    plan = engine.plan(Acknowledge((IcingaTarget("mw152", "PHP-FPM"),)), "stream", None)

    async def go():
        events = [event async for event in engine.stream(plan, Confirmation("y"))]
        await engine.aclose()
        return events

    events = asyncio.run(go())
    assert [e.kind for e in events] == ["started", "step-started", "step-finished", "finished"]
    assert events[-1].result is not None and events[-1].result.plan is plan


def test_stream_raises_a_refusal_before_sending(server, secret_file, tmp_path):
    counter, url = server
    counter.reset()
    engine = engine_for(url, secret_file, tmp_path / "audit.jsonl")
    plan = engine.plan(Recheck((IcingaTarget("mw152"),)), "stream", None)

    async def go():
        return [event async for event in engine.stream(plan, Confirmation("y"))]

    with pytest.raises(ReadOnlySession):
        asyncio.run(go())
    assert counter.requests == []


def test_sal_and_gelf_get_one_message_without_secrets(server, secret_file, tmp_path):
    """The SAL line goes over UDP, the GELF message over HTTP; neither carries a secret."""
    import socket

    from console.actions import GelfSender, SalRelay

    counter, url = server
    received: list[dict] = []

    class Gelf(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    gelf = ThreadingHTTPServer(("127.0.0.1", 0), Gelf)
    threading.Thread(target=gelf.serve_forever, daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    try:
        counter.reset()
        engine = engine_for(url, secret_file, tmp_path / "audit.jsonl")
        engine.sal = SalRelay(f"127.0.0.1:{udp.getsockname()[1]}", [PASSWORD])
        engine.gelf = GelfSender(f"http://127.0.0.1:{gelf.server_address[1]}/gelf", secrets=[PASSWORD])
        engine.session.enable_write(engine.audit)
        plan = engine.plan(Recheck((IcingaTarget("mw152", "PHP-FPM"),)), f"leaked {PASSWORD} by mistake", "T5")

        async def go():
            try:
                return await engine.run(plan, Confirmation("y"))
            finally:
                await engine.aclose()

        result = asyncio.run(go())
        line = udp.recv(4096).decode()
    finally:
        udp.close()
        gelf.shutdown()
        gelf.server_close()
    assert result.outcome == "success" and result.notices == ()
    assert line == "!log [alice@bast161] forced a re-check of mw152!PHP-FPM - leaked [redacted] by mistake - T5"
    [message] = received
    assert message["version"] == "1.1" and message["host"] == "bast161" and message["short_message"] == line
    assert (message["_opsconsole_action"], message["_outcome"], message["_user"], message["_task"]) == (
        "recheck", "success", "alice", "T5")
    assert PASSWORD not in json.dumps(message) and PASSWORD not in (tmp_path / "audit.jsonl").read_text()


def test_a_dead_log_sink_is_a_notice_not_a_failure(server, secret_file, tmp_path):
    from console.actions import GelfSender

    counter, url = server
    counter.reset()
    engine = engine_for(url, secret_file, tmp_path / "audit.jsonl")
    engine.gelf = GelfSender("http://127.0.0.1:9/gelf", timeout=2)  # discard port: nothing listens
    engine.session.enable_write(engine.audit)
    plan = engine.plan(Recheck((IcingaTarget("mw152"),)), "x")

    async def go():
        try:
            return await engine.run(plan, Confirmation("y"))
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    assert result.outcome == "success"
    assert len(result.notices) == 1 and result.notices[0].startswith("GELF message not sent")
    assert engine.audit.records()[-1]["notices"] == list(result.notices)


def test_a_listener_that_goes_away_does_not_cut_the_action_short(server, secret_file, tmp_path):
    counter, url = server
    counter.reset()
    engine = engine_for(url, secret_file, tmp_path / "audit.jsonl")
    engine.session.enable_write(engine.audit)
    plan = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page",)), "screen closed", None)

    async def go():
        events = engine.stream(plan, Confirmation("y"))
        first = await events.__anext__()
        await events.aclose()  # the screen went away after the first event
        await engine.aclose()  # waits for the action
        return first

    assert asyncio.run(go()).kind == "started"
    assert len(counter.requests) == 6
    final = engine.audit.records()[-1]
    assert (final["event"], final["outcome"]) == ("result", "success")


@pytest.mark.parametrize("secret", ["s3cr3t-token-value", 'pa"ss\\word\twith-escapes', "mot-de-passe-été"])
def test_the_audit_log_scrubs_secrets_however_json_writes_them(tmp_path, secret):
    """A secret is found in a record's JSON line even where JSON escapes it (quotes, backslashes,
    tabs), and then scrubbed wherever it sits in the record; a record without one is written as is."""
    from console.actions.audit import AuditLog

    audit = AuditLog(tmp_path / "audit.jsonl", [secret, "unused-other-secret"])
    audit.append({"event": "intent", "steps": [{"detail": f"Authorization: Bearer {secret}!", "n": 1}]})
    audit.append({"event": "result", "steps": [{"detail": "nothing secret here", "n": 2}]})
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    first, second = audit.records()
    assert secret not in text and json.dumps(secret, ensure_ascii=False)[1:-1] not in text
    assert first["steps"] == [{"detail": "Authorization: Bearer [redacted]!", "n": 1}]
    assert second["steps"] == [{"detail": "nothing secret here", "n": 2}]
