"""Dedicated workers and service workers (http on 127.0.0.1 is a secure context, so they register)."""

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, scenario


@scenario
async def dedicated_worker(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    async with page.expect_worker() as info:
        await page.goto(env.site + "/worker")
    worker = await info.value
    reply = await page.evaluate("new Promise(r => { w.onmessage = e => r(e.data); w.postMessage('ping'); })")
    return {
        "url": worker.url,
        "name": await worker.evaluate("self.workerName"),
        "reply": reply,
        "listed": len(page.workers),
    }


@scenario
async def worker_console_and_close(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    logs: list[str] = []
    page.on("console", lambda message: logs.append(message.text))
    async with page.expect_worker() as info:
        await page.goto(env.site + "/worker")
    worker = await info.value
    await worker.evaluate("console.log('from worker')")
    async with page.expect_console_message(lambda m: "from worker" in m.text):
        await worker.evaluate("console.log('from worker again')")
    closed: list[bool] = []
    worker.on("close", lambda _: closed.append(True))
    await page.evaluate("w.terminate()")
    await page.wait_for_timeout(300)
    return {"logs": [text for text in logs if "worker" in text], "closed": closed}


@scenario
async def service_worker_registers_and_serves(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    page = await context.new_page()
    await page.goto(env.site + "/sw/page")
    async with context.expect_event("serviceworker") as info:
        await page.evaluate("navigator.serviceWorker.register('/sw/sw.js', {scope: '/sw/'})")
    worker = await info.value
    await page.evaluate("navigator.serviceWorker.ready")
    await page.reload()
    served = await page.evaluate("fetch('/sw/hello').then(r => r.text())")
    return {
        "url": worker.url,
        "controlled": await page.evaluate("navigator.serviceWorker.controller !== null"),
        "served": served,
        "listed": len(context.service_workers),
    }


@scenario
async def service_workers_blocked(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, service_workers="block")
    page = await context.new_page()
    await page.goto(env.site + "/sw/page")
    return await page.evaluate("navigator.serviceWorker.register('/sw/sw.js').then(() => 'registered', e => e.name)")
