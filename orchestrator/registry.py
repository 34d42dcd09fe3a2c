"""Worker registry: who holds browsers, where to reach them, how full they are.

Each worker holds a lease (a key with an expiry) refreshed by its heartbeat; the registry sorted set
is scored by when that lease runs out, so live workers are one range read and lapsed ones another.
"""

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from . import __version__
from .keys import Keys
from .worker import WorkerLoad


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str
    address: str  # base URL of its internal API ("" for a worker nobody else can reach)
    capacity: int
    used: int
    draining: bool
    version: str
    heartbeat_ms: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.used, 0)

    @classmethod
    def from_hash(cls, worker_id: str, raw: dict[str, str]) -> "WorkerInfo":
        return cls(
            worker_id=worker_id,
            address=raw.get("address", ""),
            capacity=int(raw.get("capacity", 0)),
            used=int(raw.get("used", 0)),
            draining=raw.get("draining") == "1",
            version=raw.get("version", ""),
            heartbeat_ms=int(raw.get("heartbeat_ms", 0)),
        )


class WorkerRegistry:
    def __init__(self, redis: Redis, keys: Keys, lease_ttl: float) -> None:
        self.redis = redis
        self.keys = keys
        self.lease_ttl_ms = int(lease_ttl * 1000)
        self.instance = secrets.token_hex(8)

    async def heartbeat(
        self, worker_id: str, load: WorkerLoad, now_ms: int, address: str = "", draining: bool = False
    ) -> bool:
        """Refresh this worker's lease and entry in one round trip; True if an operator asked it to drain."""
        info = {
            "instance": self.instance,
            "address": address,
            "capacity": load.capacity,
            "used": load.used,
            "draining": "1" if draining else "0",
            "version": __version__,
            "heartbeat_ms": now_ms,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker_lease(worker_id), self.instance, px=self.lease_ttl_ms)
            pipe.zadd(self.keys.workers, {worker_id: now_ms + self.lease_ttl_ms})
            pipe.hset(self.keys.worker(worker_id), mapping=info)
            pipe.pexpire(self.keys.worker(worker_id), self.lease_ttl_ms * 6)
            pipe.exists(self.keys.worker_drain(worker_id))
            *_, drain_requested = await pipe.execute()
        return bool(drain_requested)

    async def report_used(self, worker_id: str, used: int) -> None:
        """Keep placement's view of this worker's load current between heartbeats."""
        await self.redis.hset(self.keys.worker(worker_id), "used", used)

    async def live(self, now_ms: int) -> list[WorkerInfo]:
        """Workers whose lease has not run out (two round trips: who, then their entries)."""
        worker_ids = await self.redis.zrangebyscore(self.keys.workers, now_ms, "+inf")
        if not worker_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker_id in worker_ids:
                pipe.hgetall(self.keys.worker(worker_id))
            rows = await pipe.execute()
        return [WorkerInfo.from_hash(w, raw) for w, raw in zip(worker_ids, rows, strict=True) if raw]

    async def request_drain(self, worker_id: str) -> bool:
        """Ask a registered worker to drain; False if no such worker is registered."""
        if await self.redis.zscore(self.keys.workers, worker_id) is None:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker_drain(worker_id), "1", px=self.lease_ttl_ms * 60)
            pipe.hset(self.keys.worker(worker_id), "draining", "1")  # placement skips it from now on
            await pipe.execute()
        return True

    async def is_registered(self, worker_id: str) -> bool:
        return await self.redis.zscore(self.keys.workers, worker_id) is not None

    async def lease_holder(self, worker_id: str) -> str | None:
        """The instance that holds the worker id's lease now, if any."""
        value = await self.redis.get(self.keys.worker_lease(worker_id))
        return str(value) if value is not None else None

    async def deregister(self, worker_id: str) -> None:
        """Give up the lease (only our own: a successor may already hold the id)."""
        if await self.lease_holder(worker_id) == self.instance:
            await self.redis.delete(self.keys.worker_lease(worker_id), self.keys.worker(worker_id))
        await self.redis.zrem(self.keys.workers, worker_id)
        await self.redis.delete(self.keys.worker_drain(worker_id))

    async def lapsed(self, now_ms: int, limit: int = 100) -> list[str]:
        """Registered workers whose lease ran out: their score passed and the lease key is gone."""
        candidates = await self.redis.zrangebyscore(self.keys.workers, "-inf", now_ms, start=0, num=limit)
        if not candidates:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker_id in candidates:
                pipe.exists(self.keys.worker_lease(worker_id))
            alive = await pipe.execute()
        return [w for w, live in zip(candidates, alive, strict=True) if not live]

    async def forget(self, worker_id: str) -> None:
        await self.redis.zrem(self.keys.workers, worker_id)
