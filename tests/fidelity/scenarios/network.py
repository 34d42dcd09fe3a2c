"""Network: interception, request and response details, what the server receives, websockets."""

import itertools
import json
from typing import cast
from urllib.parse import urlsplit

from playwright.async_api import Browser, Route, WebSocket, WebSocketRoute

from tests.fidelity.harness import Env, Json, scenario

# Headers whose values differ run to run (or by who asked); the rest are compared with their values.
VOLATILE_HEADERS = {"date", "cookie", "sec-ch-ua", "sec-ch-ua-full-version-list"}


def _headers(pairs: list[list[str]]) -> list[list[str]]:
    return sorted([k.lower(), "<varies>" if k.lower() in VOLATILE_HEADERS else v] for k, v in pairs)


@scenario
async def route_fulfill(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.route("**/api/data", lambda route: route.fulfill(status=201, json={"mocked": True}))
    await page.goto(env.site + "/page/api")
    return await page.evaluate("fetch('/api/data').then(async r => [r.status, await r.json()])")


@scenario
async def route_abort(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    failures: list[str | None] = []
    page.on("requestfailed", lambda request: failures.append(request.failure))
    await page.route("**/blocked", lambda route: route.abort("connectionrefused"))
    await page.goto(env.site + "/page/abort")
    caught = await page.evaluate("fetch('/blocked').then(() => 'ok', e => e.name + ': ' + e.message)")
    return {"caught": caught, "failures": failures}


@scenario
async def route_continue_with_header(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)

    async def add_header(route: Route) -> None:
        await route.continue_(headers={**route.request.headers, "x-fidelity": "added"})

    await page.route("**/echo", add_header)
    response = await page.goto(env.site + "/echo")
    assert response is not None
    seen = await response.json()
    return {"x_fidelity": [v for k, v in seen["headers"] if k.lower() == "x-fidelity"]}


@scenario
async def route_context_level(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    await context.route(
        "**/page/*", lambda route: route.fulfill(body="<title>routed</title>", content_type="text/html")
    )
    page = await context.new_page()
    await page.goto(env.site + "/page/real")
    return {"title": await page.title()}


@scenario
async def request_post_details(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/post")
    async with page.expect_request("**/echo") as info:
        await page.evaluate(
            "fetch('/echo', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{\"a\":1}'})"
        )
    request = await info.value
    response = await request.response()
    assert response is not None
    echoed = await response.json()
    return {
        "method": request.method,
        "post_data": request.post_data,
        "json": request.post_data_json,
        "type": request.resource_type,
        "content_type": request.headers.get("content-type"),
        "server_saw": [echoed["method"], echoed["body"]],
    }


@scenario
async def response_details(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/page/details")
    assert response is not None
    headers = await response.all_headers()
    await response.finished()
    return {
        "status": [response.status, response.status_text],
        "content_type": headers.get("content-type"),
        "header_names": sorted(h for h in headers if h != "date"),
        "body_len": len(await response.body()),
        "from_sw": response.from_service_worker,
        "security": await response.security_details(),
    }


@scenario
async def response_server_addr(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/page/addr")
    assert response is not None
    address = await response.server_addr()
    if address is None:
        return {"server_addr": None}
    # Ports are picked per run: say whose port answered, the site's own or another (a proxy's).
    port = "the site's" if address["port"] == urlsplit(env.site).port else "another"
    return {"server_addr": {"ipAddress": address["ipAddress"], "port": port}}


@scenario
async def request_timing_and_sizes(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    response = await page.goto(env.site + "/page/timing")
    assert response is not None
    timing = cast(dict[str, float], response.request.timing)
    sizes = await response.request.sizes()
    marks = ["domainLookupStart", "connectStart", "requestStart", "responseStart", "responseEnd"]
    return {
        "timing_keys": sorted(timing),
        "ordered": all(timing[a] <= timing[b] for a, b in itertools.pairwise(marks[2:]) if timing[b] >= 0),
        "response_body_size": sizes["responseBodySize"],
        "request_body_size": sizes["requestBodySize"],
    }


@scenario
async def server_seen_headers(browser: Browser, env: Env) -> Json:
    """The headers the loopback server received for a top-level navigation."""
    page = await (await env.new_context(browser)).new_page()
    response = await page.goto(env.site + "/echo")
    assert response is not None
    seen = await response.json()
    return {"headers": _headers(seen["headers"]), "path": seen["path"]}


@scenario
async def request_headers_seen_by_client(browser: Browser, env: Env) -> Json:
    page = await (await env.new_context(browser)).new_page()
    response = await page.goto(env.site + "/page/reqheaders")
    assert response is not None
    all_headers = await response.request.all_headers()
    return {"names": sorted(h for h in all_headers if h not in VOLATILE_HEADERS)}


@scenario
async def extra_http_headers(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser, extra_http_headers={"x-context": "c"})
    page = await context.new_page()
    await page.set_extra_http_headers({"x-page": "p"})
    response = await page.goto(env.site + "/echo")
    assert response is not None
    seen = await response.json()
    return {"custom": sorted([k.lower(), v] for k, v in seen["headers"] if k.lower().startswith("x-"))}


@scenario
async def expect_response_predicate(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/predicate")
    async with page.expect_response(lambda r: r.url.endswith("/status/418")) as info:
        await page.evaluate("fetch('/status/418')")
    response = await info.value
    return {"status": response.status, "ok": response.ok, "request_method": response.request.method}


@scenario
async def websocket_echo(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    frames: list[list[str]] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: frames.append(["sent", str(payload)]))
        ws.on("framereceived", lambda payload: frames.append(["received", str(payload)]))

    page.on("websocket", watch)
    await page.goto(env.site + "/page/ws")
    async with page.expect_websocket() as info:
        reply = page.evaluate(
            f"new Promise(r => {{ const s = new WebSocket('{env.urls.ws}'); s.onopen = () => s.send('ping'); "
            "s.onmessage = e => { r(e.data); s.close(); }; })"
        )
        got = await reply
    ws = await info.value
    return {"reply": got, "url": ws.url, "frames": frames}


@scenario
async def route_web_socket_mock(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)

    def handler(ws: WebSocketRoute) -> None:
        ws.on_message(lambda message: ws.send(f"mocked:{message!s}"))

    await page.route_web_socket(env.urls.ws, handler)
    await page.goto(env.site + "/page/wsmock")
    return await page.evaluate(
        f"new Promise(r => {{ const s = new WebSocket('{env.urls.ws}'); s.onopen = () => s.send('hi'); "
        "s.onmessage = e => r(e.data); })"
    )


@scenario
async def offline_mode(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    page = await context.new_page()
    await page.goto(env.site + "/page/online")
    await context.set_offline(True)
    offline = await page.evaluate("Promise.all([navigator.onLine, fetch('/echo').then(() => 'ok', e => e.name)])")
    await context.set_offline(False)
    online = await page.evaluate("fetch('/echo').then(r => r.status, e => e.name)")
    return {"offline": offline, "online_again": online}


@scenario
async def large_response_body(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/page/large")
    async with page.expect_response("**/big") as info:
        await page.evaluate("fetch('/big').then(r => r.text()).then(t => t.length)")
    response = await info.value
    body = await response.body()
    return {"len": len(body), "first": body[:3].decode()}


@scenario
async def subresource_failure_event(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    failed: list[list[str | None]] = []
    page.on("requestfailed", lambda request: failed.append([request.url, request.failure]))
    await page.goto(env.site + "/page/sub")
    await page.evaluate(f"fetch('{env.urls.closed}x').catch(() => null)")
    await page.wait_for_timeout(200)
    return {"failed": failed}


@scenario
async def context_proxy(browser: Browser, env: Env) -> Json:
    """A client-made context with its own proxy (how Playwright also implements client certificates).

    The loopback site answers as the proxy, so a name nobody resolves never leaves this machine.
    """
    context = await env.new_context(browser, proxy={"server": env.site})
    page = await context.new_page()
    response = await page.goto("http://fidelity-proxied.test/page/x")
    assert response is not None
    return {
        "title": await page.title(),
        "via": await response.header_value("via"),
        "text": await page.inner_text("#via"),
    }


@scenario
async def har_recording(browser: Browser, env: Env) -> Json:
    har = env.tmp / "run.har"
    context = await env.new_context(browser, record_har_path=str(har))
    page = await context.new_page()
    await page.goto(env.site + "/page/har")
    await page.evaluate("fetch('/echo')")
    await context.close()
    entries = json.loads(har.read_text())["log"]["entries"]
    return {"entries": [[e["request"]["method"], e["request"]["url"], e["response"]["status"]] for e in entries]}
