"""The lifecycle rules as they run: the Lua scripts, fed from lifecycle.py's table, against a real Redis.

The expected rules are written out here on their own (not read from lifecycle.py), so a change to the
table or to a script that breaks them fails a test.
"""

import re

import pytest
from redis.asyncio import Redis

from orchestrator.keys import Keys
from orchestrator.lifecycle import EndReason, SessionStatus
from orchestrator.models import SessionRecord
from orchestrator.scripts import prelude
from orchestrator.store import SessionStore
from tests.support import a_record, repo_root

S = SessionStatus
NOW = 1_800_000_000_000
ALLOWED = {
    S.STARTING: {S.ACTIVE, S.CLOSING, S.EXPIRED, S.FAILED},
    S.ACTIVE: {S.CLOSING, S.EXPIRED, S.FAILED},
    S.CLOSING: {S.CLOSED},
}


def record(status: SessionStatus = S.ACTIVE, timeout: int = 10, idle: int = 5) -> SessionRecord:
    return a_record(created=NOW, timeout=timeout, idle=idle, status=status)


@pytest.fixture
def store(redis: Redis, keys: Keys) -> SessionStore:
    return SessionStore(redis, keys, retention_seconds=60)


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
async def test_every_move_the_script_makes_is_one_the_rules_allow(
    store: SessionStore, redis: Redis, keys: Keys, current: S, target: S
) -> None:
    session = record(current)
    await store.create(session)
    moved = await store.transition(session.session_id, target, NOW + 1, reason=EndReason.DELETED)
    allowed = target in ALLOWED.get(current, set())
    assert (moved is not None) is allowed
    status = await redis.hget(keys.session(session.session_id), "status")
    assert status == (target if allowed else current)
    if allowed:  # a move out of the live statuses takes the session out of the live and deadline indexes
        for index in (keys.user_sessions("u1"), keys.deadlines):
            assert (await redis.zscore(index, session.session_id) is not None) is (target in (S.STARTING, S.ACTIVE))


async def test_only_live_sessions_are_listed_and_touched(store: SessionStore, redis: Redis, keys: Keys) -> None:
    sessions = {status: record(status) for status in S}
    for session in sessions.values():
        await store.create(session)
    listed = {r.status for r in await store.list_live("u1")}
    assert listed == {S.STARTING, S.ACTIVE}
    for status, session in sessions.items():
        assert await store.touch(session.session_id, NOW + 500) == status
        activity = await redis.hget(keys.session(session.session_id), "last_activity_ms")
        assert activity == str(NOW + 500 if status in (S.STARTING, S.ACTIVE) else NOW), status


async def test_the_deadline_is_the_earlier_of_hard_and_idle(store: SessionStore, redis: Redis, keys: Keys) -> None:
    idle_first, hard_first = record(timeout=10, idle=5), record(timeout=3, idle=5)
    for session in (idle_first, hard_first):
        await store.create(session)
    assert await redis.zscore(keys.deadlines, idle_first.session_id) == NOW + 5_000
    assert await redis.zscore(keys.deadlines, hard_first.session_id) == NOW + 3_000

    await store.touch(idle_first.session_id, NOW + 4_000)  # use: idle limit moves, the hard deadline does not
    assert await redis.zscore(keys.deadlines, idle_first.session_id) == NOW + 9_000
    await store.touch(idle_first.session_id, NOW + 8_000)
    assert await redis.zscore(keys.deadlines, idle_first.session_id) == NOW + 10_000
    await store.touch(idle_first.session_id, NOW + 8_000, extend=True)  # keepalive: the hard deadline moves
    assert await redis.zscore(keys.deadlines, idle_first.session_id) == NOW + 13_000


async def test_due_reasons_as_the_reaper_sees_them(store: SessionStore, redis: Redis, keys: Keys) -> None:
    idle, hard = record(timeout=10, idle=5), record(timeout=10, idle=5)
    for session in (idle, hard):
        await store.create(session)
    await store.touch(hard.session_id, NOW + 9_000)  # active until its hard deadline

    assert await store.transition_many([idle.session_id], S.EXPIRED, NOW + 4_999, due_only=True) == []
    [ended] = await store.transition_many([idle.session_id], S.EXPIRED, NOW + 5_000, due_only=True)
    assert ended.reason == EndReason.IDLE
    assert await store.transition_many([hard.session_id], S.EXPIRED, NOW + 9_999, due_only=True) == []
    assert await redis.zscore(keys.deadlines, hard.session_id) == NOW + 10_000  # re-scored, not ended
    [ended] = await store.transition_many([hard.session_id], S.EXPIRED, NOW + 10_000, due_only=True)
    assert ended.reason == EndReason.TIMEOUT
    assert await redis.hget(keys.session(hard.session_id), "end_reason") == "timeout"


def test_no_script_spells_a_status_or_a_due_reason_itself() -> None:
    """The statuses and due reasons reach the scripts from lifecycle.py (the prelude), never as literals."""
    words = {s.value for s in S} | {EndReason.TIMEOUT.value, EndReason.IDLE.value}
    for script in (repo_root() / "orchestrator" / "lua").glob("*.lua"):
        code = "\n".join(line.partition("--")[0] for line in script.read_text().splitlines())
        quoted = set(re.findall(r"'([a-z_]+)'", code))
        assert not quoted & words, (script.name, quoted & words)
    assert "local LIVE = {['active'] = true, ['starting'] = true}" in prelude()
