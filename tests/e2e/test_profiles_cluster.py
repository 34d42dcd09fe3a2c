"""Profiles across processes: saved by a session on one worker, restored on another; a worker killed hard
(kill -9) cannot save, so the profile keeps its previous version, and its lease is free again."""

import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_cluster import Cluster, cluster, status_of, wait_for  # noqa: F401 (the fixture)
from tests.login_site import WHO, login_site

pytestmark = pytest.mark.e2e

SESSIONS = "/v1/browser/sessions/"


@pytest.fixture(scope="module")
def login() -> Iterator[str]:
    with login_site() as url:
        yield url


def _create(api: str, me: dict[str, str], **profile: Any) -> dict[str, Any]:
    response = httpx.post(api + SESSIONS, json={"profile": profile}, headers=me, timeout=30)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _go(api: str, me: dict[str, str], sid: str, url: str) -> None:
    response = httpx.post(f"{api}{SESSIONS}{sid}/navigate", json={"url": url}, headers=me, timeout=30)
    assert response.status_code == 200, response.text


def _who(api: str, me: dict[str, str], sid: str, login: str) -> list[str]:
    _go(api, me, sid, login + "/")
    result: list[str] = httpx.post(f"{api}{SESSIONS}{sid}/evaluate", json={"expression": WHO}, headers=me).json()[
        "result"
    ]
    return result


def _saved_sid(api: str, me: dict[str, str], name: str) -> str | None:
    state = httpx.get(f"{api}/v1/profiles/{name}/state", headers=me).json()
    return next((c["value"] for c in state["cookies"] if c["name"] == "sid"), None)


def test_saved_on_one_worker_restored_on_another_and_a_hard_kill_keeps_the_last_save(
    cluster: Cluster,  # noqa: F811
    login: str,
) -> None:
    api = cluster.api().url
    first, second = cluster.worker(), cluster.worker()
    me = cluster.key()

    writer = _create(api, me, name="shop-login", persist=True)
    _go(api, me, writer["session_id"], login + "/login?user=alice")
    assert httpx.delete(api + SESSIONS + writer["session_id"], headers=me).status_code == 204
    saved_on = cluster.holder(writer["session_id"])

    readers = [_create(api, me, name="shop-login")]
    while cluster.holder(readers[-1]["session_id"]) == saved_on:
        assert len(readers) < 8, "placement never chose the other worker"
        readers.append(_create(api, me, name="shop-login"))
    elsewhere = readers[-1]["session_id"]
    assert cluster.holder(elsewhere) != saved_on
    assert _who(api, me, elsewhere, login) == ["alice", "alice"]
    for reader in readers:
        httpx.delete(api + SESSIONS + reader["session_id"], headers=me)

    # A persisting session checkpoints bob, then signs in as carol and its worker is killed before any save.
    doomed = _create(api, me, name="shop-login", persist=True)
    sid = doomed["session_id"]
    _go(api, me, sid, login + "/login?user=bob")
    assert httpx.post(f"{api}{SESSIONS}{sid}/profile/save", headers=me).status_code == 200
    _go(api, me, sid, login + "/login?user=carol")
    victim = first if cluster.holder(sid) == first.worker_id else second
    victim.signal(signal.SIGKILL)
    victim.wait(timeout=10)

    wait_for(lambda: status_of(cluster.apis[0], me, sid) == "failed", timeout=15)
    detail = httpx.get(api + SESSIONS + sid, headers=me).json()
    assert detail["end_reason"] == "worker_lost" and detail["profile_save"] == "not_saved"
    assert detail["profile_saved_at"] is not None  # its checkpoint
    assert _saved_sid(api, me, "shop-login") == "token-bob"
    assert httpx.get(f"{api}/v1/profiles/shop-login", headers=me).json()["in_use_by"] is None

    resumed = _create(api, me, name="shop-login", persist=True)  # the lease went with the lost session
    assert _who(api, me, resumed["session_id"], login) == ["bob", "bob"]
