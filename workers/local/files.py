"""The in-process worker's file actions: a session's downloads, uploads, recording and a PDF of its page.

A mixin of workers/local/worker.py's LocalWorker (which holds `files`, `_held` and `_act`); what the files are and
how long they stay is workers/files/keeper.py's.
"""

from typing import TYPE_CHECKING, Any

from orchestrator.errors import PoolUnavailable
from orchestrator.files import DownloadInfo, FileStats, FileStream, PdfOptions, UploadedFile
from orchestrator.worker import Upload

if TYPE_CHECKING:
    from workers.files.keeper import WorkerFiles
    from workers.session import SessionPage


class FileActions:
    files: "WorkerFiles | None"
    action_timeout: float

    def _held(self, session_id: str) -> "SessionPage":
        raise NotImplementedError

    async def _act(self, awaitable: Any, what: str, upstream: bool = True, session: str | None = None) -> Any:
        raise NotImplementedError

    def _files(self) -> "WorkerFiles":
        if self.files is None:
            raise PoolUnavailable("this worker keeps no session files")
        return self.files

    async def downloads(self, session_id: str) -> list[DownloadInfo]:
        return await self._files().downloads(session_id)

    async def open_file(self, session_id: str, name: str | None) -> FileStream:
        return await self._files().open_file(session_id, name)

    async def upload(self, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        self._held(session_id)  # a session this worker holds, or SessionEnded
        return await self._files().upload(session_id, files)

    async def set_input_files(self, session_id: str, selector: str, names: list[str]) -> None:
        page = self._held(session_id).page
        paths = self._files().upload_paths(session_id, names)
        setting = page.set_input_files(selector, paths, timeout=self.action_timeout * 1000)
        await self._act(setting, "setting the files", session=session_id)

    async def pdf(self, session_id: str, options: PdfOptions) -> bytes:
        page = self._held(session_id).page
        printed = page.pdf(
            format=options.format, landscape=options.landscape, print_background=options.print_background
        )
        data: bytes = await self._act(printed, "printing to PDF", session=session_id)
        return data

    def file_stats(self) -> FileStats:
        return self.files.stats() if self.files is not None else FileStats()
