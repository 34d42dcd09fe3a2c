"""What one session may cost a worker, as the settings set it.

workers/pages/bounds.py and workers/pages/download_bounds.py enforce it.
"""

from dataclasses import dataclass

from orchestrator.config import Settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class SessionLimits:
    """What one session may cost; the defaults are the settings' defaults (orchestrator/config.py)."""

    memory_bytes: int = 1024 * MIB  # private memory of each of its renderers; 0: not bounded
    max_pages: int = 20  # page targets across its own context and the ones its CDP clients made
    download_bytes: int = 500 * MIB  # what its directories may hold (downloads, uploads, recording); 0: not bounded
    evaluate_result_bytes: int = 8 * MIB  # a REST evaluate result, measured in the page before it is sent

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionLimits":
        return cls(
            memory_bytes=settings.session_memory_mb * MIB,
            max_pages=settings.max_pages_per_session,
            download_bytes=_smallest(settings.max_download_bytes, settings.session_disk_quota),
            evaluate_result_bytes=settings.max_evaluate_result_bytes,
        )


def _smallest(*limits: int) -> int:
    """The tightest of several byte limits where 0 means none (0 if every one is 0)."""
    return min((limit for limit in limits if limit), default=0)
