"""Coalesces last_activity writes to about one per second per session."""

import logging
from collections.abc import Awaitable, Callable

from .clock import now_ms
from .lifecycle import SessionStatus
from .redis_watch import REDIS_AWAY

log = logging.getLogger(__name__)

Touch = Callable[[str, int], Awaitable[SessionStatus | None]]


class ActivityRecorder:
    def __init__(self, touch: Touch, min_interval_ms: int = 1000, max_tracked: int = 100_000) -> None:
        self._touch = touch
        self._min_interval_ms = min_interval_ms
        self._max_tracked = max_tracked
        self._last_written: dict[str, int] = {}

    async def record(self, session_id: str) -> None:
        now = now_ms()
        if now - self._last_written.get(session_id, 0) < self._min_interval_ms:
            return
        self._last_written[session_id] = now
        if len(self._last_written) > self._max_tracked:
            self._prune(now)
        try:
            await self._touch(session_id, now)
        except REDIS_AWAY as exc:
            # Use goes on while Redis is away (a CDP client's traffic never needs it); the next write catches up.
            log.debug("activity of session %s not recorded: %s", session_id, exc)

    def mark_written(self, session_id: str, at_ms: int) -> None:
        self._last_written[session_id] = at_ms

    def forget(self, session_id: str) -> None:
        self._last_written.pop(session_id, None)

    def _prune(self, now: int) -> None:
        horizon = now - 60_000
        self._last_written = {sid: t for sid, t in self._last_written.items() if t >= horizon}
