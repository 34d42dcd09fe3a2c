"""Building this process's worker from the settings."""

from orchestrator.config import Settings

from .egress import EgressPolicy
from .local import LocalWorker


def local_worker(settings: Settings) -> LocalWorker:
    return LocalWorker(
        settings.effective_worker_id,
        settings.browsers,
        settings.contexts_per_browser,
        settings.chromium_path,
        settings.action_timeout,
        settings.warm_contexts,
        EgressPolicy(allow_private=settings.allow_private_networks, allow_loopback=settings.allow_loopback),
    )
