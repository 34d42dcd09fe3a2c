"""Session records in Redis: create, move along the lifecycle, touch, list, end and expire them.

Every lifecycle change of a session record goes through here (its Lua scripts compile the table of
orchestrator/lifecycle.py). Others read session keys for their own jobs and change no status: the reaper
reads deadlines and owners (reaper.py), live links check a session is still live (live_links.py), the
profile lease scripts check which session holds a profile (profiles.py), and `browserpool sessions` reads
records for the operator (browserpool/commands.py).
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from . import clock
from .errors import QuotaExceeded
from .events import EVENTS_KEPT, EventStream
from .keys import Keys
from .lifecycle import EndReason, SessionStatus, sources_of
from .models import LISTED_FIELDS, SessionRecord
from .scripts import Scripts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transition:
    """A committed status change."""

    session_id: str
    previous: SessionStatus
    current: SessionStatus
    reason: str | None
    worker_id: str = ""


def _log_lifecycle(
    event: str, session_id: str, user_id: str | None, worker_id: str | None, status: str, reason: str | None
) -> None:
    """One line per lifecycle event, with fields a JSON log shipper can index."""
    fields = {
        "event": event,
        "session_id": session_id,
        "user_id": user_id,
        "worker_id": worker_id,
        "status": status,
        "reason": reason,
    }
    log.info("session %s %s%s", session_id, event, f" ({reason})" if reason else "", extra=fields)


class SessionStore:
    def __init__(self, redis: Redis, keys: Keys, retention_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_seconds = retention_seconds
        self._scripts = Scripts.register(redis)
        self.events = EventStream(redis, keys)  # the owners' event streams, which the scripts also write

    async def create(self, record: SessionRecord, max_live: int = 0) -> None:
        """Write a new record and its indexes in one script: all of it or none. Raises QuotaExceeded when
        the owner already has `max_live` live sessions (their own `max_sessions`, if set, wins; 0: no limit)."""
        pairs = [item for field_value in record.to_hash().items() for item in field_value]
        refused_at = await self._scripts.create(
            keys=[
                self.keys.session(record.session_id),
                self.keys.user_sessions(record.user_id),
                self.keys.deadlines,
                self.keys.worker_sessions(record.worker_id),
                self.keys.stats,
                self.keys.user_events(record.user_id),
                self.keys.user(record.user_id),
            ],
            args=[max_live, record.session_id, record.created_at_ms, EVENTS_KEPT, *pairs],
        )
        if refused_at:
            raise QuotaExceeded(f"you already have {refused_at} live sessions, your limit; close one first")
        _log_lifecycle("created", record.session_id, record.user_id, record.worker_id, "starting", None)

    async def discard(self, record: SessionRecord) -> None:
        """Remove a record that never started (its worker had no room), with its indexes."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(record.session_id))
            pipe.zrem(self.keys.user_sessions(record.user_id), record.session_id)
            pipe.zrem(self.keys.deadlines, record.session_id)
            pipe.srem(self.keys.worker_sessions(record.worker_id), record.session_id)
            pipe.hincrby(self.keys.stats, "status:starting", -1)
            pipe.hincrby(self.keys.stats, "created", -1)
            self.events.append(pipe, record.user_id, "withdrawn", record.session_id, "", clock.now_ms())
            await pipe.execute()

    async def warn_expiring(self, sessions: Sequence[tuple[str, str, int]]) -> None:
        """Emit `expiring` for (session id, user id, deadline) and remember that deadline was warned of."""
        if not sessions:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id, user_id, deadline in sessions:
                pipe.hset(self.keys.session(session_id), "warned_deadline_ms", deadline)
                self.events.append(pipe, user_id, "expiring", session_id, SessionStatus.ACTIVE, deadline)
            await pipe.execute()

    async def file_event(self, session_id: str, kind: str, name: str, size_bytes: int) -> None:
        """Emit a file event (`download`) on the session owner's stream, with the session's current status."""
        fields = await self.redis.hmget(self.keys.session(session_id), ["user_id", "status"])
        if not fields[0]:
            return  # the record is gone (past its retention): nobody to tell
        async with self.redis.pipeline(transaction=False) as pipe:
            self.events.append(
                pipe, fields[0], kind, session_id, fields[1] or "", clock.now_ms(), file=(name, size_bytes)
            )
            await pipe.execute()

    async def notice(self, session_id: str, kind: str, reason: str) -> None:
        """Emit an event no status change carries (`page_unresponsive`), with the session's current status."""
        fields = await self.redis.hmget(self.keys.session(session_id), ["user_id", "status"])
        if not fields[0]:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            self.events.append(pipe, fields[0], kind, session_id, fields[1] or "", clock.now_ms(), reason)
            await pipe.execute()

    async def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in (await self.redis.hgetall(self.keys.stats)).items()}

    async def get(self, session_id: str) -> SessionRecord | None:
        raw = await self.redis.hgetall(self.keys.session(session_id))
        return SessionRecord.from_hash(raw) if raw else None

    async def get_many(self, session_ids: Sequence[str]) -> list[SessionRecord | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.hgetall(self.keys.session(session_id))
            rows = await pipe.execute()
        return [SessionRecord.from_hash(raw) if raw else None for raw in rows]

    async def list_live(self, user_id: str) -> list[SessionRecord]:
        """The user's live sessions, newest first, in one round trip."""
        rows = await self._scripts.list_live(
            keys=[self.keys.user_sessions(user_id)],
            args=[self.keys.session_prefix, *LISTED_FIELDS],
        )
        return [
            SessionRecord.from_hash({f: v for f, v in zip(LISTED_FIELDS, row, strict=True) if v is not None})
            for row in rows
        ]

    async def transition(
        self,
        session_id: str,
        target: SessionStatus,
        now_ms: int,
        *,
        reason: EndReason | None = None,
        user_id: str | None = None,
        worker_id: str | None = None,
    ) -> Transition | None:
        """Move one session to `target` if its current status allows it; None if it did not move."""
        if user_id is None or worker_id is None:
            owner, worker = await self.redis.hmget(self.keys.session(session_id), ["user_id", "worker_id"])
            if owner is None:
                return None
            user_id, worker_id = owner, worker
        result = await self._transition_call(session_id, user_id, worker_id, target, now_ms, reason, due_only=False)
        moved = self._as_transition(session_id, worker_id, target, result)
        if moved is not None:
            _log_lifecycle(target.value, session_id, user_id, worker_id, target.value, moved.reason)
        return moved

    async def transition_replicated(
        self,
        session_id: str,
        target: SessionStatus,
        now_ms: int,
        *,
        user_id: str,
        worker_id: str,
        replicas: int,
        timeout_ms: int,
    ) -> tuple[Transition | None, int]:
        """`transition`, then (with `replicas`) WAIT on the same connection until that many replicas hold it and
        every write before it, for at most `timeout_ms`. Returns the move and how many replicas hold it."""
        if replicas <= 0:
            return await self.transition(session_id, target, now_ms, user_id=user_id, worker_id=worker_id), 0
        async with self.redis.pipeline(transaction=False) as pipe:
            await self._transition_call(session_id, user_id, worker_id, target, now_ms, None, False, pipe=pipe)
            pipe.wait(replicas, timeout_ms)
            result, acked = await pipe.execute()
        moved = self._as_transition(session_id, worker_id, target, result)
        if moved is not None:
            _log_lifecycle(target.value, session_id, user_id, worker_id, target.value, moved.reason)
        return moved, int(acked)

    async def transition_many(
        self,
        session_ids: Sequence[str],
        target: SessionStatus,
        now_ms: int,
        *,
        reason: EndReason | None = None,
        due_only: bool = False,
        sources: Iterable[SessionStatus] | None = None,
    ) -> list[Transition]:
        """Move a batch of sessions: one round trip for the owners, one for the scripted moves (plus the
        SCRIPT EXISTS redis-py sends before a pipeline of EVALSHA)."""
        if not session_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.hmget(self.keys.session(session_id), ["user_id", "worker_id"])
            owners = await pipe.execute()
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id, (user_id, worker_id) in zip(session_ids, owners, strict=True):
                await self._transition_call(
                    session_id, user_id or "", worker_id or "", target, now_ms, reason, due_only, sources, pipe
                )
            results = await pipe.execute()
        moved = []
        for sid, (user_id, worker_id), result in zip(session_ids, owners, results, strict=True):
            transition = self._as_transition(sid, worker_id or "", target, result)
            if transition is not None:
                _log_lifecycle(target.value, sid, user_id, worker_id, target.value, transition.reason)
                moved.append(transition)
        return moved

    async def touch(self, session_id: str, now_ms: int, *, extend: bool = False) -> SessionStatus | None:
        """Record use of a session; with `extend`, push its hard deadline out by its timeout."""
        status = await self._scripts.touch(
            keys=[self.keys.session(session_id), self.keys.deadlines],
            args=[now_ms, session_id, "1" if extend else "0"],
        )
        return SessionStatus(status) if status else None

    async def due_session_ids(self, now_ms: int, limit: int) -> list[str]:
        return list(await self.redis.zrangebyscore(self.keys.deadlines, "-inf", now_ms, start=0, num=limit))

    async def worker_session_ids(self, worker_id: str) -> list[str]:
        return list(await self.redis.smembers(self.keys.worker_sessions(worker_id)))

    async def statuses(self, session_ids: Sequence[str]) -> list[SessionStatus | None]:
        """The current status of each session (None where the record is gone), in one round trip."""
        if not session_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.hget(self.keys.session(session_id), "status")
            raw = await pipe.execute()
        return [SessionStatus(s) if s else None for s in raw]

    async def _transition_call(
        self,
        session_id: str,
        user_id: str,
        worker_id: str,
        target: SessionStatus,
        now_ms: int,
        reason: EndReason | None,
        due_only: bool,
        sources: Iterable[SessionStatus] | None = None,
        pipe: Pipeline | None = None,
    ) -> Any:
        allowed = sources_of(target) if sources is None else frozenset(sources) & sources_of(target)
        return await self._scripts.transition(
            keys=[
                self.keys.session(session_id),
                self.keys.user_sessions(user_id),
                self.keys.deadlines,
                self.keys.worker_sessions(worker_id),
                self.keys.user_events(user_id),
                self.keys.stats,
            ],
            args=[
                target.value,
                " ".join(sorted(s.value for s in allowed)),
                now_ms,
                "1" if target.is_terminal else "0",
                self.retention_seconds,
                reason.value if reason else "",
                "1" if due_only else "0",
                session_id,
                EVENTS_KEPT,
            ],
            client=pipe,
        )

    @staticmethod
    def _as_transition(session_id: str, worker_id: str, target: SessionStatus, result: Any) -> Transition | None:
        """The transition script answers {previous status, end reason}, or nil when nothing moved."""
        if not result:
            return None
        previous, reason = result
        return Transition(session_id, SessionStatus(previous), target, reason or None, worker_id)
