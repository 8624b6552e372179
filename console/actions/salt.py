"""Commands through the Salt API (rest_cherrypy; actions.executor: salt).

`POST /login` once ({username, password, eauth}); the token is reused until shortly before its
`expire`, and renewed once when the API answers 401. Each command is one synchronous `local` call
on one minion: `cmd.run_all <line>` (retcode, stdout, stderr) or the service's configured function
(`service.restart php8.4-fpm` -> True/False). Salt waits `actions.salt.timeout` (or the command's
timeout, when shorter) for a silent minion; the HTTP call is bounded by the command's timeout. A
minion missing from the answer, or reported "did not return", is no-return; for a missing one a
second, asynchronous call tells an unknown minion (no accepted key matches) from a silent one.
The password is a Secret and never appears in a message.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import httpx

from console.actions.guard import Session
from console.actions.plan import Command
from console.actions.remote import DOWN, FAILED, NO_RETURN, OK, REFUSED, TIMEOUT, CommandExecutor, CommandResult, OutputCallback
from console.core.config import AppConfig
from console.sources.bounded import DEFAULT_MAX_ANSWER, AnswerBound, bounded_request
from console.sources.httpclient import ssl_verify, transport_timeout

RENEW_BEFORE = 60.0  # seconds before the token's expiry we log in again
HTTP_MARGIN = 15.0  # the API answers a little after the minions' timeout
LOGIN_TIMEOUT = 10.0  # seconds a login may take, answer included


DID_NOT_RETURN = "Minion did not return"  # what the master puts in place of a silent minion's return


def _silent(minion: str, timeout: float) -> str:
    return f"{minion}: the minion did not return within {timeout:g} s (not running, or not connected to the master)"


class SaltLoginFailed(Exception):
    pass


class SaltExecutor(CommandExecutor):
    name = "salt"

    def __init__(self, config: AppConfig, session: Session) -> None:
        super().__init__(config, session)
        settings = config.actions.salt
        if settings is None:  # the config refuses `executor: salt` without it; guard direct use too
            from console.actions.guard import NotConfigured

            raise NotConfigured("refused: actions.executor is salt but there is no actions.salt section")
        self.settings = settings
        self._client: httpx.AsyncClient | None = None
        self.max_answer = DEFAULT_MAX_ANSWER  # bytes of a 2xx answer (others: 64 KiB); a bigger one fails
        self._token: str | None = None
        self._expires_at = 0.0  # time.time() of the token's expiry

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.settings.url, verify=ssl_verify(self.settings.verify),
                                             headers={"Accept": "application/json"})
        return self._client

    async def run(self, command: Command, on_output: OutputCallback | None = None) -> CommandResult:
        self.session.require_writable()
        started = time.monotonic()
        minion = command.address

        def result(status: str, detail: str, exit_status: int | None = None, stdout: str = "", stderr: str = "") -> CommandResult:
            return CommandResult(command.host, status, exit_status, stdout, stderr, detail, time.monotonic() - started)

        if command.salt_function:
            function, args = command.salt_function, list(command.salt_args)
        else:
            function, args = "cmd.run_all", [command.line]
        # Salt's `timeout` is how long a minion may stay silent (a running job is waited for); the HTTP
        # call is bounded by the command's own timeout. tgt_type list: the id matches exactly, never as a glob.
        silence = min(self.settings.timeout, command.timeout)
        lowstate = [{"client": "local", "tgt": minion, "tgt_type": "list", "fun": function, "arg": args,
                     "timeout": max(1, round(silence))}]
        try:
            answer = await self._call(lowstate, command.timeout + HTTP_MARGIN)
        except SaltLoginFailed as problem:
            return result(REFUSED, str(problem))
        except httpx.TimeoutException:
            return result(TIMEOUT, f"{minion}: the Salt API gave no answer within {command.timeout + HTTP_MARGIN:g} s")
        except _ApiProblem as problem:
            return result(DOWN, str(problem))
        returned = _first_return(answer)
        if returned is None:
            return result(FAILED, f"{minion}: the Salt API answered something that is not a local-client return")
        if minion not in returned:
            return result(NO_RETURN, await self._why_no_return(minion, silence))
        if isinstance(returned[minion], str) and returned[minion].startswith(DID_NOT_RETURN):
            return result(NO_RETURN, _silent(minion, silence))
        outcome = await _report(returned[minion], function, on_output)
        status_code, stdout, stderr, detail = outcome
        if status_code == 0:
            return result(OK, f"{minion}: {detail}", 0, stdout, stderr)
        return result(FAILED, f"{minion}: {detail}", status_code, stdout, stderr)

    async def _why_no_return(self, minion: str, timeout: float) -> str:
        """Unknown minion (no accepted key for it) or a silent one: `local_async` lists who was targeted."""
        silent = _silent(minion, timeout)
        try:
            answer = await self._call([{"client": "local_async", "tgt": minion, "tgt_type": "list", "fun": "test.ping"}], 10)
        except (SaltLoginFailed, _ApiProblem, httpx.HTTPError):
            return silent
        job = _first_return(answer)
        # Salt answers {} when no minion matched ("no jid was assigned"), else {jid, minions}
        if job == {} or (isinstance(job, dict) and isinstance(job.get("minions"), list) and minion not in job["minions"]):
            return f"{minion}: unknown minion: no accepted Salt key has this id (actions.salt.target makes {minion!r})"
        return silent

    async def _call(self, lowstate: list[dict[str, Any]], timeout: float) -> Any:
        """POST / with the token; on 401 log in again and retry once."""
        for attempt in (1, 2):
            token = await self._login(force=attempt == 2)
            try:
                response = await self._post("/", timeout, json=lowstate, headers={"X-Auth-Token": token})
            except httpx.TimeoutException:
                raise
            except AnswerBound as exc:
                raise _ApiProblem(f"the Salt API at {self.settings.url}: {exc}") from None
            except httpx.HTTPError as exc:
                raise _ApiProblem(f"the Salt API at {self.settings.url} cannot be reached: {_describe(exc)}") from None
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.status_code == 401:
                raise SaltLoginFailed("refused: the Salt API refused a fresh token (401); check actions.salt.username and its eauth permissions")
            if response.status_code == 403:
                raise SaltLoginFailed(f"refused: {self.settings.username} may not run this through the Salt API (403)")
            if response.status_code >= 400:
                raise _ApiProblem(f"the Salt API answered HTTP {response.status_code}")
            try:
                return response.json()
            except ValueError:
                raise _ApiProblem("the Salt API answered something that is not JSON") from None
        raise AssertionError("unreachable")

    async def _login(self, force: bool = False) -> str:
        if self._token and not force and time.time() < self._expires_at - RENEW_BEFORE:
            return self._token
        settings = self.settings
        body = {"username": settings.username, "password": settings.password.reveal(), "eauth": settings.eauth}
        try:
            response = await self._post("/login", LOGIN_TIMEOUT, json=body)
        except AnswerBound as exc:
            raise _ApiProblem(f"the Salt API at {settings.url}: {exc}") from None
        except httpx.HTTPError as exc:
            raise _ApiProblem(f"the Salt API at {settings.url} cannot be reached: {_describe(exc)}") from None
        if response.status_code in (401, 403):
            raise SaltLoginFailed(f"refused: the Salt API refused the login of {settings.username} "
                                  f"(eauth {settings.eauth}): wrong username or password, or no permission")
        if response.status_code >= 400:
            raise _ApiProblem(f"the Salt API login answered HTTP {response.status_code}")
        try:
            data = response.json()["return"][0]
            token, expire = str(data["token"]), float(data.get("expire", 0))
        except (ValueError, KeyError, IndexError, TypeError):
            raise _ApiProblem("the Salt API login answer has no token") from None
        self._token = token
        self._expires_at = expire or time.time() + 3600
        return token

    async def _post(self, path: str, timeout: float, **kwargs: Any) -> httpx.Response:
        """POST within `timeout` seconds in all (connect, send, the whole answer) and the answer cap."""
        return await bounded_request(self._http(), "POST", path, max_bytes=self.max_answer, deadline=timeout,
                                     timeout=transport_timeout(timeout), **kwargs)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self._token = None
        if client is not None:
            await client.aclose()


class _ApiProblem(Exception):
    pass


def _first_return(answer: Any) -> dict[str, Any] | None:
    if isinstance(answer, dict) and isinstance(answer.get("return"), list) and answer["return"]:
        first = answer["return"][0]
        return first if isinstance(first, dict) else None
    return None


async def _report(value: Any, function: str, on_output: OutputCallback | None) -> tuple[int | None, str, str, str]:
    """(exit status, stdout, stderr, detail) of one minion's return, lines handed to on_output."""
    if isinstance(value, dict) and "retcode" in value:  # cmd.run_all
        retcode = value.get("retcode")
        stdout, stderr = str(value.get("stdout") or ""), str(value.get("stderr") or "")
        code = retcode if isinstance(retcode, int) else None
        last = _last_line(stderr) or _last_line(stdout)
        detail = f"exit {retcode}" + (f": {last}" if code != 0 and last else "")
    elif value is True:
        code, stdout, stderr, detail = 0, "True", "", f"{function}: True"
    elif value is False:
        code, stdout, stderr, detail = 1, "False", "", f"{function} returned False"
    else:  # a function's error message ("'x.y' is not available.") or another result
        text = value if isinstance(value, str) else repr(value)
        failed = isinstance(value, str) and (text.startswith("ERROR") or "is not available" in text
                                             or text.startswith("Passed invalid arguments"))
        code, stdout, stderr = (1, "", text) if failed else (0, text, "")
        detail = _last_line(text) if failed else f"{function}: done"
    for line in (stdout + ("\n" if stdout and stderr else "") + stderr).splitlines():
        if on_output is None:
            break
        try:
            outcome = on_output(line)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:  # noqa: BLE001 - a failing display must not change the outcome
            pass
    return code, stdout, stderr, detail


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{name}: {text}" if text else name
