"""What a session is, as the store holds it."""

from dataclasses import dataclass

from .lifecycle import SessionStatus

# The viewport a session gets when it asks for none: the API's default, and the shape workers prepare ahead.
DEFAULT_VIEWPORT: tuple[int, int] = (1280, 720)


@dataclass(frozen=True)
class SessionSpec:
    """What a user asked for."""

    viewport_width: int
    viewport_height: int
    user_agent: str | None
    timeout_seconds: int
    record: bool = False  # the worker records its pages as video (workers/recorder.py)


@dataclass(frozen=True)
class SessionRequest:
    """What a user asks for, before the create policy fills in defaults (orchestrator.sessions.CreatePolicy)."""

    viewport_width: int
    viewport_height: int
    user_agent: str | None = None
    timeout_seconds: int | None = None
    record: bool = False


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
    record: bool = False

    @property
    def spec(self) -> SessionSpec:
        return SessionSpec(
            self.viewport_width, self.viewport_height, self.user_agent, self.timeout_seconds, self.record
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
