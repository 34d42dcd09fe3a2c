"""Delivering events to webhooks: in order per webhook, every webhook on its own lane, with retries.

One API node at a time delivers (a Redis lease it renews every tick while it has lanes running). Each
webhook gets a lane of its own: a task that posts its pending events one after the other, each bounded
by a whole-request timeout, so a slow receiver holds up nobody but itself (unless `concurrency` slow
receivers at once fill every place for a POST in flight). Every post re-checks the
target with the address policy (a name may re-resolve anywhere since it was added), connects to the
address it checked, and follows no redirect.
"""

import asyncio
import json
import logging
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from redis.exceptions import LockError, LockNotOwnedError

from . import clock
from .events import Event
from .keys import Keys
from .webhooks import Webhook, WebhookStore, signature

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6  # then the event is skipped (and logged) so one bad event cannot block the rest
BATCH = 50
LEASE_SECONDS = 60  # outlives a dead node's lanes by this much at most
TICK_WAIT = 0.5  # how long a tick waits for the lanes it started (the others go on in the background)


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    event_id: str
    ok: bool


class DeliveryRefused(Exception):
    """The address policy refuses the webhook's target as it resolves now."""


def backoff_ms(attempts: int) -> int:
    return min(1000 * 2 ** (attempts - 1), 60_000)


def delivery_client() -> httpx.AsyncClient:
    """No redirects, no proxies from the environment, and no kept-alive connection (each post connects to
    the address just checked, so a connection for one name is never reused for another)."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits)


class WebhookDispatcher:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        store: WebhookStore,
        timeout: float = 10.0,
        concurrency: int = 64,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.timeout = timeout
        self._posting = asyncio.Semaphore(concurrency)  # POSTs in flight at once, over all lanes
        self.http = http or delivery_client()
        self._lease = redis.lock(keys.webhook_lock, timeout=LEASE_SECONDS, blocking=False)
        self._lanes: dict[str, asyncio.Task[list[Delivery]]] = {}

    async def tick(self, wait: float = TICK_WAIT) -> list[Delivery]:
        """Start a lane for every webhook without one; answer what the lanes started here delivered
        within `wait` seconds (a lane still going then goes on, and holds up no other lane or tick)."""
        if not self._busy() and not await self.redis.scard(self.keys.webhook_users):
            return []  # nobody has a webhook: one cheap read, no lease
        if not await self._hold_lease():
            return []
        started = [self._start_lane(hook) for hook in await self._hooks() if hook.webhook_id not in self._lanes]
        done: set[asyncio.Task[list[Delivery]]] = set()
        if started:
            done, _ = await asyncio.wait(started, timeout=wait)
        if not self._busy():
            await self._release_lease()
        return [delivery for lane in done if not lane.cancelled() for delivery in lane.result()]

    async def close(self) -> None:
        lanes = list(self._lanes.values())
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        await self._release_lease()
        await self.http.aclose()

    def _busy(self) -> bool:
        return any(not lane.done() for lane in self._lanes.values())

    async def _hooks(self) -> list[Webhook]:
        return [hook for user_id in await self.store.users() for hook in await self.store.of_user(user_id)]

    def _start_lane(self, hook: Webhook) -> asyncio.Task[list[Delivery]]:
        lane = asyncio.get_running_loop().create_task(self._lane(hook))
        self._lanes[hook.webhook_id] = lane
        lane.add_done_callback(lambda _: self._lanes.pop(hook.webhook_id, None))
        return lane

    async def _lane(self, hook: Webhook) -> list[Delivery]:
        try:
            return await self._deliver_pending(hook)
        except Exception:  # one broken hook must not starve the others
            log.exception("webhook %s: delivery failed", hook.webhook_id)
            return []

    async def _hold_lease(self) -> bool:
        """Take the delivery lease, or renew it if this node holds it (its lanes may still run)."""
        if await self._lease.owned():
            try:
                await self._lease.reacquire()
                return True
            except LockNotOwnedError:  # given back since (by another tick here, with no lane left) or lapsed
                pass
        return bool(await self._lease.acquire())

    async def _release_lease(self) -> None:
        try:
            await self._lease.release()
        except LockError:
            pass  # not held (never taken, or lapsed)

    async def _deliver_pending(self, hook: Webhook) -> list[Delivery]:
        retry = await self.redis.hgetall(self.keys.webhook_retry(hook.webhook_id))
        if retry and int(retry["next_at_ms"]) > clock.now_ms():
            return []
        cursor = await self.redis.get(self.keys.webhook_cursor(hook.webhook_id))
        if cursor is None:
            return []  # deleted since the lane started
        done = []
        for event in await self.store.events.after(hook.user_id, cursor, BATCH):
            ok = await self._post(hook, event)
            done.append(Delivery(hook.webhook_id, event.id, ok))
            if not ok and not await self._note_failure(hook, event.id, int(retry.get("attempts", 0)) + 1):
                break
            await self._advance(hook, event.id)
            retry = {}
        return done

    async def _post(self, hook: Webhook, event: Event) -> bool:
        body = json.dumps(event.payload()).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Browserpool-Signature": signature(hook.secret, body),
            "X-Browserpool-Event": event.type,
        }
        try:
            async with self._posting, asyncio.timeout(self.timeout):  # the whole request, however slow the answer
                response = await self._send_checked(hook.url, body, headers)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, DeliveryRefused, TimeoutError) as exc:
            log.warning("webhook %s: delivery of %s failed: %s", hook.webhook_id, event.id, exc or type(exc).__name__)
            return False
        if response.is_success:
            return True
        log.warning("webhook %s: delivery of %s answered %d", hook.webhook_id, event.id, response.status_code)
        return False

    async def _send_checked(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST to the address the policy checked just now, naming the host as the URL does (Host, TLS SNI)."""
        target = httpx.URL(url)
        address, why = await self.store.policy.check_url(url)
        if address is None:
            raise DeliveryRefused(f"target {target.host!r} refused: {why}")
        host = target.raw_host.decode("ascii")
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        pinned = target.copy_with(host=str(address))
        headers = {**headers, "Host": target.netloc.decode("ascii")}
        return await self.http.post(pinned, content=body, headers=headers, extensions=extensions)

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
            pipe.set(self.keys.webhook_cursor(hook.webhook_id), event_id, xx=True)  # never revive a deleted hook's
            pipe.delete(self.keys.webhook_retry(hook.webhook_id))
            await pipe.execute()
