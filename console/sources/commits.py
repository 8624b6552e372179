"""Recent commits: from GitHub's REST API (with ETag caching) or from a local git checkout."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from console.core.clock import Clock, utc_now
from console.core.config import CommitsConfig
from console.core.model import Commit, CommitLog
from console.sources.base import MalformedAnswer, SourceError
from console.sources.bounded import bounded_request, max_answer
from console.sources.httpclient import (
    RedactingSource,
    answer_json,
    ssl_verify,
    transport_failure,
    transport_timeout,
)
from console.sources.parsing import as_dict, as_list, first_line, iso_time, opt_dict, opt_int, opt_str, req_str


class GitHubCommitsSource(RedactingSource[CommitLog]):
    """The latest commits of one GitHub repository (a 304 answer reuses the previous list)."""

    kind = "commits"

    def __init__(self, config: CommitsConfig, clock: Clock = utc_now) -> None:
        super().__init__(config.name, timeout=config.timeout, interval=config.interval, clock=clock)
        if not config.github:
            raise ValueError("GitHubCommitsSource needs `github: OWNER/REPO`")
        self.config = config
        self.repo = config.github
        self._http: httpx.AsyncClient | None = None
        self._etag: str | None = None
        self._previous: CommitLog | None = None

    def _secret_values(self) -> list[str]:
        return [self.config.token.reveal()] if self.config.token else []

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
            if self.config.token:
                headers["Authorization"] = f"Bearer {self.config.token.reveal()}"
            self._http = httpx.AsyncClient(
                base_url=self.config.api_url,
                verify=ssl_verify(self.config.verify),
                timeout=transport_timeout(self.config.timeout),
                headers=headers,
                follow_redirects=False,  # a redirect would carry the token elsewhere
            )
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool; the ETag and the last list are kept."""
        if self._http is not None:
            client, self._http = self._http, None
            await client.aclose()

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"per_page": self.config.limit}
        if self.config.branch:
            params["sha"] = self.config.branch
        return params

    async def _fetch(self) -> CommitLog:
        headers = {"If-None-Match": self._etag} if self._etag and self._previous else {}
        try:
            response = await bounded_request(self._client(), "GET", f"/repos/{self.repo}/commits", params=self._params(),
                                             headers=headers, max_bytes=max_answer(self.config), deadline=self.timeout)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError as exc:
            raise SourceError(transport_failure(self.config.api_url, exc)) from exc
        remaining = rate_limit_remaining(response.headers)
        if response.status_code == 304 and self._previous is not None:
            # unchanged since the last poll; a 304 does not count against the rate limit
            return CommitLog(self._previous.commits, remaining, not_modified=True)
        self._raise_for_rate_limit(response)
        if response.status_code == 404:
            raise SourceError(f"repository {self.repo} not found (or the token cannot see it)")
        auth_hint = "check the GitHub token" if self.config.token else "the API wants a token"
        commits = parse_github_commits(answer_json(response, auth_hint=auth_hint), self.repo)
        self._previous = CommitLog(commits, remaining)
        self._etag = response.headers.get("etag")
        return self._previous

    def _raise_for_rate_limit(self, response: httpx.Response) -> None:
        if response.status_code not in (403, 429):
            return
        limited = response.status_code == 429 or response.headers.get("x-ratelimit-remaining") == "0"
        if limited or "rate limit" in response.text.lower():
            raise SourceError(rate_limit_message(response.headers, self.clock()))


def rate_limit_remaining(headers: httpx.Headers | dict[str, str]) -> int | None:
    """`x-ratelimit-remaining` as a number, or None when absent or garbled."""
    try:
        return opt_int(headers.get("x-ratelimit-remaining"), "x-ratelimit-remaining")
    except MalformedAnswer:
        return None


def rate_limit_message(headers: httpx.Headers | dict[str, str], now: datetime) -> str:
    """'GitHub rate limit exhausted; resets at 14:05:00 UTC (in 12 min)' from the answer's headers."""
    reset: datetime | None = None
    try:
        epoch = opt_int(headers.get("x-ratelimit-reset"), "x-ratelimit-reset")
        if epoch:
            reset = datetime.fromtimestamp(epoch, tz=timezone.utc)
        else:
            wait = opt_int(headers.get("retry-after"), "retry-after")
            reset = datetime.fromtimestamp(now.timestamp() + wait, tz=timezone.utc) if wait is not None else None
    except (MalformedAnswer, OverflowError, OSError, ValueError):
        reset = None
    if reset is None:
        return "GitHub rate limit exhausted; reset time unknown"
    minutes = max(0, round((reset - now).total_seconds() / 60))
    return f"GitHub rate limit exhausted; resets at {reset:%H:%M:%S} UTC (in {minutes} min)"


