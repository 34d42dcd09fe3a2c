"""The application factory."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.runtime import Role, Runtime
from workers.remote import server as internal

from .address_limit import AddressLimit
from .body_limit import BodyLimit, Bound
from .errors import install_error_handlers
from .request_timer import RequestTimer
from .routes import (
    actions,
    admin,
    api_keys,
    auth,
    cdp,
    crashes,
    dashboard,
    events,
    files,
    health,
    live_links,
    metrics,
    profiles,
    sessions,
    webdriver,
    webhooks,
)
from .schemas import ErrorBody
from .webdriver.host import WebDriverHost

log = logging.getLogger(__name__)

PROFILE_UPLOAD_FACTOR = 4


def create_app(runtime: Runtime) -> FastAPI:
    """The HTTP face of a runtime built for its role; the runtime starts and stops with the app's lifespan."""
    role = runtime.role

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await runtime.startup()
        except BaseException:
            await runtime.shutdown()
            raise
        host = None
        if runtime.control is not None:  # an API node: it drives WebDriver sessions
            control = runtime.control
            config = runtime.settings
            host = WebDriverHost(
                control.sessions, control.cdp_totals, runtime.metrics, config.chromedriver_path, config.chromium_user
            )
            app.state.webdriver = host
            host.start()
        try:
            yield
        finally:
            if host is not None:
                await host.shutdown()
            await runtime.shutdown()

    app = FastAPI(
        title="browserpool",
        version=__version__,
        description="Headless Chromium sessions for rent: one browser context per session.",
        lifespan=lifespan,
        responses={  # what any route may answer besides its own documented outcomes
            429: {"model": ErrorBody, "description": "A rate or quota limit was reached (see Retry-After)"},
            503: {"model": ErrorBody, "description": "The session store or the pool is unavailable"},
        },
    )
    app.state.runtime = runtime

    settings = runtime.settings
    # Uploads into a session are bounded by its disk quota (plus room for the multipart framing), and get longer.
    quota = settings.session_disk_quota or 4 * 1024**3
    why = ", more than a session's disk quota allows (BROWSERPOOL_SESSION_DISK_QUOTA)"
    uploads = Bound(max(quota + 1024 * 1024, settings.max_body_bytes), max(settings.body_timeout, 600), why)
    # Profile uploads are JSON that compresses well: they may be this many times their stored limit.
    profile_uploads = (
        "/v1/profiles/",
        max(settings.max_body_bytes, settings.profile_max_bytes * PROFILE_UPLOAD_FACTOR),
    )
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout,
        uploads=uploads,
        larger=[profile_uploads],
    )
    if role.has_api:  # anonymous and failed-credential requests per client address (a worker's callers are API nodes)
        app.add_middleware(AddressLimit, runtime=runtime)
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
            files,
            cdp,
            live_links,
            admin,
            crashes,
            dashboard,
            profiles,
            webdriver,
        ):  # events before /{id}
            app.include_router(module.router)
    if role is Role.WORKER:
        # Only a worker serves the internal API, on its own listener; `serve` never exposes it on the public port.
        app.include_router(internal.router)
    return app
