"""What the API asks of sessions: create, read, list, keep alive, drive, close."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from . import clock
from .activity import ActivityRecorder
from .cdp_tokens import CdpTokens
from .errors import PoolUnavailable, SessionEnded, SessionNotFound, SessionNotReady
from .lifecycle import LIVE, EndReason, SessionStatus
from .models import SessionRecord, SessionSpec
from .store import SessionStore, Transition
from .worker import BrowserWorker, CdpClient, NavigationResult

log = logging.getLogger(__name__)

T = TypeVar("T")


class SessionService:
    def __init__(self, store: SessionStore, worker: BrowserWorker, idle_timeout: int, cdp_tokens: CdpTokens) -> None:
        self.store = store
        self.worker = worker
        self.idle_timeout = idle_timeout
        self.cdp_tokens = cdp_tokens
        self.activity = ActivityRecorder(lambda sid, at: store.touch(sid, at))
        self._cleanups: set[asyncio.Task[None]] = set()

    # --- reading -----------------------------------------------------------------------------

    async def get(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.store.get(session_id)
        if record is None or record.user_id != user_id:
            raise SessionNotFound(session_id)
        return record

    async def list_live(self, user_id: str) -> list[SessionRecord]:
        return await self.store.list_live(user_id)

    # --- lifecycle ---------------------------------------------------------------------------

    async def create(self, user_id: str, spec: SessionSpec) -> SessionRecord:
        """Open a session; returns once its context is open and the record reads `active`."""
        session_id = uuid.uuid4().hex
        self.worker.reserve(session_id)
        now = clock.now_ms()
        record = SessionRecord(
            session_id=session_id,
            user_id=user_id,
            worker_id=self.worker.worker_id,
            status=SessionStatus.STARTING,
            viewport_width=spec.viewport_width,
            viewport_height=spec.viewport_height,
            user_agent=spec.user_agent,
            timeout_seconds=spec.timeout_seconds,
            idle_timeout=self.idle_timeout,
            created_at_ms=now,
            last_activity_ms=now,
            expires_at_ms=now + spec.timeout_seconds * 1000,
        )
        try:
            await self.store.create(record)
        except BaseException:
            self.worker.release(session_id)
            raise
        try:
            await self.worker.open_session(session_id, spec)
        except asyncio.CancelledError:
            self._in_background(self._abandon(session_id))
            raise
        except Exception:
            await self._abandon(session_id)
            raise
        try:
            moved = await self.store.transition(
                session_id, SessionStatus.ACTIVE, clock.now_ms(), user_id=user_id, worker_id=record.worker_id
            )
        except BaseException:
            # The store failed us after the context opened: a context nobody can reach must not linger.
            self._in_background(self._abandon(session_id))
            raise
        if moved is None:
            # Ended while it was starting (closed, reaped or its browser died): do not leak the context.
            await self.worker.close_session(session_id)
            current = await self.store.get(session_id)
            raise SessionEnded(current.status if current else SessionStatus.FAILED.value)
        self.activity.mark_written(session_id, now)
        return replace(record, status=SessionStatus.ACTIVE)

    async def close(self, user_id: str, session_id: str) -> None:
        """End a session at its owner's request. Closing an ended session is a no-op."""
        record = await self.get(user_id, session_id)
        if not record.status.is_live:
            return
        moved = await self.store.transition(
            session_id,
            SessionStatus.CLOSING,
            clock.now_ms(),
            reason=EndReason.DELETED,
            user_id=record.user_id,
            worker_id=record.worker_id,
        )
        if moved is None or record.worker_id != self.worker.worker_id:
            return  # someone else ended it, or its worker will close it on its next reconcile
        await self.worker.close_session(session_id, "session closed (deleted)")
        await self.store.transition(
            session_id,
            SessionStatus.CLOSED,
            clock.now_ms(),
            reason=EndReason.DELETED,
            user_id=record.user_id,
            worker_id=record.worker_id,
        )
        self.activity.forget(session_id)

    async def keepalive(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.get(user_id, session_id)
        status = await self.store.touch(session_id, clock.now_ms(), extend=True)
        if status is None or not status.is_live:
            raise SessionEnded((status or record.status).value)
        return await self.get(user_id, session_id)

    # --- actions -----------------------------------------------------------------------------

    async def navigate(self, user_id: str, session_id: str, url: str) -> NavigationResult:
        return await self._drive(user_id, session_id, lambda: self.worker.navigate(session_id, url))

    async def evaluate(self, user_id: str, session_id: str, expression: str) -> Any:
        return await self._drive(user_id, session_id, lambda: self.worker.evaluate(session_id, expression))

    async def screenshot(self, user_id: str, session_id: str) -> bytes:
        return await self._drive(user_id, session_id, lambda: self.worker.screenshot(session_id))

    async def content(self, user_id: str, session_id: str) -> str:
        return await self._drive(user_id, session_id, lambda: self.worker.content(session_id))

    # --- CDP --------------------------------------------------------------------------------------

    async def cdp_session(self, session_id: str, user_id: str | None, token: str | None) -> SessionRecord:
        """The session a CDP connection may open: its owner's, or anyone's holding its token."""
        record = await self.store.get(session_id)
        owner = record is not None and user_id is not None and record.user_id == user_id
        if record is None or not (owner or (token is not None and self.cdp_tokens.verify(session_id, token))):
            raise SessionNotFound(session_id)
        return await self._drivable(record.user_id, session_id)

    async def relay_cdp(self, session_id: str, client: CdpClient) -> None:
        await self.worker.relay_cdp(session_id, client, lambda: self.activity.record(session_id))

    # --- ends that do not come from the owner ------------------------------------------------

    async def end_lost(self, session_ids: Sequence[str], reason: str) -> None:
        """Sessions whose browser died under them: mark them failed."""
        moved = await self.store.transition_many(
            session_ids, SessionStatus.FAILED, clock.now_ms(), reason=EndReason(reason)
        )
        for t in moved:
            self.activity.forget(t.session_id)
        if moved:
            log.warning("%d session(s) failed: %s", len(moved), reason)

    async def after_ended(self, transitions: Iterable[Transition]) -> None:
        """Close the contexts of sessions that ended elsewhere in the control plane (reaper)."""
        held = set(self.worker.held_session_ids())
        for t in transitions:
            self.activity.forget(t.session_id)
            if t.session_id in held:
                await self.worker.close_session(t.session_id, f"session {t.current.value} ({t.reason})")

    async def recover_previous_incarnation(self) -> int:
        """Sessions recorded for this worker id by a process that is gone can never come back."""
        ids = await self.store.worker_session_ids(self.worker.worker_id)
        now = clock.now_ms()
        failed = await self.store.transition_many(
            ids, SessionStatus.FAILED, now, reason=EndReason.WORKER_RESTARTED, sources=LIVE
        )
        closed = await self.store.transition_many(
            ids, SessionStatus.CLOSED, now, reason=EndReason.DELETED, sources={SessionStatus.CLOSING}
        )
        return len(failed) + len(closed)

    async def reconcile(self) -> None:
        """Close contexts whose sessions ended elsewhere (another node's reaper or DELETE)."""
        held = self.worker.held_session_ids()
        statuses = await self.store.statuses(held)
        for session_id, status in zip(held, statuses, strict=True):
            if status is not None and status.is_live:
                continue
            await self.worker.close_session(session_id, f"session {status.value if status else 'gone'}")
            self.activity.forget(session_id)
            if status is SessionStatus.CLOSING:
                await self.store.transition(session_id, SessionStatus.CLOSED, clock.now_ms())

    async def drain(self) -> None:
        """Let in-flight clean-ups finish."""
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------------

    async def _drive(self, user_id: str, session_id: str, action: Callable[[], Awaitable[T]]) -> T:
        """Run one action on a session's page if it may be driven here; the use counts as activity."""
        await self._drivable(user_id, session_id)
        try:
            return await action()
        finally:
            await self.activity.record(session_id)

    async def _drivable(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.get(user_id, session_id)
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        if record.status is not SessionStatus.ACTIVE:
            raise SessionEnded(record.status.value)
        if record.worker_id != self.worker.worker_id:
            raise PoolUnavailable(f"session is held by worker {record.worker_id!r}, which this node cannot reach")
        return record

    async def _abandon(self, session_id: str) -> None:
        """A start that failed or was cancelled: close whatever opened and mark the record failed."""
        try:
            await self.worker.close_session(session_id)
        finally:
            self.worker.release(session_id)
            await self.store.transition(session_id, SessionStatus.FAILED, clock.now_ms(), reason=EndReason.START_FAILED)

    def _in_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
