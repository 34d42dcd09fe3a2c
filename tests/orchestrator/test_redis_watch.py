"""A node's view of its Redis across an outage and a restart (a real redis-server stopped and started again),
and the reaper that waits a whole lease period on a Redis it has just come back to."""

import asyncio
import shutil
import uuid

from orchestrator import clock
from orchestrator.keys import Keys
from orchestrator.lifecycle import SessionStatus
from orchestrator.reaper import Reaper
from orchestrator.redis_connect import connect_redis
from orchestrator.redis_watch import RedisWatch, ReplicaWait
from orchestrator.registry import WorkerRegistry
from orchestrator.store import SessionStore
from orchestrator.worker import WorkerLoad
from tests.support import RedisProcess, a_record

LEASE = 0.5


async def _nothing(_: object) -> None:
    return None


async def test_an_outage_and_a_restart_start_the_steady_count_again() -> None:
    server = RedisProcess().start()
    redis = connect_redis(server.url)
    watch = RedisWatch(redis)
    try:
        assert await watch.probe() is False  # the first look is not a come-back
        first = watch.view
        await asyncio.sleep(0.2)
        assert watch.steady_for() >= 0.2
        server.stop()
        assert await watch.probe() is False and watch.steady_for() == 0  # away
        server = RedisProcess(port=server.port).start()  # the same address, another server (as after a failover)
        assert await watch.probe() is True
        assert watch.view is not None and first is not None and watch.view.run_id != first.run_id
        assert watch.steady_for() < 0.2
    finally:
        await redis.aclose()
        server.cleanup()


async def test_the_reaper_declares_no_lapse_until_steady_for_a_whole_lease() -> None:
    """A restart (a failover) makes every lease look lapsed; a worker that heart-beats within the next lease period
    keeps its sessions, one that does not loses them."""
    server = RedisProcess().start()
    redis = connect_redis(server.url)
    keys = Keys(f"test-{uuid.uuid4().hex[:8]}")
    store = SessionStore(redis, keys, retention_seconds=60)
    registry = WorkerRegistry(redis, keys, lease_ttl=LEASE)
    watch = RedisWatch(redis)
    reaper = Reaper(redis, keys, store, registry, _nothing, may_declare_lapses=lambda: watch.steady_for() >= LEASE)
    load = WorkerLoad(capacity=10, used=1, browsers_up=1)
    now = clock.now_ms()
    back, gone = a_record(worker="back", created=now), a_record(worker="gone", created=now)
    try:
        await watch.probe()
        for record in (back, gone):
            await store.create(record)
            await registry.heartbeat(record.worker_id, load, clock.now_ms())
        await asyncio.sleep(LEASE)  # steady long enough: lapses would count from here on

        await redis.save()  # the restarted server loads these records, with leases that run out meanwhile
        server.stop()
        await asyncio.sleep(LEASE * 2)
        restarted = RedisProcess(port=server.port)
        shutil.rmtree(restarted.dir)
        restarted.dir = server.dir  # the same data
        server = restarted.start()
        assert await watch.probe() is True

        first = await reaper.tick(clock.now_ms())  # both leases look lapsed: none is declared
        assert first.lapsed_workers == [] and first.failed == []
        await registry.heartbeat("back", load, clock.now_ms())  # the worker re-asserts its lease
        await asyncio.sleep(LEASE)
        await registry.heartbeat("back", load, clock.now_ms())
        later = await reaper.tick(clock.now_ms())
        assert later.lapsed_workers == ["gone"]
        assert (await store.get(back.session_id)).status is SessionStatus.ACTIVE  # type: ignore[union-attr]
        assert (await store.get(gone.session_id)).end_reason == "worker_lost"  # type: ignore[union-attr]
    finally:
        await redis.aclose()
        server.cleanup()


def test_creates_wait_for_one_replica_when_the_primary_has_one() -> None:
    class Seen:
        replicas_online = 0

    seen = Seen()
    auto = ReplicaWait(seen, None, 1.0)  # type: ignore[arg-type]
    assert auto.replicas() == 0  # a lone Redis: WAIT could only time out
    seen.replicas_online = 2
    assert auto.replicas() == 1
    assert ReplicaWait(seen, 2, 0.5).replicas() == 2 and ReplicaWait(seen, 2, 0.5).timeout_ms == 500  # type: ignore[arg-type]
    assert ReplicaWait(seen, 0, 1.0).replicas() == 0  # type: ignore[arg-type]
