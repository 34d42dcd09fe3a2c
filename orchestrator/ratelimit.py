"""Requests per minute, counted in Redis so a limit holds across every API node.

Per user: one bucket shared by all their API keys and bearer tokens, so minting more credentials buys
no more requests (and the number of keys a user holds is capped as well). Per client address (`for_addresses`):
what arrives without a credential, or with one that failed, from one address (api/address_limit.py).
"""

from collections.abc import Callable

from redis.asyncio import Redis

from . import clock
from .errors import QuotaExceeded
from .keys import Keys


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        per_minute: int,
        key_of: Callable[[str, int], str] | None = None,
        what: str = "requests a minute per user",
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.per_minute = per_minute
        self.key_of = key_of or keys.rate  # (subject, minute) -> the counter's key
        self.what = what

    @classmethod
    def for_addresses(cls, redis: Redis, keys: Keys, per_minute: int) -> "RateLimiter":
        what = "requests a minute from one address without a valid credential"
        return cls(redis, keys, per_minute, keys.address_rate, what)

    async def hit(self, subject: str) -> None:
        """Count one request of the subject's; raises QuotaExceeded (with Retry-After) past the limit."""
        if self.per_minute <= 0:
            return
        now_s = clock.now_ms() // 1000
        key = self.key_of(subject, now_s // 60)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 61)
            count, _ = await pipe.execute()
        if count > self.per_minute:
            raise QuotaExceeded(f"rate limit: at most {self.per_minute} {self.what}", retry_after=60 - now_s % 60)
