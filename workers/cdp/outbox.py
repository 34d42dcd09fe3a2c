"""Messages on their way to one CDP client, written by a task of their own.

The relay's browser side must never wait for a client: while it waits it cannot let go of another
session's page that auto-attach paused, nor read anything else Chromium sends. So the browser side
only queues; a writer task sends. A client that leaves too much unread, or reads nothing for too
long, is closed instead of being buffered without end.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from orchestrator.deadlines import within
from orchestrator.worker import CdpClient

SLOW_CLIENT = 1008


class ClientOutbox:
    def __init__(
        self, client: CdpClient, max_bytes: int, send_timeout: float, on_failed: Callable[[int, str], None]
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.send_timeout = send_timeout
        self._on_failed = on_failed
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()  # nothing queued and nothing being sent
        self._idle.set()
        self._failed = False

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def put(self, text: str) -> None:
        """Queue a message; one that overflows a non-empty queue ends the connection instead."""
        if self._failed:
            return
        if self._queue and self._queued_bytes + len(text) > self.max_bytes:
            unread = (self._queued_bytes + len(text)) // (1024 * 1024)
            self._fail(SLOW_CLIENT, f"client too slow: {unread} MiB of CDP messages left unread")
            return
        self._queue.append(text)
        self._queued_bytes += len(text)
        self._idle.clear()
        self._ready.set()

    async def run(self) -> None:
        """Send queued messages in order until the client is gone or too slow."""
        while not self._failed:
            await self._ready.wait()
            self._ready.clear()
            while self._queue and not self._failed:
                text = self._queue.popleft()
                self._queued_bytes -= len(text)
                await self._send(text)
            self._idle.set()

    async def flush(self, timeout: float) -> None:
        """Give the writer up to `timeout` to send what is queued (the last answers before a close)."""
        with contextlib.suppress(TimeoutError):
            await within(timeout, self._idle.wait())

    async def _send(self, text: str) -> None:
        try:
            async with asyncio.timeout(self.send_timeout):
                await self.client.send_text(text)
        except TimeoutError:
            self._fail(SLOW_CLIENT, f"client too slow: read nothing for {self.send_timeout:g} s")
        except Exception:  # the client went away; the relay's client side notices and ends
            self._fail(1000, "client gone")

    def _fail(self, code: int, reason: str) -> None:
        self._failed = True
        self._queue.clear()
        self._queued_bytes = 0
        self._ready.set()
        self._idle.set()
        self._on_failed(code, reason)