def parse_github_commits(payload: Any, repo: str) -> tuple[Commit, ...]:
    """`GET /repos/{owner}/{repo}/commits` → Commits, newest first (by committer date)."""
    commits = [parse_github_commit(item, repo, f"commits[{i}]") for i, item in enumerate(as_list(payload, "commits"))]
    return tuple(sorted(commits, key=lambda c: c.date, reverse=True))  # stable: GitHub's order on ties


def parse_github_commit(item: Any, repo: str, at: str) -> Commit:
    """One commit: author name from commit.author (else the GitHub login), committer date (else author date)."""
    record = as_dict(item, at)
    detail = as_dict(record.get("commit"), f"{at}.commit")
    author = opt_dict(detail.get("author"), f"{at}.commit.author")
    committer = opt_dict(detail.get("committer"), f"{at}.commit.committer")
    login = opt_dict(record.get("author"), f"{at}.author").get("login")
    date = iso_time(committer.get("date"), f"{at}.commit.committer.date") or iso_time(
        author.get("date"), f"{at}.commit.author.date"
    )
    if date is None:
        raise MalformedAnswer(f"malformed answer: {at} has no date")
    name = opt_str(author.get("name"), f"{at}.commit.author.name")
    return Commit(
        repo=repo,
        sha=req_str(record, "sha", at),
        author=name or (login if isinstance(login, str) else None) or "unknown",
        date=date,
        subject=first_line(opt_str(detail.get("message"), f"{at}.commit.message") or "", 500),
        url=opt_str(record.get("html_url"), f"{at}.html_url"),
    )


# --- local git ---------------------------------------------------------------------------------

FIELD = "\x1f"  # unit separator between fields
RECORD = "\x1e"  # record separator between commits
LOG_FORMAT = "%H%x1f%an%x1f%cI%x1f%s%x1e"


class LocalGitCommitsSource(RedactingSource[CommitLog]):
    """The latest commits of a local checkout, via `git log` (no shell involved)."""

    kind = "commits"

    def __init__(self, config: CommitsConfig, clock: Clock = utc_now) -> None:
        super().__init__(config.name, timeout=config.timeout, interval=config.interval, clock=clock)
        if not config.git:
            raise ValueError("LocalGitCommitsSource needs `git: PATH`")
        self.config = config
        self.path = Path(config.git).expanduser()
        self.repo = self.path.resolve().name  # the label operators know the checkout by

    def git_command(self) -> list[str]:
        """The argv of `git log` for this source."""
        command = ["git", "-C", str(self.path), "log", "--no-color", f"-n{self.config.limit}", f"--format={LOG_FORMAT}"]
        if self.config.branch:
            if self.config.branch.startswith("-"):
                raise SourceError(f"bad branch name {self.config.branch!r}")  # would be read as an option
            command.append(self.config.branch)
        return [*command, "--"]  # ends the revisions: a branch never gets read as a path

    async def _fetch(self) -> CommitLog:
        stdout = await run_git(self.git_command())
        return CommitLog(commits=parse_git_log(stdout, self.repo))


async def run_git(command: list[str]) -> str:
    """Run git, return its stdout; a failure raises SourceError with git's own first line."""
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"}
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
    except FileNotFoundError:
        raise SourceError("git is not installed (not found on PATH)") from None
    try:
        stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled (timeout): do not leave git running
            process.kill()
            await asyncio.shield(process.wait())
    if process.returncode != 0:
        message = first_line(stderr.decode("utf-8", "replace")) or f"exit status {process.returncode}"
        if "does not have any commits yet" in message:
            return ""  # a fresh repository: no commits is an answer, not a failure
        raise SourceError(f"git log failed: {message}")
    return stdout.decode("utf-8", "replace")


def parse_git_log(text: str, repo: str) -> tuple[Commit, ...]:
    """`git log --format=%H%x1f%an%x1f%cI%x1f%s%x1e` output → Commits in git's order (newest first)."""
    commits = []
    for index, chunk in enumerate(text.split(RECORD)):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        parts = chunk.split(FIELD, 3)  # the subject, last, keeps any stray separator
        if len(parts) != 4:
            raise MalformedAnswer(f"malformed answer: git log record {index} has {len(parts)} fields, not 4")
        sha, author, date, subject = parts
        when = iso_time(date, f"git log record {index} date")
        if when is None or len(sha) < 7:
            raise MalformedAnswer(f"malformed answer: git log record {index} lacks a sha or a date")
        commits.append(Commit(repo=repo, sha=sha, author=author or "unknown", date=when, subject=subject))
    return tuple(commits)
