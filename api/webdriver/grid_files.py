"""Selenium Grid's file commands, on the session's own files (the same ones the files routes serve).

- `POST se/file` (`LocalFileDetector`): `{"file": base64 zip of one file}` is stored among the session's uploads;
  the answer is the path the browser sees it at, which `send_keys` then gives a file input (through the CDP
  policy, which admits only paths inside the session's own directory).
- `GET se/files` lists the session's finished downloads; `POST se/files {"name"}` answers one of them as
  Selenium's `download_file` reads it (`{"filename", "contents": base64 zip}`). Both need the capability
  `se:downloadsEnabled: true`, as on Grid.
"""

import base64
import binascii
import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

from orchestrator.errors import BrowserpoolError
from orchestrator.files import DownloadState
from orchestrator.sessions import SessionService

from .errors import WebDriverError, from_pool

UPLOAD_MAX = 64 * 1024 * 1024  # bytes of one unpacked upload (the body itself is bounded by BodyLimit)


async def upload(sessions: SessionService, user_id: str, session_id: str, body: Any) -> str:
    name, data = _one_file(body)

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    try:
        stored = await sessions.upload(user_id, session_id, [(name, chunks())])
    except BrowserpoolError as exc:
        raise from_pool(exc, creating=False) from exc
    return stored[0].path


async def names(sessions: SessionService, user_id: str, session_id: str) -> dict[str, list[str]]:
    try:
        found = await sessions.downloads(user_id, session_id)
    except BrowserpoolError as exc:
        raise from_pool(exc, creating=False) from exc
    return {"names": [d.name for d in found if d.state is DownloadState.COMPLETE]}


async def fetch(sessions: SessionService, user_id: str, session_id: str, body: Any) -> dict[str, str]:
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise WebDriverError("invalid argument", 'se/files needs {"name": one of the names GET se/files lists}')
    try:
        stream = await sessions.download(user_id, session_id, name)
        data = b"".join([chunk async for chunk in stream.chunks])
    except BrowserpoolError as exc:
        raise from_pool(exc, creating=False) from exc
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return {"filename": name, "contents": base64.b64encode(packed.getvalue()).decode()}


def _one_file(body: Any) -> tuple[str, bytes]:
    encoded = body.get("file") if isinstance(body, dict) else None
    if not isinstance(encoded, str):
        raise WebDriverError("invalid argument", 'se/file needs {"file": a base64 zip of one file}')
    try:
        with zipfile.ZipFile(io.BytesIO(base64.b64decode("".join(encoded.split()), validate=True))) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise WebDriverError("invalid argument", f"se/file takes a zip of one file, not {len(members)}")
            member = members[0]
            if member.file_size > UPLOAD_MAX:
                raise WebDriverError("invalid argument", f"the file is larger than {UPLOAD_MAX} bytes")
            with archive.open(member) as opened:
                data = opened.read(UPLOAD_MAX + 1)
    except (binascii.Error, zipfile.BadZipFile, ValueError) as exc:
        raise WebDriverError("invalid argument", f"se/file's file is not a base64 zip: {exc}") from None
    if len(data) > UPLOAD_MAX:
        raise WebDriverError("invalid argument", f"the file is larger than {UPLOAD_MAX} bytes")
    return member.filename.rsplit("/", 1)[-1] or "upload", data
