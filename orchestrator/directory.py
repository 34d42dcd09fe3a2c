"""Which worker holds a session, and which should take the next one."""

import random
from collections.abc import Callable

from . import clock
from .errors import PoolUnavailable
from .placement import rank_workers
from .registry import WorkerInfo, WorkerRegistry
from .worker import BrowserWorker, OwnedWorker

RemoteFactory = Callable[[WorkerInfo], BrowserWorker]

CACHE_MS = 1000


class WorkerDirectory:
    def __init__(
        self,
        registry: WorkerRegistry,
        local: OwnedWorker | None,
        remote: RemoteFactory | None,
        rng: random.Random | None = None,
    ) -> None:
        self.registry = registry
        self.local = local
        self._remote_factory = remote
        self._rng = rng or random.Random()
        self._remotes: dict[tuple[str, str], BrowserWorker] = {}
        self._live: list[WorkerInfo] = []
        self._live_at = 0

    async def live(self, fresh: bool = False) -> list[WorkerInfo]:
        now = clock.now_ms()
        if fresh or now - self._live_at > CACHE_MS:
            self._live = await self.registry.live(now)
            self._live_at = now
        return self._live

    async def candidates(self) -> list[BrowserWorker]:
        """Workers to try for a new session, best first."""
        ranked = rank_workers(await self._with_local(), self._rng)
        return [worker for info in ranked if (worker := self._reach(info)) is not None]

    async def free_slots(self) -> int:
        return sum(w.free for w in await self._with_local() if not w.draining)

    async def _with_local(self) -> list[WorkerInfo]:
        """Live workers, with this process's own worker as it is right now (even between heartbeats)."""
        workers = await self.live(fresh=True)
        if self.local is None:
            return workers
        load = self.local.load()
        own = WorkerInfo(self.local.worker_id, "", load.capacity, load.used, self.local.draining, "", clock.now_ms())
        return [own, *(w for w in workers if w.worker_id != own.worker_id)]

    async def get(self, worker_id: str) -> BrowserWorker:
        """The worker holding a session; PoolUnavailable if it cannot be reached from this node."""
        if self.local is not None and worker_id == self.local.worker_id:
            return self.local
        for info in await self.live():
            if info.worker_id == worker_id:
                worker = self._reach(info)
                if worker is not None:
                    return worker
        raise PoolUnavailable(f"the worker holding this session ({worker_id}) is not reachable from this node")

    def _reach(self, info: WorkerInfo) -> BrowserWorker | None:
        if self.local is not None and info.worker_id == self.local.worker_id:
            return self.local
        if self._remote_factory is None or not info.address:
            return None
        key = (info.worker_id, info.address)
        if key not in self._remotes:
            self._remotes[key] = self._remote_factory(info)
        return self._remotes[key]
