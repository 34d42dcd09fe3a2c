"""The commands one CDP relay has sent to the browser and not had answered yet, under the relay's own ids.

The relay numbers what it sends (its clients' ids may clash with its own requests), finds each answer's
command here, and, once its session has ended, waits on this record: for every answer a short while,
and for context creations longer, since a context is disposed only once its id is known. A crash's
attribution reads the client commands still in flight and the last few sent.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from workers.cdp.verdicts import Json

CREATES_CONTEXT = "Target.createBrowserContext"
RECENT = 8  # the last commands a connection sent, kept for a crash's attribution


@dataclass(slots=True)
class Pending:
    client_id: int | None  # None: a request the relay made on its own behalf
    session_id: str | None
    after: Callable[[Json], Json] | None
    method: str = ""  # what was sent to the browser: named in a crash's attribution


class InFlight:
    def __init__(self) -> None:
        self._pending: dict[int, Pending] = {}
        self._next_id = 1
        self.answered = asyncio.Event()  # set while no command is waiting for the browser's answer
        self.answered.set()
        self.created = asyncio.Event()  # set while no context creation is waiting for its answer
        self.created.set()
        self.recent: deque[str] = deque(maxlen=RECENT)  # methods the client last sent, newest last

    def sent(self, method: str, pending: Pending) -> int:
        """Record a command about to go to the browser; the id it goes under."""
        upstream_id = self._next_id
        self._next_id += 1
        pending.method = method
        self._pending[upstream_id] = pending
        if pending.client_id is not None:
            self.recent.append(method)
        self.answered.clear()
        if method == CREATES_CONTEXT:
            self.created.clear()
        return upstream_id

    def answer(self, upstream_id: object) -> Pending | None:
        """The command an answer is for (None: not one of ours, or answered already)."""
        pending = self._pending.pop(upstream_id, None)  # type: ignore[call-overload]
        if not self._pending:
            self.answered.set()
        if pending is not None and pending.method == CREATES_CONTEXT and not self.creations():
            self.created.set()
        return pending

    def creations(self) -> int:
        """Context creations still waiting for their answer."""
        return sum(pending.method == CREATES_CONTEXT for pending in self._pending.values())

    def client_methods(self) -> list[str]:
        """The client's commands not answered yet (at a crash: what was in flight)."""
        return [pending.method for pending in self._pending.values() if pending.client_id is not None]
