"""What the API asks of sessions: create, read, list, keep alive, drive, close."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from . import clock
from .activity import ActivityRecorder
from .cdp_tokens import CdpTokens
from .create_policy import CreatePolicy
from .directory import WorkerDirectory
from .errors import (
    FileNotFound,
    NoProfileToSave,
    PoolUnavailable,
    RecordingNotReady,
    SessionEnded,
    SessionNotFound,
    SessionNotReady,
)
from .files import DownloadInfo, FileStream, PdfOptions, UploadedFile
from .lifecycle import EndReason, SessionStatus
from .models import SessionRecord, SessionRequest
from .profiles import ProfileStore
from .queue import CreateQueue
from .redis_watch import ReplicaWait
from .session_start import GaveUp, SessionStarts
from .store import SessionStore, Transition
from .worker import BrowserWorker, CdpClient, CdpMode, NavigationResult, Upload

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _never() -> bool:
    return False


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        directory: WorkerDirectory,
        queue: CreateQueue,
        cdp_tokens: CdpTokens,
        policy: CreatePolicy,
        replica_wait: ReplicaWait | None = None,
        profiles: ProfileStore | None = None,
    ) -> None:
        self.store = store
        self.directory = directory
        self.queue = queue  # the admin view reads its length
        self.cdp_tokens = cdp_tokens
        self.activity = ActivityRecorder(lambda sid, at: store.touch(sid, at))
        self._cleanups: set[asyncio.Task[None]] = set()
        replicas = replica_wait or ReplicaWait(None, 0, 1.0)
        self.starts = SessionStarts(
            store, directory, queue, policy, replicas, profiles, self.activity, self._in_background
        )

    # --- reading -----------------------------------------------------------------------------

    async def get(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.store.get(session_id)
        if record is None or record.user_id != user_id:
            raise SessionNotFound(session_id)
        return record

    async def list_live(self, user_id: str) -> list[SessionRecord]:
        return await self.store.list_live(user_id)

    # --- lifecycle ---------------------------------------------------------------------------

    async def create(self, user_id: str, request: SessionRequest, gave_up: GaveUp = _never) -> SessionRecord:
        """Open a session on the best worker (orchestrator/session_start.py): returns once it reads `active`."""
        return await self.starts.create(user_id, request, gave_up)

    async def close(self, user_id: str, session_id: str) -> None:
        """End a session at its owner's request. Closing an ended session is a no-op.

        The record says `closed` before this returns; the context closes right after, in the background.
        Nothing is lost if this process dies in between: the worker closes contexts whose records have
        ended at its next heartbeat (WorkerAgent.reconcile)."""
        record = await self.get(user_id, session_id)
        if not record.status.is_live:
            return

        async def move(status: SessionStatus) -> Transition | None:
            return await self.store.transition(
                session_id,
                status,
                clock.now_ms(),
                reason=EndReason.DELETED,
                user_id=record.user_id,
                worker_id=record.worker_id,
            )

        if await move(SessionStatus.CLOSING) is None:
            return  # someone else ended it first (the reaper, a crash): they close the context
        await move(SessionStatus.CLOSED)  # None only if the worker's reconcile finished the close meanwhile
        self.activity.forget(session_id)
        closing = self._close_context(record.worker_id, session_id, "session closed (deleted)")
        if record.profile_persist:
            # Its final save is part of the close: once this returns, the profile holds it and is free again.
            await closing
        else:
            self._in_background(closing)

    async def fail(self, session_id: str, reason: EndReason, why: str) -> bool:
        """End a live session `failed` for `reason` (what drove it is gone); its context closes in the background.
        False if it had ended already."""
        moved = await self.store.transition(session_id, SessionStatus.FAILED, clock.now_ms(), reason=reason)
        if moved is None:
            return False
        self.activity.forget(session_id)
        self._in_background(self._close_context(moved.worker_id, session_id, why))
        return True

    async def save_profile(self, user_id: str, session_id: str) -> SessionRecord:
        """Save an active persisting session's state into its profile now; the session carries on."""
        record = await self.get(user_id, session_id)
        if not record.profile_persist:
            raise NoProfileToSave(f"session {session_id} does not persist into a profile")
        worker = await self._drivable(record)
        await worker.save_profile(session_id)
        await self.activity.record(session_id)
        return await self.get(user_id, session_id)

    async def _close_context(self, worker_id: str, session_id: str, why: str) -> None:
        try:
            worker = await self.directory.get(worker_id)
            await worker.close_session(session_id, why)
        except PoolUnavailable:
            return  # its worker closes it on its next reconcile, or the reaper fails it when its lease lapses
        except Exception:
            log.warning("could not close the context of deleted session %s", session_id, exc_info=True)

    async def keepalive(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.get(user_id, session_id)
        status = await self.store.touch(session_id, clock.now_ms(), extend=True)
        if status is None or not status.is_live:
            raise SessionEnded((status or record.status).value)
        return await self.get(user_id, session_id)

    # --- actions -----------------------------------------------------------------------------

    async def navigate(self, user_id: str, session_id: str, url: str) -> NavigationResult:
        return await self._drive(user_id, session_id, lambda w: w.navigate(session_id, url))

    async def evaluate(self, user_id: str, session_id: str, expression: str) -> Any:
        return await self._drive(user_id, session_id, lambda w: w.evaluate(session_id, expression))

    async def screenshot(self, user_id: str, session_id: str) -> bytes:
        return await self._drive(user_id, session_id, lambda w: w.screenshot(session_id))

    async def content(self, user_id: str, session_id: str) -> str:
        return await self._drive(user_id, session_id, lambda w: w.content(session_id))

    async def pdf(self, user_id: str, session_id: str, options: PdfOptions) -> bytes:
        return await self._drive(user_id, session_id, lambda w: w.pdf(session_id, options))

    # --- files: downloads and recordings stay readable after the end, for the file retention --

    async def downloads(self, user_id: str, session_id: str) -> list[DownloadInfo]:
        return await (await self._file_holder(user_id, session_id)).downloads(session_id)

    async def download(self, user_id: str, session_id: str, name: str) -> FileStream:
        return await (await self._file_holder(user_id, session_id)).open_file(session_id, name)

    async def recording(self, user_id: str, session_id: str) -> FileStream:
        record = await self.get(user_id, session_id)
        if not record.record:
            raise FileNotFound('this session was not recorded (create it with "record": true)')
        if record.status.is_live:
            raise RecordingNotReady(
                "the session is still being recorded: its video is ready once the session has ended"
            )
        return await (await self.directory.get(record.worker_id)).open_file(session_id, None)

    async def upload(self, user_id: str, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        return await self._drive(user_id, session_id, lambda w: w.upload(session_id, files))

    async def set_input_files(self, user_id: str, session_id: str, selector: str, names: list[str]) -> None:
        await self._drive(user_id, session_id, lambda w: w.set_input_files(session_id, selector, names))

    async def _file_holder(self, user_id: str, session_id: str) -> BrowserWorker:
        """The worker that holds (or held) the session: its files stay there after the end."""
        record = await self.get(user_id, session_id)
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        return await self.directory.get(record.worker_id)

    # --- CDP ---------------------------------------------------------------------------------

    async def cdp_session(self, session_id: str, user_id: str | None, token: str | None) -> BrowserWorker:
        """The worker to relay a CDP connection to: the owner's session, or the one the token opens."""
        return (await self.cdp_target(session_id, user_id, token))[1]

    async def cdp_target(
        self, session_id: str, user_id: str | None, token: str | None
    ) -> tuple[SessionRecord, BrowserWorker]:
        """The session a CDP connection opens (its owner's, or the one the token opens) and its worker."""
        record = await self.store.get(session_id)
        owner = record is not None and user_id is not None and record.user_id == user_id
        if record is None or not (owner or (token is not None and self.cdp_tokens.verify(session_id, token))):
            raise SessionNotFound(session_id)
        return record, await self._drivable(record)

    async def relay_cdp(
        self, worker: BrowserWorker, session_id: str, client: CdpClient, mode: CdpMode = CdpMode.FULL
    ) -> None:
        await worker.relay_cdp(session_id, client, lambda: self.activity.record(session_id), mode)

    # --- ends that come from the reaper ------------------------------------------------------

    async def after_ended(self, transitions: Iterable[Transition]) -> None:
        """Close the contexts of sessions the reaper ended (their workers would also notice on their own)."""
        for t in transitions:
            self.activity.forget(t.session_id)
            try:
                worker = await self.directory.get(t.worker_id)
                await worker.close_session(t.session_id, f"session {t.current.value} ({t.reason})")
            except PoolUnavailable:
                continue
            except Exception:
                log.warning("could not close the context of ended session %s", t.session_id, exc_info=True)

    async def drain(self) -> None:
        """Let in-flight clean-ups finish."""
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------------

    async def _drive(self, user_id: str, session_id: str, action: Callable[[BrowserWorker], Awaitable[T]]) -> T:
        """Run one action on a session's page; the use counts as activity."""
        worker = await self._drivable(await self.get(user_id, session_id))
        try:
            return await action(worker)
        finally:
            await self.activity.record(session_id)

    async def _drivable(self, record: SessionRecord) -> BrowserWorker:
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        if record.status is not SessionStatus.ACTIVE:
            raise SessionEnded(record.status.value)
        return await self.directory.get(record.worker_id)

    def _in_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
