"""Scripts a client injects or exposes, input it drives, and what the page reports back (console, errors, clock)."""

from typing import Any

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, scenario

LOG_EVENTS = (
    "window.log = []; for (const t of ['keydown','keyup','input','mousedown','mouseup','click','dblclick',"
    "'dragstart','drop']) document.addEventListener(t, e => log.push(t + ':' + (e.key || e.button || '')), true);"
)


@scenario
async def init_script_page_and_context(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    await context.add_init_script("window.fromContext = 'c'")
    page = await context.new_page()
    await page.add_init_script("window.fromPage = 'p'")
    await page.goto(env.site + "/page/init")
    await page.goto(env.site + "/page/init2")
    return await page.evaluate("[window.fromContext, window.fromPage]")


@scenario
async def init_script_home_page(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.add_init_script("window.early = document.readyState")
    await page.goto(env.site + "/page/early")
    return await page.evaluate("window.early")


@scenario
async def expose_function_and_binding(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.expose_function("double", lambda n: n * 2)
    sources: list[str] = []

    def record(source: dict[str, Any], value: str) -> str:
        sources.append(source["page"].url)
        return f"bound:{value}"

    await page.expose_binding("bound", record)
    await page.goto(env.site + "/page/exposed")
    result = await page.evaluate("Promise.all([double(21), bound('x')])")
    return {"result": result, "source_urls": sources}


@scenario
async def expose_function_survives_navigation(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    await context.expose_function("shout", lambda s: s.upper())
    page = await context.new_page()
    await page.goto(env.site + "/page/a")
    first = await page.evaluate("shout('a')")
    await page.goto(env.other + "/frames/child")
    return [first, await page.evaluate("shout('b')")]


@scenario
async def keyboard_typing_and_shortcuts(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/form")
    await page.evaluate(LOG_EVENTS)
    await page.click("#text")
    await page.keyboard.type("Hi!")
    await page.keyboard.press("Shift+ArrowLeft")
    await page.keyboard.press("Backspace")
    await page.keyboard.insert_text("?")
    value = await page.input_value("#text")
    return {"value": value, "keys": [e for e in await page.evaluate("log") if e.startswith("key")]}


@scenario
async def mouse_click_and_dblclick(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/form")
    await page.evaluate(
        LOG_EVENTS + " window.points = []; addEventListener('click', e => points.push([e.clientX, e.clientY]))"
    )
    await page.mouse.click(30, 20)
    await page.dblclick("#btn")
    return {
        "events": await page.evaluate(
            "log.filter(e => e.startsWith('mouse') || e.startsWith('click') || e.startsWith('dbl'))"
        ),
        "first": await page.evaluate("points[0]"),
    }


@scenario
async def form_controls(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/form")
    await page.fill("#area", "line one\nline two")
    await page.select_option("#sel", "b")
    await page.check("#box")
    await page.hover("#btn")
    return {
        "area": await page.input_value("#area"),
        "sel": await page.input_value("#sel"),
        "box": await page.is_checked("#box"),
        "hovered": await page.evaluate("document.querySelector('#btn').matches(':hover')"),
    }


@scenario
async def drag_and_drop(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.set_content(
        "<div id=src draggable=true style='width:50px;height:50px;background:red'>s</div>"
        "<div id=dst style='width:80px;height:80px;background:blue;margin-top:20px'>d</div>"
        "<script>window.got = []; dst.addEventListener('dragover', e => e.preventDefault());"
        "src.addEventListener('dragstart', e => e.dataTransfer.setData('text/plain', 'payload'));"
        "dst.addEventListener('drop', e => { e.preventDefault(); "
        "got.push(e.dataTransfer.getData('text/plain')); });</script>"
    )
    await page.drag_and_drop("#src", "#dst")
    return await page.evaluate("got")


@scenario
async def touch_tap(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, has_touch=True)
    page = await context.new_page()
    await page.set_content(
        "<button id=b style='width:100px;height:40px'>t</button><script>window.seen = [];"
        "for (const t of ['touchstart','touchend','click']) b.addEventListener(t, () => seen.push(t))</script>"
    )
    await page.tap("#b")
    return await page.evaluate("seen")


@scenario
async def console_messages(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    messages: list[list[object]] = []
    page.on("console", lambda m: messages.append([m.type, m.text]))
    await page.goto(env.site + "/page/console")
    async with page.expect_console_message(lambda m: m.text == "last"):
        await page.evaluate("console.log('a', 1, {b: 2}); console.warn('w'); console.error('e'); console.info('last')")
    arguments = await (await page.evaluate_handle("({k: 'v'})")).json_value()
    return {"messages": messages, "handle": arguments}


@scenario
async def page_errors(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"))
    await page.goto(env.site + "/page/errors")
    await page.evaluate("setTimeout(() => { throw new RangeError('thrown later') }, 0)")
    await page.wait_for_timeout(200)
    try:
        await page.evaluate("undefinedFunction()")
        raised = None
    except Exception as exc:
        raised = str(exc).split("\n")[0]
    return {"errors": errors, "raised": raised}


@scenario
async def clock_install_and_advance(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.clock.install(time=1_700_000_000)
    await page.goto(env.site + "/page/clock")
    await page.evaluate(
        "window.fired = []; setTimeout(() => fired.push('1s'), 1000); setTimeout(() => fired.push('1h'), 3600000)"
    )
    await page.clock.fast_forward(2000)
    after_two = await page.evaluate("fired.slice()")
    await page.clock.run_for(3_600_000)
    return {
        "after_two": after_two,
        "after_hour": await page.evaluate("fired"),
        "now_ok": await page.evaluate("Date.now() >= 1700000000000"),
    }


@scenario
async def clock_fixed_time(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.clock.set_fixed_time(1_600_000_000)
    await page.goto(env.site + "/page/fixed")
    return await page.evaluate("[Date.now(), new Date().toISOString()]")


@scenario
async def evaluate_large_result(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/large-eval")
    text = await page.evaluate("'z'.repeat(5 * 1024 * 1024)")
    return {"len": len(text)}
