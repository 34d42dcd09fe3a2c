"""Worker registry: each worker holds a lease (a key with an expiry) refreshed by its heartbeat."""

import json
import secrets

from redis.asyncio import Redis

from .keys import Keys
from .worker import WorkerLoad


class WorkerRegistry:
    def __init__(self, redis: Redis, keys: Keys, lease_ttl: float) -> None:
        self.redis = redis
        self.keys = keys
        self.lease_ttl_ms = int(lease_ttl * 1000)
        self.instance = secrets.token_hex(8)

    async def heartbeat(self, worker_id: str, load: WorkerLoad, now_ms: int) -> None:
        """Refresh this worker's lease and its registry entry, in one round trip."""
        info = {"instance": self.instance, "capacity": load.capacity, "used": load.used, "heartbeat_ms": now_ms}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker_lease(worker_id), self.instance, px=self.lease_ttl_ms)
            pipe.zadd(self.keys.workers, {worker_id: now_ms + self.lease_ttl_ms})
            pipe.set(self.keys.worker(worker_id), json.dumps(info), px=self.lease_ttl_ms * 6)
            await pipe.execute()

    async def lease_holder(self, worker_id: str) -> str | None:
        """The instance that holds the worker id's lease now, if any."""
        value = await self.redis.get(self.keys.worker_lease(worker_id))
        return str(value) if value is not None else None

    async def deregister(self, worker_id: str) -> None:
        """Give up the lease (only our own: a successor may already hold the id)."""
        if await self.lease_holder(worker_id) == self.instance:
            await self.redis.delete(self.keys.worker_lease(worker_id))
        await self.redis.zrem(self.keys.workers, worker_id)

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
