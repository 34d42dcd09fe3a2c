"""A limit per client address on what arrives without a valid credential.

Counted, per minute and in Redis so the limit holds across API nodes (orchestrator/ratelimit.py, the
same counter as the per-user limit): every request and websocket handshake that carries no credential
(no X-API-Key, no Authorization, no `?token=` or `?link=`): `/healthz`, `/readyz`, `/openapi.json`,
`/ui`, `/live/...`, logins; and every one whose credential failed (answered 401: a bad key, token or
CDP token). Past BROWSERPOOL_IP_RATE_LIMIT a minute the address is answered 429 with Retry-After and
the house JSON body until the minute is over, whatever it sends (so a guesser learns nothing from its
guesses), and this node remembers that without asking Redis again. Requests with a valid credential
are otherwise not counted here: the per-user limit counts them.

Who the client is: api/client_address.py (the TCP peer, or X-Forwarded-For from a trusted proxy).
Worker-internal routes are not limited (their callers are API nodes). If Redis cannot count, the
request is served.
"""

import asyncio
import logging
import math
import time
from urllib.parse import parse_qs

from fastapi import WebSocket
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.errors import QuotaExceeded
from orchestrator.redis_watch import REDIS_AWAY
from orchestrator.runtime import Runtime
from workers.remote import wire
from workers.remote.sockets import refuse

from .client_address import client_address, trusted_networks

log = logging.getLogger(__name__)

UNANSWERED: tuple[type[Exception], ...] = (*REDIS_AWAY, TimeoutError)  # Redis away, or too slow to count

COUNT_TIMEOUT = 1.0  # a count Redis has not answered by then lets the request through
MAX_REMEMBERED = 100_000  # addresses over the limit this node keeps in memory (past it: asked of Redis each time)
CREDENTIAL_HEADERS = (b"x-api-key", b"authorization")
CREDENTIAL_PARAMS = ("token", "link")
REFUSALS = ("http.response.start", "websocket.http.response.start")


class AddressLimit:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.trusted = trusted_networks(runtime.settings.trusted_proxies)
        self._over: dict[str, float] = {}  # address -> until when (monotonic) it is refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        control = self.runtime.control
        if (
            scope["type"] not in ("http", "websocket")
            or control is None
            or control.address_limiter.per_minute <= 0
            or scope.get("path", "").startswith(wire.PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted)
        if address is None:
            await self.app(scope, receive, send)
            return
        credentialed = _credentialed(scope)
        wait = self._refused_for(address)
        if wait is None and not credentialed:
            wait = await self._count(address)
        if wait is not None:
            await _refuse(scope, receive, send, control.address_limiter.what, control.address_limiter.per_minute, wait)
            return
        await self.app(scope, receive, self._counting_failures(send, address) if credentialed else send)

    def _refused_for(self, address: str) -> int | None:
        until = self._over.get(address)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._over[address]
            return None
        return math.ceil(left)

    async def _count(self, address: str) -> int | None:
        """Count one request of the address's; the seconds it is refused for, or None while it is under."""
        assert self.runtime.control is not None
        try:
            async with asyncio.timeout(COUNT_TIMEOUT):
                await self.runtime.control.address_limiter.hit(address)
        except QuotaExceeded as exc:
            wait = exc.retry_after or 60
            self._remember(address, wait)
            return wait
        except UNANSWERED as exc:
            log.info("could not count a request of %s: %r", address, exc)
        return None

    def _remember(self, address: str, seconds: int) -> None:
        now = time.monotonic()
        if len(self._over) >= MAX_REMEMBERED:
            self._over = {a: until for a, until in self._over.items() if until > now}
        if len(self._over) < MAX_REMEMBERED:
            self._over[address] = now + seconds

    def _counting_failures(self, send: Send, address: str) -> Send:
        """`send`, counting the request against the address when its answer is 401 (its credential failed)."""

        async def sending(message: Message) -> None:
            if message["type"] in REFUSALS and message.get("status") == 401:
                await self._count(address)
            await send(message)

        return sending


def _credentialed(scope: Scope) -> bool:
    if any(name in CREDENTIAL_HEADERS and value for name, value in scope.get("headers", ())):
        return True
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return any(query.get(name) for name in CREDENTIAL_PARAMS)


async def _refuse(scope: Scope, receive: Receive, send: Send, what: str, per_minute: int, wait: int) -> None:
    body: dict[str, object] = {"detail": f"rate limit: at most {per_minute} {what}"}
    headers = {"Retry-After": str(wait)}
    if scope["type"] == "websocket":
        await refuse(WebSocket(scope, receive, send), 429, body, headers)
    else:
        await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
