"""What one REST navigation's page did while it ran, for telling a refusal from a failure.

Chromium reports a load the egress guard refused as a network error on the navigation request, which may
be a redirect's target rather than the URL asked for. The watch notes the main frame's failed navigation
requests (as Chromium spelled their URLs) so the refusal can be decided for this session's own URLs, and
notes when Chromium commits its error page, which it does after goto has already failed: waiting for that
keeps the late commit from cutting the session's next navigation short.
"""

import asyncio
import contextlib
from types import TracebackType

from playwright.async_api import Frame, Page, Request

from orchestrator.deadlines import within

CHROME_ERROR_PAGE = "chrome-error://chromewebdata/"


class NavigationWatch:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.failed_urls: list[str] = []
        self._error_page = asyncio.Event()

    def __enter__(self) -> "NavigationWatch":
        self.page.on("requestfailed", self._request_failed)
        self.page.on("framenavigated", self._frame_navigated)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.page.remove_listener("requestfailed", self._request_failed)
        self.page.remove_listener("framenavigated", self._frame_navigated)

    async def error_page_committed(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds) until Chromium has committed its error page for this navigation."""
        with contextlib.suppress(TimeoutError):
            await within(timeout, self._error_page.wait())

    def _request_failed(self, request: Request) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.failed_urls.append(request.url)

    def _frame_navigated(self, frame: Frame) -> None:
        if frame == self.page.main_frame and frame.url == CHROME_ERROR_PAGE:
            self._error_page.set()
