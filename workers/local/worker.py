"""The in-process worker: a pool of Chromium processes, one browser context per session.

LocalWorker is the OwnedWorker port (orchestrator/worker.py) over components that each do one job, built here
and given the state they share (workers/local/parts.py) and the components they call, never the worker:

- `launch.py`: the pool's start and stop, the launch of shared and own browsers;
- `admission.py`: whether a session is taken, and on which browser;
- `warmup.py`: ready contexts;
- `sessions.py`: opening and closing a session's context;
- `actions.py`: the REST actions and the session's files;
- `cdp.py`: a client's CDP connection;
- `crashes.py`, `rehome.py` and `endings.py`: a browser that dies, its sessions re-homed, and the sessions the
  worker ends on its own (a page crash, a bound).
"""

from typing import Any

from orchestrator.addresses import AddressPolicy
from orchestrator.files import DownloadInfo, FileStats, FileStream, PdfOptions, UploadedFile
from orchestrator.models import SessionSpec
from orchestrator.profiles import ProfileStore
from orchestrator.worker import (
    Activity,
    CdpClient,
    CdpMode,
    ClientClosed,
    CrashListener,
    DownloadDone,
    LoadChanged,
    NavigationResult,
    PageHung,
    SessionsLost,
    Upload,
    WorkerLoad,
)
from workers.cdp.limits import CdpLimits
from workers.chromium.launcher import ChromiumLaunch
from workers.chromium.sandbox import SandboxMode
from workers.egress.guard import EgressProxy
from workers.files.keeper import WorkerFiles
from workers.local.actions import Actions
from workers.local.admission import Admission
from workers.local.cdp import CdpSetup
from workers.local.crashes import Crashes
from workers.local.endings import Endings
from workers.local.launch import Browsers
from workers.local.parts import WorkerParts
from workers.local.rehome import Rehoming
from workers.local.sessions import Sessions
from workers.local.warmup import Warmup
from workers.pages.checkpoints import Checkpointer
from workers.pages.profiles import ProfileKeeper
from workers.pages.session_limits import SessionLimits
from workers.pages.watchdog import PageWatchdog
from workers.pool.background import BackgroundTasks
from workers.pool.dedicated import ReadyBrowsers
from workers.pool.ready_shapes import ReadyShapes
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage


