"""Baseline browsers: Chromium launched straight from Playwright with the daemon's executable and flags."""

import importlib
import os
import uuid
from dataclasses import dataclass

from playwright.async_api import Browser, BrowserContext, Page, Playwright, ViewportSize

from workers.chromium.find import find_chromium
from workers.chromium.processes import SLOT_FLAG, browser_pid
from workers.pool.slot import CHROMIUM_ARGS

from .timing import timed

DEFAULT_VIEWPORT = ViewportSize(width=1280, height=720)  # the daemon's default shape too


def daemon_flags() -> tuple[str, ...]:
    """The flags a daemon slot passes after its --browserpool-slot tag (workers/pool/slot.py launch)."""
    try:  # the CDP relay's flags, where this version of the daemon has them
        debugging: tuple[str, ...] = tuple(importlib.import_module("workers.chromium.devtools").DEBUGGING_ARGS)
    except (ModuleNotFoundError, AttributeError):
        debugging = ()
    return (*CHROMIUM_ARGS, *debugging)


def chromium_executable() -> str:
    """The Chromium the daemon would pick (BROWSERPOOL_CHROMIUM_PATH, Playwright's shell, Debian's)."""
    found = find_chromium(os.environ.get("BROWSERPOOL_CHROMIUM_PATH") or None)
    if found is None:
        raise RuntimeError("no Chromium found: run `make setup`")
    return found


def baseline_tag(label: str) -> str:
    """A slot tag no daemon uses, so the baseline browser's main process can be found in /proc."""
    return f"bench-{label}-{uuid.uuid4().hex[:8]}/0"


@dataclass
class BaselinePage:
    browser: Browser
    context: BrowserContext
    page: Page
    tag: str

    def pid(self) -> int | None:
        return browser_pid(self.tag)

    async def close(self) -> None:
        await self.browser.close()


async def launch(playwright: Playwright, executable: str, tag: str) -> Browser:
    """Exactly how a daemon slot launches its browser (workers/pool/slot.py), under another tag."""
    return await playwright.chromium.launch(
        executable_path=executable, headless=True, args=[f"{SLOT_FLAG}{tag}", *daemon_flags()]
    )


async def fresh_page(
    playwright: Playwright,
    executable: str,
    label: str,
    viewport: ViewportSize | None = None,
    user_agent: str | None = None,
) -> tuple[float, BaselinePage]:
    """A fresh Chromium per session, as browserless/Steel do: launch + new_context + new_page, timed in ms."""
    tag = baseline_tag(label)

    async def open_page() -> BaselinePage:
        browser = await launch(playwright, executable, tag)
        try:
            context = await browser.new_context(viewport=viewport or DEFAULT_VIEWPORT, user_agent=user_agent)
            return BaselinePage(browser, context, await context.new_page(), tag)
        except BaseException:
            await browser.close()
            raise

    return await timed(open_page())
