"""Session states, which transitions are allowed, and when a session is due to end."""

from enum import StrEnum


class SessionStatus(StrEnum):
    STARTING = "starting"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def is_live(self) -> bool:
        return self in LIVE

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


LIVE = frozenset({SessionStatus.STARTING, SessionStatus.ACTIVE})
TERMINAL = frozenset({SessionStatus.CLOSED, SessionStatus.EXPIRED, SessionStatus.FAILED})

_ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.STARTING: frozenset(
        {SessionStatus.ACTIVE, SessionStatus.CLOSING, SessionStatus.EXPIRED, SessionStatus.FAILED}
    ),
    SessionStatus.ACTIVE: frozenset({SessionStatus.CLOSING, SessionStatus.EXPIRED, SessionStatus.FAILED}),
    # A close the owner asked for ends as `closed`, whatever happens to the browser meanwhile.
    SessionStatus.CLOSING: frozenset({SessionStatus.CLOSED}),
}


def may_become(current: SessionStatus, target: SessionStatus) -> bool:
    """Whether a session in `current` may move to `target`. Terminal states never move."""
    return target in _ALLOWED.get(current, frozenset())


def sources_of(target: SessionStatus) -> frozenset[SessionStatus]:
    """Every state from which `target` may be reached."""
    return frozenset(src for src, targets in _ALLOWED.items() if target in targets)


class EndReason(StrEnum):
    DELETED = "deleted"
    TIMEOUT = "timeout"
    IDLE = "idle"
    BROWSER_CRASHED = "browser_crashed"
    WORKER_LOST = "worker_lost"
    WORKER_RESTARTED = "worker_restarted"
    SHUTDOWN = "shutdown"
    START_FAILED = "start_failed"
    CONTEXT_LOST = "context_lost"  # its record said live, but its worker held no context for it


def deadline_ms(expires_at_ms: int, last_activity_ms: int, idle_timeout_s: int) -> int:
    """The moment a session ends unless something moves it: its hard deadline or its idle limit."""
    return min(expires_at_ms, last_activity_ms + idle_timeout_s * 1000)


def due_reason(expires_at_ms: int, last_activity_ms: int, idle_timeout_s: int, now: int) -> EndReason | None:
    """Why a session is due to end at `now`, or None if it is not."""
    if expires_at_ms <= now:
        return EndReason.TIMEOUT
    if last_activity_ms + idle_timeout_s * 1000 <= now:
        return EndReason.IDLE
    return None
