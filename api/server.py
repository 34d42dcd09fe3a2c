"""Running one role of the daemon under uvicorn, with drain-aware signal handling."""

import logging
import signal
import sys
from types import FrameType

import uvicorn

from orchestrator.config import Settings
from orchestrator.redis_server import DEFAULT_LOCAL_URL, INSTALL_HINT, EmbeddedRedis, answers, find_redis_server
from orchestrator.runtime import Role, Runtime

from .app import create_app


class _DenialIsNotAnError(logging.Filter):
    """uvicorn's websockets-sansio protocol logs a refused CDP websocket (a 401/404/410 denial response,
    which the client does receive) as "returned without completing handshake"; drop that false alarm."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


class DaemonServer(uvicorn.Server):
    """On a worker, the first SIGTERM drains (sessions carry on, the internal API keeps serving them)
    and the process exits when the drain ends; a second signal exits at once. Other roles stop at once."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self._terms = 0
        runtime.request_exit = self._exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.runtime.role is Role.WORKER and sig == signal.SIGTERM and not self.should_exit:
            self._terms += 1
            if self._terms == 1:
                self.runtime.begin_drain()  # a no-op if an operator's drain is already under way
                return None
        return super().handle_exit(sig, frame)

    def _exit(self) -> None:
        self.should_exit = True


def preflight(settings: Settings, role: Role) -> str | None:
    """What would stop the daemon from starting, said in one line (None when nothing would)."""
    if role.has_browsers:
        from workers.chromium import ChromiumNotFound, find_chromium

        try:
            if find_chromium(settings.chromium_path) is None:
                return "no Chromium found: run `make setup`, or apt-get install -y chromium-headless-shell"
        except ChromiumNotFound as exc:
            return str(exc)
    embedded = EmbeddedRedis(settings.state_dir)
    if settings.redis_url or answers(DEFAULT_LOCAL_URL) or (embedded.socket.exists() and answers(embedded.url)):
        return None
    if role is not Role.SERVE:
        return "no Redis: set BROWSERPOOL_REDIS_URL (api and worker nodes share one Redis)"
    return INSTALL_HINT if find_redis_server() is None else None


def run(settings: Settings, role: Role) -> int:
    problem = preflight(settings, role)
    if problem:
        print(f"browserpool: {problem}", file=sys.stderr)
        return 1
    worker_factory = None
    if role.has_browsers:
        from workers.factory import local_worker

        worker_factory = local_worker

    app = create_app(worker_factory, settings, role)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=int(settings.shutdown_grace),
        lifespan="on",
    )
    server = DaemonServer(config, app.state.runtime)
    logging.getLogger("uvicorn.error").addFilter(_DenialIsNotAnError())
    server.run()
    return 0 if server.started else 1
