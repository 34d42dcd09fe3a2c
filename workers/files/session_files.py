"""One session's files on its worker: what it downloaded (by Chromium's guid), what was uploaded to it, and
where its recording goes.

Two directories per session:
- its live directory (workers/chromium/home.py `session_dir`, Chromium's user's, mode 0700): Chromium writes
  every download of the session there as `<guid>` (`Browser.setDownloadBehavior` `allowAndName`, in progress
  `<guid>.crdownload`), and uploads land in its `uploads/` (owned by Chromium's user, so the browser can read
  them; that is also the only place CDP's `DOM.setFileInputFiles` may name, workers/cdp/files.py);
- its entry in the worker's file store (workers/files/store.py, the daemon's): `meta.json` (this registry),
  the recording, and once the session has ended its live directory, moved in as `session/`.

The registry is plain bookkeeping on the event loop; whatever touches the disk is a blocking method meant
for a thread (`save`, `load`, `store_upload`).
"""

import contextlib
import json
import mimetypes
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.files import RECORDING_NAME, DownloadInfo, DownloadState
from workers.chromium.user import ChromiumUser

META = "meta.json"
LIVE_COPY = "session"  # the live directory, once moved into the entry
UPLOADS = "uploads"
PARTIAL_SUFFIX = ".part"  # the recording while ffmpeg still writes it
MAX_NAME = 200
UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def safe_name(suggested: str, fallback: str = "download") -> str:
    """A file name that is only a name: no directories, control characters or leading dots, at most 200 chars."""
    name = UNSAFE.sub("_", os.path.basename(suggested.replace("\\", "/"))).strip().lstrip(".")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:MAX_NAME]
    return name or fallback


def numbered(name: str, taken: set[str]) -> str:
    """`name`, or `name (1).ext`, `name (2).ext`, ... whichever is not taken yet."""
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    n = 1
    while f"{stem} ({n}){dot}{ext}" in taken:
        n += 1
    return f"{stem} ({n}){dot}{ext}"


@dataclass
class Download:
    guid: str
    name: str
    source_url: str
    created_at_ms: int
    state: DownloadState = DownloadState.IN_PROGRESS
    size_bytes: int = 0
    failure_reason: str | None = None

    @property
    def mime_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def info(self) -> DownloadInfo:
        return DownloadInfo(
            self.name,
            self.size_bytes,
            self.mime_type,
            self.created_at_ms,
            self.state,
            self.source_url,
            self.failure_reason,
        )


class SessionFiles:
    def __init__(self, session_id: str, entry: Path, live_dir: Path | None, user: ChromiumUser | None = None) -> None:
        self.session_id = session_id
        self.entry = entry
        self.live_dir = live_dir  # None once the session has ended
        self.user = user
        self.downloads: dict[str, Download] = {}  # guid -> download, oldest first
        self.uploads: dict[str, int] = {}  # name -> bytes
        self.recorded = False
        self.ended_at: float | None = None

    # --- where things are --------------------------------------------------------------------

    @property
    def files_dir(self) -> Path:
        """Where the downloads and uploads are now: the live directory, or its copy in the entry."""
        return self.live_dir if self.live_dir is not None else self.entry / LIVE_COPY

    @property
    def recording_path(self) -> Path:
        return self.entry / RECORDING_NAME

    @property
    def recording_partial(self) -> Path:
        return self.entry / (RECORDING_NAME + PARTIAL_SUFFIX)

    def download_path(self, name: str) -> Path | None:
        """The file of a completed download, by its name."""
        for download in self.downloads.values():
            if download.name == name and download.state is DownloadState.COMPLETE:
                return self.files_dir / download.guid
        return None

    def upload_path(self, name: str) -> Path | None:
        return self.files_dir / UPLOADS / name if name in self.uploads else None

    def paths(self) -> list[str]:
        """What counts against the session's disk quota, the live directory (where downloads land) first."""
        return ([str(self.live_dir)] if self.live_dir is not None else []) + [str(self.entry)]

    # --- downloads (on the event loop) -------------------------------------------------------

    def began(self, guid: str, url: str, suggested: str) -> None:
        taken = {d.name for d in self.downloads.values()}
        name = numbered(safe_name(suggested), taken)
        self.downloads[guid] = Download(guid, name, url, int(time.time() * 1000))

    def progressed(self, guid: str, state: str, received: int) -> DownloadInfo | None:
        """Chromium's word on a download; returns it if it has just completed."""
        download = self.downloads.get(guid)
        if download is None or download.state is not DownloadState.IN_PROGRESS:
            return None
        download.size_bytes = max(download.size_bytes, received)
        if state == "completed":
            with contextlib.suppress(OSError):
                download.size_bytes = (self.files_dir / guid).stat().st_size
            download.state = DownloadState.COMPLETE
            return download.info()
        if state == "canceled":
            download.state = DownloadState.FAILED
            download.failure_reason = download.failure_reason or "canceled"
        return None

    def fail_in_progress(self, reason: str) -> None:
        """Mark what is still downloading as failed for `reason` (a cancel's own event keeps this reason)."""
        for download in self.downloads.values():
            if download.state is DownloadState.IN_PROGRESS and download.failure_reason is None:
                download.failure_reason = reason

    def end_downloads(self) -> None:
        """The session has ended: what was still downloading never will complete."""
        for download in self.downloads.values():
            if download.state is DownloadState.IN_PROGRESS:
                download.state = DownloadState.FAILED
                download.failure_reason = download.failure_reason or "the session ended before it completed"

    def infos(self) -> list[DownloadInfo]:
        return [d.info() for d in self.downloads.values()]

    # --- on disk (blocking) ------------------------------------------------------------------

    def make_entry(self) -> None:
        self.entry.mkdir(mode=0o700, parents=True, exist_ok=True)

    def save(self) -> None:
        """Write the registry into the entry (atomically: a reader never sees half of it)."""
        data = {
            "session_id": self.session_id,
            "ended_at": self.ended_at,
            "recorded": self.recorded,
            "uploads": self.uploads,
            "downloads": [{**d.info().to_json(), "guid": d.guid} for d in self.downloads.values()],
        }
        temporary = self.entry / (META + ".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(self.entry / META)

    @classmethod
    def load(cls, entry: Path) -> "SessionFiles | None":
        """The registry of an ended session from its entry; None if there is none (or it is unreadable)."""
        try:
            data = json.loads((entry / META).read_text())
            files = cls(str(data["session_id"]), entry, None)
            files.ended_at = float(data["ended_at"]) if data.get("ended_at") is not None else None
            files.recorded = bool(data.get("recorded"))
            files.uploads = {str(k): int(v) for k, v in dict(data.get("uploads", {})).items()}
            for item in data.get("downloads", []):
                info = DownloadInfo.of(item)
                files.downloads[str(item["guid"])] = Download(
                    str(item["guid"]),
                    info.name,
                    info.source_url,
                    info.created_at_ms,
                    info.state,
                    info.size_bytes,
                    info.failure_reason,
                )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return files

    def open_upload_dir(self) -> int:
        """A descriptor of the live directory's `uploads/` (made on first use, Chromium's user's).

        Chromium's user owns that directory and could swap what is in it for a symlink; the daemon (maybe
        root) therefore opens it without following one and writes only relative to the descriptor."""
        if self.live_dir is None:
            raise FileNotFoundError("the session has ended")
        path = self.live_dir / UPLOADS
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
            if self.user is not None and self.user.separate:
                os.chown(path, self.user.uid, self.user.gid, follow_symlinks=False)
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
