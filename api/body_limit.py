"""Bounds on what a request body may cost: its size and the time it takes to arrive.

A plain ASGI middleware in front of everything, so an oversized or trickling body is refused before
any route (or authentication) reads it: 413 past the size, 408 past the time, each with a JSON body.
When a body turns out too large or too slow while the app is reading it, the middleware answers itself
and tells the app the client has gone, so whatever the app would answer then is dropped.

Uploads into a session (`POST .../files`, and the worker's internal `PUT .../files/{name}`) have a bound of
their own, `uploads`: the session's disk quota, and more time to arrive. `larger` names path prefixes whose
bodies may be larger than the plain limit (profile uploads), each with its own size.
"""

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.deadlines import within

GONE: Message = {"type": "http.disconnect"}


UPLOAD_PATHS = re.compile(r"^(/v1/browser/sessions/[^/]+/files/?|/internal/sessions/[^/]+/files/[^/]+)$")


@dataclass(frozen=True)
class Bound:
    max_bytes: int
    timeout: float
    why: str = ""  # what the bound is, when it is not the plain body limit

    @property
    def too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes{self.why}"


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout: float,
        uploads: Bound | None = None,
        larger: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.bound = Bound(max_bytes, timeout)
        self.uploads = uploads or self.bound
        self.larger = tuple((prefix, Bound(limit, timeout)) for prefix, limit in larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bound = self.bound_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > bound.max_bytes:
            await _answer(send, 413, bound.too_large)
            return
        await self.app(scope, *_Bounded(bound, receive, send).channels())

    def bound_for(self, path: str) -> Bound:
        if UPLOAD_PATHS.match(path):
            return self.uploads
        return next((bound for prefix, bound in self.larger if path.startswith(prefix)), self.bound)

    @property
    def too_large(self) -> str:
        return self.bound.too_large


class _Bounded:
    """One request's receive and send, with the body's size and arrival time watched."""

    def __init__(self, limit: Bound, receive: Receive, send: Send) -> None:
        self.limit = limit
        self._receive = receive
        self._send = send
        self.received = 0
        self.started = False  # the app began its answer: too late to answer for it
        self.answered = False  # we answered for it: drop whatever it sends
        self.deadline = asyncio.get_running_loop().time() + limit.timeout

    def channels(self) -> tuple[Receive, Send]:
        return self.receive, self.send

    async def receive(self) -> Message:
        if self.answered:
            return GONE
        remaining = self.deadline - asyncio.get_running_loop().time()
        try:
            message = await within(max(remaining, 0.001), self._receive())
        except TimeoutError:
            return await self._refuse(408, f"the request body did not arrive within {self.limit.timeout:g}s")
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                return await self._refuse(413, self.limit.too_large)
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _refuse(self, status: int, detail: str) -> Message:
        if not self.started:
            self.answered = True
            await _answer(self._send, status, detail)
        return GONE


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
