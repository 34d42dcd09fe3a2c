"""Reading a kept file out to an API node: a regular file, opened without following symlinks, in chunks."""

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from orchestrator.errors import FileNotFound
from orchestrator.files import FileStream

CHUNK = 256 * 1024


async def file_stream(path: Path, name: str, media_type: str) -> FileStream:
    """A regular file read out in chunks. Never through a symlink: a download's file sits in a directory of
    Chromium's user, who must not get the daemon to read anything else for them."""
    try:
        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise FileNotFound(f"{name!r} is no longer kept") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise FileNotFound(f"{name!r} is not a file")
    handle = os.fdopen(fd, "rb")
    size = info.st_size

    async def chunks() -> AsyncIterator[bytes]:
        try:
            left = size
            while left > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            handle.close()

    return FileStream(name, size, media_type, chunks())
