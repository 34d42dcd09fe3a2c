"""Bounds on what a request body may cost: its size and the time it takes to arrive.

A plain ASGI middleware in front of everything, so an oversized or trickling body is refused before
any route (or authentication) reads it: 413 past the size, 408 past the time, each with a JSON body.
When a body turns out too large or too slow while the app is reading it, the middleware answers itself
and tells the app the client has gone, so whatever the app would answer then is dropped.
"""

import asyncio
import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

GONE: Message = {"type": "http.disconnect"}


class BodyLimit:
    """`larger` names path prefixes whose bodies may be larger (profile uploads), with their own limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float, larger: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.larger = tuple(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, 413, self.too_large(limit))
            return
        await self.app(scope, *_Bounded(self, limit, receive, send).channels())

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.larger if path.startswith(prefix)), self.max_bytes)

    @staticmethod
    def too_large(limit: int) -> str:
        return f"the request body is larger than {limit} bytes"


class _Bounded:
    """One request's receive and send, with the body's size and arrival time watched."""

    def __init__(self, limit: BodyLimit, max_bytes: int, receive: Receive, send: Send) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
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
            message = await asyncio.wait_for(self._receive(), max(remaining, 0.001))
        except TimeoutError:
            return await self._refuse(408, f"the request body did not arrive within {self.limit.timeout:g}s")
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                return await self._refuse(413, self.limit.too_large(self.max_bytes))
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
