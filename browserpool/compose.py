"""The parts of each role, put together: the one place that knows both the API's and the workers' side."""

from fastapi import FastAPI

from api.app import create_app
from orchestrator.config import Settings
from orchestrator.runtime import Role, Runtime
from workers.remote.client import remote_factory


def build_runtime(settings: Settings, role: Role = Role.SERVE) -> Runtime:
    """A runtime for the role: browsers of its own where the role has them, remote workers reached over HTTP."""
    worker_factory = None
    if role.has_browsers:
        from workers.factory import local_presence  # imports Playwright: only roles with browsers pay for it

        worker_factory = local_presence
    return Runtime(settings, role, worker_factory, remote_factory)


def build_app(settings: Settings, role: Role = Role.SERVE) -> FastAPI:
    return create_app(build_runtime(settings, role))
