"""The Redis store and the reaper against a real Redis: atomic moves, indexes, cost, the lock."""

import asyncio

from redis.asyncio import Redis

from orchestrator.keys import Keys
from orchestrator.lifecycle import LIVE, EndReason, SessionStatus
from orchestrator.models import SessionRecord
from orchestrator.reaper import Reaper
from orchestrator.registry import WorkerRegistry
from orchestrator.store import SessionStore, Transition
from orchestrator.worker import WorkerLoad
from tests.support import a_record

NOW = 1_800_000_000_000


def record(
    user: str = "u1",
    worker: str = "w1",
    created: int = NOW,
    timeout: int = 300,
    idle: int = 300,
    status: SessionStatus = SessionStatus.ACTIVE,
) -> SessionRecord:
    return a_record(user, worker, created, timeout, idle, status)


async def _noop(_: object) -> None:
    return None


def reaper(redis: Redis, keys: Keys, store: SessionStore, ended: list[Transition] | None = None) -> Reaper:
    async def after(transitions: object) -> None:
        if ended is not None:
            ended.extend(transitions)  # type: ignore[arg-type]

    return Reaper(redis, keys, store, WorkerRegistry(redis, keys, lease_ttl=2), after)


async def test_create_get_and_list_newest_first(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    older, newer = record(created=NOW), record(created=NOW + 1)
    other_user = record(user="u2")
    for r in (older, newer, other_user):
        await store.create(r)
    assert await store.get(older.session_id) == older
    assert [r.session_id for r in await store.list_live("u1")] == [newer.session_id, older.session_id]
    assert [r.session_id for r in await store.list_live("u2")] == [other_user.session_id]
    assert await store.list_live("nobody") == []


async def test_a_terminal_move_cleans_every_index_and_sets_retention(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    r = record()
    await store.create(r)
    moved = await store.transition(r.session_id, SessionStatus.CLOSING, NOW, reason=EndReason.DELETED)
    assert moved == Transition(r.session_id, SessionStatus.ACTIVE, SessionStatus.CLOSING, "deleted", "w1")
    assert await store.list_live("u1") == []
    assert await redis.zscore(keys.deadlines, r.session_id) is None
    assert await redis.sismember(keys.worker_sessions("w1"), r.session_id)  # the worker still has to close it

    assert await store.transition(r.session_id, SessionStatus.CLOSED, NOW + 5)
    ended = await store.get(r.session_id)
    assert ended is not None and ended.status is SessionStatus.CLOSED and ended.ended_at_ms == NOW + 5
    assert not await redis.sismember(keys.worker_sessions("w1"), r.session_id)
    assert 0 < await redis.ttl(keys.session(r.session_id)) <= 60

    # terminal never goes back
    assert await store.transition(r.session_id, SessionStatus.ACTIVE, NOW) is None
    assert await store.transition(r.session_id, SessionStatus.FAILED, NOW) is None
    assert (await store.get(r.session_id)).status is SessionStatus.CLOSED  # type: ignore[union-attr]


async def test_racing_enders_have_exactly_one_winner(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    for _ in range(50):
        r = record(timeout=5)
        await store.create(r)
        later = NOW + 10_000  # past its deadline
        results = await asyncio.gather(
            store.transition(r.session_id, SessionStatus.CLOSING, later, reason=EndReason.DELETED),
            store.transition_many([r.session_id], SessionStatus.EXPIRED, later, due_only=True),
            store.transition(r.session_id, SessionStatus.FAILED, later, reason=EndReason.BROWSER_CRASHED),
        )
        winners = [x for x in (results[0], *results[1], results[2]) if x]
        assert len(winners) == 1
        assert winners[0].previous is SessionStatus.ACTIVE


async def test_touch_moves_activity_and_keepalive_moves_the_deadline(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    r = record(timeout=60, idle=30)
    await store.create(r)
    assert await redis.zscore(keys.deadlines, r.session_id) == NOW + 30_000
    assert await store.touch(r.session_id, NOW + 10_000) is SessionStatus.ACTIVE
    assert await redis.zscore(keys.deadlines, r.session_id) == NOW + 40_000
    await store.touch(r.session_id, NOW + 50_000, extend=True)
    touched = await store.get(r.session_id)
    assert touched is not None
    assert touched.expires_at_ms == NOW + 110_000 and touched.last_activity_ms == NOW + 50_000
    assert await store.touch("missing", NOW) is None


async def test_a_tick_ends_only_the_due_sessions(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    due = [record(timeout=5) for _ in range(10)]
    idle = [record(timeout=600, idle=5) for _ in range(5)]
    fine = [record(timeout=600, idle=600) for _ in range(985)]
    for r in due + idle + fine:
        await store.create(r)
    for r in idle:  # used recently: not idle after all
        await store.touch(r.session_id, NOW + 4_000)

    ended: list[Transition] = []
    result = await reaper(redis, keys, store, ended).tick(now_ms=NOW + 6_000)
    assert {t.session_id for t in result.expired} == {r.session_id for r in due}
    assert {t.reason for t in result.expired} == {"timeout"}
    assert ended == result.expired

    later = await reaper(redis, keys, store).tick(now_ms=NOW + 9_500)
    assert {t.session_id for t in later.expired} == {r.session_id for r in idle}
    assert {t.reason for t in later.expired} == {"idle"}
    assert await redis.zcard(keys.deadlines) == len(fine)

    nothing = await reaper(redis, keys, store).tick(now_ms=NOW + 9_500)
    assert nothing.expired == []


async def test_only_one_reaper_acts_at_a_time(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    for _ in range(200):
        await store.create(record(timeout=5))
    results = await asyncio.gather(*(reaper(redis, keys, store).tick(now_ms=NOW + 6_000) for _ in range(4)))
    assert sum(len(r.expired) for r in results) == 200
    assert sum(1 for r in results if r.skipped) >= 1


async def test_a_lapsed_workers_sessions_fail_and_a_live_workers_do_not(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    registry = WorkerRegistry(redis, keys, lease_ttl=0.5)
    load = WorkerLoad(capacity=10, used=1, browsers_up=1)
    gone, alive = record(worker="gone", timeout=600), record(worker="alive", timeout=600)
    await store.create(gone)
    await store.create(alive)
    from orchestrator import clock

    await registry.heartbeat("gone", load, clock.now_ms())
    await registry.heartbeat("alive", load, clock.now_ms())
    await asyncio.sleep(0.7)
    await registry.heartbeat("alive", load, clock.now_ms())

    result = await reaper(redis, keys, store).tick(now_ms=clock.now_ms())
    assert result.lapsed_workers == ["gone"]
    assert [t.session_id for t in result.failed] == [gone.session_id]
    assert (await store.get(gone.session_id)).end_reason == "worker_lost"  # type: ignore[union-attr]
    assert (await store.get(alive.session_id)).status is SessionStatus.ACTIVE  # type: ignore[union-attr]
    assert await store.list_live("u1") == [alive]


async def test_transition_many_respects_sources(redis: Redis, keys: Keys) -> None:
    store = SessionStore(redis, keys, retention_seconds=60)
    live, closing = record(), record()
    await store.create(live)
    await store.create(closing)
    await store.transition(closing.session_id, SessionStatus.CLOSING, NOW)
    moved = await store.transition_many(
        [live.session_id, closing.session_id],
        SessionStatus.FAILED,
        NOW,
        reason=EndReason.WORKER_RESTARTED,
        sources=LIVE,
    )
    assert [t.session_id for t in moved] == [live.session_id]
