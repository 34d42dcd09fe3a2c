"""Each user's event stream: what happened to their sessions, in order, for SSE readers and webhooks.

The one owner of the stream. It is written atomically with each change by the scripts that make it
(lua/create.lua: `created`; lua/transition.lua: `active`, `closing`, `ended`), and by `append` here for
the events no status change carries (`withdrawn`, `expiring`, `download` with the file's `name` and
`size_bytes`; `takeover_started`/`takeover_ended` from live_links.py; `page_unresponsive` with what was done
as its reason; `session_restarted` from crashes.py with what was restored); every reader goes through
`EventStream`.
An entry's fields, in this order: type, session_id, status, reason ("" for none), at_ms, then for `download`
name and size_bytes.
At most EVENTS_KEPT entries per user are kept (trimmed approximately).
"""

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from .keys import Keys

EVENTS_KEPT = 1000
BEFORE_ALL = "0-0"  # the stream id before every entry
READ_COUNT = 100


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    session_id: str
    status: str
    reason: str
    at_ms: int
    name: str = ""  # `download`: the file's name in the session's downloads
    size_bytes: int | None = None  # `download`: its size

    @classmethod
    def of(cls, event_id: str, fields: dict[str, str]) -> "Event":
        return cls(
            id=event_id,
            type=fields["type"],
            session_id=fields["session_id"],
            status=fields.get("status", ""),
            reason=fields.get("reason", ""),
            at_ms=int(fields["at_ms"]),
            name=fields.get("name", ""),
            size_bytes=int(fields["size_bytes"]) if "size_bytes" in fields else None,
        )

    def payload(self) -> dict[str, str]:
        """The entry as a webhook body carries it: its id, then its fields in stream order, empty ones left out."""
        fields = {
            "id": self.id,
            "type": self.type,
            "session_id": self.session_id,
            "status": self.status,
            "reason": self.reason,
            "at_ms": str(self.at_ms),
            "name": self.name,
            "size_bytes": "" if self.size_bytes is None else str(self.size_bytes),
        }
        return {k: v for k, v in fields.items() if v != ""}


class EventStream:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def newest_id(self, user_id: str) -> str:
        """Where a reader that wants only events from now on starts."""
        newest = await self.redis.xrevrange(self.keys.user_events(user_id), count=1)
        return str(newest[0][0]) if newest else BEFORE_ALL

    async def after(self, user_id: str, after: str, count: int = READ_COUNT) -> list[Event]:
        """Up to `count` of the user's events after stream id `after`, at once (none: an empty list)."""
        entries = await self.redis.xrange(self.keys.user_events(user_id), f"({after}", "+", count=count)
        return [Event.of(event_id, fields) for event_id, fields in entries]

    async def wait_after(self, user_id: str, after: str, block_ms: int) -> list[Event]:
        """The user's events after stream id `after`, waiting up to `block_ms` for the first one."""
        reply = await self.redis.xread({self.keys.user_events(user_id): after}, count=READ_COUNT, block=block_ms)
        return [Event.of(event_id, fields) for _, entries in reply for event_id, fields in entries]

    def append(
        self,
        pipe: Pipeline,
        user_id: str,
        kind: str,
        session_id: str,
        status: str,
        at_ms: int,
        reason: str = "",
        file: tuple[str, int] | None = None,
    ) -> None:
        """Queue one event on `pipe` (written with whatever else the pipeline does); `file`: (name, size_bytes)."""
        fields: dict[str, str | int] = {
            "type": kind,
            "session_id": session_id,
            "status": status,
            "reason": reason,
            "at_ms": at_ms,
        }
        if file is not None:
            fields.update(name=file[0], size_bytes=file[1])
        pipe.xadd(self.keys.user_events(user_id), fields, maxlen=EVENTS_KEPT, approximate=True)
