"""Pages: what a client finds on connecting, opening, loading, reloading and walking history."""

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, scenario


@scenario
async def connect_shape(browser: Browser, env: Env) -> Json:
    """What connect_over_cdp shows: one context holding one blank page, and the browser's version."""
    home = browser.contexts[0]
    return {
        "contexts": len(browser.contexts),
        "pages": [page.url for page in home.pages],
        "connected": browser.is_connected(),
        "version_prefix": browser.version.split(".")[0].isdigit(),
        "browser_type": browser.browser_type.name,
    }


@scenario
async def goto_title_content(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/")
    assert response is not None
    content = await page.content()
    return {
        "status": response.status,
        "ok": response.ok,
        "url": page.url,
        "title": await page.title(),
        "has_h1": "<h1>hello</h1>" in content,
        "pages_in_context": len(browser.contexts[0].pages),
    }


@scenario
async def set_content_and_evaluate(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.set_content("<title>made</title><p id=p>made here</p><script>window.x = 40 + 2</script>")
    handle = await page.evaluate_handle("document.getElementById('p')")
    text = await handle.evaluate("e => e.textContent")
    return {
        "title": await page.title(),
        "x": await page.evaluate("window.x"),
        "text": text,
        "inner": await page.inner_text("#p"),
        "url": page.url,
    }


@scenario
async def reload_counts_as_reload(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/reloaded")
    await page.evaluate("sessionStorage.setItem('n', String(Number(sessionStorage.getItem('n') || 0) + 1))")
    response = await page.reload()
    assert response is not None
    kind = await page.evaluate("performance.getEntriesByType('navigation')[0].type")
    return {"status": response.status, "kind": kind, "n": await page.evaluate("sessionStorage.getItem('n')")}


@scenario
async def history_back_forward(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/one")
    await page.goto(env.site + "/page/two")
    back = await page.go_back()
    at_back = page.url
    forward = await page.go_forward()
    await page.go_back()
    await page.go_back()
    beyond = await page.go_back()  # past the start of history: None
    return {
        "back": back.url if back else None,
        "at_back": at_back,
        "forward": forward.url if forward else None,
        "beyond": beyond.url if beyond else None,
        "length": await page.evaluate("history.length"),
    }


@scenario
async def click_link_navigates(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/")
    async with page.expect_navigation() as navigation:
        await page.click("#next")
    response = await navigation.value
    return {"url": page.url, "status": response.status if response else None, "title": await page.title()}


@scenario
async def locators_and_waiting(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.set_content(
        "<button>Save</button><script>setTimeout(() => { const d = document.createElement('div'); "
        "d.id = 'late'; d.textContent = 'arrived'; document.body.append(d); }, 150)</script>"
    )
    await page.locator("#late").wait_for()
    return {
        "late": await page.locator("#late").text_content(),
        "buttons": await page.get_by_role("button", name="Save").count(),
        "aria": await page.locator("body").aria_snapshot(),
    }


@scenario
async def page_close_and_events(browser: Browser, env: Env) -> Json:
    home = browser.contexts[0]
    seen: list[str] = []
    home.on("page", lambda p: seen.append("context.page"))
    page = await home.new_page()
    page.on("close", lambda p: seen.append("page.close"))
    before = len(home.pages)
    await page.close()
    return {"seen": seen, "closed": page.is_closed(), "removed": before - len(home.pages)}


@scenario
async def browser_new_page_makes_context(browser: Browser, env: Env) -> Json:
    """browser.new_page() opens a page in a context of its own, which closes with the page."""
    contexts = len(browser.contexts)
    page = await browser.new_page()
    await page.goto(env.site + "/page/own")
    during = len(browser.contexts)
    own_context = page.context is not browser.contexts[0]
    await page.close()
    return {"added": during - contexts, "own_context": own_context, "after": len(browser.contexts) - contexts}


@scenario
async def new_context_lifecycle(browser: Browser, env: Env) -> Json:
    before = len(browser.contexts)
    context = await env.new_context(browser)
    page = await context.new_page()
    await page.goto(env.site + "/page/ctx")
    during, title = len(browser.contexts), await page.title()
    await context.close()
    return {"added": during - before, "title": title, "after": len(browser.contexts) - before, "url": page.url}


@scenario
async def two_pages_bring_to_front(browser: Browser, env: Env) -> Json:
    first, second = await env.page(browser), await env.page(browser)
    await first.goto(env.site + "/page/first")
    await second.goto(env.site + "/page/second")
    await first.bring_to_front()
    states = [await p.evaluate("[document.visibilityState, document.hasFocus()]") for p in (first, second)]
    return {"states": states}


@scenario
async def wait_for_url_and_load_state(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/start")
    await page.evaluate(f"setTimeout(() => location.href = '{env.site}/page/later', 100)")
    await page.wait_for_url("**/page/later")
    await page.wait_for_load_state("load")
    return {"url": page.url, "ready": await page.evaluate("document.readyState")}
