"""The worker side of the control plane: what the process that owns browsers does with Redis.

It recovers from its previous run, heart-beats its lease and load into the registry, closes
contexts whose sessions ended elsewhere, fails sessions whose browser died, and drains.
"""

import asyncio
import logging
from collections.abc import Sequence

from orchestrator import clock
from orchestrator.activity import ActivityRecorder
from orchestrator.crashes import CrashLog, CrashRecorder
from orchestrator.files import DownloadInfo
from orchestrator.lifecycle import LIVE, EndReason, SessionStatus
from orchestrator.profiles import ProfileStore
from orchestrator.registry import WorkerRegistry
from orchestrator.store import SessionStore
from orchestrator.worker import OwnedWorker, WorkerLoad

log = logging.getLogger(__name__)

STRAY_GRACE_MS = 15_000  # a record this young may still be getting its context


class WorkerAgent:
    def __init__(
        self,
        worker: OwnedWorker,
        store: SessionStore,
        registry: WorkerRegistry,
        address: str,
        profiles: ProfileStore | None = None,
        crashes: CrashLog | None = None,
    ) -> None:
        self.worker = worker
        self.profiles = profiles  # where sessions that start from a profile read it, and persisting ones save
        self.crashes = crashes  # where a crash of one of its browsers is reported (None: only logged)
        self.store = store
        self.registry = registry
        self.address = address
        self.activity = ActivityRecorder(lambda sid, at: store.touch(sid, at))
        self.draining = False
        self.drain_requested = asyncio.Event()

    @property
    def worker_id(self) -> str:
        return self.worker.worker_id

    async def start(self) -> None:
        recovered = await self.recover_previous_incarnation()
        if recovered:
            log.warning("marked %d session(s) of this worker's previous run as ended", recovered)
        await self.worker.start(
            self.end_lost,
            self.load_changed,
            self.download_done,
            self.profiles,
            on_client_closed=self.end_by_client,
            on_page_hung=self.page_unresponsive,
            on_crash=CrashRecorder(self.worker_id, self.crashes, self.store) if self.crashes else None,
        )
        await self.heartbeat()

    async def heartbeat(self) -> None:
        asked = await self.registry.heartbeat(
            self.worker_id, self.worker.load(), clock.now_ms(), self.address, self.draining
        )
        if asked and not self.drain_requested.is_set():
            log.warning("an operator asked worker %s to drain", self.worker_id)
            self.drain_requested.set()
        await self.reconcile()

    async def download_done(self, session_id: str, download: DownloadInfo) -> None:
        """A session's download completed: its owner's `download` event (SSE and webhooks)."""
        try:
            await self.store.file_event(session_id, "download", download.name, download.size_bytes)
        except Exception:
            log.warning("could not emit the download event of session %s", session_id, exc_info=True)

    async def page_unresponsive(self, session_id: str, reason: str) -> None:
        """A page of the session stopped answering and was killed: its owner's `page_unresponsive` event."""
        try:
            await self.store.notice(session_id, "page_unresponsive", reason)
        except Exception:
            log.warning("could not emit the page_unresponsive event of session %s", session_id, exc_info=True)

    async def end_by_client(self, session_id: str) -> None:
        """The session's own CDP client closed the browser: it ends `closed` (client_closed), as a DELETE would."""
        now = clock.now_ms()
        if await self.store.transition(session_id, SessionStatus.CLOSING, now, reason=EndReason.CLIENT_CLOSED) is None:
            return  # ended already (a DELETE, the reaper): whoever ended it closes the context
        self.activity.forget(session_id)
        try:
            await self.worker.close_session(session_id, "session closed (its client closed the browser)")
        finally:
            await self.store.transition(
                session_id, SessionStatus.CLOSED, clock.now_ms(), reason=EndReason.CLIENT_CLOSED
            )

    async def load_changed(self, load: WorkerLoad) -> None:
        await self.registry.report_used(self.worker_id, load.used)

    async def recover_previous_incarnation(self) -> int:
        """Sessions recorded for this worker id by a process that is gone can never come back."""
        ids = await self.store.worker_session_ids(self.worker_id)
        now = clock.now_ms()
        failed = await self.store.transition_many(
            ids, SessionStatus.FAILED, now, reason=EndReason.WORKER_RESTARTED, sources=LIVE
        )
        closed = await self.store.transition_many(
            ids, SessionStatus.CLOSED, now, reason=EndReason.DELETED, sources={SessionStatus.CLOSING}
        )
        return len(failed) + len(closed)

    async def reconcile(self) -> None:
        """Make Redis and the browsers agree: close contexts whose sessions ended elsewhere (a reaper, a
        DELETE on another node, a lapse), and end records that say live but have no context here."""
        held = self.worker.held_session_ids()
        statuses = await self.store.statuses(held)
        for session_id, status in zip(held, statuses, strict=True):
            if status is not None and status.is_live:
                continue
            await self.worker.close_session(session_id, f"session {status.value if status else 'gone'}")
            self.activity.forget(session_id)
            if status is SessionStatus.CLOSING:
                await self.store.transition(session_id, SessionStatus.CLOSED, clock.now_ms())
        await self._end_strays(set(held) | set(self.worker.opening_session_ids()))

    async def _end_strays(self, here: set[str]) -> None:
        """Records of this worker with no context here (lost while Redis was unreachable, say)."""
        strays = [sid for sid in await self.store.worker_session_ids(self.worker_id) if sid not in here]
        if not strays:
            return
        now = clock.now_ms()
        settled = [r for r in await self.store.get_many(strays) if r and now - r.created_at_ms > STRAY_GRACE_MS]
        ids = [r.session_id for r in settled]
        await self.store.transition_many(ids, SessionStatus.FAILED, now, reason=EndReason.CONTEXT_LOST, sources=LIVE)
        await self.store.transition_many(ids, SessionStatus.CLOSED, now, sources={SessionStatus.CLOSING})

    async def end_lost(self, session_ids: Sequence[str], reason: EndReason) -> None:
        """Sessions whose browser died under them: mark them failed."""
        moved = await self.store.transition_many(session_ids, SessionStatus.FAILED, clock.now_ms(), reason=reason)
        for t in moved:
            self.activity.forget(t.session_id)
        if moved:
            log.warning("%d session(s) failed: %s", len(moved), reason)

    async def drain(self, grace: float) -> None:
        """Take no new sessions, let held ones finish for up to `grace` seconds, then close the rest."""
        self.draining = True
        self.worker.stop_taking_sessions()
        await self.heartbeat()
        deadline = asyncio.get_running_loop().time() + grace
        while self.worker.held_session_ids() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
            await self.reconcile()
        await self.close_all("the worker is draining")

    async def close_all(self, why: str) -> None:
        """Close every held session as `closed`."""
        held = self.worker.held_session_ids()
        now = clock.now_ms()
        await self.store.transition_many(held, SessionStatus.CLOSING, now, reason=EndReason.SHUTDOWN, sources=LIVE)
        for session_id in held:
            await self.worker.close_session(session_id, f"session closed ({why})")
        await self.store.transition_many(held, SessionStatus.CLOSED, clock.now_ms(), reason=EndReason.SHUTDOWN)

    async def stop(self) -> None:
        await self.worker.stop()
        try:
            await self.registry.deregister(self.worker_id)
        except Exception:
            log.exception("could not deregister worker %s", self.worker_id)
