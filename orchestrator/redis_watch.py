"""What a node knows of its Redis between commands: which server is the primary, since when this node
has reached that same server without a break, and how many replicas follow it.

A failover (or a restart of a lone Redis) shows as a different `run_id`; an outage as a failed probe.
Either way the node counts its steadiness from the first good probe after it. The reaper declares a
worker's lease lapsed only once its node has been steady for a whole lease period: a worker whose
heartbeats failed only because Redis was away has had that long to heart-beat again.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# What a command raises while Redis is away, failing over, or still the demoted primary.
REDIS_AWAY: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


@dataclass(frozen=True)
class RedisView:
    run_id: str
    role: str  # master | slave
    replicas_online: int  # replicas past their initial sync, receiving the stream

    @classmethod
    def of(cls, info: dict[str, Any]) -> "RedisView":
        online = sum(
            1
            for name, value in info.items()
            if name.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
        )
        return cls(run_id=str(info.get("run_id", "")), role=str(info.get("role", "")), replicas_online=online)


class RedisWatch:
    def __init__(self, redis: Redis, clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self._clock = clock
        self.view: RedisView | None = None
        self._steady_since: float | None = None  # None while Redis is away (or not a primary)

    async def probe(self) -> bool:
        """Look at the server once. True when this node has just come back to a primary: after an outage,
        a failover or a restart (not on the first look)."""
        try:
            view = RedisView.of(await self.redis.info("server", "replication"))
        except REDIS_AWAY as exc:
            self.broken(exc)
            return False
        if view.role != "master":
            self.broken(f"{view.role}, not a primary")
            self.view = view
            return False
        came_back = self.view is not None and (self._steady_since is None or view.run_id != self.view.run_id)
        if self.view is None or came_back:
            self._steady_since = self._clock()
        if came_back:
            log.warning("Redis is back (primary %s, %d replica(s) online)", view.run_id[:8], view.replicas_online)
        self.view = view
        return came_back

    def broken(self, why: object) -> None:
        """Redis failed this node: steadiness starts again at the next good probe."""
        if self._steady_since is not None:
            log.warning("Redis is unreachable: %s", why)
        self._steady_since = None

    def steady_for(self) -> float:
        """Seconds this node has reached the same primary without a break (0 while it does not)."""
        return 0.0 if self._steady_since is None else self._clock() - self._steady_since

    @property
    def replicas_online(self) -> int:
        return self.view.replicas_online if self.view is not None and self._steady_since is not None else 0


class ReplicaWait:
    """How many replicas must hold a new session before its create answers 201, and for how long to wait.

    Configured: that many, always. Not configured: one when the primary had a replica online at the last
    probe (the one a failover would promote), none on a lone Redis, where WAIT could only time out."""

    def __init__(self, watch: RedisWatch | None, configured: int | None, timeout: float) -> None:
        self.watch = watch
        self.configured = configured
        self.timeout_ms = int(timeout * 1000)

    def replicas(self) -> int:
        if self.configured is not None:
            return self.configured
        return 1 if self.watch is not None and self.watch.replicas_online > 0 else 0
