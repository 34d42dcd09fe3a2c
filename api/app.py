"""The application factory."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orchestrator.config import Settings
from orchestrator.runtime import Role, Runtime, WorkerFactory

from .errors import install_error_handlers
from .remote_worker import remote_factory
from .request_timer import RequestTimer
from .routes import (
    actions,
    admin,
    api_keys,
    auth,
    cdp,
    dashboard,
    events,
    health,
    internal,
    metrics,
    sessions,
    webhooks,
)
from .schemas import ErrorBody

log = logging.getLogger(__name__)


def create_app(
    worker_factory: WorkerFactory | None, settings: Settings | None = None, role: Role = Role.SERVE
) -> FastAPI:
    """Build the app for a role; its runtime (Redis, worker, reaper) starts and stops with the app's lifespan."""
    runtime = Runtime(settings or Settings(), role, worker_factory, remote_factory)

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
        responses={  # what any route may answer besides its own documented outcomes
            429: {"model": ErrorBody, "description": "A rate or quota limit was reached (see Retry-After)"},
            503: {"model": ErrorBody, "description": "The session store or the pool is unavailable"},
        },
    )
    app.state.runtime = runtime

    app.add_middleware(RequestTimer, metrics=runtime.metrics)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if role.has_api:
        for module in (
            auth,
            api_keys,
            webhooks,
            events,
            sessions,
            actions,
            cdp,
            admin,
            dashboard,
        ):  # events before /{id}
            app.include_router(module.router)
    if role.has_browsers:
        app.include_router(internal.router)
    return app
