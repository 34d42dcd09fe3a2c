"""What the client hands back for a session's files, and how it sends uploads."""

from dataclasses import dataclass
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

UploadSource = str | PathLike[str] | tuple[str, bytes]  # a local file, or (name, contents)


@dataclass(frozen=True)
class Download:
    """One file a session's page downloaded: its name, size, type, state and where the API serves it."""

    name: str
    size_bytes: int
    mime_type: str
    created_at: datetime
    state: str  # in_progress, complete, failed
    url: str  # where the API serves it
    source_url: str  # what the page downloaded
    failure_reason: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Download":
        """The download from the API's JSON."""
        return cls(
            name=data["name"],
            size_bytes=data["size_bytes"],
            mime_type=data["mime_type"],
            created_at=datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")),
            state=data["state"],
            url=data["url"],
            source_url=data.get("source_url", ""),
            failure_reason=data.get("failure_reason"),
        )


@dataclass(frozen=True)
class UploadedFile:
    """A file uploaded into a session's directory: the name it is stored under and its size."""

    name: str
    path: str  # as the session's browser sees it: give it to set_input_files over CDP (connect_over_cdp is_local)
    size_bytes: int


def upload_parts(sources: tuple[UploadSource, ...]) -> list[tuple[str, tuple[str, Any]]]:
    """Multipart parts for `POST .../files`; local files are opened (the caller closes them)."""
    if not sources:
        raise ValueError("give at least one file to upload")
    parts: list[tuple[str, tuple[str, Any]]] = []
    for source in sources:
        if isinstance(source, tuple):
            parts.append(("files", (source[0], source[1])))
        else:
            path = Path(source)
            parts.append(("files", (path.name, path.open("rb"))))
    return parts


def close_parts(parts: list[tuple[str, tuple[str, Any]]]) -> None:
    """Close the local files `upload_parts` opened."""
    for _, (_, body) in parts:
        if hasattr(body, "close"):
            body.close()


def uploaded(answer: dict[str, Any]) -> list[UploadedFile]:
    """The files from the answer of `POST .../files`."""
    return [UploadedFile(f["name"], f["path"], f["size_bytes"]) for f in answer["files"]]


def pdf_query(format: str, landscape: bool, print_background: bool) -> dict[str, str]:
    """The query string of `GET .../pdf`."""
    return {"format": format, "landscape": str(landscape).lower(), "print_background": str(print_background).lower()}
