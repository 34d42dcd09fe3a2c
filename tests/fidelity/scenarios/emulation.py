"""Emulation and permissions set per context or page, as the page then sees them."""

from typing import Any

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, scenario

SEEN = "[innerWidth, innerHeight, devicePixelRatio, navigator.userAgent]"
PHONE: dict[str, Any] = {  # a phone-like context, spelled out (Playwright's device table needs the Playwright object)
    "viewport": {"width": 390, "height": 664},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": "Mozilla/5.0 (iPhone; Fidelity)",
}


@scenario
async def emulate_viewport_and_scale(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, viewport={"width": 411, "height": 731}, device_scale_factor=3)
    page = await context.new_page()
    await page.goto(env.site + "/")
    return await page.evaluate(SEEN)


@scenario
async def emulate_device_descriptor(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, **PHONE)
    page = await context.new_page()
    await page.goto(env.site + "/")
    return await page.evaluate(
        "[innerWidth, devicePixelRatio, navigator.maxTouchPoints, 'ontouchstart' in window, "
        "matchMedia('(pointer: coarse)').matches]"
    )


@scenario
async def emulate_user_agent_server_side(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, user_agent="FidelityAgent/2")
    page = await context.new_page()
    response = await page.goto(env.site + "/echo")
    assert response is not None
    seen = await response.json()
    return {
        "page": await page.evaluate("navigator.userAgent"),
        "server": [v for k, v in seen["headers"] if k.lower() == "user-agent"],
    }


@scenario
async def emulate_locale_timezone(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, locale="de-DE", timezone_id="Asia/Tokyo")
    page = await context.new_page()
    response = await page.goto(env.site + "/echo")
    assert response is not None
    seen = await response.json()
    return {
        "language": await page.evaluate("navigator.language"),
        "zone": await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"),
        "number": await page.evaluate("(1234.5).toLocaleString()"),
        "accept_language": [v for k, v in seen["headers"] if k.lower() == "accept-language"],
    }


@scenario
async def emulate_media_features(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/")
    query = (
        "['(prefers-color-scheme: dark)', 'print', '(prefers-reduced-motion: reduce)'].map(q => matchMedia(q).matches)"
    )
    before = await page.evaluate(query)
    await page.emulate_media(color_scheme="dark", media="print", reduced_motion="reduce")
    return {"before": before, "after": await page.evaluate(query)}


@scenario
async def emulate_geolocation(browser: Browser, env: Env) -> Json:
    context = await env.new_context(
        browser, geolocation={"latitude": 48.85, "longitude": 2.35}, permissions=["geolocation"]
    )
    page = await context.new_page()
    await page.goto(env.site + "/")
    return await page.evaluate(
        "new Promise(r => navigator.geolocation.getCurrentPosition(p => r([p.coords.latitude, p.coords.longitude]),"
        " e => r(e.message)))"
    )


@scenario
async def emulate_javascript_disabled(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(env.site + "/popup/target")
    return {"at_load": await page.evaluate("window.__atLoad === undefined")}


@scenario
async def set_viewport_on_home_page(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.set_viewport_size({"width": 555, "height": 444})
    await page.goto(env.site + "/")
    return {"inner": await page.evaluate("[innerWidth, innerHeight]"), "viewport": page.viewport_size}


@scenario
async def permissions_grant_and_clear(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    page = await context.new_page()
    await page.goto(env.site + "/")
    query = (
        "Promise.all(['geolocation', 'notifications', 'clipboard-read']"
        ".map(n => navigator.permissions.query({name: n}).then(s => s.state)))"
    )
    before = await page.evaluate(query)
    await context.grant_permissions(["geolocation", "notifications", "clipboard-read"], origin=env.site)
    granted = await page.evaluate(query)
    await context.clear_permissions()
    return {"before": before, "granted": granted, "cleared": await page.evaluate(query)}


@scenario
async def permissions_home_context(browser: Browser, env: Env) -> Json:
    home = browser.contexts[0]
    page = await env.page(browser)
    await page.goto(env.site + "/")
    await home.grant_permissions(["notifications"])
    granted = await page.evaluate("Notification.permission")
    await home.clear_permissions()
    return {"granted": granted, "cleared": await page.evaluate("Notification.permission")}


@scenario
async def clipboard_round_trip(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await page.goto(env.site + "/")
    await page.evaluate("navigator.clipboard.writeText('copied text')")
    return await page.evaluate("navigator.clipboard.readText()")
