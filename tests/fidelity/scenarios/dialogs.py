"""Dialogs: alert, confirm, prompt and beforeunload, accepted and dismissed."""

import contextlib

from playwright.async_api import Browser, Dialog
from playwright.async_api import Error as PlaywrightError

from tests.fidelity.harness import Env, Json, scenario


@scenario
async def dialog_alert_confirm_prompt(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    seen: list[list[str]] = []

    async def answer(dialog: Dialog) -> None:
        seen.append([dialog.type, dialog.message, dialog.default_value])
        with contextlib.suppress(PlaywrightError):  # someone else may have answered it first: results show it
            if dialog.type == "prompt":
                await dialog.accept("typed")
            elif dialog.message == "dismiss me":
                await dialog.dismiss()
            else:
                await dialog.accept()

    page.on("dialog", answer)
    await page.goto(env.site + "/page/dialogs")
    results = await page.evaluate(
        "[alert('hi'), confirm('accept me'), confirm('dismiss me'), prompt('name?', 'default')]"
    )
    return {"seen": seen, "results": results}


@scenario
async def dialog_in_client_context(browser: Browser, env: Env) -> Json:
    """The same dialogs in a context the client made itself."""
    page = await (await env.new_context(browser)).new_page()

    async def answer(dialog: Dialog) -> None:
        with contextlib.suppress(PlaywrightError):  # the answer may still be in flight when the context closes
            await (dialog.accept("typed") if dialog.type == "prompt" else dialog.accept())

    page.on("dialog", answer)
    await page.goto(env.site + "/page/dialogs")
    return await page.evaluate("[confirm('accept me'), prompt('name?', 'default')]")


@scenario
async def dialog_unhandled_is_dismissed(browser: Browser, env: Env) -> Json:
    """With no dialog listener Playwright dismisses dialogs itself."""
    page = await env.page(browser)
    await page.goto(env.site + "/page/nodialog")
    return await page.evaluate("[confirm('no one listens'), prompt('nobody')]")


@scenario
async def dialog_beforeunload(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    seen: list[str] = []

    async def answer(dialog: Dialog) -> None:
        seen.append(dialog.type)
        with contextlib.suppress(PlaywrightError):
            await dialog.accept()

    page.on("dialog", answer)
    await page.goto(env.site + "/beforeunload")
    await page.click("#field")  # beforeunload needs a user gesture
    async with page.expect_event("close"):
        await page.close(run_before_unload=True)
    return {"seen": seen, "closed": page.is_closed()}
