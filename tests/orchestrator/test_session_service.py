"""SessionService's create policy, placement, queue and cancellation branches.

The store, the registry and the queue are real (a real Redis); the workers are a TEST DOUBLE of the
worker port (orchestrator.worker.BrowserWorker) that scripts what each open does, because these
branches are about what the service does with a worker's answer, not about browsers. Every test that
claims to test the daemon itself runs real Chromium elsewhere (tests/api, tests/e2e).
"""

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from orchestrator import clock
from orchestrator.cdp_tokens import CdpTokens
from orchestrator.create_policy import CreatePolicy
from orchestrator.directory import WorkerDirectory
from orchestrator.errors import ClientGaveUp, InvalidInput, PoolFull, PoolUnavailable
from orchestrator.keys import Keys
from orchestrator.lifecycle import EndReason, SessionStatus
from orchestrator.models import SessionRequest, SessionSpec
from orchestrator.queue import CreateQueue
from orchestrator.registry import WorkerInfo, WorkerRegistry
from orchestrator.sessions import SessionService
from orchestrator.store import SessionStore
from orchestrator.worker import WorkerLoad

DEFAULT = SessionRequest(viewport_width=1280, viewport_height=720)


class ScriptedWorker:
    """Test double of the worker port: `on_open` decides what opening a session does."""

    def __init__(self, worker_id: str, on_open: Callable[[], Any] | None = None) -> None:
        self.worker_id = worker_id
        self.on_open = on_open
        self.opened: list[str] = []
        self.closed: list[str] = []

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        if self.on_open is not None:
            outcome = self.on_open()
            if asyncio.iscoroutine(outcome):
                await outcome
        self.opened.append(session_id)

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        self.closed.append(session_id)


async def full() -> None:
    raise PoolFull()


async def broken() -> None:
    raise RuntimeError("the browser said no")


class Pool:
    """A registry with test-double workers in it, and the service under test on top."""

    def __init__(self, redis: Redis, keys: Keys, policy: CreatePolicy) -> None:
        self.store = SessionStore(redis, keys, retention_seconds=60)
        self.registry = WorkerRegistry(redis, keys, lease_ttl=30)
        self.workers: dict[str, ScriptedWorker] = {}
        directory = WorkerDirectory(self.registry, None, self._reach)
        queue = CreateQueue(redis, keys, max_waiting=10)
        self.service = SessionService(self.store, directory, queue, CdpTokens("secret"), policy)

    def _reach(self, info: WorkerInfo) -> ScriptedWorker:
        return self.workers[info.worker_id]

    async def add(self, worker: ScriptedWorker, capacity: int = 5, used: int = 0) -> ScriptedWorker:
        self.workers[worker.worker_id] = worker
        load = WorkerLoad(capacity=capacity, used=used, browsers_up=1)
        await self.registry.heartbeat(worker.worker_id, load, clock.now_ms(), f"double://{worker.worker_id}")
        return worker

    async def statuses(self, user_id: str) -> list[SessionStatus]:
        return [r.status for r in await self.store.list_live(user_id)]


@pytest.fixture
def pool(redis: Redis, keys: Keys) -> Pool:
    return Pool(redis, keys, CreatePolicy(default_timeout=120, max_timeout=600))


async def test_the_policy_fills_in_the_default_timeout(pool: Pool) -> None:
    await pool.add(ScriptedWorker("a"))
    record = await pool.service.create("u", DEFAULT)
    assert record.timeout_seconds == 120
    assert record.status is SessionStatus.ACTIVE
    assert (
        await pool.service.create("u", SessionRequest(viewport_width=800, viewport_height=600, timeout_seconds=30))
    ).timeout_seconds == 30


async def test_a_timeout_past_the_maximum_is_refused_before_anything_is_written(pool: Pool) -> None:
    worker = await pool.add(ScriptedWorker("a"))
    with pytest.raises(InvalidInput, match="at most 600"):
        await pool.service.create("u", SessionRequest(viewport_width=1280, viewport_height=720, timeout_seconds=601))
    assert worker.opened == [] and await pool.store.list_live("u") == []


async def test_a_full_worker_is_skipped_and_leaves_no_record(pool: Pool) -> None:
    await pool.add(ScriptedWorker("busy", on_open=full), capacity=10)  # most free room: tried first
    spare = await pool.add(ScriptedWorker("spare"), capacity=2)
    record = await pool.service.create("u", DEFAULT)
    assert record.worker_id == "spare" and spare.opened == [record.session_id]
    assert [r.session_id for r in await pool.store.list_live("u")] == [record.session_id]


