"""Raw CDP sessions a client opens: on a page, on the browser, and the browser methods clients send."""

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, scenario


@scenario
async def cdp_page_session(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/cdp")
    session = await page.context.new_cdp_session(page)
    value = await session.send("Runtime.evaluate", {"expression": "1 + 1", "returnByValue": True})
    tree = await session.send("Page.getFrameTree")
    info = await session.send("Target.getTargetInfo")
    await session.detach()
    return {
        "value": value["result"]["value"],
        "frame_url": tree["frameTree"]["frame"]["url"],
        "target": [info["targetInfo"]["type"], info["targetInfo"]["url"]],
    }


@scenario
async def cdp_page_session_events(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    session = await page.context.new_cdp_session(page)
    urls: list[str] = []
    session.on("Network.requestWillBeSent", lambda params: urls.append(params["request"]["url"]))
    await session.send("Network.enable")
    await page.goto(env.site + "/page/events")
    await session.send("Network.disable")
    await session.detach()
    return {"urls": urls}


@scenario
async def cdp_page_session_emulation(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/emu")
    session = await page.context.new_cdp_session(page)
    await session.send("Emulation.setTimezoneOverride", {"timezoneId": "Pacific/Auckland"})
    zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    metrics = await session.send("Performance.enable")
    got = await session.send("Performance.getMetrics")
    await session.detach()
    return {"zone": zone, "enabled": metrics, "has_nodes": any(m["name"] == "Nodes" for m in got["metrics"])}


@scenario
async def cdp_browser_session(browser: Browser, env: Env) -> Json:
    session = await browser.new_browser_cdp_session()
    version = await session.send("Browser.getVersion")
    page = await env.page(browser)
    await page.goto(env.site + "/page/listed")
    targets = await session.send("Target.getTargets")
    urls = [t["url"] for t in targets["targetInfos"] if t["type"] == "page"]
    await session.detach()
    return {"product": version["product"].split("/")[0], "sees_own_page": env.site + "/page/listed" in urls}


@scenario
async def cdp_window_for_target(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    page_session = await page.context.new_cdp_session(page)
    target = (await page_session.send("Target.getTargetInfo"))["targetInfo"]["targetId"]
    browser_session = await browser.new_browser_cdp_session()
    window = await browser_session.send("Browser.getWindowForTarget", {"targetId": target})
    bounds = await browser_session.send("Browser.getWindowBounds", {"windowId": window["windowId"]})
    return {"keys": sorted(window), "bounds_keys": sorted(bounds["bounds"])}


@scenario
async def cdp_set_window_bounds(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    page_session = await page.context.new_cdp_session(page)
    target = (await page_session.send("Target.getTargetInfo"))["targetInfo"]["targetId"]
    window = await page_session.send("Browser.getWindowForTarget", {"targetId": target})
    await page_session.send(
        "Browser.setWindowBounds", {"windowId": window["windowId"], "bounds": {"width": 900, "height": 700}}
    )
    bounds = await page_session.send("Browser.getWindowBounds", {"windowId": window["windowId"]})
    return {"size": [bounds["bounds"]["width"], bounds["bounds"]["height"]]}


@scenario
async def cdp_page_session_get_cookies(browser: Browser, env: Env) -> Json:
    """Storage.getCookies on a page session (Puppeteer and some Playwright paths send it there)."""
    await browser.contexts[0].add_cookies([{"name": "in_first_context", "value": "1", "url": env.site}])
    context = await env.new_context(browser)
    await context.add_cookies([{"name": "in_page_context", "value": "1", "url": env.site}])
    page = await context.new_page()
    session = await context.new_cdp_session(page)
    cookies = await session.send("Storage.getCookies")
    return {"names": sorted(c["name"] for c in cookies["cookies"])}


@scenario
async def cdp_accessibility_tree(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.set_content("<button>Press</button><h2>Heading</h2>")
    session = await page.context.new_cdp_session(page)
    tree = await session.send("Accessibility.getFullAXTree")
    names = [
        n.get("name", {}).get("value") for n in tree["nodes"] if n.get("role", {}).get("value") in ("button", "heading")
    ]
    return {"names": names}
