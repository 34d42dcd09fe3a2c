"""Fixtures: a real Redis for the run, a unique key prefix per test, a whole daemon in-process."""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from browserpool.compose import build_app
from orchestrator.config import Settings
from orchestrator.keys import Keys
from orchestrator.runtime import Runtime, connect_redis
from tests.support import RedisProcess, free_port, local_site
from workers.local.worker import LocalWorker

pytest_plugins = ["tests.watchdog"]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    server = RedisProcess().start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def keys(prefix: str) -> Keys:
    return Keys(prefix)


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    with local_site() as url:
        yield url


def make_settings(redis_url: str, prefix: str, state_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "redis_prefix": prefix,
        "state_dir": state_dir,
        "worker_id": f"worker-{uuid.uuid4().hex[:8]}",
        "reap_interval": 0.5,
        "worker_lease_ttl": 3.0,
        "contexts_per_browser": 5,
        "action_timeout": 10.0,
        "webhooks_allow_loopback": True,  # the tests' webhook receivers listen on loopback
        "max_sessions_per_user": 50,  # tests open more than the fair share of their small pool
        "ready_browsers": 0,  # no spare Chromium for `isolation: browser` unless a test asks (test_isolation.py)
        **overrides,
    }
    return Settings(**values)


@dataclass
class Daemon:
    """A whole daemon (runtime + API) in this process, reached through its ASGI app."""

    runtime: Runtime
    client: httpx.AsyncClient
    app: Any = None  # the FastAPI app, for what lives on its state (the WebDriver host)

    @property
    def worker(self) -> LocalWorker:
        assert self.runtime.agent is not None
        worker = self.runtime.agent.worker
        assert isinstance(worker, LocalWorker)
        return worker

    async def user(self, name: str | None = None, password: str | None = None) -> dict[str, str]:
        """A new user; returns the headers that authenticate as them."""
        user = await self.runtime.shared.accounts.add_user(name or f"user-{uuid.uuid4().hex[:8]}", password)
        issued = await self.runtime.shared.accounts.create_api_key(user, "test")
        return {"X-API-Key": issued.secret}

    async def create(self, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        response = await self.client.post("/v1/browser/sessions/", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def chromium_ids(self, session_id: str) -> tuple[str, str]:
        """(browserContextId, page targetId) of a session, read from the worker's own view."""
        slot, held = self.worker.browser_of(session_id), self.worker.held(session_id)
        context_id = await slot.context_id(held)
        cdp = await held.context.new_cdp_session(held.page)
        target_id = (await cdp.send("Target.getTargetInfo"))["targetInfo"]["targetId"]
        await cdp.detach()
        return context_id, target_id


@asynccontextmanager
async def start_daemon(settings: Settings) -> AsyncIterator[Daemon]:
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://browserpool.test", timeout=30) as client:
            yield Daemon(app.state.runtime, client, app)


@asynccontextmanager
async def serve_daemon(settings: Settings, on_own_port: bool = False) -> AsyncIterator[Daemon]:
    """A whole daemon in this process behind a real uvicorn socket (websockets need one); on a free port, or
    with `on_own_port` on `settings.port`, the port the daemon knows as its own."""
    import asyncio

    import uvicorn

    app = build_app(settings)
    port = settings.port if on_own_port else free_port()
    # A bounded graceful shutdown, as `browserpool serve` has: uvicorn's default waits for every open
    # connection forever, and a test that leaves one open would hang its teardown.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield Daemon(app.state.runtime, client, app)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def daemon_settings(redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, prefix, tmp_path)


@pytest.fixture
async def daemon(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with start_daemon(daemon_settings) as d:
        yield d
