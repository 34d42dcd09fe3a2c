"""Quotas and hardening: live sessions per user, requests per user, login guessing, token revocation,
and records left without a context."""

from pathlib import Path

import pytest

from orchestrator.config import Settings
from tests.conftest import Daemon, make_settings, start_daemon
from tests.security.rate_window import clear_of_a_minute_boundary
from tests.support import eventually
from workers import agent

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

        await daemon.runtime.shared.accounts.set_session_limit("quota-user", 3)  # `browserpool users limit`
        await daemon.create(me)
        await daemon.runtime.shared.accounts.set_session_limit("quota-user", None)
        assert (await daemon.client.post(SESSIONS, json={}, headers=me)).status_code == 429
        await daemon.client.delete(SESSIONS + first["session_id"], headers=me)
        assert (await daemon.client.post(SESSIONS, json={}, headers=me)).status_code == 429  # 2 left of 3, limit 2
        listed = (await daemon.client.get(SESSIONS, headers=me)).json()
        await daemon.client.delete(SESSIONS + listed["sessions"][0]["session_id"], headers=me)
        await daemon.create(me)


async def test_requests_per_user_are_limited_across_all_their_credentials(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, rate_limit=5)) as daemon:
        me, other = await daemon.user("limited", password="pw"), await daemon.user()
        await clear_of_a_minute_boundary()
        second = (await daemon.client.post("/v1/api-keys", json={"name": "second"}, headers=me)).json()["api_key"]
        token = await daemon.client.post("/v1/auth/token", data={"username": "limited", "password": "pw"})
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        credentials = [me, {"X-API-Key": second}, bearer]
        answers = [(await daemon.client.get(SESSIONS, headers=h)).status_code for h in [*credentials, me]]
        assert answers == [200] * 4  # with the key-creating request: the user's 5 this minute
        for headers in credentials:  # the bucket is the user's, not the credential's
            limited = await daemon.client.get(SESSIONS, headers=headers)
            assert limited.status_code == 429
            assert 0 < int(limited.headers["retry-after"]) <= 60
        assert (await daemon.client.get(SESSIONS, headers=other)).status_code == 200


async def test_the_default_session_limit_is_half_the_pool(redis_url: str, prefix: str, tmp_path: Path) -> None:
    assert Settings().max_sessions_per_user == 10  # the default pool: 1 browser x 20 contexts
    assert Settings(browsers=3, contexts_per_browser=7).max_sessions_per_user == 10
    assert Settings(contexts_per_browser=1).max_sessions_per_user == 1  # at least one
    assert Settings(max_sessions_per_user=0).max_sessions_per_user == 0  # explicitly: no limit

    tuned = make_settings(redis_url, prefix, tmp_path, contexts_per_browser=4).model_dump()
    settings = Settings(**{k: v for k, v in tuned.items() if k != "max_sessions_per_user"})
    async with start_daemon(settings) as daemon:
        me = await daemon.user("trusted")
        await daemon.create(me)
        await daemon.create(me)
        assert (await daemon.client.post(SESSIONS, json={}, headers=me)).status_code == 429
        await daemon.runtime.shared.accounts.set_session_limit("trusted", 3)  # `browserpool users limit` still wins
        await daemon.create(me)


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
    await daemon.runtime.shared.accounts.set_password("rotator", "new-password")  # `browserpool users passwd`
    assert (await daemon.client.get(SESSIONS, headers=bearer)).status_code == 401
    old = await daemon.client.post("/v1/auth/token", data={"username": "rotator", "password": "old-password"})
    assert old.status_code == 401


async def test_a_live_record_without_a_context_is_ended(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent, "STRAY_GRACE_MS", 0)
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    slot = daemon.worker.browsers()[0]
    await slot.close(sid, timeout=5)  # the context vanishes behind the store's back

    async def ended() -> bool:
        assert daemon.runtime.agent is not None
        await daemon.runtime.agent.reconcile()
        record = await daemon.runtime.shared.store.get(sid)
        return record is not None and record.status.value == "failed" and record.end_reason == "context_lost"

    await eventually(ended, timeout=5)
    assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0
