"""Building this process's worker, and its agent, from the settings."""

from orchestrator.address_policies import page_policy
from orchestrator.config import Settings
from orchestrator.presence import PresenceParts
from workers.agent import WorkerAgent
from workers.cdp.limits import CdpLimits
from workers.files.keeper import WorkerFiles
from workers.files.store import FileStore
from workers.local.worker import LocalWorker
from workers.pages.session_limits import SessionLimits


def local_worker(settings: Settings) -> LocalWorker:
    return LocalWorker(
        settings.effective_worker_id,
        settings.browsers,
        settings.contexts_per_browser,
        settings.chromium_path,
        settings.action_timeout,
        settings.warm_contexts,
        settings.warm_contexts_per_shape,
        settings.warm_shapes,
        page_policy(settings),
        cdp_limits=CdpLimits.from_settings(settings),
        chromium_user=settings.chromium_user,
        chromium_sandbox=settings.chromium_sandbox,
        limits=SessionLimits.from_settings(settings),
        page_hang_timeout=settings.page_hang_timeout,
        checkpoint_interval=settings.crash_checkpoint_interval,
        ready_browsers=settings.ready_browsers,
        max_dedicated_browsers=settings.max_dedicated_browsers,
        files=WorkerFiles(
            FileStore.for_worker(settings.state_dir, settings.effective_worker_id, settings.file_retention),
            settings.session_disk_quota,
            fps=settings.record_fps,
            max_width=settings.record_max_width,
        ),
    )


def local_presence(settings: Settings, parts: PresenceParts) -> WorkerAgent:
    """This process's worker with its agent: what the runtime of a role with browsers starts."""
    return WorkerAgent(
        local_worker(settings), parts.store, parts.registry, parts.address, parts.profiles, parts.crashes
    )
