"""Building this process's worker from the settings."""

from orchestrator.addresses import page_policy
from orchestrator.config import Settings

from .cdp_limits import CdpLimits
from .file_store import FileStore
from .local import LocalWorker
from .session_bounds import SessionLimits
from .worker_files import WorkerFiles


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
