"""Per-user webhooks: where to POST a user's session events, signed with a secret only they know.

Delivery reads the same per-user event stream as the SSE endpoint; each webhook keeps its own cursor,
so every event reaches every webhook at least once, in order, whichever API node delivers it.
"""

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from . import clock
from .keys import Keys

MAX_PER_USER = 5


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    user_id: str
    url: str
    secret: str
    created_at_ms: int


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: receivers recompute it to trust a delivery."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class WebhookStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def create(self, user_id: str, url: str) -> Webhook:
        hook = Webhook(uuid.uuid4().hex[:16], user_id, url, "whsec_" + secrets.token_urlsafe(24), clock.now_ms())
        newest = await self.redis.xrevrange(self.keys.user_events(user_id), count=1)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.user_webhooks(user_id), hook.webhook_id, json.dumps(asdict(hook)))
            pipe.sadd(self.keys.webhook_users, user_id)
            pipe.set(self.keys.webhook_cursor(hook.webhook_id), newest[0][0] if newest else "0-0")
            await pipe.execute()
        return hook

    async def count(self, user_id: str) -> int:
        return int(await self.redis.hlen(self.keys.user_webhooks(user_id)))

    async def of_user(self, user_id: str) -> list[Webhook]:
        raw = await self.redis.hvals(self.keys.user_webhooks(user_id))
        return sorted((Webhook(**json.loads(v)) for v in raw), key=lambda h: h.created_at_ms)

    async def delete(self, user_id: str, webhook_id: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.user_webhooks(user_id), webhook_id)
            pipe.delete(self.keys.webhook_cursor(webhook_id), self.keys.webhook_retry(webhook_id))
            removed, *_ = await pipe.execute()
        if not await self.redis.hlen(self.keys.user_webhooks(user_id)):
            await self.redis.srem(self.keys.webhook_users, user_id)
        return bool(removed)

    async def users(self) -> list[str]:
        return list(await self.redis.smembers(self.keys.webhook_users))
