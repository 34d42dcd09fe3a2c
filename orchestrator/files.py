"""A session's files as the API and the workers speak of them: downloads, uploads, its recording, a PDF.

The bytes live on the worker that held the session (workers/files/session_files.py, workers/files/store.py);
these are the shapes that cross the seam (orchestrator/worker.py) and the internal API.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal


class DownloadState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"


RECORDING_NAME = "recording.webm"
RECORDING_TYPE = "video/webm"
PaperFormat = Literal["A4", "Letter"]


@dataclass(frozen=True)
class DownloadInfo:
    """One download of a session, as its worker knows it."""

    name: str  # unique within the session: the name the page suggested, made safe, numbered if taken
    size_bytes: int
    mime_type: str
    created_at_ms: int
    state: DownloadState
    source_url: str  # what the page downloaded
    failure_reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "size_bytes": self.size_bytes,
            "mime_type": self.mime_type,
            "created_at_ms": self.created_at_ms,
            "state": self.state.value,
            "source_url": self.source_url,
            "failure_reason": self.failure_reason,
        }

    @classmethod
    def of(cls, data: dict[str, object]) -> "DownloadInfo":
        reason = data.get("failure_reason")
        return cls(
            name=str(data["name"]),
            size_bytes=int(str(data["size_bytes"])),
            mime_type=str(data["mime_type"]),
            created_at_ms=int(str(data["created_at_ms"])),
            state=DownloadState(str(data["state"])),
            source_url=str(data.get("source_url", "")),
            failure_reason=str(reason) if reason is not None else None,
        )


@dataclass(frozen=True)
class UploadedFile:
    name: str
    path: str  # as the browser sees it: give it to set_input_files / DOM.setFileInputFiles
    size_bytes: int


@dataclass(frozen=True)
class FileStream:
    """A file being read out in chunks; `chunks` closes whatever it holds when it ends or is closed."""

    name: str
    size_bytes: int
    media_type: str
    chunks: AsyncIterator[bytes] = field(repr=False)


@dataclass(frozen=True)
class PdfOptions:
    format: PaperFormat = "A4"
    landscape: bool = False
    print_background: bool = False


@dataclass(frozen=True)
class FileStats:
    """What a worker's session files cost it, for /metrics."""

    bytes_on_disk: int = 0
    downloads_complete: int = 0
    downloads_failed: int = 0
    recordings_in_progress: int = 0
