"""What the deployment keeps of shared-browser crashes: the reports, who is quarantined, the counts.

A crash report (orchestrator.worker.CrashReport) names the sessions whose CDP commands were in flight when
a browser died. Their users are quarantined for `BROWSERPOOL_CRASH_QUARANTINE` seconds: their new sessions
get a browser of their own ("isolation": "browser"), so a crash they cause again ends only their sessions.
The latest reports are kept for the operator (`GET /v1/admin/crashes`), and the counts feed /metrics
(`browserpool_browser_crashes`, `browserpool_sessions_restarted`, `browserpool_crash_quarantined_users`).
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from . import clock
from .keys import Keys
from .quarantine import quarantined_until
from .store import SessionStore
from .worker import CrashReport

log = logging.getLogger(__name__)

REPORTS_KEPT = 100


@dataclass(frozen=True)
class Quarantine:
    user_id: str
    until_ms: int


class CrashLog:
    def __init__(self, redis: Redis, keys: Keys, quarantine_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.quarantine_seconds = quarantine_seconds

    async def record(self, worker_id: str, report: CrashReport, users: dict[str, str]) -> list[str]:
        """Keep the report (with each suspect session's user), quarantine those users; returns them."""
        now = clock.now_ms()
        suspects = sorted({users[sid] for sid in report.in_flight if sid in users})
        entry = {
            "at_ms": now,
            "worker_id": worker_id,
            "browser": report.browser,
            "in_flight": [
                {"session_id": sid, "user_id": users.get(sid, ""), "methods": methods}
                for sid, methods in report.in_flight.items()
            ],
            "recent": report.recent,
            "restarted": report.survivors,
            "quarantined": suspects if self.quarantine_seconds > 0 else [],
        }
        until = now + int(self.quarantine_seconds * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(self.keys.crashes, json.dumps(entry))
            pipe.ltrim(self.keys.crashes, 0, REPORTS_KEPT - 1)
            pipe.hincrby(self.keys.stats, "browser_crashes", 1)
            if self.quarantine_seconds > 0 and suspects:
                pipe.zadd(self.keys.quarantine, dict.fromkeys(suspects, until), gt=True)
                pipe.hincrby(self.keys.stats, "crash_quarantines", len(suspects))
            await pipe.execute()
        return suspects

    async def reports(self, count: int = REPORTS_KEPT) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in await self.redis.lrange(self.keys.crashes, 0, count - 1)]

    async def quarantined_until(self, user_id: str) -> int | None:
        return await quarantined_until(self.redis, self.keys, user_id)

    async def quarantined(self) -> list[Quarantine]:
        now = clock.now_ms()
        await self.redis.zremrangebyscore(self.keys.quarantine, 0, now)
        rows = await self.redis.zrange(self.keys.quarantine, 0, -1, withscores=True)
        return [Quarantine(str(user), int(score)) for user, score in rows]

    async def release(self, user_id: str) -> bool:
        """End a user's quarantine now (the operator's call)."""
        return bool(await self.redis.zrem(self.keys.quarantine, user_id))


class CrashRecorder:
    """The worker agent's side: a crash's report and quarantines, and each survivor's `session_restarted`."""

    def __init__(self, worker_id: str, log_: CrashLog, store: SessionStore) -> None:
        self.worker_id = worker_id
        self.log = log_
        self.store = store

    async def browser_crashed(self, report: CrashReport) -> None:
        try:
            records = await self.store.get_many(list(report.in_flight))
            users = {r.session_id: r.user_id for r in records if r is not None}
            suspects = await self.log.record(self.worker_id, report, users)
        except Exception:
            log.exception("could not record the crash of browser %s", report.browser)
            return
        if report.in_flight:
            log.error(
                "browser %s crashed with commands in flight from session(s) %s; quarantined user(s): %s",
                report.browser,
                report.in_flight,
                ", ".join(suspects) or "none",
            )

    async def session_restarted(self, session_id: str, seconds: float, detail: str) -> None:
        reason = f"its browser crashed; restarted on a fresh one in {seconds * 1000:.0f} ms with {detail}"
        try:
            await self.store.notice(session_id, "session_restarted", reason)
            await self.store.redis.hincrby(self.store.keys.stats, "sessions_restarted", 1)
        except Exception:
            log.warning("could not emit session_restarted for %s", session_id, exc_info=True)
