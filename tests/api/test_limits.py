"""Quotas and hardening: live sessions per user, requests per credential, login guessing, token revocation,
and records left without a context."""

from pathlib import Path

import pytest

from orchestrator import agent
from tests.conftest import Daemon, make_settings, start_daemon
from tests.support import eventually

SESSIONS = "/v1/browser/sessions/"


async def test_live_sessions_per_user_are_limited(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, max_sessions_per_user=2)) as daemon:
        me, other = await daemon.user("quota-user"), await daemon.user()
        first = await daemon.create(me)
        await daemon.create(me)
        refused = await daemon.client.post(SESSIONS, json={}, headers=me)
        assert refused.status_code == 429
        assert "limit" in refused.json()["detail"]
        assert daemon.worker.held_session_ids().__len__() == 2  # nothing was opened for it
        await daemon.create(other)  # someone else's limit is their own

        await daemon.runtime.accounts.set_session_limit("quota-user", 3)  # `browserpool users limit`
        await daemon.create(me)
        await daemon.runtime.accounts.set_session_limit("quota-user", None)
        assert (await daemon.client.post(SESSIONS, json={}, headers=me)).status_code == 429
        await daemon.client.delete(SESSIONS + first["session_id"], headers=me)
        assert (await daemon.client.post(SESSIONS, json={}, headers=me)).status_code == 429  # 2 left of 3, limit 2
        listed = (await daemon.client.get(SESSIONS, headers=me)).json()
        await daemon.client.delete(SESSIONS + listed["sessions"][0]["session_id"], headers=me)
        await daemon.create(me)


async def test_requests_per_credential_are_limited(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, rate_limit=5)) as daemon:
        me, other = await daemon.user(), await daemon.user()
        answers = [(await daemon.client.get(SESSIONS, headers=me)).status_code for _ in range(7)]
        assert answers[:5] == [200] * 5
        limited = await daemon.client.get(SESSIONS, headers=me)
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert (await daemon.client.get(SESSIONS, headers=other)).status_code == 200


async def test_repeated_failed_logins_lock_the_name_for_a_while(daemon: Daemon) -> None:
    await daemon.user("guessme", password="right-password")
    for _ in range(5):
        response = await daemon.client.post("/v1/auth/token", data={"username": "guessme", "password": "wrong"})
        assert response.status_code == 401
    locked = await daemon.client.post("/v1/auth/token", data={"username": "guessme", "password": "right-password"})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


async def test_a_password_change_revokes_bearer_tokens(daemon: Daemon) -> None:
    await daemon.user("rotator", password="old-password")
    token = await daemon.client.post("/v1/auth/token", data={"username": "rotator", "password": "old-password"})
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await daemon.client.get(SESSIONS, headers=bearer)).status_code == 200
    await daemon.runtime.accounts.set_password("rotator", "new-password")  # `browserpool users passwd`
    assert (await daemon.client.get(SESSIONS, headers=bearer)).status_code == 401
    old = await daemon.client.post("/v1/auth/token", data={"username": "rotator", "password": "old-password"})
    assert old.status_code == 401


async def test_a_live_record_without_a_context_is_ended(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent, "STRAY_GRACE_MS", 0)
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    slot = daemon.worker.slots[0]
    await slot.close(sid, timeout=5)  # the context vanishes behind the store's back

    async def ended() -> bool:
        assert daemon.runtime.agent is not None
        await daemon.runtime.agent.reconcile()
        record = await daemon.runtime.store.get(sid)
        return record is not None and record.status.value == "failed" and record.end_reason == "context_lost"

    await eventually(ended, timeout=5)
    assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0
