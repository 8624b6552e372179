"""The simulated GitHub commits API, read with httpx: shape, paging, ETag/304, rate limit, auth."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import console.sim

pytestmark = pytest.mark.sim
DATA = json.loads((Path(console.sim.__file__).parent / "data" / "recent-commits.json").read_text(encoding="utf-8"))


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    return sim_farm_factory("php-fpm-down")


@pytest.fixture(scope="module")
def github(farm, sim_client_factory):
    client = sim_client_factory(farm)
    token = farm.secret_path("github").read_text().strip()

    def get(path: str, headers: dict | None = None, auth: str | None = "Bearer", **params):
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"{auth} {token}"
        return client.get(farm.urls["github"] + path, headers=sent, params=params)

    return get


def test_commit_shape(github):
    answer = github("/repos/miraheze/mw-config/commits", per_page=5)
    assert answer.status_code == 200
    commits = answer.json()
    assert len(commits) == 5
    first = commits[0]
    assert {"sha", "html_url", "commit", "author", "committer", "parents", "url"} <= first.keys()
    assert {"author", "committer", "message"} <= first["commit"].keys()
    assert set(first["commit"]["author"]) == {"name", "email", "date"}
    assert first["sha"] == DATA["miraheze/mw-config"][0]["sha"]
    assert first["commit"]["message"] == DATA["miraheze/mw-config"][0]["subject"]
    assert first["author"] is None or first["author"]["login"] == DATA["miraheze/mw-config"][0]["author"]
    assert first["parents"][0]["sha"] == commits[1]["sha"]
    assert first["html_url"] == f"https://github.com/miraheze/mw-config/commit/{first['sha']}"


def test_dates_end_just_before_now_with_the_recorded_spacing(github, farm):
    now = farm.model.now()
    newest = max(_date(c["commit"]["author"]["date"]) for repo in ("mw-config", "puppet", "dns")
                 for c in github(f"/repos/miraheze/{repo}/commits", per_page=1).json())
    assert timedelta(minutes=1) < now - newest < timedelta(hours=3)
    commits = github("/repos/miraheze/dns/commits", per_page=3).json()
    served = [_date(c["commit"]["author"]["date"]) for c in commits]
    recorded = [datetime.fromisoformat(c["date"]) for c in DATA["miraheze/dns"][:3]]
    assert [a - b for a, b in zip(served, served[1:], strict=False)] == [a - b for a, b in zip(recorded, recorded[1:], strict=False)]


def test_pagination_links(github):
    answer = github("/repos/miraheze/puppet/commits", per_page=50, page=2)
    assert len(answer.json()) == 50
    link = answer.headers["link"]
    assert 'rel="next"' in link and 'rel="prev"' in link and 'rel="last"' in link and 'rel="first"' in link
    assert "page=3" in link and "per_page=50" in link
    last = github("/repos/miraheze/puppet/commits", per_page=50, page=4)
    assert len(last.json()) == 50 and 'rel="next"' not in last.headers["link"]


def test_since(github):
    all_commits = github("/repos/miraheze/mw-config/commits", per_page=100).json()
    since = all_commits[9]["commit"]["committer"]["date"]
    recent = github("/repos/miraheze/mw-config/commits", since=since, per_page=100).json()
    assert [c["sha"] for c in recent] == [c["sha"] for c in all_commits[:10]]


def test_etag_304_costs_no_rate_limit(github):
    first = github("/repos/miraheze/dns/commits", per_page=10)
    etag = first.headers["etag"]
    remaining = int(first.headers["x-ratelimit-remaining"])
    assert first.headers["x-ratelimit-limit"] == "5000" and int(first.headers["x-ratelimit-reset"]) > 0
    again = github("/repos/miraheze/dns/commits", per_page=10, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    changed = github("/repos/miraheze/dns/commits", per_page=11, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and int(changed.headers["x-ratelimit-remaining"]) == remaining - 1


def test_token_forms_and_bad_credentials(github):
    assert github("/repos/miraheze/dns/commits", auth="token").status_code == 200
    assert github("/repos/miraheze/dns/commits", auth=None).headers["x-ratelimit-limit"] == "60"
    answer = github("/repos/miraheze/dns/commits", headers={"Authorization": "Bearer ghp_wrong"}, auth=None)
    assert answer.status_code == 401 and answer.json()["message"] == "Bad credentials"


def test_unknown_repo_and_commit(github):
    answer = github("/repos/miraheze/nosuch/commits")
    assert answer.status_code == 404 and answer.json()["message"] == "Not Found"
    assert github("/repos/miraheze/dns/commits", sha="0000000").status_code == 404


def test_single_commit_lists_files(github):
    sha = DATA["miraheze/puppet"][0]["sha"]
    answer = github(f"/repos/miraheze/puppet/commits/{sha}")
    assert answer.status_code == 200
    assert [f["filename"] for f in answer.json()["files"]] == DATA["miraheze/puppet"][0]["files"]


def test_rate_limit_and_new_commits(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory("healthy")
    client = sim_client_factory(farm)
    headers = {"Authorization": f"Bearer {farm.secret_path('github').read_text().strip()}"}
    url = farm.urls["github"] + "/repos/miraheze/mw-config/commits"
    before = client.get(url, headers=headers)
    sha = farm.model.add_commit("miraheze/mw-config", "T16000: emergency: disable Page Forms (#6510)", ("LocalSettings.php",))
    after = client.get(url, headers={**headers, "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.json()[0]["sha"] == sha
    assert after.json()[0]["committer"]["login"] == "web-flow"  # merged on GitHub
    farm.model.set_github_quota(remaining=0)
    limited = client.get(url, headers=headers)
    assert limited.status_code == 403 and "rate limit exceeded" in limited.json()["message"]
    assert limited.headers["x-ratelimit-remaining"] == "0"


def test_puppet_after_commit_places_the_change_20_minutes_ago(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory("puppet-after-commit")
    client = sim_client_factory(farm)
    commits = client.get(farm.urls["github"] + "/repos/miraheze/puppet/commits", params={"per_page": 2}).json()
    newest = commits[0]
    assert newest["commit"]["message"].startswith("T15558: move robots.php")
    assert farm.model.now() - _date(newest["commit"]["committer"]["date"]) == timedelta(minutes=20)
    files = client.get(farm.urls["github"] + f"/repos/miraheze/puppet/commits/{newest['sha']}").json()["files"]
    assert any(f["filename"].startswith("modules/mediawiki/") for f in files)
