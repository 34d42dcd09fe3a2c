"""Sessions ending on their own: timeout, idleness, a browser crash, Redis going away, other daemons."""

import asyncio
import os
import signal
import time
from pathlib import Path

from tests.conftest import Daemon, make_settings, start_daemon
from tests.support import RedisProcess, descendants, eventually, process_states

SESSIONS = "/v1/browser/sessions/"


async def _status(daemon: Daemon, headers: dict[str, str], sid: str) -> str:
    response = await daemon.client.get(SESSIONS + sid, headers=headers)
    status: str = response.json()["status"]
    return status


async def test_reaper_expires_a_timed_out_session_and_closes_its_context(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me, timeout_seconds=5))["session_id"]
    held = daemon.worker.held(sid)

    await eventually(lambda: _is(daemon, me, sid, "expired"), timeout=10)
    # The page reads closed before Chromium has let the context go: wait for both, as test_sessions.py does.
    shared = daemon.worker.browsers()[0].browser
    assert shared is not None
    await eventually(lambda: _true(held.page.is_closed() and held.context not in shared.contexts), timeout=5)
    assert sid not in daemon.worker.held_session_ids()
    record = await daemon.runtime.shared.store.get(sid)
    assert record is not None and record.end_reason == "timeout" and record.ended_at_ms
    assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0
    ttl = await daemon.runtime.shared.redis.ttl(daemon.runtime.keys.session(sid))
    assert 0 < ttl <= daemon.runtime.settings.retention


async def test_idle_sessions_expire_and_used_ones_do_not(redis_url: str, prefix: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(redis_url, prefix, tmp_path, idle_timeout=3)
    async with start_daemon(settings) as daemon:
        me = await daemon.user()
        idle = (await daemon.create(me))["session_id"]
        busy = (await daemon.create(me))["session_id"]
        for _ in range(10):  # 5 s of use, every half second
            await daemon.client.post(f"{SESSIONS}{busy}/evaluate", json={"expression": "1"}, headers=me)
            await asyncio.sleep(0.5)
        assert await _status(daemon, me, idle) == "expired"
        assert await _status(daemon, me, busy) == "active"
        record = await daemon.runtime.shared.store.get(idle)
        assert record is not None and record.end_reason == "idle"


async def test_killed_chromium_restarts_its_sessions_and_the_pool_recovers(daemon: Daemon) -> None:
    """A Chromium killed with no command of a client in flight: its sessions are re-homed, none is lost."""
    me = await daemon.user()
    sids = [(await daemon.create(me))["session_id"] for _ in range(3)]
    pid = daemon.worker.browsers()[0].pid
    profile = daemon.worker.browsers()[0].profile_dir
    assert pid is not None and profile and Path(profile).is_dir()
    zombies_before = _zombies()
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    async def answers(sid: str) -> bool:
        response = await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": "1"}, headers=me)
        return response.status_code == 200

    for sid in sids:
        await eventually(lambda sid=sid: answers(sid), timeout=10, interval=0.05)
        assert await _is(daemon, me, sid, "active")
    assert time.monotonic() - started < 10
    await eventually(lambda: _true(not Path(profile).exists()), timeout=5)  # no leftover profile
    await eventually(lambda: _true(_zombies() <= zombies_before), timeout=5)  # every child reaped
    assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 3
    assert daemon.worker.browsers()[0].pid not in (None, pid)
    assert (await daemon.client.post(SESSIONS, json={}, headers=me)).status_code == 201
    response = await daemon.client.get("/readyz")
    assert response.status_code == 200


async def test_redis_down_is_503_json_and_the_daemon_recovers(prefix: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = RedisProcess().start()
    revived: RedisProcess | None = None
    try:
        settings = make_settings(server.url, prefix, tmp_path)
        async with start_daemon(settings) as daemon:
            me = await daemon.user()
            lost = (await daemon.create(me))["session_id"]
            server.stop()

            listed = await daemon.client.get(SESSIONS, headers=me)
            assert listed.status_code == 503
            assert "Redis" in listed.json()["detail"]
            created = await daemon.client.post(SESSIONS, json={}, headers=me)
            assert created.status_code == 503
            assert (await daemon.client.get("/readyz")).status_code == 503
            assert (await daemon.client.get("/healthz")).status_code == 200

            revived = RedisProcess(port=server.port).start()  # same port, empty (no persistence)
            again = await daemon.user()
            assert (await daemon.client.get(SESSIONS, headers=again)).status_code == 200
            kept = (await daemon.create(again))["session_id"]
            # Within a heartbeat the browsers agree with the store again: the context whose record the
            # outage lost is closed, the new one stays.
            await eventually(lambda: _true(daemon.worker.held_session_ids() == [kept]), timeout=5)
            assert lost not in daemon.worker.held_session_ids()
    finally:
        server.cleanup()
        if revived is not None:
            revived.cleanup()


async def test_two_daemons_share_a_redis_without_failing_each_others_sessions(
    redis_url: str,
    prefix: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings_a = make_settings(redis_url, prefix, tmp_path / "a", worker_lease_ttl=2.0)
    settings_b = make_settings(redis_url, prefix, tmp_path / "b", worker_lease_ttl=2.0)
    async with start_daemon(settings_a) as a:
        async with start_daemon(settings_b) as b:
            me = await a.user()
            sid = (await a.create(me))["session_id"]
            held = a.worker.held(sid)

            await asyncio.sleep(3)  # longer than a lease: both heart-beat, both reapers tick
            result = await b.runtime.control.reaper.tick()
            assert not result.lapsed_workers
            assert await _status(b, me, sid) == "active"  # any node answers for any session

            # Closing through the other node: the holder closes the context on its next reconcile.
            assert (await b.client.delete(SESSIONS + sid, headers=me)).status_code == 204
            await eventually(lambda: _true(held.page.is_closed()), timeout=5)
            await eventually(lambda: _is(a, me, sid, "closed"), timeout=5)


async def _is(daemon: Daemon, headers: dict[str, str], sid: str, status: str) -> bool:
    return await _status(daemon, headers, sid) == status


async def _true(value: bool) -> bool:
    return value


def _zombies() -> int:
    """Zombies among this test process's descendants (other processes on the machine, e.g. a parallel test
    worker's, are not ours to reap)."""
    states = process_states()
    return sum(1 for pid in descendants(os.getpid(), states) if states[pid][1] == "Z")