async def test_every_worker_full_is_pool_full_and_no_workers_is_unavailable(pool: Pool) -> None:
    with pytest.raises(PoolUnavailable):
        await pool.service.create("u", DEFAULT)
    await pool.add(ScriptedWorker("busy", on_open=full))
    with pytest.raises(PoolFull):
        await pool.service.create("u", DEFAULT)
    assert await pool.store.list_live("u") == []


async def test_a_failed_open_ends_failed_and_closes_what_it_opened(pool: Pool) -> None:
    worker = await pool.add(ScriptedWorker("a", on_open=broken))
    with pytest.raises(RuntimeError):
        await pool.service.create("u", DEFAULT)
    assert await pool.store.list_live("u") == []
    assert len(worker.closed) == 1
    ended = await pool.store.get(worker.closed[0])
    assert ended is not None and ended.status is SessionStatus.FAILED
    assert ended.end_reason == EndReason.START_FAILED


async def test_a_cancelled_create_is_cleaned_up_in_the_background(pool: Pool) -> None:
    opening = asyncio.Event()

    async def slow() -> None:
        opening.set()
        await asyncio.sleep(30)

    worker = await pool.add(ScriptedWorker("a", on_open=slow))
    task = asyncio.create_task(pool.service.create("u", DEFAULT))
    await opening.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await pool.service.drain()
    assert len(worker.closed) == 1 and await pool.store.list_live("u") == []
    ended = await pool.store.get(worker.closed[0])
    assert ended is not None and ended.status is SessionStatus.FAILED


async def test_a_client_that_gave_up_gets_nothing_kept(pool: Pool) -> None:
    worker = await pool.add(ScriptedWorker("a"))

    async def gone() -> bool:
        return True

    with pytest.raises(ClientGaveUp):
        await pool.service.create("u", DEFAULT, gave_up=gone)
    assert worker.closed == worker.opened and len(worker.opened) == 1
    assert await pool.store.list_live("u") == []


async def test_a_queued_create_is_placed_once_room_appears(redis: Redis, keys: Keys) -> None:
    pool = Pool(redis, keys, CreatePolicy(queue_timeout=5))
    room = asyncio.Event()

    async def full_until_room() -> None:
        if not room.is_set():
            raise PoolFull()

    await pool.add(ScriptedWorker("a", on_open=full_until_room), capacity=1, used=1)
    task = asyncio.create_task(pool.service.create("u", DEFAULT))
    await asyncio.sleep(0.3)
    assert not task.done() and await pool.service.queue.waiting() == 1
    room.set()
    await pool.add(pool.workers["a"], capacity=1, used=0)  # its heartbeat reports the freed slot
    record = await asyncio.wait_for(task, 5)
    assert record.status is SessionStatus.ACTIVE and await pool.service.queue.waiting() == 0


async def test_a_queued_create_gives_up_at_its_deadline(redis: Redis, keys: Keys) -> None:
    pool = Pool(redis, keys, CreatePolicy(queue_timeout=0.5))
    await pool.add(ScriptedWorker("a", on_open=full), capacity=1, used=1)
    with pytest.raises(PoolFull):
        await pool.service.create("u", DEFAULT)
    assert await pool.service.queue.waiting() == 0 and await pool.store.list_live("u") == []


async def test_close_answers_with_the_record_closed_and_the_context_follows(pool: Pool) -> None:
    release = asyncio.Event()

    class SlowToClose(ScriptedWorker):
        async def close_session(self, session_id: str, reason: str = "session ended") -> None:
            await release.wait()  # the browser takes its time
            await super().close_session(session_id, reason)

    worker = await pool.add(SlowToClose("a"))
    record = await pool.service.create("u", DEFAULT)
    await asyncio.wait_for(pool.service.close("u", record.session_id), 2)  # does not wait for the browser
    closed = await pool.store.get(record.session_id)
    assert closed is not None and closed.status is SessionStatus.CLOSED and closed.end_reason == EndReason.DELETED
    assert worker.closed == []
    release.set()
    await pool.service.drain()
    assert worker.closed == [record.session_id]
    await pool.service.close("u", record.session_id)  # closing an ended session is a no-op
    assert worker.closed == [record.session_id]
