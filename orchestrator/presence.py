"""A browser-owning worker as the cluster sees it: the port the runtime starts, heart-beats and drains.

workers.agent.WorkerAgent implements it; the composition root (browserpool/compose.py) hands the runtime a
PresenceFactory, so the core never imports the worker component.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .activity import ActivityRecorder
from .config import Settings
from .crashes import CrashLog
from .profiles import ProfileStore
from .registry import WorkerRegistry
from .store import SessionStore
from .worker import OwnedWorker


class WorkerPresence(Protocol):
    """A browser-owning worker's part in the cluster: it registers, heart-beats, reconciles and drains."""

    worker: OwnedWorker
    activity: ActivityRecorder
    draining: bool
    drain_requested: asyncio.Event

    @property
    def worker_id(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def heartbeat(self) -> None: ...

    async def reconcile(self) -> None:
        """End the contexts whose sessions ended elsewhere, and the records whose context is gone."""

    async def drain(self, grace: float) -> None: ...

    async def close_all(self, why: str) -> None: ...


@dataclass(frozen=True)
class PresenceParts:
    """What a worker's agent is built from, besides its worker: the stores it reports to."""

    store: SessionStore
    registry: WorkerRegistry
    address: str  # where API nodes reach its internal API ("" for `serve`: nobody else does)
    profiles: ProfileStore
    crashes: CrashLog


# The composition root's way in: the settings and the stores -> the agent of a worker of this process.
PresenceFactory = Callable[[Settings, PresenceParts], WorkerPresence]
