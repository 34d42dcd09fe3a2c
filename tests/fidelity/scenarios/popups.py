"""Popups: window.open and target=_blank, and what a popup inherits from the context the client set up.

`__atLoad` is what the popup's own inline script saw while it loaded: if the client's Playwright had not
set the popup up by then (viewport, user agent, touch, init scripts, exposed functions), it shows.
"""

import contextlib
from collections.abc import Awaitable, Callable

from playwright.async_api import Browser, Dialog, Page
from playwright.async_api import Error as PlaywrightError

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
    context = await env.new_context(browser)
    await context.add_init_script(INIT_MARK)
    await context.expose_function("fidelityExposed", lambda: "exposed")
    page = await context.new_page()
    await page.goto(env.site + "/popup/opener")
    popups = await _popups(page, lambda: page.evaluate(f"window.open('{env.site}/popup/target')"))
    at_load = [await popup.evaluate("[window.__atLoad.init, window.__atLoad.exposed]") for popup in popups]
    return {"at_load": at_load, "call": await popups[-1].evaluate("fidelityExposed()")}


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
    context = await env.new_context(browser)
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}:{dialog.message}")
        with contextlib.suppress(PlaywrightError):  # the answer may still be in flight when the context closes
            await dialog.accept()

    context.on("dialog", accept)
    page = await context.new_page()
    await page.goto(env.site + "/page/opener")
    popups = await _popups(page, lambda: page.evaluate(f"window.open('{env.site}/popup/dialog')"))
    return {"dialogs": dialogs, "title": await popups[0].title()}


@scenario
async def popup_cross_site(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/popup/cross")
    async with page.expect_popup() as info:
        await page.click("#cross")
    popup = await info.value
    await popup.wait_for_load_state()
    return {"url": popup.url, "origin": await popup.evaluate("location.origin")}
