"""Driving a session with real Playwright and Puppeteer clients over its CDP websocket."""

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from orchestrator.config import Settings
from tests.conftest import Daemon, serve_daemon
from tests.support import eventually, repo_root

SESSIONS = "/v1/browser/sessions/"


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


async def _session(daemon: Daemon, headers: dict[str, str], **body: object) -> dict:
    created = await daemon.create(headers, **body)
    marker = f"marker-{created['session_id'][:8]}"
    await daemon.client.post(
        f"{SESSIONS}{created['session_id']}/evaluate",
        json={"expression": f"window.__browserpoolMarker = '{marker}'"},
        headers=headers,
    )
    return {**created, "marker": marker, "owner": headers}


async def test_playwright_sees_exactly_the_sessions_context_and_page(served: Daemon, site: str) -> None:
    me = await served.user()
    session = await _session(served, me, viewport_width=900, viewport_height=650, user_agent="PoolTester/1")
    await _session(served, await served.user())  # another user's session in the same Chromium
    assert session["cdp_url"].startswith("ws://127.0.0.1:")

    async with async_playwright() as p:
        browser = await p.chromium.connect_over_cdp(session["cdp_url"])
        assert len(browser.contexts) == 1
        context = browser.contexts[0]
        assert len(context.pages) == 1
        page = context.pages[0]
        assert await page.evaluate("window.__browserpoolMarker") == session["marker"]

        await page.goto(site + "/")
        assert await page.title() == "browserpool test page"
        assert await page.evaluate("[innerWidth, innerHeight, navigator.userAgent]") == [900, 650, "PoolTester/1"]
        png = await page.screenshot()
        assert png[:4] == b"\x89PNG"
        extra = await context.new_page()
        await extra.goto(site + "/other")
        assert await extra.title() == "other page"
        assert len(context.pages) == 2
        await browser.close()  # a CDP client's close only disconnects

    status = (await served.client.get(SESSIONS + session["session_id"], headers=me)).json()["status"]
    assert status == "active"
    held = served.worker.held(session["session_id"])
    assert len(held.context.pages) == 2  # the page the client opened lives in the session's context


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_puppeteer_sees_only_the_sessions_pages(served: Daemon, site: str) -> None:
    script = repo_root() / "tests" / "node" / "puppeteer_client.mjs"
    assert (repo_root() / "tests" / "node" / "node_modules" / "puppeteer-core").exists(), "run make setup"
    me = await served.user()
    session = await _session(served, me, viewport_width=700, viewport_height=500, user_agent="PuppetTester/2")
    await _session(served, await served.user())

    process = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        session["cdp_url"],
        site + "/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=script.parent,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    seen = json.loads(out)
    assert seen["pagesBefore"] == 1
    assert seen["marker"] == session["marker"]
    assert seen["seen"] == [700, 500, "PuppetTester/2", "browserpool test page"]
    assert seen["screenshotBytes"] > 1000
    assert seen["pagesAfter"] == 2
    held = served.worker.held(session["session_id"])
    assert len(held.context.pages) == 2  # browser.newPage() landed in the session's context


