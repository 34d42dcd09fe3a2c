"""Whether this worker takes one more session, and where: the least loaded shared browser, or a browser of the
session's own (workers/pool/dedicated.py); none while it drains or shuts down."""

from orchestrator.errors import PoolFull, PoolUnavailable
from workers.local.parts import WorkerParts
from workers.pool.placement import least_loaded
from workers.pool.slot import BrowserSlot


class Admission:
    def __init__(self, parts: WorkerParts) -> None:
        self.parts = parts

    def stop_taking_sessions(self) -> None:
        self.parts.draining = True

    @property
    def draining(self) -> bool:
        return self.parts.refusing

    def reserve(self, session_id: str) -> BrowserSlot:
        """A place on a shared browser, reserved for the session (PoolFull when there is none)."""
        loads = self._room()
        index = least_loaded(loads, self.parts.capacity_per_browser)
        if index is None:
            raise PoolFull()
        slot = self.parts.slots[index]
        slot.reserve(session_id)
        return slot

    async def reserve_own(self, session_id: str) -> BrowserSlot:
        """A browser of the session's own, reserved for it."""
        self._room()
        return await self.parts.dedicated.take(session_id, self._room)

    def _room(self) -> list[int | None]:
        """The shared browsers' loads, if this worker takes one more session of either isolation."""
        parts = self.parts
        if parts.stopping or parts.draining:
            raise PoolUnavailable("this worker is draining or shutting down and takes no new sessions")
        loads = [slot.load for slot in parts.slots]
        if all(load is None for load in loads):
            raise PoolUnavailable("no browser is up right now (starting or restarting); retry shortly", retry_after=2)
        load = parts.load()
        if load.used >= load.capacity:
            raise PoolFull()
        return loads
