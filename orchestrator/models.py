"""What a session is, as the store holds it."""

from dataclasses import dataclass

from .isolation import DEFAULT_ISOLATION, Isolation
from .lifecycle import SessionStatus
from .proxies import UpstreamProxy

# The viewport a session gets when it asks for none: the API's default, and the shape workers prepare ahead.
DEFAULT_VIEWPORT: tuple[int, int] = (1280, 720)


@dataclass(frozen=True)
class ProfileRef:
    """The profile a session starts from and, with `persist`, saves back into (orchestrator/profiles.py)."""

    user_id: str
    name: str
    persist: bool = False


@dataclass(frozen=True)
class SessionSpec:
    """What a user asked for."""

    viewport_width: int
    viewport_height: int
    user_agent: str | None
    timeout_seconds: int
    profile: ProfileRef | None = None
    proxy: UpstreamProxy | None = None  # with its password: in the worker's memory only, never in a record
    record: bool = False  # the worker records its pages as video (workers/files/recorder.py)
    isolation: Isolation = DEFAULT_ISOLATION  # `browser`: a Chromium of its own (orchestrator/isolation.py)


# A SessionRequest that names no proxy (the default proxy applies), as opposed to `None` (go direct).
DEFAULT_PROXY = "default"


@dataclass(frozen=True)
class SessionRequest:
    """What a user asks for, before the create policy fills in defaults (orchestrator.sessions.CreatePolicy)."""

    viewport_width: int
    viewport_height: int
    user_agent: str | None = None
    timeout_seconds: int | None = None
    profile: str | None = None  # a profile name of the requesting user
    persist_profile: bool = False
    proxy: UpstreamProxy | str | None = DEFAULT_PROXY  # an upstream, None (direct) or DEFAULT_PROXY
    record: bool = False
    isolation: Isolation | None = None  # None: the user's default (orchestrator.isolation.IsolationPolicy)


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    user_id: str
    worker_id: str
    status: SessionStatus
    viewport_width: int
    viewport_height: int
    user_agent: str | None
    timeout_seconds: int
    idle_timeout: int
    created_at_ms: int
    last_activity_ms: int
    expires_at_ms: int
    ended_at_ms: int | None = None
    end_reason: str | None = None
    profile: str | None = None  # the profile it started from
    profile_persist: bool = False  # whether it saves back into it (it then holds the profile's lease)
    profile_saved_at_ms: int | None = None  # its last save into the profile (a checkpoint or its final save)
    profile_save: str | None = None  # persisting sessions: `pending` until its final save, then `saved` or `failed`
    proxy_server: str | None = None  # its upstream proxy as scheme://host:port (never its credentials' password)
    proxy_username: str | None = None
    record: bool = False
    isolation: Isolation = DEFAULT_ISOLATION

    @property
    def spec(self) -> SessionSpec:
        profile = ProfileRef(self.user_id, self.profile, self.profile_persist) if self.profile else None
        return SessionSpec(
            self.viewport_width,
            self.viewport_height,
            self.user_agent,
            self.timeout_seconds,
            profile,
            record=self.record,
            isolation=self.isolation,
        )

    def to_hash(self) -> dict[str, str]:
        fields = {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "worker_id": self.worker_id,
            "status": self.status.value,
            "viewport_width": str(self.viewport_width),
            "viewport_height": str(self.viewport_height),
            "timeout_seconds": str(self.timeout_seconds),
            "idle_timeout": str(self.idle_timeout),
            "created_at_ms": str(self.created_at_ms),
            "last_activity_ms": str(self.last_activity_ms),
            "expires_at_ms": str(self.expires_at_ms),
        }
        if self.user_agent is not None:
            fields["user_agent"] = self.user_agent
        if self.record:
            fields["record"] = "1"
        if self.isolation != DEFAULT_ISOLATION:
            fields["isolation"] = self.isolation
        if self.profile is not None:
            fields["profile"] = self.profile
            fields["profile_persist"] = "1" if self.profile_persist else "0"
            if self.profile_persist:
                fields["profile_save"] = self.profile_save or "pending"
        if self.proxy_server is not None:
            fields["proxy_server"] = self.proxy_server
            if self.proxy_username is not None:
                fields["proxy_username"] = self.proxy_username
        return fields

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> "SessionRecord":
        ended = raw.get("ended_at_ms")
        return cls(
            session_id=raw["session_id"],
            user_id=raw["user_id"],
            worker_id=raw["worker_id"],
            status=SessionStatus(raw["status"]),
            viewport_width=int(raw["viewport_width"]),
            viewport_height=int(raw["viewport_height"]),
            user_agent=raw.get("user_agent"),
            timeout_seconds=int(raw["timeout_seconds"]),
            idle_timeout=int(raw["idle_timeout"]),
            created_at_ms=int(raw["created_at_ms"]),
            last_activity_ms=int(raw["last_activity_ms"]),
            expires_at_ms=int(raw["expires_at_ms"]),
            ended_at_ms=int(ended) if ended else None,
            end_reason=raw.get("end_reason"),
            record=raw.get("record") == "1",
            isolation="browser" if raw.get("isolation") == "browser" else DEFAULT_ISOLATION,
            profile=raw.get("profile"),
            profile_persist=raw.get("profile_persist") == "1",
            profile_saved_at_ms=int(raw["profile_saved_at_ms"]) if raw.get("profile_saved_at_ms") else None,
            profile_save=raw.get("profile_save"),
            proxy_server=raw.get("proxy_server"),
            proxy_username=raw.get("proxy_username"),
        )


# The hash fields a listing needs, in the order the listing script returns them.
LISTED_FIELDS = (
    "session_id",
    "user_id",
    "worker_id",
    "status",
    "viewport_width",
    "viewport_height",
    "user_agent",
    "timeout_seconds",
    "idle_timeout",
    "created_at_ms",
    "last_activity_ms",
    "expires_at_ms",
)
