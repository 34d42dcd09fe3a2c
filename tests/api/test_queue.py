"""Waiting for capacity: a bounded, fair queue; a client that gives up never gets a browser."""

import asyncio
import time
from pathlib import Path

import httpx

from tests.conftest import make_settings, serve_daemon

SESSIONS = "/v1/browser/sessions/"


async def test_a_waiting_create_gets_the_slot_a_delete_frees(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, contexts_per_browser=1, queue_timeout=5)
    async with serve_daemon(settings) as daemon:
        me = await daemon.user()
        first = await daemon.create(me)
        waiting = asyncio.create_task(daemon.client.post(SESSIONS, json={}, headers=me))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        assert await daemon.runtime.control.sessions.queue.waiting() == 1
        started = time.monotonic()
        await daemon.client.delete(SESSIONS + first["session_id"], headers=me)
        response = await asyncio.wait_for(waiting, timeout=5)
        assert response.status_code == 201
        assert time.monotonic() - started < 2
        assert await daemon.runtime.control.sessions.queue.waiting() == 0


async def test_a_create_that_waits_too_long_gets_503(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, contexts_per_browser=1, queue_timeout=1.5)
    async with serve_daemon(settings) as daemon:
        me = await daemon.user()
        await daemon.create(me)
        started = time.monotonic()
        response = await daemon.client.post(SESSIONS, json={}, headers=me)
        assert response.status_code == 503
        assert "full" in response.json()["detail"] and response.headers["retry-after"]
        assert 1.4 < time.monotonic() - started < 4
        assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 1


async def test_the_queue_is_bounded(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, contexts_per_browser=1, queue_timeout=3, queue_max=1)
    async with serve_daemon(settings) as daemon:
        me = await daemon.user()
        await daemon.create(me)
        waiting = asyncio.create_task(daemon.client.post(SESSIONS, json={}, headers=me))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        overflow = await daemon.client.post(SESSIONS, json={}, headers=me)
        assert overflow.status_code == 503
        assert time.monotonic() - started < 1  # refused at once, not after the queue timeout
        assert (await waiting).status_code == 503


async def test_a_client_that_gives_up_never_gets_a_browser(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, contexts_per_browser=1, queue_timeout=10)
    async with serve_daemon(settings) as daemon:
        me = await daemon.user()
        first = await daemon.create(me)
        base = str(daemon.client.base_url)
        async with httpx.AsyncClient(base_url=base, timeout=0.7) as impatient:
            try:
                await impatient.post(SESSIONS, json={}, headers=me)
                raise AssertionError("the create should still be waiting")
            except httpx.ReadTimeout:
                pass
        await daemon.client.delete(SESSIONS + first["session_id"], headers=me)
        await asyncio.sleep(2.0)
        assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0
        assert daemon.worker.held_session_ids() == []
        assert await daemon.runtime.control.sessions.queue.waiting() == 0
