"""The seam between the control plane and whatever owns browsers.

`browserpool serve` plugs in an in-process implementation (workers.local.LocalWorker);
workers in other processes or on other hosts implement the same protocol.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .models import SessionSpec

# Called by a worker when sessions die under it (browser crash): (session ids, end reason).
SessionsLost = Callable[[Sequence[str], str], Awaitable[None]]


class ClientGone(Exception):
    """The CDP client closed its websocket."""


class CdpClient(Protocol):
    """A client's CDP websocket, as the API hands it to a worker."""

    async def receive_text(self) -> str:
        """The next text frame; raises ClientGone when the client has disconnected."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class NavigationResult:
    url: str
    status: int | None
    title: str


@dataclass(frozen=True)
class WorkerLoad:
    capacity: int
    used: int
    browsers_up: int


class BrowserWorker(Protocol):
    """A worker that owns browsers and holds one browser context per session."""

    @property
    def worker_id(self) -> str: ...

    async def start(self, on_sessions_lost: SessionsLost) -> None: ...

    async def stop(self) -> None:
        """Close every context and browser. Safe to call twice."""

    def load(self) -> WorkerLoad: ...

    def held_session_ids(self) -> list[str]: ...

    def reserve(self, session_id: str) -> None:
        """Hold a slot for a session about to open; raises PoolFull or PoolUnavailable."""

    def release(self, session_id: str) -> None:
        """Give back a reservation that will not be used."""

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        """Open the reserved slot's context and page with the spec's viewport and user agent."""

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        """Close the session's contexts and CDP connections; a no-op for a session this worker does not hold."""

    async def relay_cdp(self, session_id: str, client: CdpClient, on_activity: Callable[[], Awaitable[None]]) -> None:
        """Relay the client's CDP traffic to the session's browser context until either side closes."""

    async def navigate(self, session_id: str, url: str) -> NavigationResult: ...

    async def evaluate(self, session_id: str, expression: str) -> Any: ...

    async def screenshot(self, session_id: str) -> bytes: ...

    async def content(self, session_id: str) -> str: ...
