"""Parallel writers over real HTTP, on both stores: no lost, skipped or duplicated version."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers import FHIR_JSON, organization

HEADERS = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}


_AUTH: dict[str, str] = {}


def _put(url: str, body: dict, **headers) -> requests.Response:
    with requests.Session() as session:
        return session.put(url, data=json.dumps(body), headers={**HEADERS, **_AUTH, **headers}, timeout=60)


@pytest.fixture(autouse=True)
def _token(live_server):
    _AUTH.clear()
    _AUTH.update(live_server.headers)


def _versions(live_server, path: str) -> list[dict]:
    entries, url = [], f"{live_server.fhir}/{path}/_history?_count=1000"
    while url:
        page = requests.get(url, headers=_AUTH, timeout=30).json()
        entries += page.get("entry", [])
        url = next((l["url"] for l in page["link"] if l["relation"] == "next"), None)
    return entries


def test_of_racing_if_match_updates_exactly_one_wins(live_server):
    url = f"{live_server.fhir}/Organization/A81001"
    assert _put(url, organization()).status_code == 201
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: _put(url, organization(name=f"WRITER {n}"), **{"If-Match": 'W/"1"'}),
                                range(8)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [412] * 7
    winner = next(r for r in results if r.status_code == 200).json()["name"]
    current = requests.get(url, headers=_AUTH, timeout=10)
    assert current.headers["ETag"] == 'W/"2"' and current.json()["name"] == winner


def test_unconditional_parallel_updates_keep_every_version_in_order(live_server):
    url = f"{live_server.fhir}/Organization/A81001"
    assert _put(url, organization()).status_code == 201
    names = [f"W{w}-U{u}" for w in range(6) for u in range(5)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda name: _put(url, organization(name=name)), names))
    assert all(r.status_code == 200 for r in results)
    acknowledged = {r.json()["name"]: int(r.json()["meta"]["versionId"]) for r in results}
    assert sorted(acknowledged.values()) == list(range(2, 2 + len(names)))  # none skipped or duplicated
    history = _versions(live_server, "Organization/A81001")
    stored = {e["resource"]["name"]: int(e["resource"]["meta"]["versionId"]) for e in history}
    assert [int(e["resource"]["meta"]["versionId"]) for e in history] == list(range(1 + len(names), 0, -1))
    for name, version in acknowledged.items():  # no acknowledged update lost
        assert stored[name] == version


def test_racing_creates_of_one_id_make_one_resource(live_server):
    url = f"{live_server.fhir}/Organization/A81009"
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda n: _put(url, organization("A81009", name=f"C{n}")), range(6)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1 and statuses.count(200) == 5
    history = _versions(live_server, "Organization/A81009")
    assert sorted(int(e["resource"]["meta"]["versionId"]) for e in history) == list(range(1, 7))
