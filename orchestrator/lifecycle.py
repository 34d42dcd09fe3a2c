"""Session states and which transitions are allowed: the one table of the lifecycle rules.

What runs is the Lua in orchestrator/lua: scripts.py hands these rules to every script (which statuses
are live, where a session starts, which end reasons the deadline rules give), and the store passes each
move's allowed sources from `sources_of`. The deadline rules themselves (when a session is due, and why)
are written once, in lua/rules.lua; tests/orchestrator/test_lifecycle_rules.py exercises the scripts.
"""

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


INITIAL = SessionStatus.STARTING
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
    """Every state from which `target` may be reached: what the store hands the transition script."""
    return frozenset(source for source in SessionStatus if may_become(source, target))


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
    MEMORY = "memory"  # a renderer of the session went past BROWSERPOOL_SESSION_MEMORY_MB and was killed
    CLIENT_CLOSED = "client_closed"  # its own CDP client closed the browser (Browser.close): closing, then closed
    WEBDRIVER_LOST = "webdriver_lost"  # the chromedriver of a WebDriver session died (api/webdriver/host.py)
