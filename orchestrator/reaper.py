"""Ends sessions past their deadline and fails those of workers whose lease lapsed.

A tick costs O(log N + due): it reads the deadline index from its low end, never scans.
Only one reaper acts at a time across daemons (a Redis lock); the reap itself is idempotent
because every move re-checks the record inside one script.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis

from . import clock
from .keys import Keys
from .lifecycle import EndReason, SessionStatus
from .registry import WorkerRegistry
from .store import SessionStore, Transition

log = logging.getLogger(__name__)

AfterEnded = Callable[[Sequence[Transition]], Awaitable[None]]


@dataclass
class ReapResult:
    expired: list[Transition] = field(default_factory=list)
    failed: list[Transition] = field(default_factory=list)
    lapsed_workers: list[str] = field(default_factory=list)
    warned: int = 0
    skipped: bool = False


class Reaper:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        store: SessionStore,
        registry: WorkerRegistry,
        after_ended: AfterEnded,
        batch_size: int = 500,
        max_batches: int = 20,
        warning_seconds: float = 60,
        may_declare_lapses: Callable[[], bool] = lambda: True,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.registry = registry
        self.after_ended = after_ended
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.warning_ms = int(warning_seconds * 1000)
        # False while this node has not reached the same Redis primary for a whole lease period: a lease that
        # lapsed while Redis was away (an outage, a failover) says nothing about its worker.
        self.may_declare_lapses = may_declare_lapses

    async def tick(self, now_ms: int | None = None) -> ReapResult:
        now = clock.now_ms() if now_ms is None else now_ms
        lock = self.redis.lock(self.keys.reaper_lock, timeout=60, blocking=False)
        if not await lock.acquire():
            return ReapResult(skipped=True)
        try:
            result = ReapResult(expired=await self._expire_due(now))
            if self.may_declare_lapses():
                result.lapsed_workers, result.failed = await self._fail_lapsed_workers(now)
            result.warned = await self._warn_expiring(now)
        finally:
            await lock.release()
        if result.expired or result.failed:
            log.info("reaper ended %d expired and %d failed session(s)", len(result.expired), len(result.failed))
            await self.after_ended(result.expired + result.failed)
        return result

    async def _expire_due(self, now: int) -> list[Transition]:
        ended: list[Transition] = []
        for _ in range(self.max_batches):
            due = await self.store.due_session_ids(now, self.batch_size)
            ended += await self.store.transition_many(due, SessionStatus.EXPIRED, now, due_only=True)
            if len(due) < self.batch_size:
                break
        return ended

    async def _warn_expiring(self, now: int) -> int:
        """Tell owners once (per deadline) that an active session ends within the warning window. One still
        starting is told at a later tick, once active: its stream never reads `expiring` before `active`."""
        if self.warning_ms <= 0:
            return 0
        soon = await self.redis.zrangebyscore(
            self.keys.deadlines, now, now + self.warning_ms, start=0, num=self.batch_size, withscores=True
        )
        if not soon:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id, _ in soon:
                pipe.hmget(self.keys.session(session_id), ["user_id", "warned_deadline_ms", "status"])
            known = await pipe.execute()
        to_warn = [
            (session_id, user_id, int(deadline))
            for (session_id, deadline), (user_id, warned_for, status) in zip(soon, known, strict=True)
            if user_id is not None and status == SessionStatus.ACTIVE and warned_for != str(int(deadline))
        ]
        await self.store.warn_expiring(to_warn)
        return len(to_warn)

    async def _fail_lapsed_workers(self, now: int) -> tuple[list[str], list[Transition]]:
        lapsed = await self.registry.lapsed(now)
        failed: list[Transition] = []
        for worker_id in lapsed:
            ids = await self.store.worker_session_ids(worker_id)
            moved = await self.store.transition_many(ids, SessionStatus.FAILED, now, reason=EndReason.WORKER_LOST)
            # Closes already under way finish as the owner asked: the context died with its worker anyway.
            moved += await self.store.transition_many(ids, SessionStatus.CLOSED, now)
            failed += moved
            await self.registry.forget(worker_id)
            log.warning("worker %s lapsed: %d session(s) failed", worker_id, len(moved))
        return lapsed, failed
