"""Loopback DevTools discovery shim in front of a browserpool session's cdp_url.

Usage: shim.py PORT CDP_URL LOGFILE
Env:   SHIM_VARIANT   full (default) | no_ws_url | no_browser | minimal | empty_list
       SHIM_LOG_PARAMS=1 to log params/results (truncated)

Logs JSON lines: {"t","kind": http|cdp|ws|mark, ...}
GET /__mark?name=X sets the current scenario tag (for per-scenario CDP method lists).
"""
import asyncio
import itertools
import json
import os
import sys
import time

import aiohttp
from aiohttp import web

PORT = int(sys.argv[1])
CDP_URL = sys.argv[2]
LOGFILE = sys.argv[3]
VARIANT = os.environ.get("SHIM_VARIANT", "full")
LOG_PARAMS = os.environ.get("SHIM_LOG_PARAMS") == "1"
BROWSER_ID = "research24-browser"
STATE = {"scenario": "startup"}
LOG = open(LOGFILE, "a", buffering=1)
conn_ids = itertools.count(1)


def log(**kw):
    kw["t"] = round(time.time(), 4)
    kw["scenario"] = STATE["scenario"]
    LOG.write(json.dumps(kw) + "\n")


async def cdp_call(method, params=None):
    """One-shot call over a fresh relay connection (used for discovery answers)."""
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(CDP_URL, max_msg_size=0) as ws:
            await ws.send_json({"id": 1, "method": method, "params": params or {}})
            async for msg in ws:
                d = json.loads(msg.data)
                if d.get("id") == 1:
                    return d


def ws_base(request):
    return f"127.0.0.1:{PORT}"


async def json_version(request):
    log(kind="http", method=request.method, path=request.path_qs, headers=dict(request.headers))
    v = (await cdp_call("Browser.getVersion")).get("result", {})
    body = {
        "Browser": v.get("product", "HeadlessChrome/156"),
        "Protocol-Version": v.get("protocolVersion", "1.3"),
        "User-Agent": v.get("userAgent", ""),
        "V8-Version": v.get("jsVersion", ""),
        "WebKit-Version": os.environ.get("SHIM_WEBKIT") or f"537.36 ({v.get('revision', '')})",
        "File-Path-Style": "posix",
        "webSocketDebuggerUrl": f"ws://{ws_base(request)}/devtools/browser/{BROWSER_ID}",
    }
    if VARIANT == "no_ws_url":
        body.pop("webSocketDebuggerUrl")
    if VARIANT == "ws_query":
        body["webSocketDebuggerUrl"] += "?token=abc123"
    if VARIANT == "ws_localhost":
        body["webSocketDebuggerUrl"] = body["webSocketDebuggerUrl"].replace("127.0.0.1", "localhost")
    if VARIANT == "ws_otherport":
        body["webSocketDebuggerUrl"] = body["webSocketDebuggerUrl"].replace(str(PORT), os.environ.get("SHIM_ALT_PORT", "1"))
    if VARIANT == "no_webkit":
        body.pop("WebKit-Version")
    if VARIANT == "no_browser":
        body.pop("Browser")
    if VARIANT == "minimal":
        body = {"webSocketDebuggerUrl": body["webSocketDebuggerUrl"]}
    log(kind="http_answer", path=request.path, body=body)
    return web.json_response(body)


async def json_list(request):
    log(kind="http", method=request.method, path=request.path_qs, headers=dict(request.headers))
    if VARIANT == "list_404":
        return web.Response(status=404, text="nope")
    r = await cdp_call("Target.getTargets")
    infos = r.get("result", {}).get("targetInfos", [])
    out = []
    if VARIANT != "empty_list":
        for ti in infos:
            if ti.get("type") not in ("page", "iframe", "worker", "service_worker", "shared_worker", "other", "webview", "background_page"):
                continue
            out.append({
                "description": "",
                "devtoolsFrontendUrl": "",
                "id": ti["targetId"],
                "title": ti.get("title", ""),
                "type": ti.get("type"),
                "url": ti.get("url", ""),
                "webSocketDebuggerUrl": f"ws://{ws_base(request)}/devtools/page/{ti['targetId']}",
            })
    log(kind="http_answer", path=request.path, body=out, raw_error=r.get("error"))
    return web.json_response(out)


