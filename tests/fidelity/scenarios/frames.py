"""Frames: same-origin, cross-site (out-of-process) and nested iframes, their events and CDP sessions."""

from playwright.async_api import Browser, Frame
from playwright.async_api import Error as PlaywrightError

from tests.fidelity.harness import Env, Json, scenario


def _tree(frame: Frame, depth: int = 0) -> list[list[object]]:
    rows: list[list[object]] = [[depth, frame.name, frame.url]]
    for child in frame.child_frames:
        rows += _tree(child, depth + 1)
    return rows


@scenario
async def frame_same_origin(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/frames/same")
    child = page.frame(name="same")
    assert child is not None
    return {
        "tree": _tree(page.main_frame),
        "child_origin": await child.evaluate("window.childMark"),
        "parent_reads_child": await page.evaluate("frames[0].document.getElementById('c').textContent"),
    }


@scenario
async def frame_cross_site_oopif(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/frames/parent")
    child = page.frame(name="child")
    assert child is not None
    await child.wait_for_load_state()
    try:  # only an out-of-process frame has a CDP session of its own (Chromium with --site-per-process)
        await (await page.context.new_cdp_session(child)).detach()
        own_process = True
    except PlaywrightError:
        own_process = False
    return {
        "tree": _tree(page.main_frame),
        "own_process": own_process,
        "child_origin": await child.evaluate("window.childMark"),
        "child_text": await page.frame_locator("iframe").locator("#c").text_content(),
        "parent_blocked": await page.evaluate(
            "(() => { try { return frames[0].document.title } catch (e) { return e.name } })()"
        ),
    }


@scenario
async def frame_nested_alternating_sites(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/frames/nested")
    leaf = page.frame(name="leaf")
    assert leaf is not None
    await leaf.wait_for_load_state()
    return {"tree": _tree(page.main_frame), "leaf_origin": await leaf.evaluate("location.origin")}


@scenario
async def frame_events_order(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/host")
    events: list[list[str]] = []
    page.on("frameattached", lambda f: events.append(["attached", f.name]))
    page.on("framenavigated", lambda f: events.append(["navigated", f.name or "main", f.url]))
    page.on("framedetached", lambda f: events.append(["detached", f.name]))
    async with page.expect_event("framenavigated", lambda f: f.name == "added"):
        await page.evaluate(
            f"(() => {{ const f = document.createElement('iframe'); f.name = 'added'; "
            f"f.src = '{env.other}/frames/child'; document.body.append(f); }})()"
        )
    async with page.expect_event("framedetached"):
        await page.evaluate("document.querySelector('iframe').remove()")
    return {"events": [e for e in events if e[0] != "navigated" or e[1] == "added"]}


@scenario
async def frame_cdp_session_on_oopif(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/frames/parent")
    child = page.frame(name="child")
    assert child is not None
    await child.wait_for_load_state()
    session = await page.context.new_cdp_session(child)
    result = await session.send("Runtime.evaluate", {"expression": "location.origin", "returnByValue": True})
    await session.detach()
    return {"origin": result["result"]["value"]}


@scenario
async def frame_goto_inside_child(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/frames/parent")
    child = page.frame(name="child")
    assert child is not None
    response = await child.goto(env.other + "/popup/target")
    return {"status": response.status if response else None, "child_url": child.url, "tree": _tree(page.main_frame)}
