"""Cookies and storage: the context APIs, the page's own storage, and storage state round trips."""

from typing import Any

from playwright.async_api import Browser

from tests.fidelity.harness import Env, Json, scenario


def _cookies(cookies: list[Any]) -> list[list[Any]]:
    """Cookies without their (clock-dependent) expiry."""
    return sorted([c["name"], c["value"], c["domain"], c["path"], c["httpOnly"], c["sameSite"]] for c in cookies)


@scenario
async def cookies_add_and_read(browser: Browser, env: Env) -> Json:
    home = browser.contexts[0]
    await home.clear_cookies()
    await home.add_cookies([{"name": "added", "value": "yes", "url": env.site}])
    page = await env.page(browser)
    await page.goto(env.site + "/echo")
    echoed = await page.evaluate("fetch('/echo').then(r => r.json())")
    sent = [v for k, v in echoed["headers"] if k.lower() == "cookie"]
    return {
        "api": _cookies(await home.cookies(env.site)),
        "document": await page.evaluate("document.cookie"),
        "sent": sent,
    }


@scenario
async def cookies_from_server(browser: Browser, env: Env) -> Json:
    home = browser.contexts[0]
    await home.clear_cookies()
    page = await env.page(browser)
    await page.goto(env.site + "/set-cookie/")
    return {"api": _cookies(await home.cookies()), "document": await page.evaluate("document.cookie")}


@scenario
async def cookies_clear(browser: Browser, env: Env) -> Json:
    home = browser.contexts[0]
    await home.clear_cookies()
    await home.add_cookies(
        [{"name": "gone", "value": "1", "url": env.site}, {"name": "kept", "value": "1", "url": env.other}]
    )
    await home.clear_cookies(name="gone")
    partial = _cookies(await home.cookies([env.site, env.other]))
    await home.clear_cookies()
    return {"partial": partial, "all": await home.cookies()}


@scenario
async def cookies_apart_between_contexts(browser: Browser, env: Env) -> Json:
    first, second = await env.new_context(browser), await env.new_context(browser)
    await first.add_cookies([{"name": "mine", "value": "1", "url": env.site}])
    return {"first": len(await first.cookies()), "second": len(await second.cookies())}


@scenario
async def local_and_session_storage(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/storage")
    await page.evaluate("localStorage.clear(); sessionStorage.clear()")
    await page.evaluate("localStorage.setItem('l', 'local'); sessionStorage.setItem('s', 'session')")
    await page.reload()
    kept = await page.evaluate("[localStorage.getItem('l'), sessionStorage.getItem('s')]")
    other = await env.page(browser)
    await other.goto(env.site + "/page/storage2")
    return {
        "same_page": kept,
        "other_page": await other.evaluate("[localStorage.getItem('l'), sessionStorage.getItem('s')]"),
    }


@scenario
async def indexeddb_round_trip(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/idb")
    return await page.evaluate(
        """new Promise((resolve, reject) => {
          const open = indexedDB.open('fidelity', 1);
          open.onupgradeneeded = () => open.result.createObjectStore('s');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const tx = open.result.transaction('s', 'readwrite');
            tx.objectStore('s').put({n: 7}, 'k');
            tx.oncomplete = () => {
              const get = open.result.transaction('s').objectStore('s').get('k');
              get.onsuccess = () => { open.result.close(); resolve(get.result); };
            };
          };
        })"""
    )


@scenario
async def storage_state_round_trip(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    page = await context.new_page()
    await page.goto(env.site + "/set-cookie/")
    await page.evaluate("localStorage.setItem('kept', 'across')")
    state = await context.storage_state(indexed_db=True)
    restored = await env.new_context(browser, storage_state=state)
    again = await restored.new_page()
    await again.goto(env.site + "/page/restored")
    return {
        "cookies": _cookies(state["cookies"]),
        "origins": [[o["origin"], o["localStorage"]] for o in state["origins"]],
        "restored": [await again.evaluate("localStorage.getItem('kept')"), await again.evaluate("document.cookie")],
    }


@scenario
async def cache_storage(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/cache")
    return await page.evaluate(
        "caches.open('c').then(c => c.put('/k', new Response('cached')).then(() => c.match('/k'))).then(r => r.text())"
    )
