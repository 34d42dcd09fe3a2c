"""Navigation outcomes a client's error handling keys on: net:: errors, HTTP statuses, redirects, aborts.

No scenario sends traffic off loopback: the bad name has a 64-character label, which no resolver is
asked about (Chromium and Python's resolver both reject it before any query).
"""

import asyncio

from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError

from tests.fidelity.harness import Env, Json, error_shape, scenario

BAD_NAME = "http://" + "x" * 64 + ".example/"


async def _goto_error(browser: Browser, env: Env, url: str) -> Json:
    page = await env.page(browser)
    try:
        response = await page.goto(url)
    except PlaywrightError as exc:
        return {"raised": error_shape(exc), "url_after": page.url}
    return {"status": response.status if response else None, "url_after": page.url}


@scenario
async def nav_connection_refused(browser: Browser, env: Env) -> Json:
    return await _goto_error(browser, env, env.urls.closed)


@scenario
async def nav_bad_host_name(browser: Browser, env: Env) -> Json:
    return await _goto_error(browser, env, BAD_NAME)


@scenario
async def nav_http_404(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/status/404")
    assert response is not None
    return {"status": response.status, "ok": response.ok, "text": response.status_text, "title": await page.title()}


@scenario
async def nav_http_500(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/status/500")
    assert response is not None
    return {"status": response.status, "ok": response.ok, "text": response.status_text}


@scenario
async def nav_redirect_chain(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/redirect/3")
    assert response is not None
    chain, request = [], response.request
    while request.redirected_from is not None:
        request = request.redirected_from
        redirect = await request.response()
        chain.append([request.url, redirect.status if redirect else None])
    return {"final": response.url, "status": response.status, "chain": chain}


@scenario
async def nav_aborted_by_second_goto(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    first = asyncio.ensure_future(page.goto(env.site + "/slow"))
    await asyncio.sleep(0.3)
    second = await page.goto(env.site + "/page/instead")
    try:
        await first
        outcome: Json = "completed"
    except PlaywrightError as exc:
        outcome = error_shape(exc)
    return {"first": outcome, "second": second.status if second else None, "url": page.url}


@scenario
async def nav_timeout(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    try:
        await page.goto(env.site + "/slow", timeout=500)
    except PlaywrightError as exc:
        return {"raised": error_shape(exc)}
    return {"raised": None}


@scenario
async def nav_wait_until_commit(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/page/commit", wait_until="commit")
    await page.wait_for_load_state("domcontentloaded")
    return {"status": response.status if response else None, "title": await page.title()}


@scenario
async def nav_hash_and_push_state(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/hash")
    await page.goto(env.site + "/page/hash#part")
    after_hash = page.url
    await page.evaluate("history.pushState({}, '', '/page/pushed')")
    return {"after_hash": after_hash, "after_push": page.url}


@scenario
async def nav_data_and_blank(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto("data:text/html,<title>from data</title>")
    title = await page.title()
    await page.goto("about:blank")
    return {"data_title": title, "blank_url": page.url}


@scenario
async def nav_file_url(browser: Browser, env: Env) -> Json:
    """A local file of the client's: the reference opens it."""
    local = env.tmp / "local.html"
    local.write_text("<title>local file</title>")
    return await _goto_error(browser, env, local.as_uri())


@scenario
async def nav_own_debugging_port(browser: Browser, env: Env) -> Json:
    """The DevTools endpoint of the very Chromium the page runs in."""
    page = await env.page(browser)
    try:
        response = await page.goto(f"http://127.0.0.1:{env.debugging_port}/json/version")
    except PlaywrightError as exc:
        shape = error_shape(exc)
        return {"raised": {**shape, "message": shape["message"].replace(str(env.debugging_port), "<its port>")}}
    return {"status": response.status if response else None, "lists_browser": "Browser" in await page.content()}


@scenario
async def nav_invalid_url(browser: Browser, env: Env) -> Json:
    return await _goto_error(browser, env, "http://[::1")