async def mark(request):
    STATE["scenario"] = request.query.get("name", "?")
    log(kind="mark")
    return web.Response(text="ok")


def summarize(d, direction, pending, cid):
    e = {"kind": "cdp", "conn": cid, "dir": direction}
    if "id" in d:
        e["id"] = d["id"]
    if "method" in d:
        e["method"] = d["method"]
    if "sessionId" in d:
        e["sid"] = d["sessionId"][:8]
    if direction == "c2b" and "id" in d:
        pending[(d.get("sessionId"), d["id"])] = d.get("method")
        if LOG_PARAMS or d.get("method") in ("Target.setAutoAttach", "Target.createTarget", "Target.attachToTarget", "Target.setDiscoverTargets", "Browser.setDownloadBehavior", "Target.closeTarget", "Browser.getWindowForTarget", "Browser.setWindowBounds", "Page.navigate", "Target.createBrowserContext"):
            e["params"] = json.dumps(d.get("params", {}))[:400]
    if direction == "b2c" and "id" in d:
        e["for"] = pending.pop((d.get("sessionId"), d["id"]), None)
        if "error" in d:
            e["error"] = d["error"]
        elif LOG_PARAMS:
            e["result"] = json.dumps(d.get("result"))[:300]
    if direction == "b2c" and "method" in d and d["method"] in ("Target.targetCreated", "Target.attachedToTarget", "Target.targetDestroyed", "Target.detachedFromTarget", "Inspector.detached", "Target.targetCrashed"):
        e["params"] = json.dumps(d.get("params", {}))[:300]
    return e


async def ws_relay(request):
    cid = next(conn_ids)
    log(kind="http", method=request.method, path=request.path_qs, headers=dict(request.headers), conn=cid)
    if not request.path.startswith("/devtools/browser/"):
        log(kind="ws", event="refused_non_browser_ws", conn=cid, path=request.path)
        return web.Response(status=404, text="only the browser websocket is served")
    client = web.WebSocketResponse(max_msg_size=0, autoping=True)
    await client.prepare(request)
    log(kind="ws", event="client_open", conn=cid)
    pending = {}
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(CDP_URL, max_msg_size=0) as up:
            log(kind="ws", event="upstream_open", conn=cid)

            async def pump(source, sink, direction, side):
                async for msg in source:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        log(**summarize(json.loads(msg.data), direction, pending, cid))
                        await sink.send_str(msg.data)
                    else:
                        log(kind="ws", event=f"{side}_msg_type", type=str(msg.type), conn=cid)
                reason = str(getattr(source, "_close_message", "") or "")
                log(kind="ws", event=f"{side}_closed", code=source.close_code, reason=reason, conn=cid)
                await sink.close()

            await asyncio.gather(pump(client, up, "c2b", "client"), pump(up, client, "b2c", "upstream"), return_exceptions=True)
    log(kind="ws", event="done", conn=cid)
    return client


async def catch_all(request):
    body = await request.read()
    log(kind="http", method=request.method, path=request.path_qs, headers=dict(request.headers), body=body[:200].decode("latin1"), unknown=True)
    return web.Response(status=404, text="not served by shim")


def main():
    app = web.Application()
    app.router.add_get("/__mark", mark)
    app.router.add_route("*", "/json/version", json_version)
    app.router.add_route("*", "/json/version/", json_version)
    app.router.add_route("*", "/json/list", json_list)
    app.router.add_route("*", "/json/list/", json_list)
    app.router.add_route("*", "/json", json_list)
    app.router.add_route("*", "/json/", json_list)
    app.router.add_get("/devtools/{tail:.*}", ws_relay)
    app.router.add_route("*", "/{tail:.*}", catch_all)
    log(kind="start", variant=VARIANT, port=PORT)
    web.run_app(app, host="127.0.0.1", port=PORT, print=None, access_log=None)


if __name__ == "__main__":
    main()
