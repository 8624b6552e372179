"""Salt's REST API (rest_cherrypy) for the simulated farm: login, tokens that expire, the `local`
and `local_async` clients. Written from APIS.md and the rest_cherrypy documentation.

Minions are the farm's hosts by FQDN (mw151.fsslc.wtnet). A minion whose guest is stopped does not
return: a synchronous call waits the lowstate's `timeout` (default 5 s, as Salt's) and leaves it out
of the answer; an id no key matches is simply not targeted (an empty answer at once). What a
function does on a host is console/sim/hostcmds.py.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from console.sim import hostcmds
from console.sim.farm import Farm
from console.sim.seeded import stable_int

USERNAME = "opsconsole"
EAUTH = "pam"
TOKEN_TTL = 43200.0  # Salt's default token_expire: 12 hours
DEFAULT_TIMEOUT = 5.0  # Salt's default wait for minions to return
MAX_TIMEOUT = 600.0
CLIENTS = ("local", "local_async", "runner")  # netapi_enable_clients on the simulated master
PERMS = [".*", "@runner", "@jobs"]


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data), status, media_type="application/json", headers=headers)


def _html_error(status: int, message: str) -> Response:
    """CherryPy's error page (rest_cherrypy answers errors as HTML, whatever the Accept header)."""
    titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable"}
    title = f"{status} {titles.get(status, 'Error')}"
    body = (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h2>{title}</h2>"
            f"<p>{message}</p></body></html>")
    return Response(body, status, media_type="text/html;charset=utf-8")


