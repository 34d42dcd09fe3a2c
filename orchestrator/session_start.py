"""Starting a session: its record, a worker with room (or the queue for one), its profile's lease, its context,
and `active` once the Redis replicas have it. A start that fails, is cancelled or is given up on leaves a
`failed` record and no context behind."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from . import clock
from .activity import ActivityRecorder
from .create_policy import CreatePolicy
from .directory import WorkerDirectory
from .errors import ClientGaveUp, InvalidInput, NotReplicated, PoolFull, PoolUnavailable, ProfileNotFound, SessionEnded
from .isolation import IsolationPolicy
from .lifecycle import EndReason, SessionStatus
from .models import SessionRecord, SessionRequest, SessionSpec
from .profiles import ProfileStore
from .queue import CreateQueue, wait_for_turn
from .redis_watch import ReplicaWait
from .store import SessionStore
from .worker import BrowserWorker

log = logging.getLogger(__name__)

GaveUp = Callable[[], Awaitable[bool]]


class SessionStarts:
    def __init__(
        self,
        store: SessionStore,
        directory: WorkerDirectory,
        queue: CreateQueue,
        policy: CreatePolicy,
        replica_wait: ReplicaWait,
        profiles: ProfileStore | None,
        activity: ActivityRecorder,
        in_background: Callable[[Any], None],
    ) -> None:
        self.store = store
        self.directory = directory
        self.queue = queue
        self.policy = policy
        self.replica_wait = replica_wait
        self.profiles = profiles
        self.activity = activity
        self.isolation = IsolationPolicy(store.redis, store.keys)
        self._in_background = in_background

    async def create(self, user_id: str, request: SessionRequest, gave_up: GaveUp) -> SessionRecord:
        """Open a session on the best worker, waiting in the queue for capacity if so configured.

        Returns once its context is open (with its profile's state in it, if it starts from one) and the
        record reads `active`. A read-only profile must exist; a persisting one is made if new, and taken
        for this session alone (ProfileInUse while another session persists into it).
        """
        isolation = await self.isolation.level_for(user_id, request.isolation)
        spec = self.policy.spec_for(replace(request, isolation=isolation), user_id)
        if spec.profile is not None and not spec.profile.persist:
            if self.profiles is None or not await self.profiles.exists(user_id, spec.profile.name):
                raise ProfileNotFound(spec.profile.name)
        placed = None
        if self.policy.queue_timeout <= 0 or not await self.queue.waiting():
            placed = await self._place(user_id, spec)
        if placed is None and self.policy.queue_timeout > 0:
            placed = await self._wait_and_place(user_id, spec, gave_up)
        if placed is None:
            if self.directory.local is None and not await self.directory.live(fresh=True):
                raise PoolUnavailable("no browser worker is running; retry shortly")
            raise PoolFull()
        record, worker = placed
        if await gave_up():
            await self._abandon(record, worker, EndReason.START_FAILED)
            raise ClientGaveUp()
        return await self._activate(record, worker)

    async def _place(self, user_id: str, spec: SessionSpec) -> tuple[SessionRecord, BrowserWorker] | None:
        """Open the session on the first candidate worker with room; None if every one is full."""
        for worker in await self.directory.candidates():
            record = self._new_record(user_id, worker.worker_id, spec)
            await self.store.create(record, self.policy.max_sessions_per_user)
            await self._claim_profile(record, spec)
            try:
                await worker.open_session(record.session_id, spec)
            except (PoolFull, PoolUnavailable):
                await self._discard(record, spec)  # it never started: leave no trace
                continue
            except asyncio.CancelledError:
                self._in_background(self._abandon(record, worker, EndReason.START_FAILED))
                raise
            except Exception:
                await self._abandon(record, worker, EndReason.START_FAILED)
                raise
            return record, worker
        return None

    async def _claim_profile(self, record: SessionRecord, spec: SessionSpec) -> None:
        """A persisting session becomes its profile's one writer once its record exists, before its context opens."""
        if spec.profile is None or not spec.profile.persist:
            return
        if self.profiles is None:
            await self.store.discard(record)
            raise InvalidInput("this node keeps no profiles", loc=("body", "profile"))
        try:
            await self.profiles.claim(spec.profile, record.session_id)
        except BaseException:
            await self.store.discard(record)
            raise

    async def _discard(self, record: SessionRecord, spec: SessionSpec) -> None:
        await self.store.discard(record)
        if spec.profile is not None and spec.profile.persist and self.profiles is not None:
            await self.profiles.release(spec.profile, record.session_id)

    async def _wait_and_place(
        self, user_id: str, spec: SessionSpec, gave_up: GaveUp
    ) -> tuple[SessionRecord, BrowserWorker] | None:
        deadline = clock.now_ms() + int(self.policy.queue_timeout * 1000)
        async with self.queue.ticket() as ticket:
            while await wait_for_turn(ticket, self.directory.free_slots, deadline, gave_up):
                placed = await self._place(user_id, spec)
                if placed is not None:
                    return placed
                await asyncio.sleep(0.1)
        if await gave_up():
            raise ClientGaveUp()
        return None

    async def _activate(self, record: SessionRecord, worker: BrowserWorker) -> SessionRecord:
        replicas = self.replica_wait.replicas()
        try:
            moved, acked = await self.store.transition_replicated(
                record.session_id,
                SessionStatus.ACTIVE,
                clock.now_ms(),
                user_id=record.user_id,
                worker_id=record.worker_id,
                replicas=replicas,
                timeout_ms=self.replica_wait.timeout_ms,
            )
        except BaseException:
            # The store failed us after the context opened: a context nobody can reach must not linger.
            self._in_background(self._abandon(record, worker, EndReason.START_FAILED))
            raise
        if moved is None:
            # Ended while it was starting (closed, reaped or its browser died): do not leak the context.
            await worker.close_session(record.session_id, "session ended while starting")
            current = await self.store.get(record.session_id)
            raise SessionEnded(current.status if current else SessionStatus.FAILED.value)
        if acked < replicas:
            # A 201 promises the session outlives a failover; without the replicas' word, undo it instead.
            await self._abandon(record, worker, EndReason.START_FAILED)
            raise NotReplicated(f"Redis replicas confirmed the session {acked} of {replicas} time(s); retry shortly")
        self.activity.mark_written(record.session_id, record.created_at_ms)
        return replace(record, status=SessionStatus.ACTIVE)

    def _new_record(self, user_id: str, worker_id: str, spec: SessionSpec) -> SessionRecord:
        now = clock.now_ms()
        return SessionRecord.opened(
            spec,
            session_id=uuid.uuid4().hex,
            user_id=user_id,
            worker_id=worker_id,
            status=SessionStatus.STARTING,
            idle_timeout=self.policy.idle_timeout,
            created_at_ms=now,
            last_activity_ms=now,
            expires_at_ms=now + spec.timeout_seconds * 1000,
        )

    async def _abandon(self, record: SessionRecord, worker: BrowserWorker, reason: EndReason) -> None:
        """A start that failed, was cancelled or was given up on: close what opened, mark the record failed."""
        try:
            await worker.close_session(record.session_id, "session abandoned while starting")
        except Exception:
            log.warning("could not close abandoned session %s", record.session_id, exc_info=True)
        try:
            await self.store.transition(record.session_id, SessionStatus.FAILED, clock.now_ms(), reason=reason)
        except Exception:
            # The store is down: the record stays `starting` and the reaper ends it at its deadline.
            log.warning("could not mark abandoned session %s failed", record.session_id, exc_info=True)
