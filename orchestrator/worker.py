"""The seam between the control plane and whatever owns browsers: the ports the core calls.

`BrowserWorker` is what the API needs of a worker, wherever it runs: in this process
(workers.local.worker.LocalWorker) or in another process or host (workers.remote.client.RemoteWorker, which
speaks the worker's internal HTTP API, served by workers.remote.server). `OwnedWorker` adds what only the
process that owns the browsers can do. That worker's agent in the cluster is
orchestrator.presence.WorkerPresence. The core only sees these protocols; the worker component (workers/)
implements them.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from .files import DownloadInfo, FileStats, FileStream, PdfOptions, UploadedFile
from .lifecycle import EndReason
from .models import SessionSpec

if TYPE_CHECKING:
    from .profiles import ProfileStore

# Called by a worker when sessions die under it (browser crash): (session ids, end reason).
SessionsLost = Callable[[Sequence[str], EndReason], Awaitable[None]]
Activity = Callable[[], Awaitable[None]]
LoadChanged = Callable[["WorkerLoad"], Awaitable[None]]
DownloadDone = Callable[[str, DownloadInfo], Awaitable[None]]  # (session id, the download that completed)
Upload = tuple[str, AsyncIterator[bytes]]  # (the name a client gave the file, its bytes)
ClientClosed = Callable[[str], Awaitable[None]]  # a session's own CDP client closed the browser (Browser.close)
PageHung = Callable[[str, str], Awaitable[None]]  # (session id, what happened): a page stopped answering, was killed


@dataclass(frozen=True)
class CrashReport:
    """A shared browser died: whose commands were in flight, and which sessions are being re-homed."""

    browser: str  # the worker's tag of that browser
    in_flight: dict[str, list[str]]  # session id -> its clients' CDP commands the browser never answered
    recent: dict[str, list[str]]  # session id -> the last commands its clients sent (newest last)
    survivors: list[str]  # sessions whose commands were not in flight: restarted on a fresh browser


class CrashListener(Protocol):
    """What the process that owns browsers does when one of them crashes."""

    async def browser_crashed(self, report: CrashReport) -> None: ...

    async def session_restarted(self, session_id: str, seconds: float, detail: str) -> None:
        """`session_id` is back on a fresh browser after `seconds`, its state restored as `detail` says."""
        ...


class CdpMode(StrEnum):
    """How much a CDP connection may do: the session's own clients everything its policy allows; a live viewer
    only what watching (and, interactive, taking over with mouse and keyboard) needs (workers/cdp/viewer.py)."""

    FULL = "full"
    INTERACTIVE = "interactive"
    VIEW = "view"


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
    """A worker that holds one browser context per session."""

    @property
    def worker_id(self) -> str: ...

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        """Open a context and page with the spec's viewport and user agent; raises PoolFull when full."""

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        """Close the session's contexts and CDP connections; a no-op for a session this worker does not hold."""

    async def navigate(self, session_id: str, url: str) -> NavigationResult: ...

    async def evaluate(self, session_id: str, expression: str) -> Any: ...

    async def screenshot(self, session_id: str) -> bytes: ...

    async def content(self, session_id: str) -> str: ...

    async def relay_cdp(
        self, session_id: str, client: CdpClient, on_activity: Activity, mode: CdpMode = CdpMode.FULL
    ) -> None:
        """Relay the client's CDP traffic to the session's browser context until either side closes; `mode`
        narrows what the client may send (a live viewer's connection)."""

    async def save_profile(self, session_id: str) -> None:
        """Save the session's state into its profile now (a checkpoint); NoProfileToSave if it persists none."""

    # --- files: also after the session ended, for the file retention ---

    async def downloads(self, session_id: str) -> list[DownloadInfo]:
        """The session's downloads, oldest first (empty for a session this worker knows nothing of)."""

    async def open_file(self, session_id: str, name: str | None) -> FileStream:
        """A download by name, or with name None the session's recording; FileNotFound / RecordingNotReady."""

    async def upload(self, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        """Store files in the session's own directory; DiskQuotaExceeded past its quota (nothing kept then)."""

    async def set_input_files(self, session_id: str, selector: str, names: list[str]) -> None:
        """Set uploaded files (by name) on a file input of the session's page."""

    async def pdf(self, session_id: str, options: PdfOptions) -> bytes: ...


class OwnedWorker(BrowserWorker, Protocol):
    """The worker whose browsers live in this process."""

    async def start(
        self,
        on_sessions_lost: SessionsLost,
        on_load_changed: LoadChanged | None = None,
        on_download: DownloadDone | None = None,
        profiles: "ProfileStore | None" = None,
        on_client_closed: ClientClosed | None = None,
        on_page_hung: PageHung | None = None,
        on_crash: CrashListener | None = None,
    ) -> None: ...

    def file_stats(self) -> FileStats: ...

    async def stop(self) -> None:
        """Close every context and browser. Safe to call twice."""

    def load(self) -> WorkerLoad: ...

    def held_session_ids(self) -> list[str]: ...

    def opening_session_ids(self) -> list[str]:
        """Sessions whose context is being opened right now."""

    def stop_taking_sessions(self) -> None:
        """Drain: refuse new sessions from now on; held ones carry on."""

    @property
    def draining(self) -> bool: ...
