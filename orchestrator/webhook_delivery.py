"""Delivering events to webhooks: one dispatcher at a time across API nodes, in order, with retries."""

import json
import logging
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from . import clock
from .keys import Keys
from .webhooks import Webhook, WebhookStore, signature

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # then the event is skipped (and logged) so one bad event cannot block the rest
BATCH = 50


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    event_id: str
    ok: bool


def backoff_ms(attempts: int) -> int:
    return min(1000 * 2 ** (attempts - 1), 60_000)


class WebhookDispatcher:
    def __init__(self, redis: Redis, keys: Keys, store: WebhookStore, http: httpx.AsyncClient | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.http = http or httpx.AsyncClient(timeout=5, follow_redirects=False)

    async def tick(self) -> list[Delivery]:
        if not await self.redis.scard(self.keys.webhook_users):
            return []  # nobody has a webhook: one cheap read, no lock
        lock = self.redis.lock(self.keys.webhook_lock, timeout=60, blocking=False)
        if not await lock.acquire():
            return []
        try:
            done: list[Delivery] = []
            for user_id in await self.store.users():
                for hook in await self.store.of_user(user_id):
                    try:
                        done += await self._deliver_pending(hook)
                    except Exception:  # one broken hook must not starve the others
                        log.exception("webhook %s: delivery failed", hook.webhook_id)
            return done
        finally:
            await lock.release()

    async def close(self) -> None:
        await self.http.aclose()

    async def _deliver_pending(self, hook: Webhook) -> list[Delivery]:
        retry = await self.redis.hgetall(self.keys.webhook_retry(hook.webhook_id))
        if retry and int(retry["next_at_ms"]) > clock.now_ms():
            return []
        cursor = await self.redis.get(self.keys.webhook_cursor(hook.webhook_id)) or "0-0"
        events = await self.redis.xrange(self.keys.user_events(hook.user_id), f"({cursor}", "+", count=BATCH)
        done = []
        for event_id, fields in events:
            ok = await self._post(hook, event_id, fields)
            done.append(Delivery(hook.webhook_id, event_id, ok))
            if not ok and not await self._note_failure(hook, event_id, int(retry.get("attempts", 0)) + 1):
                break
            await self._advance(hook, event_id)
            retry = {}
        return done

    async def _post(self, hook: Webhook, event_id: str, fields: dict[str, str]) -> bool:
        body = json.dumps({"id": event_id, **{k: v for k, v in fields.items() if v != ""}}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Browserpool-Signature": signature(hook.secret, body),
            "X-Browserpool-Event": fields.get("type", ""),
        }
        try:
            response = await self.http.post(hook.url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            log.warning("webhook %s: delivery of %s failed: %s", hook.webhook_id, event_id, exc)
            return False
        if response.is_success:
            return True
        log.warning("webhook %s: delivery of %s answered %d", hook.webhook_id, event_id, response.status_code)
        return False

    async def _note_failure(self, hook: Webhook, event_id: str, attempts: int) -> bool:
        """Schedule a retry; True when the event is given up on (and should be skipped)."""
        if attempts >= MAX_ATTEMPTS:
            log.error("webhook %s: giving up on event %s after %d attempts", hook.webhook_id, event_id, attempts)
            return True
        await self.redis.hset(
            self.keys.webhook_retry(hook.webhook_id),
            mapping={"attempts": attempts, "next_at_ms": clock.now_ms() + backoff_ms(attempts)},
        )
        return False

    async def _advance(self, hook: Webhook, event_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.webhook_cursor(hook.webhook_id), event_id)
            pipe.delete(self.keys.webhook_retry(hook.webhook_id))
            await pipe.execute()
