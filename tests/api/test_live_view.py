"""The dashboard's interactive live view in a real browser, while an automation client drives the same session.

The viewer's canvas is drawn smaller than the session's viewport, so every click lands only if the view
scales its coordinates; what the viewer does is read back through the automation client's own connection.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from orchestrator.config import Settings
from orchestrator.events import BEFORE_ALL
from tests.api.live_site import live_site
from tests.conftest import Daemon, serve_daemon
from tests.support import eventually, repo_root
from workers.chromium.find import find_chromium

ARTIFACTS = repo_root() / "tests" / "artifacts"
SESSIONS = "/v1/browser/sessions/"
VIEWPORT = (1000, 600)


@pytest.fixture
def form_site() -> Iterator[str]:
    with live_site() as url:
        yield url


@pytest.fixture
async def viewer_browser(daemon_settings: Settings) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(daemon_settings.chromium_path))
        try:
            yield browser
        finally:
            await browser.close()


async def canvas_point(canvas: Locator, page_x: float, page_y: float) -> tuple[float, float]:
    """Where a point of the session's page (CSS pixels) is drawn on the viewer's canvas."""
    box = await canvas.bounding_box()
    assert box is not None
    return box["x"] + page_x * box["width"] / VIEWPORT[0], box["y"] + page_y * box["height"] / VIEWPORT[1]


async def centre(page: Page, selector: str) -> tuple[float, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def click_on_view(viewer: Page, session_page: Page, selector: str) -> None:
    x, y = await canvas_point(viewer.locator("#live"), *await centre(session_page, selector))
    await viewer.mouse.click(x, y)


async def test_interactive_live_view_types_clicks_scrolls_and_follows_popups(
    daemon_settings: Settings, form_site: str, viewer_browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with serve_daemon(daemon_settings) as daemon, async_playwright() as p:
        user = await daemon.runtime.shared.accounts.add_user("viewer-owner", None)
        key = (await daemon.runtime.shared.accounts.create_api_key(user, "ui")).secret
        session = await daemon.create({"X-API-Key": key}, viewport_width=VIEWPORT[0], viewport_height=VIEWPORT[1])
        sid = session["session_id"]

        automation = await p.chromium.connect_over_cdp(session["cdp_url"])  # the automation side, at the same time
        driven = automation.contexts[0].pages[0]
        await driven.goto(form_site + "/")

        context = await viewer_browser.new_context(viewport={"width": 720, "height": 900})
        await context.grant_permissions(["clipboard-read", "clipboard-write"])
        viewer = await context.new_page()
        await viewer.goto(str(daemon.client.base_url).rstrip("/") + "/ui")
        await viewer.fill("#apikey", key)
        await viewer.click("button[type=submit]")
        await expect(viewer.locator("#signout")).to_be_visible()
        await viewer.goto(str(daemon.client.base_url).rstrip("/") + f"/ui#/sessions/{sid}")
        canvas = viewer.locator("#live")
        await expect(canvas).to_have_attribute("data-viewport", f"{VIEWPORT[0]}x{VIEWPORT[1]}", timeout=15000)
        drawn = await canvas.bounding_box()
        assert drawn is not None and drawn["width"] < VIEWPORT[0] * 0.75  # drawn smaller: coordinates must scale

        # Keyboard: text, a non-ASCII letter, Backspace, a paste from the viewer's clipboard, then Ctrl+A.
        await click_on_view(viewer, driven, "#name")
        await viewer.keyboard.type("Hellox")
        await viewer.keyboard.press("Backspace")
        await viewer.keyboard.type(" é")
        await viewer.evaluate("navigator.clipboard.writeText(' from the clipboard')")
        await viewer.keyboard.press("Control+V")
        expected = "Hello é from the clipboard"
        await eventually(lambda: _equals(driven.input_value("#name"), expected))
        await viewer.keyboard.press("Control+A")
        selection = "[document.activeElement.selectionStart, document.activeElement.selectionEnd]"
        await eventually(lambda: _equals(driven.evaluate(selection), [0, len(expected)]))
        await viewer.keyboard.press("ArrowLeft")  # collapses the selection to its start
        await eventually(lambda: _equals(driven.evaluate(selection), [0, 0]))
        await viewer.keyboard.press("Tab")
        await eventually(lambda: _equals(driven.evaluate("document.activeElement.id"), "count"))

        # Mouse: one click on the drawn button counts exactly once; the wheel scrolls the area under it.
        await click_on_view(viewer, driven, "#count")
        await eventually(lambda: _equals(driven.get_attribute("#count", "data-clicks"), "1"))
        x, y = await canvas_point(canvas, *await centre(driven, "#area"))
        await viewer.mouse.move(x, y)
        await viewer.mouse.wheel(0, 400)
        await eventually(lambda: _positive(driven.evaluate("document.getElementById('area').scrollTop")))
        assert await driven.get_attribute("#count", "data-clicks") == "1"  # nothing else clicked it
        x, y = await canvas_point(canvas, *await centre(driven, "#count"))
        await viewer.mouse.dblclick(x, y)
        await eventually(lambda: _equals(driven.get_attribute("#count", "data-double"), "1"))
        await viewer.mouse.click(x, y, button="right")
        await eventually(lambda: _equals(driven.get_attribute("#count", "data-right"), "1"))
        assert await driven.get_attribute("#count", "data-clicks") == "3"  # a double-click is two clicks
        await viewer.screenshot(path=str(ARTIFACTS / "live-view-interactive.png"))

        # Tabs: a popup opened by a click shows up in the tab list without reload, and can be driven.
        tabs = viewer.locator("#tabs button")
        await expect(tabs).to_have_count(1)
        async with automation.contexts[0].expect_page() as opened:
            await click_on_view(viewer, driven, "#pop")
        popup = await opened.value
        await expect(tabs).to_have_count(2)
        await viewer.locator("#tabs button", has_text="/popup").click()  # titled by the popup's title or URL
        await expect(viewer.locator("#tabs button[aria-selected=true]")).to_contain_text("popup")
        await popup.wait_for_load_state()
        shown = await viewer.locator("#tabs button[aria-selected=true]").get_attribute("data-target-id")
        await expect(canvas).to_have_attribute("data-target-id", shown or "?")  # the popup's frames now
        await click_on_view(viewer, popup, "#reply")
        await viewer.keyboard.type("from the popup")
        await eventually(lambda: _equals(popup.input_value("#reply"), "from the popup"))
        await viewer.screenshot(path=str(ARTIFACTS / "live-view-popup.png"))

        # The human left: the automation side saw the takeover start and end on the owner's event stream.
        await viewer.goto("about:blank")
        types = await eventually(lambda: _takeover_events(daemon, user.user_id, sid), timeout=10)
        assert types == ["takeover_started", "takeover_ended"]
        await context.close()
        await automation.close()


async def _takeover_events(daemon: Daemon, user_id: str, session_id: str) -> list[str] | None:
    events = await daemon.runtime.shared.store.events.after(user_id, BEFORE_ALL, count=1000)
    found = [e.type for e in events if e.session_id == session_id and e.type.startswith("takeover")]
    return found if "takeover_ended" in found else None


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _positive(value: Any) -> bool:
    return bool(await value > 0)