class LocalWorker:
    def __init__(
        self,
        worker_id: str,
        browsers: int,
        contexts_per_browser: int,
        chromium_path: str | None = None,
        action_timeout: float = 30.0,
        warm_contexts: int = 0,
        warm_per_shape: int = 0,
        warm_shapes: int = 0,
        egress: AddressPolicy | None = None,
        cdp_limits: CdpLimits | None = None,
        chromium_user: str = "auto",
        chromium_sandbox: SandboxMode = "auto",
        limits: SessionLimits | None = None,
        files: WorkerFiles | None = None,
        page_hang_timeout: float = 10.0,
        checkpoint_interval: float = 2.0,
        ready_browsers: int = 1,
        max_dedicated_browsers: int = 4,
    ) -> None:
        limits = limits or SessionLimits()  # what one session may cost: memory, pages, downloads, results
        slots = [BrowserSlot(index=i, tag=f"{worker_id}/{i}", files=files) for i in range(browsers)]
        # Sessions with isolation `browser` take a Chromium each, from a few kept launched: ReadyBrowsers launches
        # them and reports their crashes through the components built below (which reach it through the parts).
        dedicated = ReadyBrowsers(
            worker_id,
            ready_browsers,
            max_dedicated_browsers,
            lambda slot, on_disconnect: self._browsers.launch_own(slot, on_disconnect),
            lambda slot: self._crashes.own_browser_gone(slot),
            files,
        )
        self._parts = parts = WorkerParts(
            worker_id=worker_id,
            capacity_per_browser=contexts_per_browser,
            slots=slots,
            dedicated=dedicated,
            egress=EgressProxy(egress) if egress is not None else None,
            files=files,
            profiles=ProfileKeeper(None, action_timeout),
            watchdog=PageWatchdog(page_hang_timeout),
            checkpoints=Checkpointer(checkpoint_interval, lambda: [h for s in slots for h in s.sessions.values()]),
            background=BackgroundTasks("worker"),
        )
        warmup = Warmup(parts, ReadyShapes(warm_contexts, warm_per_shape, warm_shapes))
        endings = Endings(parts)
        rehoming = Rehoming(parts.profiles, endings.give_up, endings.restarted, endings.watch)
        self._rehoming = rehoming  # sessions of a crashed browser on their way to a fresh one
        self._browsers = Browsers(parts, warmup, endings, limits, chromium_path, chromium_user, chromium_sandbox)
        self._crashes = Crashes(parts, self._browsers, rehoming, endings)
        self._admission = Admission(parts)
        self._sessions = Sessions(parts, self._admission, warmup, endings, rehoming, action_timeout)
        self._actions = Actions(parts, self._sessions, action_timeout, limits)
        self._cdp = CdpSetup(parts, self._sessions, cdp_limits or CdpLimits())

    # --- what tests and the agent read ---------------------------------------------------------

    @property
    def worker_id(self) -> str:
        return self._parts.worker_id

    def browsers(self) -> list[BrowserSlot]:
        """This worker's browsers: the shared ones (first, in their order), then the sessions' own."""
        return self._parts.every_slot()

    def browser_of(self, session_id: str) -> BrowserSlot:
        """The browser that holds a session; KeyError if none of this worker's does."""
        return self._holder(session_id)[0]

    def held(self, session_id: str) -> SessionPage:
        """What this worker holds of a session: its context, page, relays, directory; KeyError if it holds none."""
        return self._holder(session_id)[1]

    def _holder(self, session_id: str) -> tuple[BrowserSlot, SessionPage]:
        found = self._parts.holder(session_id)
        if found is None:
            raise KeyError(session_id)
        return found

    @property
    def dedicated(self) -> ReadyBrowsers:
        """The browsers of sessions with isolation `browser`, and the spares kept launched for them."""
        return self._parts.dedicated

    @property
    def egress(self) -> EgressProxy | None:
        return self._parts.egress

    @property
    def files(self) -> WorkerFiles | None:
        """Sessions' downloads, uploads and recordings, kept past their end (None: removed at close)."""
        return self._parts.files

    @property
    def profiles(self) -> ProfileKeeper:
        return self._parts.profiles

    @property
    def launch_plan(self) -> ChromiumLaunch | None:
        """How this worker's browsers start (their user, sandbox, environment, directories); None before start."""
        return self._parts.plan

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(
        self,
        on_sessions_lost: SessionsLost,
        on_load_changed: LoadChanged | None = None,
        on_download: DownloadDone | None = None,
        profiles: ProfileStore | None = None,
        on_client_closed: ClientClosed | None = None,
        on_page_hung: PageHung | None = None,
        on_crash: CrashListener | None = None,
    ) -> None:
        parts = self._parts
        parts.on_lost = on_sessions_lost
        parts.on_client_closed = on_client_closed
        parts.watchdog.on_hung = on_page_hung
        parts.on_load = on_load_changed
        parts.profiles.store = profiles
        await self._browsers.start(on_download, on_crash, on_gone=self._crashes.browser_gone)

    async def stop(self) -> None:
        await self._browsers.stop()

    def load(self) -> WorkerLoad:
        return self._parts.load()

    def held_session_ids(self) -> list[str]:
        return [*(sid for slot in self._parts.every_slot() for sid in slot.sessions), *self._rehoming.waiting]

    def opening_session_ids(self) -> list[str]:
        return [sid for slot in self._parts.every_slot() for sid in slot.reserved]

    def stop_taking_sessions(self) -> None:
        self._admission.stop_taking_sessions()

    @property
    def draining(self) -> bool:
        return self._admission.draining

    # --- sessions ----------------------------------------------------------------------------

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        await self._sessions.open_session(session_id, spec)

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        """Close it; a session that persists into a profile saves first, once its CDP clients have let go."""
        await self._sessions.close_session(session_id, reason)

    async def save_profile(self, session_id: str) -> None:
        await self._sessions.save_profile(session_id)

    async def relay_cdp(
        self, session_id: str, client: CdpClient, on_activity: Activity, mode: CdpMode = CdpMode.FULL
    ) -> None:
        await self._cdp.relay_cdp(session_id, client, on_activity, mode)

    # --- actions -----------------------------------------------------------------------------

    async def navigate(self, session_id: str, url: str) -> NavigationResult:
        return await self._actions.navigate(session_id, url)

    async def evaluate(self, session_id: str, expression: str) -> Any:
        return await self._actions.evaluate(session_id, expression)

    async def screenshot(self, session_id: str) -> bytes:
        return await self._actions.screenshot(session_id)

    async def content(self, session_id: str) -> str:
        return await self._actions.content(session_id)

    async def pdf(self, session_id: str, options: PdfOptions) -> bytes:
        return await self._actions.pdf(session_id, options)

    # --- files: also after the session ended, for the file retention ---------------------------

    async def downloads(self, session_id: str) -> list[DownloadInfo]:
        return await self._actions.downloads(session_id)

    async def open_file(self, session_id: str, name: str | None) -> FileStream:
        return await self._actions.open_file(session_id, name)

    async def upload(self, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        return await self._actions.upload(session_id, files)

    async def set_input_files(self, session_id: str, selector: str, names: list[str]) -> None:
        await self._actions.set_input_files(session_id, selector, names)

    def file_stats(self) -> FileStats:
        return self._actions.file_stats()