class RawCdp:
    """A bare CDP client, for what real clients would never send."""

    def __init__(self, socket) -> None:  # type: ignore[no-untyped-def]
        self.socket = socket
        self.next_id = 0
        self.events: list[dict] = []

    async def call(self, method: str, params: dict | None = None, session_id: str | None = None) -> dict:
        self.next_id += 1
        message: dict = {"id": self.next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        await self.socket.send(json.dumps(message))
        return await self.answer(self.next_id)

    async def answer(self, message_id: int | None) -> dict:
        for early in self.events:
            if "id" in early and early["id"] == message_id:
                self.events.remove(early)
                return early
        while True:
            reply = json.loads(await asyncio.wait_for(self.socket.recv(), timeout=10))
            if "id" in reply and reply["id"] == message_id:
                return reply
            self.events.append(reply)


async def test_escape_attempts_fail_and_the_other_session_keeps_working(served: Daemon) -> None:
    alice, bob = await served.user(), await served.user()
    mine = await _session(served, alice)
    theirs = await _session(served, bob)
    my_context, my_target = await served.chromium_ids(mine["session_id"])
    their_context, their_target = await served.chromium_ids(theirs["session_id"])
    assert my_context != their_context

    async with connect(mine["cdp_url"]) as socket:
        cdp = RawCdp(socket)
        contexts = await cdp.call("Target.getBrowserContexts")
        assert contexts["result"]["browserContextIds"] == []  # its own context plays the default: not listed
        targets = (await cdp.call("Target.getTargets"))["result"]["targetInfos"]
        assert [t["targetId"] for t in targets] == [my_target]

        refused = [
            ("Target.attachToTarget", {"targetId": their_target, "flatten": True}),
            ("Target.activateTarget", {"targetId": their_target}),
            ("Target.closeTarget", {"targetId": their_target}),
            ("Target.getTargetInfo", {"targetId": their_target}),
            ("Target.disposeBrowserContext", {"browserContextId": their_context}),
            ("Target.disposeBrowserContext", {"browserContextId": my_context}),
            ("Target.createTarget", {"url": "about:blank", "browserContextId": their_context}),
            ("Target.sendMessageToTarget", {"message": "{}", "targetId": their_target}),
            ("Browser.crash", {}),
            ("Storage.getCookies", {"browserContextId": their_context}),
            ("Browser.setDownloadBehavior", {"behavior": "allow", "browserContextId": their_context}),
            ("SystemInfo.getProcessInfo", {}),
            ("Runtime.evaluate", {"expression": "1"}),  # no page at browser level: refused, not crashed
        ]
        for method, params in refused:
            reply = await cdp.call(method, params)
            assert "error" in reply, (method, reply)
        forged = await cdp.call("Runtime.evaluate", {"expression": "1"}, session_id="not-attached")
        assert "error" in forged

        # auto-attach shows our page only, and a page the other user opens meanwhile is not held paused
        await cdp.call("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True})
        await served.client.post(SESSIONS, json={}, headers=bob)
        attached = await cdp.call("Target.attachToTarget", {"targetId": my_target, "flatten": True})
        child = attached["result"]["sessionId"]
        value = await cdp.call(
            "Runtime.evaluate", {"expression": "window.__browserpoolMarker", "returnByValue": True}, session_id=child
        )
        assert value["result"]["result"]["value"] == mine["marker"]
        await asyncio.sleep(0.5)
        seen_targets = {
            e["params"]["targetInfo"]["targetId"] for e in cdp.events if e.get("method") == "Target.attachedToTarget"
        }
        assert seen_targets <= {my_target}

    for session, who in ((theirs, bob), (mine, alice)):
        check = await served.client.post(
            f"{SESSIONS}{session['session_id']}/evaluate",
            json={"expression": "window.__browserpoolMarker"},
            headers=who,
        )
        assert check.json() == {"result": session["marker"]}
    listed = (await served.client.get(SESSIONS, headers=bob)).json()
    assert listed["total_count"] == 2  # the new page bob opened meanwhile was not held paused or closed


async def test_garbage_gets_errors_or_a_closed_socket_and_harms_nobody(served: Daemon) -> None:
    me = await served.user()
    session = await _session(served, me)
    other = await _session(served, await served.user())
    async with connect(session["cdp_url"], max_size=None) as socket:
        cdp = RawCdp(socket)
        await socket.send("this is not json")
        assert (await cdp.answer(None))["error"]["code"] == -32700
        await socket.send("[1, 2, 3]")
        assert "error" in await cdp.answer(None)
        await socket.send(json.dumps({"id": "x", "method": "Browser.getVersion"}))
        assert "error" in await cdp.answer(None)
        assert "error" in await cdp.call("No.suchMethod")
        # ids out of order and reused still get their own answers
        await socket.send(json.dumps({"id": 500, "method": "Browser.getVersion"}))
        await socket.send(json.dumps({"id": 7, "method": "Target.getBrowserContexts"}))
        assert "product" in (await cdp.answer(500))["result"]
        assert "browserContextIds" in (await cdp.answer(7))["result"]

    async with connect(session["cdp_url"], max_size=None) as socket:
        await socket.send("x" * (20 * 1024 * 1024))
        with pytest.raises(ConnectionClosed):
            for _ in range(10):
                await asyncio.wait_for(socket.recv(), timeout=10)

    assert (await served.client.get(SESSIONS + session["session_id"], headers=me)).json()["status"] == "active"
    check = await served.client.post(
        f"{SESSIONS}{other['session_id']}/evaluate",
        json={"expression": "window.__browserpoolMarker"},
        headers=other["owner"],
    )
    assert check.json() == {"result": other["marker"]}
    assert (await served.client.get("/readyz")).status_code == 200
    async with connect(session["cdp_url"]) as socket:  # still serving
        assert "result" in await RawCdp(socket).call("Browser.getVersion")


async def test_delete_closes_the_socket_and_reconnecting_to_a_live_session_works(served: Daemon) -> None:
    me = await served.user()
    session = await _session(served, me)
    async with connect(session["cdp_url"]) as socket:
        assert "result" in await RawCdp(socket).call("Browser.getVersion")
    async with connect(session["cdp_url"]) as socket:  # reconnect after a disconnect
        assert "result" in await RawCdp(socket).call("Browser.getVersion")
        await served.client.delete(SESSIONS + session["session_id"], headers=me)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), timeout=5)
        assert "closed" in (closed.value.rcvd.reason if closed.value.rcvd else "")
    with pytest.raises(InvalidStatus) as refused:
        async with connect(session["cdp_url"]):
            pass
    assert refused.value.response.status_code == 410


