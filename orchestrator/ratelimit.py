"""Requests per minute per user, counted in Redis so the limit holds across every API node.

One bucket per user, shared by all their API keys and bearer tokens: minting more credentials buys no
more requests (and the number of keys a user holds is capped as well).
"""

from redis.asyncio import Redis

from . import clock
from .errors import QuotaExceeded
from .keys import Keys


class RateLimiter:
    def __init__(self, redis: Redis, keys: Keys, per_minute: int) -> None:
        self.redis = redis
        self.keys = keys
        self.per_minute = per_minute

    async def hit(self, user_id: str) -> None:
        """Count one request of the user's; raises QuotaExceeded (with Retry-After) past the limit."""
        if self.per_minute <= 0:
            return
        now_s = clock.now_ms() // 1000
        key = self.keys.rate(user_id, now_s // 60)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 61)
            count, _ = await pipe.execute()
        if count > self.per_minute:
            raise QuotaExceeded(
                f"rate limit: at most {self.per_minute} requests a minute per user", retry_after=60 - now_s % 60
            )
