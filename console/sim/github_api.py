"""GitHub's REST API for recent commits: list and single commit, ETag/304, rate limit headers, Link paging."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from console.sim.commits import Commit
from console.sim.farm import Farm, Quota
from console.sim.farm_api import FarmApi
from console.sim.seeded import hexid, stable_int, unit

API = "https://api.github.com"  # what the real answers link to; the sim's own URL only goes into Link headers
DOCS = "https://docs.github.com/rest/commits/commits#list-commits"
API_VERSION = "2022-11-28"


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(status: int, message: str, docs: str = DOCS, headers: dict | None = None) -> Response:
    body = json.dumps({"message": message, "documentation_url": docs, "status": str(status)})
    return Response(body, status, headers={"server": "github.com", **(headers or {})},
                    media_type="application/json; charset=utf-8")


def user(login: str) -> dict:
    uid = 1000000 + stable_int("github-user", login) % 90000000
    base = f"{API}/users/{login}"
    return {
        "login": login, "id": uid, "node_id": "MDQ6VXNlcj" + hexid("node", login, length=10),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
        "url": base, "html_url": f"https://github.com/{login}", "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events", "type": "User", "user_view_type": "public", "site_admin": False,
    }


WEB_FLOW = {**user("web-flow"), "id": 19864447, "node_id": "MDQ6VXNlcjE5ODY0NDQ3",
            "avatar_url": "https://avatars.githubusercontent.com/u/19864447?v=4"}


def commit_json(c: Commit, detail: bool = False) -> dict:
    uid = 1000000 + stable_int("github-user", c.author) % 90000000
    person = {"name": c.name or c.author, "email": f"{uid}+{c.author}@users.noreply.github.com", "date": _iso(c.date)}
    merged = c.merged_on_github
    committer = {"name": "GitHub", "email": "noreply@github.com", "date": _iso(c.date)} if merged else person
    linked = unit("linked-account", c.repo, c.sha) >= 0.04  # a few emails belong to no GitHub account: author is null
    base = f"{API}/repos/{c.repo}"
    tree = hexid("tree", c.sha)
    out: dict[str, Any] = {
        "sha": c.sha,
        "node_id": "C_kwDO" + hexid("commit-node", c.sha, length=30),
        "commit": {
            "author": person,
            "committer": committer,
            "message": c.message,
            "tree": {"sha": tree, "url": f"{base}/git/trees/{tree}"},
            "url": f"{base}/git/commits/{c.sha}",
            "comment_count": 0,
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None},
        },
        "url": f"{base}/commits/{c.sha}",
        "html_url": f"https://github.com/{c.repo}/commit/{c.sha}",
        "comments_url": f"{base}/commits/{c.sha}/comments",
        "author": user(c.author) if linked else None,
        "committer": WEB_FLOW if merged else (user(c.author) if linked else None),
        "parents": [{"sha": p, "url": f"{base}/commits/{p}", "html_url": f"https://github.com/{c.repo}/commit/{p}"}
                    for p in c.parents],
    }
    if detail:
        files: list[dict[str, Any]] = []
        for path in c.files:
            adds = 1 + stable_int("adds", c.sha, path) % 40
            dels = stable_int("dels", c.sha, path) % 25
            blob = hexid("blob", c.sha, path)
            files.append({
                "sha": blob, "filename": path, "status": "modified", "additions": adds, "deletions": dels,
                "changes": adds + dels, "blob_url": f"https://github.com/{c.repo}/blob/{c.sha}/{path}",
                "raw_url": f"https://github.com/{c.repo}/raw/{c.sha}/{path}",
                "contents_url": f"{base}/contents/{path}?ref={c.sha}",
                "patch": f"@@ -1,{dels} +1,{adds} @@",
            })
        additions = sum(f["additions"] for f in files)
        deletions = sum(f["deletions"] for f in files)
        out["stats"] = {"total": additions + deletions, "additions": additions, "deletions": deletions}
        out["files"] = files
    return out


def _etag(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest() + '"'


def _etag_matches(header: str, etag: str) -> bool:
    wanted = etag.removeprefix("W/").strip('"')
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/").strip('"') == wanted:
            return True
    return False


class GitHubApi(FarmApi):
    def __init__(self, farm: Farm, token: str) -> None:
        super().__init__(farm)
        self.token = token

    def _quota(self, now: datetime, authenticated: bool) -> Quota:
        quota = self.farm.github_quota if authenticated else self.farm.github_anonymous_quota
        if now >= quota.reset:
            hours = math.floor((now - quota.reset).total_seconds() / 3600) + 1
            quota.reset += timedelta(hours=hours)
            quota.remaining = quota.limit
        return quota

    @staticmethod
    def _limit_headers(quota: Quota) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(quota.limit),
            "x-ratelimit-remaining": str(max(0, quota.remaining)),
            "x-ratelimit-reset": str(int(quota.reset.timestamp())),
            "x-ratelimit-used": str(max(0, quota.limit - quota.remaining)),
            "x-ratelimit-resource": "core",
        }

    def handle(self, request: Request, body: bytes) -> Response:
        now = self.farm.now()
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        authenticated = bool(header)
        if header:
            if scheme.lower() not in ("bearer", "token") or not hmac.compare_digest(credential.strip().encode(), self.token.encode()):
                return _message(401, "Bad credentials", "https://docs.github.com/rest",
                                self._limit_headers(self._quota(now, authenticated=False)))
        quota = self._quota(now, authenticated)
        parts = [p for p in request.url.path.split("/") if p]
        if request.method != "GET":
            return _message(404, "Not Found", "https://docs.github.com/rest")
        if parts == ["rate_limit"]:
            core = {"limit": quota.limit, "remaining": quota.remaining, "reset": int(quota.reset.timestamp()),
                    "used": quota.limit - quota.remaining, "resource": "core"}
            return Response(json.dumps({"resources": {"core": core}, "rate": core}), 200,
                            headers=self._limit_headers(quota), media_type="application/json; charset=utf-8")
        if quota.remaining <= 0:
            return _message(403, f"API rate limit exceeded for user ID {1000000 + stable_int('github-user', 'opsconsole') % 90000000}."
                            if authenticated else "API rate limit exceeded for 127.0.0.1. (But here's the good news: "
                            "Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
                            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", self._limit_headers(quota))
        if len(parts) < 3 or parts[0] != "repos":
            return _message(404, "Not Found", "https://docs.github.com/rest", self._limit_headers(quota))
        repo = f"{parts[1]}/{parts[2]}"
        commits = self.farm.repos.get(repo)
        if commits is None:
            return _message(404, "Not Found", DOCS, self._limit_headers(quota))
        match parts[3:]:
            case []:
                return self._answer(request, quota, self._repo(repo))
            case ["commits"]:
                return self._list(request, quota, repo, commits)
            case ["commits", ref]:
                found = _find(commits, ref)
                if found is None:
                    return _message(422, f"No commit found for SHA: {ref}",
                                    "https://docs.github.com/rest/commits/commits#get-a-commit", self._limit_headers(quota))
                return self._answer(request, quota, commit_json(commits[found], detail=True))
        return _message(404, "Not Found", "https://docs.github.com/rest", self._limit_headers(quota))

    def _repo(self, repo: str) -> dict:
        owner, name = repo.split("/")
        rid = 10000000 + stable_int("repo", repo) % 900000000
        return {"id": rid, "name": name, "full_name": repo, "private": False, "default_branch": "main",
                "html_url": f"https://github.com/{repo}", "url": f"{API}/repos/{repo}",
                "owner": {**user(owner), "type": "Organization"}}

    def _list(self, request: Request, quota: Quota, repo: str, commits: list[Commit]) -> Response:
        params = request.query_params
        selected = commits
        ref = params.get("sha")
        if ref and ref not in ("main", "master", "HEAD"):
            start = _find(commits, ref)
            if start is None:
                return _message(404, f"No commit found for SHA: {ref}", DOCS, self._limit_headers(quota))
            selected = commits[start:]
        for name, keep in (("since", lambda c, t: c.date >= t), ("until", lambda c, t: c.date <= t)):
            if params.get(name):
                try:
                    bound = datetime.fromisoformat(params[name].replace("Z", "+00:00"))
                except ValueError:
                    return _message(422, "Invalid request.\n\n" + f'"{name}" is not a timestamp.',
                                    headers=self._limit_headers(quota))
                if bound.tzinfo is None:
                    bound = bound.replace(tzinfo=timezone.utc)
                selected = [c for c in selected if keep(c, bound)]
        if params.get("path"):
            prefix = params["path"].strip("/")
            selected = [c for c in selected if any(f == prefix or f.startswith(prefix + "/") for f in c.files)]
        if params.get("author"):
            selected = [c for c in selected if c.author == params["author"]]
        try:
            per_page = min(100, max(1, int(params.get("per_page") or 30)))
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            per_page, page = 30, 1
        chunk = selected[(page - 1) * per_page:page * per_page]
        last = max(1, math.ceil(len(selected) / per_page))
        links = []
        if len(selected) > per_page:
            base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            kept = [(k, v) for k, v in params.multi_items() if k != "page"]

            def link(n: int, rel: str) -> str:
                return f'<{base}?{urlencode(kept + [("page", str(n))])}>; rel="{rel}"'

            if page > 1:
                links.append(link(page - 1, "prev"))
            if page < last:
                links.append(link(page + 1, "next"))
                links.append(link(last, "last"))
            if page > 1:
                links.append(link(1, "first"))
        return self._answer(request, quota, [commit_json(c) for c in chunk], ", ".join(links) or None)

    def _answer(self, request: Request, quota: Quota, data: Any, link: str | None = None) -> Response:
        body = json.dumps(data, separators=(",", ":")).encode()
        etag = _etag(body)
        headers = {
            "server": "github.com", "etag": etag, "cache-control": "private, max-age=60, s-maxage=60",
            "vary": "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding",
            "x-github-api-version-selected": API_VERSION, "x-github-media-type": "github.v3; format=json",
        }
        if link:
            headers["link"] = link
        if _etag_matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers={**headers, **self._limit_headers(quota)})  # free: no quota used
        quota.remaining -= 1
        return Response(body, 200, headers={**headers, **self._limit_headers(quota)},
                        media_type="application/json; charset=utf-8")


def _find(commits: list[Commit], ref: str) -> int | None:
    if len(ref) < 4:
        return None
    for i, commit in enumerate(commits):
        if commit.sha.startswith(ref.lower()):
            return i
    return None
