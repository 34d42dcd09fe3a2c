"""Running one role of the daemon under uvicorn, with drain-aware signal handling."""

import asyncio
import logging
import signal
import socket
import sys
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from orchestrator.config import Settings
from orchestrator.redis_connect import BadRedisUrl, RedisOptions, connect_redis
from orchestrator.redis_health import RedisUnsuitable, refuse_evicting
from orchestrator.redis_server import DEFAULT_LOCAL_URL, INSTALL_HINT, EmbeddedRedis, answers, find_redis_server
from orchestrator.redis_watch import REDIS_AWAY
from orchestrator.runtime import Role, Runtime

from .compose import build_app
from .header_timeout import with_header_timeout
from .logs import redact_server_logs


class _DenialIsNotAnError(logging.Filter):
    """uvicorn's websockets-sansio protocol logs a refused CDP websocket (a 401/404/410 denial response,
    which the client does receive) as "returned without completing handshake"; drop that false alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


class DaemonServer(uvicorn.Server):
    """On a worker, the first SIGTERM drains (sessions carry on, the internal API keeps serving them)
    and the process exits when the drain ends; a second signal exits at once. Other roles stop at once.

    The signal handler only schedules: the drain itself starts on the event loop."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self._terms = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        runtime.request_exit = self._exit

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.runtime.role is Role.WORKER and sig == signal.SIGTERM and not self.should_exit:
            self._terms += 1
            if self._terms == 1 and self._loop is not None:
                # begin_drain is a no-op if an operator's drain is already under way
                self._loop.call_soon_threadsafe(self.runtime.begin_drain)
                return None
        return super().handle_exit(sig, frame)

    def _exit(self) -> None:
        self.should_exit = True


def preflight(settings: Settings, role: Role) -> str | None:
    """What would stop the daemon from starting, said in one line (None when nothing would)."""
    if role.has_browsers:
        from workers.chromium.find import ChromiumNotFound, find_chromium

        try:
            if find_chromium(settings.chromium_path) is None:
                return "no Chromium found: run `make setup`, or apt-get install -y chromium-headless-shell"
        except ChromiumNotFound as exc:
            return str(exc)
    if settings.redis_url:
        return asyncio.run(_redis_problem(settings, settings.redis_url))
    embedded = EmbeddedRedis(settings.state_dir)
    if answers(DEFAULT_LOCAL_URL) or (embedded.socket.exists() and answers(embedded.url)):
        return None
    if role is not Role.SERVE:
        return "no Redis: set BROWSERPOOL_REDIS_URL (api and worker nodes share one Redis)"
    return INSTALL_HINT if find_redis_server() is None else None


async def _redis_problem(settings: Settings, url: str) -> str | None:
    """A Redis the pool must not run on (one that evicts keys), said before anything starts. One that does not
    answer yet is no problem here: start-up waits for it and says so."""
    try:
        redis = connect_redis(url, RedisOptions.of(settings))
    except BadRedisUrl as exc:
        return str(exc)
    try:
        await refuse_evicting(redis, settings.allow_evicting_redis)
    except RedisUnsuitable as exc:
        return str(exc)
    except REDIS_AWAY:
        return None
    finally:
        await redis.aclose()
    return None


def server_config(app: FastAPI, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How uvicorn serves the daemon's app: request heads bounded in time (and, by h11, to 16 KiB)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "timeout_graceful_shutdown": int(settings.shutdown_grace),
        "lifespan": "on",
        # Compressing large CDP answers (screenshots, DOM) would run on the event loop every tenant shares.
        "ws_per_message_deflate": False,
        # A client that trickles its request line and headers (slowloris) is closed with 408 after this.
        "http": with_header_timeout(settings.header_timeout),
        # X-Forwarded-For/-Proto are believed from BROWSERPOOL_TRUSTED_PROXIES only (uvicorn's default trusts loopback).
        "proxy_headers": bool(settings.trusted_proxies.strip()),
        "forwarded_allow_ips": settings.trusted_proxies.strip() or None,
        **overrides,
    }
    return uvicorn.Config(app, **options)


def run(settings: Settings, role: Role) -> int:
    problem = preflight(settings, role)
    if problem:
        print(f"browserpool: {problem}", file=sys.stderr)
        return 1
    app = build_app(settings, role)
    server = DaemonServer(server_config(app, settings), app.state.runtime)
    logging.getLogger("uvicorn.error").addFilter(_DenialIsNotAnError())
    redact_server_logs()
    server.run()
    return 0 if server.started else 1
