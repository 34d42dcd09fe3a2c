"""What a session is at each boundary: what a user asks for, what a worker opens, what the store holds."""

from dataclasses import dataclass, fields
from typing import Any

from pydantic import TypeAdapter

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


@dataclass(frozen=True, kw_only=True)
class ContextShape:
    """What a session's browser context is made with. A session's request, spec and record all carry these
    fields (they inherit them), and workers keep ready contexts per shape (workers/pool/ready_shapes.py): a
    new context option is a field here and its line in `context_options`."""

    viewport_width: int = DEFAULT_VIEWPORT[0]
    viewport_height: int = DEFAULT_VIEWPORT[1]
    user_agent: str | None = None  # None: Chromium's own

    def shape(self) -> "ContextShape":
        """Just the shape of a request, spec or record (what a ready context is matched on)."""
        return ContextShape(**self.shape_values())

    def shape_values(self) -> dict[str, Any]:
        """The shape's fields by name, to build a spec or a response from."""
        return _values(self, ContextShape)

    def context_options(self) -> dict[str, Any]:
        """The browser context's options for this shape, in Playwright's `new_context` names."""
        viewport = {"width": self.viewport_width, "height": self.viewport_height}
        return {"viewport": viewport, "user_agent": self.user_agent}


DEFAULT_SHAPE = ContextShape()

# A SessionRequest that names no proxy (the default proxy applies), as opposed to `None` (go direct).
DEFAULT_PROXY = "default"


@dataclass(frozen=True, kw_only=True)
class SessionRequest(ContextShape):
    """What a user asks for (the API's create body, checked), before the create policy fills in the pool's
    defaults (orchestrator.create_policy.CreatePolicy)."""

    timeout_seconds: int | None = None
    profile: str | None = None  # a profile name of the requesting user
    persist_profile: bool = False
    proxy: UpstreamProxy | str | None = DEFAULT_PROXY  # an upstream, None (direct) or DEFAULT_PROXY
    record: bool = False
    isolation: Isolation | None = None  # None: the user's default (orchestrator.isolation.IsolationPolicy)


@dataclass(frozen=True, kw_only=True)
class SessionSpec(ContextShape):
    """What a session is opened with: the one type an API node hands a worker, in process or over the internal
    API as itself (workers/remote/wire.py)."""

    timeout_seconds: int
    profile: ProfileRef | None = None
    proxy: UpstreamProxy | None = None  # with its password: in the worker's memory only, never in a record
    record: bool = False  # the worker records its pages as video (workers/files/recorder.py)
    isolation: Isolation = DEFAULT_ISOLATION  # `browser`: a Chromium of its own (orchestrator/isolation.py)


@dataclass(frozen=True, kw_only=True)
class SessionRecord(ContextShape):
    """A session as the store holds it: one Redis hash (`to_hash`/`from_hash`, written and read by its fields'
    types: numbers as decimal strings, booleans as "1", None left out)."""

    session_id: str
    user_id: str
    worker_id: str
    status: SessionStatus
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

    @classmethod
    def opened(cls, spec: SessionSpec, **fields: Any) -> "SessionRecord":
        """The record of a session opened with `spec` (its shape and the options a record keeps as they are)."""
        proxy, profile = spec.proxy, spec.profile
        return cls(
            **_values(spec, SessionRecord, skip={"profile", "proxy"}),
            profile=profile.name if profile else None,
            profile_persist=bool(profile and profile.persist),
            profile_save="pending" if profile and profile.persist else None,
            proxy_server=proxy.server if proxy else None,
            proxy_username=proxy.username if proxy else None,
            **fields,
        )

    def to_hash(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for name, value in _values(self, SessionRecord).items():
            if value is None or value is False:
                continue
            fields[name] = "1" if value is True else value.value if isinstance(value, SessionStatus) else str(value)
        return fields

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> "SessionRecord":
        return _RECORD.validate_python(raw)


def _values(source: Any, target: type, skip: set[str] = set()) -> dict[str, Any]:  # noqa: B006 (never mutated)
    """`source`'s values of the fields `target` has too (by name), but `skip`."""
    return {f.name: getattr(source, f.name) for f in fields(target) if f.name not in skip and hasattr(source, f.name)}


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

_RECORD = TypeAdapter(SessionRecord)  # reads a stored hash by the fields' types ("1800000000000" -> int, "1" -> True)
