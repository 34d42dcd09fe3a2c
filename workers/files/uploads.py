"""Writing a session's uploads into its `uploads/` directory: all or none, each file new (never through
a symlink Chromium's user left there), owned by Chromium's user and bounded by the session's disk quota."""

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator

from orchestrator.errors import ActionFailed, DiskQuotaExceeded
from orchestrator.files import UploadedFile
from orchestrator.worker import Upload
from workers.chromium.user import ChromiumUser
from workers.files.session_files import SessionFiles, safe_name
from workers.files.store import tree_bytes


async def store_uploads(files: SessionFiles, uploads: list[Upload], quota_bytes: int) -> list[UploadedFile]:
    """Store the files in the session's `uploads/` (all or none), each readable by Chromium's user only;
    `quota_bytes` bounds the session's files with the uploads (0: not bounded)."""
    try:
        folder = await asyncio.to_thread(files.open_upload_dir)
    except OSError as exc:  # not a directory of ours any more (a symlink Chromium's user put there)
        raise ActionFailed(f"the session's upload directory cannot be used: {exc.strerror}") from exc
    try:
        used = await asyncio.to_thread(tree_bytes, files.paths()) if quota_bytes else 0
        written: list[tuple[str, str, int]] = []  # (name, temporary name, bytes)
        try:
            for given, chunks in uploads:
                budget = quota_bytes - used - sum(w[2] for w in written) if quota_bytes else None
                temporary = f".{secrets.token_hex(8)}.upload"  # a leading dot: no upload's name (safe_name)
                written.append((safe_name(given, "upload"), temporary, 0))
                size = await _write(chunks, folder, temporary, budget, files.user)
                written[-1] = (written[-1][0], temporary, size)
            for name, temporary, _ in written:
                await asyncio.to_thread(os.replace, temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            for _, temporary, _ in written:
                with contextlib.suppress(FileNotFoundError):
                    await asyncio.to_thread(os.unlink, temporary, dir_fd=folder)
            raise
    finally:
        os.close(folder)
    for name, _, size in written:
        files.uploads[name] = size
    return [UploadedFile(name, str(files.upload_path(name)), size) for name, _, size in written]


async def _write(
    chunks: AsyncIterator[bytes], folder: int, name: str, budget: int | None, user: ChromiumUser | None
) -> int:
    """Write an upload's chunks to a new file `name` in `folder`; DiskQuotaExceeded past `budget` bytes."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = await asyncio.to_thread(os.open, name, flags, 0o600, dir_fd=folder)
    try:
        if user is not None and user.separate:
            os.fchown(fd, user.uid, user.gid)
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if budget is not None and size > budget:
                raise DiskQuotaExceeded(
                    "the upload would pass the session's disk quota (BROWSERPOOL_SESSION_DISK_QUOTA, downloads, "
                    "uploads and recording together); nothing was kept"
                )
            await asyncio.to_thread(_write_all, fd, chunk)
    finally:
        os.close(fd)
    return size


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
