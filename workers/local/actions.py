"""What the REST API does on a session's page: navigate, evaluate, screenshot, content, PDF, setting a file
input; and the session's files (downloads, uploads, its recording: what they are and how long they stay is
workers/files/keeper.py's). Every page action runs within the action timeout and fails at once on a page the
watchdog found hung."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from orchestrator.deadlines import within
from orchestrator.errors import ActionFailed, ActionTimedOut, NavigationRefused, PoolUnavailable
from orchestrator.files import DownloadInfo, FileStats, FileStream, PdfOptions, UploadedFile
from orchestrator.worker import NavigationResult, Upload
from workers.files.keeper import WorkerFiles
from workers.local.parts import WorkerParts, first_line
from workers.local.sessions import Sessions
from workers.pages.evaluate_bound import bounded_evaluate
from workers.pages.jsonable import jsonable
from workers.pages.navigation_watch import NavigationWatch
from workers.pages.session_limits import SessionLimits

T = TypeVar("T")

# How long an action that found its page closed waits for the worker to hear of the close (a CDP client's
# Target.closeTarget reaches the client before the worker's own connection learns of it).
CLOSE_NEWS_WAIT = 2.0


class Actions:
    def __init__(self, parts: WorkerParts, sessions: Sessions, action_timeout: float, limits: SessionLimits) -> None:
        self.parts = parts
        self.sessions = sessions
        self.action_timeout = action_timeout
        self.limits = limits

    async def navigate(self, session_id: str, url: str) -> NavigationResult:
        return await self._on_page(session_id, lambda page: self._navigate(session_id, page, url))

    async def _navigate(self, session_id: str, page: Page, url: str) -> NavigationResult:
        held = self.sessions.held(session_id)
        if held.route is not None:
            held.route.failure = None  # what fails from here on is this navigation's
        with NavigationWatch(page) as watch:
            try:
                goto = page.goto(url, timeout=self.action_timeout * 1000)
                response = await self._act(goto, "navigation", session=session_id)
            except ActionFailed as exc:
                if "net::ERR_" in str(exc):
                    await watch.error_page_committed(timeout=2)
                if held.route is not None and held.route.failure is not None:
                    raise ActionFailed(f"navigation to {url} failed: {held.route.failure}") from exc
                # Decided now, for this session's own URLs (as Chromium spelled them): never another session's.
                urls = (url, *watch.failed_urls)
                egress = self.parts.egress
                refused = await egress.refusal_for(*urls) if egress is not None else None
                if refused:
                    raise NavigationRefused(f"navigation to {url} refused: {refused}") from exc
                raise
        title = await self._act(page.title(), "reading the title", session=session_id)
        return NavigationResult(url=page.url, status=response.status if response else None, title=title)

    async def evaluate(self, session_id: str, expression: str) -> Any:
        async def run(page: Page) -> Any:
            result = bounded_evaluate(page, expression, self.limits.evaluate_result_bytes)
            return jsonable(await self._act(result, "evaluation", upstream=False, session=session_id))

        return await self._on_page(session_id, run)

    async def screenshot(self, session_id: str) -> bytes:
        async def run(page: Page) -> bytes:
            shot = page.screenshot(type="png", timeout=self.action_timeout * 1000)
            data: bytes = await self._act(shot, "screenshot", session=session_id)
            return data

        return await self._on_page(session_id, run)

    async def content(self, session_id: str) -> str:
        async def run(page: Page) -> str:
            text: str = await self._act(page.content(), "reading the content", session=session_id)
            return text

        return await self._on_page(session_id, run)

    async def pdf(self, session_id: str, options: PdfOptions) -> bytes:
        async def run(page: Page) -> bytes:
            printed = page.pdf(
                format=options.format, landscape=options.landscape, print_background=options.print_background
            )
            data: bytes = await self._act(printed, "printing to PDF", session=session_id)
            return data

        return await self._on_page(session_id, run)

    # --- files: also after the session ended, for the file retention -------------------------

    async def downloads(self, session_id: str) -> list[DownloadInfo]:
        return await self._files().downloads(session_id)

    async def open_file(self, session_id: str, name: str | None) -> FileStream:
        return await self._files().open_file(session_id, name)

    async def upload(self, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        self.sessions.held(session_id)  # a session this worker holds, or SessionEnded
        return await self._files().upload(session_id, files)

    async def set_input_files(self, session_id: str, selector: str, names: list[str]) -> None:
        paths = self._files().upload_paths(session_id, names)

        async def run(page: Page) -> None:
            setting = page.set_input_files(selector, paths, timeout=self.action_timeout * 1000)
            await self._act(setting, "setting the files", session=session_id)

        await self._on_page(session_id, run)

    def file_stats(self) -> FileStats:
        files = self.parts.files
        return files.stats() if files is not None else FileStats()

    def _files(self) -> WorkerFiles:
        if self.parts.files is None:
            raise PoolUnavailable("this worker keeps no session files")
        return self.parts.files

    async def _on_page(self, session_id: str, run: Callable[[Page], Awaitable[T]]) -> T:
        """Run an action on the session's page. One that fails because a CDP client closed that page just before
        (the worker hears of a close only after the client does) runs once more, on the page taking its place."""
        page = await self.sessions.page_of(session_id)
        try:
            return await run(page)
        except ActionFailed as exc:
            if not (names_a_closed_page(exc) and await closed_meanwhile(page)):
                raise
        return await run(await self.sessions.page_of(session_id))

    async def _act(self, awaitable: Any, what: str, upstream: bool = True, session: str | None = None) -> Any:
        """Run an action within the action timeout; on a session's page, PageUnresponsive once it is found hung."""
        action = self.parts.watchdog.guard(session, awaitable) if session is not None else awaitable
        try:
            return await within(self.action_timeout, action)
        except (TimeoutError, PlaywrightTimeout) as exc:
            raise ActionTimedOut(f"{what} did not finish within {self.action_timeout:g}s") from exc
        except PlaywrightError as exc:
            raise ActionFailed(f"{what} failed: {first_line(exc)}", upstream=upstream) from exc


def names_a_closed_page(exc: ActionFailed) -> bool:
    """Whether Playwright failed the action because its page, context or browser was closed."""
    cause = str(exc.__cause__ or "")
    return "has been closed" in cause or "Target closed" in cause


async def closed_meanwhile(page: Page) -> bool:
    """Whether the page is closed, once the worker has had a moment to hear of a close already done."""
    if not page.is_closed():
        try:
            await page.wait_for_event("close", timeout=CLOSE_NEWS_WAIT * 1000)
        except (PlaywrightError, PlaywrightTimeout):
            pass
    return page.is_closed()
