"""Messages read from one CDP client ahead of their turn, up to a burst's worth.

The relay reads the client's socket into this small queue and paces messages out of it. What waits
here is the client's backlog: a client that waits for its answers, or sends a burst now and then, has
a few messages waiting at most; one that keeps the queue full is sending faster than it may, without
pause. While the queue is full the socket is left unread, so the client's sends slow down (TCP
backpressure) and the daemon holds at most a burst of its messages.
"""

import asyncio
from collections import deque

from orchestrator.worker import CdpClient, ClientGone


class ClientInbox:
    def __init__(self, client: CdpClient, max_messages: int, max_bytes: int) -> None:
        self.client = client
        self.max_messages = max(1, max_messages)
        self.max_bytes = max_bytes
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._room = asyncio.Event()  # set while the queue is below its bounds
        self._room.set()
        self._ready = asyncio.Event()  # set when a message (or the client's departure) is waiting
        self.gone = False

    @property
    def full(self) -> bool:
        return len(self._queue) >= self.max_messages or self._queued_bytes >= self.max_bytes

    async def fill(self) -> None:
        """Read the client's socket while there is room, until the client has gone."""
        while True:
            await self._room.wait()
            try:
                raw = await self.client.receive_text()
            except ClientGone:
                break
            self._queue.append(raw)
            self._queued_bytes += len(raw)
            self._ready.set()
            if self.full:
                self._room.clear()
        self.gone = True
        self._ready.set()

    async def take(self) -> tuple[str, bool] | None:
        """The next message and whether the queue was full when it was taken; None once the client has gone."""
        while not self._queue:
            if self.gone:
                return None
            self._ready.clear()
            await self._ready.wait()
        backlogged = self.full
        raw = self._queue.popleft()
        self._queued_bytes -= len(raw)
        self._room.set()
        return raw, backlogged
