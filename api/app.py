"""The application factory."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orchestrator.config import Settings
from orchestrator.runtime import Runtime, WorkerFactory

from .errors import install_error_handlers
from .routes import actions, api_keys, auth, cdp, health, sessions

log = logging.getLogger(__name__)


def create_app(worker_factory: WorkerFactory, settings: Settings | None = None) -> FastAPI:
    """Build the app; the runtime (Redis, worker, reaper) starts and stops with the app's lifespan."""
    runtime = Runtime(settings or Settings(), worker_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.startup()
        except BaseException:
            await runtime.shutdown()
            raise
        try:
            yield
        finally:
            await runtime.shutdown()

    app = FastAPI(
        title="browserpool",
        version="0.1.0",
        description="Headless Chromium sessions for rent: one browser context per session.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    for module in (health, auth, api_keys, sessions, actions, cdp):
        app.include_router(module.router)
    return app