async def test_the_socket_wants_the_right_credential(served: Daemon) -> None:
    alice, bob = await served.user(), await served.user()
    session = await _session(served, alice)
    base = session["cdp_url"].split("?")[0]
    cases = [
        (base, {}, 401),
        (base + "?token=wrong", {}, 401),
        (base, {"X-API-Key": "bp_nope_nope"}, 401),
        (base, bob, 404),
        (base.replace(session["session_id"], "0" * 32), alice, 404),
    ]
    for url, headers, status in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == status, (url, headers)
    async with connect(base, additional_headers=alice) as socket:  # the owner's own key works too
        assert "result" in await RawCdp(socket).call("Browser.getVersion")


async def test_cdp_traffic_moves_last_activity(served: Daemon) -> None:
    me = await served.user()
    session = await _session(served, me)
    before = (await served.client.get(SESSIONS + session["session_id"], headers=me)).json()["last_activity"]
    await asyncio.sleep(1.1)
    async with connect(session["cdp_url"]) as socket:
        await RawCdp(socket).call("Browser.getVersion")
    after = (await served.client.get(SESSIONS + session["session_id"], headers=me)).json()["last_activity"]
    assert after > before


async def test_contexts_a_client_creates_are_disposed_with_the_session(served: Daemon) -> None:
    me = await served.user()
    session = await _session(served, me)
    slot = served.worker.browsers()[0]
    async with async_playwright() as p:  # Playwright's own new_context works through the relay
        browser = await p.chromium.connect_over_cdp(session["cdp_url"])
        page = await (await browser.new_context(viewport={"width": 400, "height": 300})).new_page()
        assert await page.evaluate("innerWidth") == 400
        await browser.close()

    async with connect(session["cdp_url"]) as socket:  # a client that leaves one behind
        cdp = RawCdp(socket)
        created = (await cdp.call("Target.createBrowserContext"))["result"]["browserContextId"]
        target = await cdp.call("Target.createTarget", {"url": "about:blank", "browserContextId": created})
        assert "targetId" in target["result"]
        listed = (await cdp.call("Target.getBrowserContexts"))["result"]["browserContextIds"]
        assert created in listed
    extra = set(served.worker.held(session["session_id"]).extra_contexts)
    assert created in extra

    async def contexts() -> list[str]:
        return list((await slot.browser_cdp_send("Target.getBrowserContexts", {}))["browserContextIds"])

    assert created in await contexts()  # disconnecting leaves it: it belongs to the session
    await served.client.delete(SESSIONS + session["session_id"], headers=me)

    async def gone() -> bool:
        return not extra & set(await contexts())

    await eventually(gone, timeout=5)


def test_node_client_script_is_present() -> None:
    assert Path(repo_root() / "tests" / "node" / "puppeteer_client.mjs").exists()


async def test_a_page_the_client_closed_gives_its_place_to_a_survivor_then_to_a_fresh_page(
    served: Daemon, site: str
) -> None:
    """Before: a client that closed the session's first page (a WebDriver user closing a window) left the session
    `active` with every REST action failing "Target page, context or browser has been closed"."""
    me = await served.user()
    session = await served.create(me)
    sid = session["session_id"]
    actions = f"/v1/browser/sessions/{sid}"
    async with async_playwright() as p:
        browser = await p.chromium.connect_over_cdp(session["cdp_url"])
        context = browser.contexts[0]
        first = context.pages[0]
        survivor = await context.new_page()
        await survivor.goto(site + "/")
        await first.close()
        read = await served.client.post(f"{actions}/evaluate", json={"expression": "location.href"}, headers=me)
        assert read.status_code == 200, read.text
        assert read.json()["result"] == site + "/"  # the page still open took the first one's place
        await survivor.close()
        assert context.pages == []  # no page the client did not ask for, until the session is used again
        went = await served.client.post(f"{actions}/navigate", json={"url": site + "/"}, headers=me)
        assert went.status_code == 200, went.text
        assert went.json()["title"] == "browserpool test page"
        await eventually(lambda: asyncio.sleep(0, len(context.pages) == 1))  # the client sees the fresh page
        assert await context.pages[0].evaluate("location.href") == site + "/"
        await browser.close()
