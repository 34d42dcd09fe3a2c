"""Screenshots, PDF and tracing: sizes and structure, never bytes."""

import io
import json
import re
import zipfile
from typing import Any

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, error_shape, png_size, scenario


@scenario
async def screenshot_viewport(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, viewport={"width": 800, "height": 600})
    page = await context.new_page()
    await page.goto(env.site + "/")
    return {"size": png_size(await page.screenshot())}


@scenario
async def screenshot_home_page(browser: Browser, env: Env) -> Json:
    """The first context's page keeps whatever viewport its owner gave it; report what it is."""
    page = await env.page(browser)
    await page.set_viewport_size({"width": 700, "height": 500})
    await page.goto(env.site + "/")
    return {"size": png_size(await page.screenshot()), "inner": await page.evaluate("[innerWidth, innerHeight]")}


@scenario
async def screenshot_full_page(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, viewport={"width": 500, "height": 400})
    page = await context.new_page()
    await page.goto(env.site + "/tall")
    return {"size": png_size(await page.screenshot(full_page=True))}


@scenario
async def screenshot_element_and_jpeg(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.set_content("<div id=box style='width:123px;height:45px;background:teal;margin:10px'></div>")
    element = png_size(await page.locator("#box").screenshot())
    jpeg = await page.screenshot(type="jpeg", quality=50, clip={"x": 0, "y": 0, "width": 64, "height": 32})
    return {"element": element, "jpeg_magic": jpeg[:2].hex()}


@scenario
async def screenshot_scale_factor(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, viewport={"width": 300, "height": 200}, device_scale_factor=2)
    page = await context.new_page()
    await page.goto(env.site + "/")
    return {"device": png_size(await page.screenshot()), "css": png_size(await page.screenshot(scale="css"))}


@scenario
async def pdf_print(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/tall")
    pdf = await page.pdf(format="A4")
    return {"magic": pdf[:5].decode(), "pages": len(re.findall(rb"/Type\s*/Page[^s]", pdf))}


@scenario
async def tracing_context_trace_file(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    await context.tracing.start(screenshots=True, snapshots=True)
    page = await context.new_page()
    await page.goto(env.site + "/page/traced")
    await page.click("body")
    trace = env.tmp / "trace.zip"
    await context.tracing.stop(path=trace)
    with zipfile.ZipFile(trace) as archive:
        names = sorted({n.split("/")[0].rsplit(".", 1)[-1] for n in archive.namelist()})
        events = [json.loads(line) for line in archive.read("trace.trace").splitlines() if line]
    actions = [e.get("method") for e in events if e.get("type") == "before"]
    return {"kinds": names, "actions": actions}


@scenario
async def tracing_browser_chromium(browser: Browser, env: Env) -> Json:
    """browser.start_tracing(): Chromium's own tracing (CDP Tracing), for a page of the client's."""
    page = await env.page(browser)
    await browser.start_tracing(page=page, screenshots=False)
    await page.goto(env.site + "/page/chromium-trace")
    data = await browser.stop_tracing()
    trace = json.loads(io.BytesIO(data).read())
    return {"has_events": len(trace.get("traceEvents", [])) > 0, "sees_own_url": b"/page/chromium-trace" in data}


@scenario
async def tracing_browser_twice(browser: Browser, env: Env) -> Json:
    """Starting Chromium tracing again after a first trace (or a failed start) must work the same way."""
    outcomes: list[Json] = []
    for _ in range(2):
        try:
            await browser.start_tracing()
            outcomes.append(len(await browser.stop_tracing()) > 0)
        except Exception as exc:
            outcomes.append(error_shape(exc)["message"][:160])
    return {"outcomes": outcomes}


@scenario
async def js_and_css_coverage(browser: Browser, env: Env) -> Json:
    """Coverage the way Puppeteer and Playwright (JS) collect it: Profiler and CSS rule usage on the page."""
    page = await env.page(browser)
    session = await page.context.new_cdp_session(page)
    await session.send("Profiler.enable")
    await session.send("Profiler.startPreciseCoverage", {"callCount": True, "detailed": True})
    await session.send("DOM.enable")
    await session.send("CSS.enable")
    await session.send("CSS.startRuleUsageTracking")
    await page.set_content(
        "<style>p{color:red} .unused{color:blue}</style><p>x</p><script>function covered(){return 1} covered()</script>"
    )
    js = await session.send("Profiler.takePreciseCoverage")
    css = await session.send("CSS.stopRuleUsageTracking")
    names = {f["functionName"] for script in js["result"] for f in script["functions"]}
    return {"covered_seen": "covered" in names, "css_rules": sorted(r["used"] for r in css["ruleUsage"])}


@scenario
async def screencast_frames(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/")
    session = await page.context.new_cdp_session(page)
    frames: list[int] = []

    async def ack(params: dict[str, Any]) -> None:
        frames.append(len(params["data"]))
        await session.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})

    session.on("Page.screencastFrame", ack)
    await session.send("Page.startScreencast", {"format": "png", "everyNthFrame": 1})
    await page.evaluate("document.body.style.background = 'red'")
    await page.wait_for_timeout(300)
    await session.send("Page.stopScreencast")
    return {"got_frames": len(frames) > 0}
