"""What the local worker's components share: its browsers, their guard and keepers, its callbacks and its state.

workers/local/worker.py builds one WorkerParts and gives it, explicitly, to each component (launch, admission,
warm-up, sessions, actions, CDP set-up, crash handling); no component reaches the worker itself. The callbacks
and the running state are filled in by the worker's start.
"""

import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Playwright

from orchestrator.lifecycle import EndReason
from orchestrator.worker import ClientClosed, CrashListener, LoadChanged, SessionsLost, WorkerLoad
from workers.chromium.launcher import ChromiumLaunch
from workers.egress.guard import EgressProxy
from workers.egress.routes import Route
from workers.files.keeper import WorkerFiles
from workers.pages.checkpoints import Checkpointer
from workers.pages.profiles import ProfileKeeper
from workers.pages.watchdog import PageWatchdog
from workers.pool.background import BackgroundTasks
from workers.pool.dedicated import ReadyBrowsers
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage

log = logging.getLogger(__name__)


@dataclass(eq=False)
class WorkerParts:
    worker_id: str
    capacity_per_browser: int  # sessions one shared browser holds
    slots: list[BrowserSlot]  # the shared browsers
    dedicated: ReadyBrowsers  # sessions with isolation `browser`: a Chromium each (workers/pool/dedicated.py)
    egress: EgressProxy | None  # the guard every page request leaves through (None: none runs)
    files: WorkerFiles | None  # sessions' downloads, uploads and recordings, kept past their end (None: removed)
    profiles: ProfileKeeper  # given its store at start
    watchdog: PageWatchdog  # pages that stop answering: killed, the session lives on
    checkpoints: Checkpointer  # what a crash's survivors are restarted with
    background: BackgroundTasks
    # Filled in at start:
    playwright: Playwright | None = None
    plan: ChromiumLaunch | None = None  # how browsers start: user, sandbox, environment, directories
    on_lost: SessionsLost | None = None
    on_load: LoadChanged | None = None
    on_crash: CrashListener | None = None
    on_client_closed: ClientClosed | None = None
    stopping: bool = False
    draining: bool = False

    @property
    def refusing(self) -> bool:
        """Draining or shutting down: no new session, no more ready contexts."""
        return self.stopping or self.draining

    def every_slot(self) -> list[BrowserSlot]:
        """The shared browsers and the sessions' own ones."""
        return [*self.slots, *self.dedicated.in_use]

    def holder(self, session_id: str) -> tuple[BrowserSlot, SessionPage] | None:
        """The browser holding a session and what it holds of it, if any of this worker's does."""
        for slot in self.every_slot():
            held = slot.sessions.get(session_id)
            if held is not None:
                return slot, held
        return None

    def load(self) -> WorkerLoad:
        loads = [slot.load for slot in self.slots]
        up = [load for load in loads if load is not None]
        # A session with a browser of its own counts as one session of the capacity (docs/security.md, isolation).
        used = sum(up) + len(self.dedicated.in_use)
        return WorkerLoad(capacity=len(up) * self.capacity_per_browser, used=used, browsers_up=len(up))

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(coro)

    async def report_lost(self, session_ids: Sequence[str], reason: EndReason = EndReason.BROWSER_CRASHED) -> None:
        if session_ids and self.on_lost is not None:
            await self.on_lost(session_ids, reason)

    async def load_changed(self) -> None:
        """Report the new load before answering, so the next placement (maybe on another node) sees it."""
        if self.on_load is None:
            return
        try:
            await self.on_load(self.load())
        except Exception:  # placement copes with a stale figure; the heartbeat corrects it
            log.warning("could not report this worker's load", exc_info=True)

    async def close_route(self, route: Route | None) -> None:
        if route is not None and self.egress is not None:
            await self.egress.close_route(route)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
