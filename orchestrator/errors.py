"""The orchestrator's failures; api/errors.py maps each to an HTTP answer."""


class BrowserpoolError(Exception):
    """Base of every error the API knows how to answer."""


class SessionNotFound(BrowserpoolError):
    """Unknown id, or a session that belongs to someone else."""


class SessionEnded(BrowserpoolError):
    def __init__(self, status: str) -> None:
        super().__init__(f"session has ended (status {status})")
        self.status = status


class SessionNotReady(BrowserpoolError):
    def __init__(self, status: str) -> None:
        super().__init__(f"session is not ready yet (status {status})")
        self.status = status


class PoolFull(BrowserpoolError):
    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("the browser pool is full: every browser holds its maximum of contexts; retry later")
        self.retry_after = retry_after


class PoolUnavailable(BrowserpoolError):
    """No browser can take sessions right now (starting, shutting down, or held elsewhere)."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReplicated(PoolUnavailable):
    """Redis's replicas did not confirm a new session in time: it is undone rather than acknowledged."""


class ActionFailed(BrowserpoolError):
    """The browser refused or failed an action; the session lives on."""

    def __init__(self, message: str, *, upstream: bool = True) -> None:
        super().__init__(message)
        self.upstream = upstream


class PageUnresponsive(BrowserpoolError):
    """The session's page stopped answering and is being restarted (workers/pages/watchdog.py; answered 409)."""


class ActionTimedOut(BrowserpoolError):
    pass


class InvalidInput(BrowserpoolError):
    """Input the schema allowed but the daemon refuses; answered 422 in FastAPI's validation shape."""

    def __init__(self, message: str, loc: tuple[str, ...] = ("body",)) -> None:
        super().__init__(message)
        self.loc = loc


class AuthenticationFailed(BrowserpoolError):
    pass


class UserExists(BrowserpoolError):
    pass


class UnknownUser(BrowserpoolError):
    pass


class ApiKeyNotFound(BrowserpoolError):
    pass


class ClientGaveUp(BrowserpoolError):
    """The client went away while its session was being made; nothing was kept for it."""


class PermissionDenied(BrowserpoolError):
    """Authenticated, but not allowed (an operator-only call by a plain user)."""


class WorkerNotFound(BrowserpoolError):
    pass


class WebhookNotFound(BrowserpoolError):
    pass


class NavigationRefused(BrowserpoolError):
    """The egress guard refused the destination (link-local, metadata, or a range the operator denies)."""


class QuotaExceeded(BrowserpoolError):
    """A per-user limit was reached (answered 429)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FileNotFound(BrowserpoolError):
    """No such file of this session (never there, or past its retention)."""


class RecordingNotReady(BrowserpoolError):
    """The session is still being recorded, or its video is being finalised (answered 409)."""


class DiskQuotaExceeded(BrowserpoolError):
    """The session's files would pass BROWSERPOOL_SESSION_DISK_QUOTA (answered 413)."""


class LiveLinkNotFound(BrowserpoolError):
    """No such live link on this session (unknown, expired or already revoked)."""


class ProfileNotFound(BrowserpoolError):
    """Unknown profile name, or another user's (answered 404 alike)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"profile {name!r} not found")
        self.name = name


class ProfileInUse(BrowserpoolError):
    """Another live session persists into the profile (one writer at a time; answered 409)."""

    def __init__(self, name: str, session_id: str) -> None:
        super().__init__(f"profile {name!r} is held by session {session_id}, which persists into it; close it first")
        self.name = name
        self.session_id = session_id


class ProfileTooLarge(BrowserpoolError):
    """A profile's stored state is larger than BROWSERPOOL_PROFILE_MAX_BYTES (answered 413)."""

    def __init__(self, size: int, limit: int, message: str | None = None) -> None:
        super().__init__(message or f"the profile is {size} bytes compressed, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class NoProfileToSave(BrowserpoolError):
    """A save was asked of a session that does not persist into a profile (answered 409)."""


class ProfileLeaseLost(BrowserpoolError):
    """A session's save came after it stopped holding its profile's lease; nothing was written (answered 409)."""