class SaltApi:
    """The ASGI app. `tokens` maps token -> (user, expires at, time.time()); `expire_tokens()` ages them all."""

    def __init__(self, farm: Farm, password: str, token_ttl: float = TOKEN_TTL) -> None:
        self.farm = farm
        self.password = password
        self.token_ttl = token_ttl
        self.tokens: dict[str, tuple[str, float]] = {}
        self.logins = 0  # successful logins (tests check the token is reused)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.jid_count = 0

    def expire_tokens(self) -> None:
        """Every token issued so far has expired (the next call with one gets 401)."""
        self.tokens = {token: (user, 0.0) for token, (user, _) in self.tokens.items()}

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        response = await self.handle(request, body)
        await response(scope, receive, send)

    async def handle(self, request: Request, body: bytes) -> Response:
        path = request.url.path.rstrip("/") or "/"
        if path == "/login":
            if request.method != "POST":
                return _html_error(405, "Only POST logs in")
            return self._login(request, body)
        if path == "/logout" and request.method == "POST":
            self.tokens.pop(request.headers.get("x-auth-token", ""), None)
            return _json({"return": "Your token has been cleared"})
        if path == "/" and request.method == "GET":
            return _json({"return": "Welcome", "clients": list(CLIENTS)})
        if path != "/":
            return _html_error(404, f"The path '{path}' was not found.")
        if request.method != "POST":
            return _html_error(405, "Specified method is invalid for this resource.")
        if not self._token_valid(request.headers.get("x-auth-token", "")):
            return _html_error(401, "No permission -- see authorization schemes")
        try:
            lowstate = _parse_body(request, body)
        except ValueError as exc:
            return _html_error(400, str(exc))
        if isinstance(lowstate, dict):
            lowstate = [lowstate]
        if not isinstance(lowstate, list) or not all(isinstance(chunk, dict) for chunk in lowstate):
            return _html_error(400, "Lowstates must be a list")
        results: list[dict[str, Any] | str] = []
        for chunk in lowstate:
            client = chunk.get("client")
            if client not in CLIENTS:
                return _html_error(400, f"Client disabled: '{client}'. Add to 'netapi_enable_clients' master config option.")
            if client == "local":
                results.append(await self._local(chunk))
            elif client == "local_async":
                results.append(self._local_async(chunk))
            else:
                results.append(f"'{chunk.get('fun')}' is not available.")
        return _json({"return": results})

    # --- authentication ------------------------------------------------------------------------

    def _login(self, request: Request, body: bytes) -> Response:
        try:
            creds = _parse_body(request, body)
        except ValueError as exc:
            return _html_error(400, str(exc))
        if not isinstance(creds, dict):
            return _html_error(400, "Login needs username, password and eauth")
        user, password, eauth = (str(creds.get(key, "")) for key in ("username", "password", "eauth"))
        if not (user == USERNAME and eauth == EAUTH and hmac.compare_digest(password.encode(), self.password.encode())):
            return _html_error(401, "Could not authenticate using provided credentials")
        token = secrets.token_hex(20)
        start = time.time()
        expire = start + self.token_ttl
        self.tokens[token] = (user, expire)
        self.logins += 1
        return _json({"return": [{"token": token, "expire": expire, "start": start, "user": user, "eauth": eauth,
                                  "perms": PERMS}]}, headers={"x-auth-token": token})

    def _token_valid(self, token: str) -> bool:
        entry = self.tokens.get(token)
        if entry is None:
            return False
        if entry[1] <= time.time():
            del self.tokens[token]
            return False
        return True

    # --- clients -------------------------------------------------------------------------------

    def _minions(self) -> dict[str, str]:
        """Minion id (the FQDN) -> host name, for every host of the farm."""
        return {spec.fqdn: name for name, spec in self.farm.hosts.items()}

    def _targeted(self, chunk: dict[str, Any]) -> list[str]:
        tgt = chunk.get("tgt", "")
        tgt_type = chunk.get("tgt_type", chunk.get("expr_form", "glob"))
        minions = self._minions()
        if tgt_type == "list":
            wanted = tgt if isinstance(tgt, list) else str(tgt).split(",")
            return [str(m).strip() for m in wanted if str(m).strip() in minions]
        if tgt_type == "glob" and isinstance(tgt, str):
            return sorted(m for m in minions if fnmatchcase(m, tgt))
        return []

    def _running(self, host: str) -> bool:
        guest = self.farm.guests.get(host)
        return guest is None or guest.status_at(self.farm.now()) == "running"

    async def _local(self, chunk: dict[str, Any]) -> dict[str, Any]:
        function = str(chunk.get("fun", ""))
        args = chunk.get("arg", [])
        args = args if isinstance(args, list) else [args]
        try:
            timeout = min(float(chunk.get("timeout", DEFAULT_TIMEOUT)), MAX_TIMEOUT)
        except (TypeError, ValueError):
            timeout = DEFAULT_TIMEOUT
        answers: dict[str, Any] = {}
        silent = False
        with self.farm.lock:
            minions = self._minions()
            for minion in self._targeted(chunk):
                host = minions[minion]
                if not self._running(host):
                    silent = True  # the master answers for it, after waiting (Salt 3008 on the wire)
                    answers[minion] = ("Minion did not return. [No response]\nThe minions may not have all finished "
                                       "running and any remaining minions will return upon completion. To look up the "
                                       "return data for this job later, run the following command:\n\n"
                                       f"salt-run jobs.lookup_jid {self._jid()}")
                    continue
                answers[minion] = _salt_return(function, hostcmds.run(self.farm, host, function, args))
        if silent:
            await asyncio.sleep(max(0.0, timeout))  # the master waits for the minions that never answer
        return answers

    def _local_async(self, chunk: dict[str, Any]) -> dict[str, Any]:
        with self.farm.lock:
            minions = self._targeted(chunk)
        if not minions:
            return {}
        jid = self._jid()
        self.jobs[jid] = {"fun": chunk.get("fun"), "minions": minions}
        return {"jid": jid, "minions": minions}

    def _jid(self) -> str:
        """A job id as Salt makes them: the time to the microsecond (20 digits)."""
        self.jid_count += 1
        return self.farm.now().strftime("%Y%m%d%H%M%S") + f"{stable_int('jid', self.jid_count) % 1000000:06d}"


def _parse_body(request: Request, body: bytes) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind == "application/x-www-form-urlencoded":
        return {key: values[-1] for key, values in parse_qs(body.decode()).items()}
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise ValueError("Could not parse the request body as JSON") from None


def _salt_return(function: str, outcome: tuple[int, str, str]) -> Any:
    """A host's (retcode, stdout, stderr) as the Salt function returns it."""
    retcode, stdout, stderr = outcome
    if function == "cmd.run_all":
        return {"pid": 4000 + stable_int("salt-pid", function, stdout) % 60000, "retcode": retcode, "stdout": stdout, "stderr": stderr}
    if function in ("cmd.run", "cmd.shell"):
        return "\n".join(part for part in (stdout, stderr) if part)
    if function in ("service.restart", "service.status", "test.ping"):
        return retcode == 0
    if retcode != 0 and stderr:
        return stderr  # e.g. "'x.y' is not available."
    return stdout
