"""A test-only websocket hop between Playwright and a CDP endpoint that writes down what went wrong.

Both the reference and the pool are reached through it, so the hop costs both the same. It passes every
message on unchanged and keeps, per connection, the commands that came back with an error (method and
message: the relay's refusals, Chromium's own protocol errors), the pages that were attached, and how
the far end closed the socket. That is what a failing comparison prints, to tell which CDP method or
relay behaviour made the difference.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


@dataclass
class TapLog:
    """What one tapped connection saw."""

    errors: list[tuple[str, str]] = field(default_factory=list)  # (method@channel, error message) of failed commands
    pages_attached: int = 0  # Target.attachedToTarget events for pages (how many pages this connection drove)
    commands: int = 0
    closed_by_endpoint: tuple[int, str] | None = None  # (code, reason) when the far end hung up first
    _methods: dict[tuple[str | None, int], str] = field(default_factory=dict)

    def command(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        self.commands += 1
        if "id" in message and "method" in message:
            channel = "a child session" if message.get("sessionId") else "the root session"
            self._methods[(message.get("sessionId"), message["id"])] = f"{message['method']} on {channel}"

    def reply(self, raw: str | bytes) -> None:
        message: dict[str, Any] = json.loads(raw)
        if "id" in message:
            method = self._methods.pop((message.get("sessionId"), message["id"]), "?")
            if "error" in message:
                self.errors.append((method, str(message["error"].get("message", message["error"]))))
        elif message.get("method") == "Target.attachedToTarget":
            if message.get("params", {}).get("targetInfo", {}).get("type") == "page":
                self.pages_attached += 1

    def summary(self, limit: int = 12) -> str:
        seen: dict[tuple[str, str], int] = {}
        for error in self.errors:
            seen[error] = seen.get(error, 0) + 1
        lines = [f"  {method} x{count}: {text[:300]}" for (method, text), count in list(seen.items())[:limit]]
        closed = f"\n  closed by the endpoint: {self.closed_by_endpoint}" if self.closed_by_endpoint else ""
        return ("\n".join(lines) or "  (no CDP errors)") + closed


class CdpTap:
    """One loopback websocket server; each `route()` is a fresh path relayed to one upstream CDP URL."""

    def __init__(self) -> None:
        self._server: Server | None = None
        self._routes: dict[str, tuple[str, TapLog]] = {}

    async def start(self) -> "CdpTap":
        self._server = await serve(self._relay, "127.0.0.1", 0, max_size=None, compression=None, ping_interval=None)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def route(self, upstream: str) -> tuple[str, TapLog]:
        """A ws:// URL that relays to `upstream`, and the log it fills."""
        assert self._server is not None
        key = uuid.uuid4().hex
        log = TapLog()
        self._routes[key] = (upstream, log)
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/{key}", log

    async def _relay(self, client: ServerConnection) -> None:
        assert client.request is not None
        upstream, log = self._routes.pop(client.request.path.strip("/"), (None, None))
        if upstream is None or log is None:
            await client.close(1008, "unknown tap route")
            return
        async with connect(upstream, max_size=None, compression=None, ping_interval=None) as far:
            forward = asyncio.create_task(self._pump(client, far, log.command))
            back = asyncio.create_task(self._pump(far, client, log.reply))
            done, _ = await asyncio.wait((forward, back), return_when=asyncio.FIRST_COMPLETED)
            if back in done and far.close_code is not None:
                log.closed_by_endpoint = (far.close_code, far.close_reason or "")
                await client.close(far.close_code if far.close_code != 1006 else 1011, far.close_reason or "")
            for task in (forward, back):
                task.cancel()
            await asyncio.gather(forward, back, return_exceptions=True)

    @staticmethod
    async def _pump(source: Any, sink: Any, note: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in source:
                note(message)
                await sink.send(message)


@contextlib.asynccontextmanager
async def running_tap() -> AsyncIterator[CdpTap]:
    tap = await CdpTap().start()
    try:
        yield tap
    finally:
        await tap.stop()
