"""Per-user webhooks: where to POST a user's session events, signed with a secret only they know.

Delivery reads the same per-user event stream as the SSE endpoint; each webhook keeps its own cursor,
so every event reaches every webhook at least once, in order, whichever API node delivers it. Targets
are checked against the address policy when a webhook is added, and again at every delivery.
"""

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field

import httpx
from redis.asyncio import Redis

from . import clock
from .addresses import AddressPolicy
from .errors import InvalidInput
from .events import EventStream
from .keys import Keys

MAX_PER_USER = 5
URL_LOC = ("body", "url")


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


@dataclass
class WebhookStore:
    redis: Redis
    keys: Keys
    policy: AddressPolicy = field(default_factory=lambda: AddressPolicy(allow_loopback=False))
    events: EventStream = field(init=False)

    def __post_init__(self) -> None:
        self.events = EventStream(self.redis, self.keys)

    async def add(self, user_id: str, url: str) -> Webhook:
        """A new webhook of the user's, once its URL can be sent to and its target is one webhooks may reach."""
        if await self.count(user_id) >= MAX_PER_USER:
            raise InvalidInput(f"at most {MAX_PER_USER} webhooks per user")
        await self.check_target(url)
        return await self.create(user_id, url)

    async def check_target(self, url: str) -> None:
        """Refuse what delivery could not send to, and targets the address policy refuses (InvalidInput)."""
        try:
            host = httpx.URL(url).host  # what delivery will use: refuse now what it would refuse then
        except (httpx.InvalidURL, ValueError) as exc:
            raise InvalidInput(f"webhook url is not valid: {exc}", URL_LOC) from exc
        if not host:
            raise InvalidInput("webhook url has no host", URL_LOC)
        why = (await self.policy.check_url(url)).refusal
        if why:
            raise InvalidInput(f"webhook target {host!r} refused: {why}", URL_LOC)

    async def create(self, user_id: str, url: str) -> Webhook:
        """Store a webhook as given (`add` checks it first); it gets events from now on."""
        hook = Webhook(uuid.uuid4().hex[:16], user_id, url, "whsec_" + secrets.token_urlsafe(24), clock.now_ms())
        newest = await self.events.newest_id(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.user_webhooks(user_id), hook.webhook_id, json.dumps(asdict(hook)))
            pipe.sadd(self.keys.webhook_users, user_id)
            pipe.set(self.keys.webhook_cursor(hook.webhook_id), newest)
            await pipe.execute()
        return hook

    async def count(self, user_id: str) -> int:
        return int(await self.redis.hlen(self.keys.user_webhooks(user_id)))

    async def of_user(self, user_id: str) -> list[Webhook]:
        raw = await self.redis.hvals(self.keys.user_webhooks(user_id))
        return sorted((Webhook(**json.loads(v)) for v in raw), key=lambda h: h.created_at_ms)

    async def delete(self, user_id: str, webhook_id: str) -> bool:
        """Remove one of the user's webhooks. Someone else's id touches nothing (its cursor stays put)."""
        if not await self.redis.hdel(self.keys.user_webhooks(user_id), webhook_id):
            return False
        await self.redis.delete(self.keys.webhook_cursor(webhook_id), self.keys.webhook_retry(webhook_id))
        if not await self.redis.hlen(self.keys.user_webhooks(user_id)):
            await self.redis.srem(self.keys.webhook_users, user_id)
        return True

    async def users(self) -> list[str]:
        return list(await self.redis.smembers(self.keys.webhook_users))
