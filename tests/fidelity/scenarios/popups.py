"""Popups: window.open and target=_blank, and what a popup inherits from the context the client set up.

`__atLoad` is what the popup's own inline script saw while it loaded: if the client's Playwright had not
set the popup up by then (viewport, user agent, touch, init scripts, exposed functions), it shows.
"""

import contextlib
from collections.abc import Awaitable, Callable

from playwright.async_api import Browser, Dialog, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.fidelity.harness import Env, Json, scenario

INIT_MARK = "window.__initMark = 'init-ran'"
TRIES = 3  # popups per scenario: a race between the popup's first script and the client's set-up shows sooner


async def _popups(page: Page, open_it: Callable[[], Awaitable[object]]) -> list[Page]:
    """Open TRIES popups from `page`, each loaded."""
    popups = []
    for _ in range(TRIES):
        async with page.expect_popup() as info:
            await open_it()
        popup = await info.value
        await popup.wait_for_load_state()
        popups.append(popup)
    return popups


@scenario
async def popup_window_open(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/opener")
    async with page.expect_popup() as info:
        await page.evaluate(f"window.open('{env.site}/popup/target')")
    popup = await info.value
    await popup.wait_for_load_state()
    return {
        "url": popup.url,
        "title": await popup.title(),
        "opener_is_page": (await popup.opener()) is page,
        "in_context": popup in browser.contexts[0].pages,
    }


@scenario
async def popup_target_blank_click(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/popup/opener")
    async with page.context.expect_page() as info:
        await page.click("#blank")
    popup = await info.value
    await popup.wait_for_load_state()
    return {"url": popup.url, "has_opener": await popup.evaluate("window.opener !== null")}


@scenario
async def popup_noopener(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/popup/opener")
    async with page.expect_popup() as info:
        await page.click("#noopener")
    popup = await info.value
    await popup.wait_for_load_state()
    return {"url": popup.url, "opener": (await popup.opener()) is not None}


@scenario
async def popup_inherits_client_context(browser: Browser, env: Env) -> Json:
    """A popup in a client-made context: the viewport, user agent and touch it loads with."""
    context = await env.new_context(
        browser, viewport={"width": 640, "height": 480}, user_agent="Fidelity/1.0", has_touch=True, locale="fr-FR"
    )
    page = await context.new_page()
    await page.goto(env.site + "/popup/opener")
    popups = await _popups(page, lambda: page.click("#blank"))
    return {
        "at_load": [await popup.evaluate("window.__atLoad") for popup in popups],
        "now": await popups[0].evaluate("[innerWidth, innerHeight]"),
    }


@scenario
async def popup_init_script_client_context(browser: Browser, env: Env) -> Json:
    """Through the pool a race (known_differences.py): which of the outcomes the popups had, not how many."""
    context = await env.new_context(browser)
    await context.add_init_script(INIT_MARK)
    await context.expose_function("fidelityExposed", lambda: "exposed")
    page = await context.new_page()
    await page.goto(env.site + "/popup/opener")
    popups = await _popups(page, lambda: page.evaluate(f"window.open('{env.site}/popup/target')"))
    at_load = [await popup.evaluate("[window.__atLoad.init, window.__atLoad.exposed]") for popup in popups]
    outcomes = {"set up before it ran" if seen == ["init-ran", "function"] else "ran before set-up" for seen in at_load}
    return {"popups": sorted(outcomes), "call": await popups[-1].evaluate("fidelityExposed()")}


@scenario
async def popup_init_script_home_context(browser: Browser, env: Env) -> Json:
    """The same in the first context (the session's own through the pool), registered on a fresh context."""
    home = browser.contexts[0]
    await home.add_init_script(INIT_MARK)
    page = await home.new_page()
    await page.goto(env.site + "/popup/opener")
    popups = await _popups(page, lambda: page.click("#blank"))
    return {"init": [await popup.evaluate("window.__atLoad.init") for popup in popups]}


@scenario
async def popup_dialog_on_load(browser: Browser, env: Env) -> Json:
    """Through the pool a race (known_differences.py): which of the outcomes the popups had, not how many."""
    context = await env.new_context(browser)
    dialogs: list[tuple[Page | None, str]] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append((dialog.page, f"{dialog.type}:{dialog.message}"))
        with contextlib.suppress(PlaywrightError):  # the answer may still be in flight when the context closes
            await dialog.accept()

    context.on("dialog", accept)
    page = await context.new_page()
    await page.goto(env.site + "/page/opener")
    outcomes = set()
    for _ in range(TRIES):
        try:
            async with page.expect_popup() as info:
                await page.evaluate(f"window.open('{env.site}/popup/dialog')")
            popup = await info.value
            await popup.wait_for_load_state()
        except PlaywrightTimeoutError:  # its dialog blocked it (and its opener) before the client could answer
            outcomes.add("never reached the client")
            break
        seen = [text for source, text in dialogs if source is popup]
        outcomes.add(f"{await popup.title()}: {seen[0] if seen else 'no dialog seen'}")
    return {"popups": sorted(outcomes)}


@scenario
async def popup_cross_site(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/popup/cross")
    async with page.expect_popup() as info:
        await page.click("#cross")
    popup = await info.value
    await popup.wait_for_load_state()
    return {"url": popup.url, "origin": await popup.evaluate("location.origin")}
