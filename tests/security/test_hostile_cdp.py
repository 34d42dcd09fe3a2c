"""A hostile tenant with nothing but their own session's cdp_url, against a real daemon and real Chromium.

Each test tries what the CDP policy table (workers/cdp/policy.py) closes, through a raw websocket the
way an attacker would, and checks what they would really get: the bytes of a host file, another
session's URL in a trace, another session's targets. The honest calls the table scopes instead of
refusing (window bounds, browser-level sessions, page cookies, Playwright's browser CDP session) are
checked to work through the same relay.
"""

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import FilePayload, async_playwright
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Daemon, make_settings, serve_daemon

SESSIONS = "/v1/browser/sessions/"
REFUSAL = re.compile(r"^(?P<method>[A-Za-z]+\.[A-Za-z]+) is refused by browserpool for isolation: ")


@pytest.fixture
async def served(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    settings = make_settings(redis_url, prefix, tmp_path, warm_contexts=0)  # only the tests change the contexts
    async with serve_daemon(settings) as daemon:
        yield daemon


class Cdp:
    """A raw CDP client that keeps every message it receives (what an attacker would get to read)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.received: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator["Cdp"]:
        async with connect(url, max_size=None) as socket:
            cdp = cls(socket)
            try:
                yield cdp
            finally:
                cdp._reader.cancel()
                await asyncio.gather(cdp._reader, return_exceptions=True)

    async def _read(self) -> None:
        async for raw in self.socket:
            self.received.append(str(raw))
            message = json.loads(raw)
            waiter = self._waiting.get(message.get("id")) if "id" in message else None
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            else:
                self.events.append(message)

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._waiting[self._next_id] = asyncio.get_running_loop().create_future()
        await self.socket.send(json.dumps(message))
        return self._next_id

    async def reply(self, message_id: int) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self._waiting[message_id], timeout=15)
        finally:
            del self._waiting[message_id]

    async def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict:
        return await self.reply(await self.send(method, params, session))

    async def ok(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict:
        answer = await self.call(method, params, session)
        assert "result" in answer, (method, answer)
        return dict(answer["result"])

    async def refused(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> str:
        answer = await self.call(method, params, session)
        assert "error" in answer, (method, answer)
        assert answer["error"]["code"] == -32000
        text = str(answer["error"]["message"])
        match = REFUSAL.match(text)
        assert match and match["method"] == method, text
        return text

    async def page_session(self) -> tuple[str, str]:
        """(targetId, sessionId) of the session's page, attached the way Playwright does (flat)."""
        pages = [t for t in (await self.ok("Target.getTargets"))["targetInfos"] if t["type"] == "page"]
        target = pages[0]["targetId"]
        session = (await self.ok("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        return target, session

    async def evaluate(self, expression: str, session: str) -> Any:
        answer = await self.ok(
            "Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True}, session
        )
        assert "exceptionDetails" not in answer, (expression, answer["exceptionDetails"])
        return answer["result"].get("value")


FILE_INPUT = """
document.body.innerHTML = '<input type=file id=f multiple style="width:300px;height:80px">';
window.__dropped = [];
const f = document.getElementById('f');
f.addEventListener('dragover', e => e.preventDefault());
f.addEventListener('drop', async e => {
  e.preventDefault();
  for (const file of e.dataTransfer.files) window.__dropped.push(await file.text());
});
true
"""
READ_INPUT = "Promise.all([...document.getElementById('f').files].map(f => f.text()))"
DROPPED = """new Promise(done => {  // what the drop handler read, once it has (or after a second: nothing came)
  const until = Date.now() + 1000;
  const poll = () => window.__dropped.length || Date.now() > until ? done(window.__dropped) : setTimeout(poll, 20);
  poll();
})"""


async def _file_input(cdp: Cdp, session: str) -> int:
    await cdp.evaluate(FILE_INPUT, session)
    root = (await cdp.ok("DOM.getDocument", {}, session))["root"]["nodeId"]
    return int((await cdp.ok("DOM.querySelector", {"nodeId": root, "selector": "#f"}, session))["nodeId"])


async def _drop(cdp: Cdp, session: str, files: list[str]) -> dict[str, Any]:
    """Drag `files` onto the input and drop them (the last answer: the drop's)."""
    data = {"items": [], "files": files, "dragOperationsMask": 1}
    answer: dict[str, Any] = {}
    for kind in ("dragEnter", "dragOver", "drop"):
        answer = await cdp.call("Input.dispatchDragEvent", {"type": kind, "x": 20, "y": 20, "data": data}, session)
        if "error" in answer:
            return answer
    return answer


async def test_host_files_stay_unreadable_and_the_sessions_own_directory_works(served: Daemon, tmp_path: Path) -> None:
    canary_bytes = f"CANARY-{uuid.uuid4().hex}"
    canary = tmp_path / "canary.txt"
    canary.write_text(canary_bytes)  # readable by the daemon's user, as the daemon's own files are
    session = await served.create(await served.user())
    async with Cdp.open(session["cdp_url"]) as cdp:
        _, page = await cdp.page_session()
        node = await _file_input(cdp, page)

        error = await cdp.refused("DOM.setFileInputFiles", {"nodeId": node, "files": [str(canary)]}, page)
        assert "session's own directory" in error and "Upload it into the session first" in error
        own_dir = Path(served.worker.browsers()[0].session_dir(session["session_id"]))
        assert str(own_dir) not in error  # the refusal does not tell a tenant the host's layout
        assert await cdp.evaluate(READ_INPUT, page) == []
        assert (await _drop(cdp, page, [str(canary)]))["error"]["code"] == -32000
        assert await cdp.evaluate(DROPPED, page) == []

        link = own_dir / "innocent.txt"
        link.symlink_to(canary)  # a symlink inside the session's directory, pointing outside it
        await cdp.refused("DOM.setFileInputFiles", {"nodeId": node, "files": [str(link)]}, page)
        assert (await _drop(cdp, page, [str(link)]))["error"]["code"] == -32000
        assert await cdp.evaluate(READ_INPUT, page) == []

        upload = own_dir / "upload.txt"
        upload.write_text("my own upload")
        await cdp.ok("DOM.setFileInputFiles", {"nodeId": node, "files": [str(upload)]}, page)
        assert await cdp.evaluate(READ_INPUT, page) == ["my own upload"]
        assert "result" in await _drop(cdp, page, [str(upload)])
        assert await cdp.evaluate(DROPPED, page) == ["my own upload"]
        assert all(canary_bytes not in raw for raw in cdp.received)


async def test_playwright_uploads_send_contents_and_host_paths_are_refused(served: Daemon, tmp_path: Path) -> None:
    client_file = tmp_path / "client-file.txt"
    client_file.write_text(f"the client's own file {uuid.uuid4().hex}")
    session = await served.create(await served.user())
    async with async_playwright() as p:
        # By default Playwright treats a cdp_url's browser as remote: it reads the file itself and sends the bytes.
        browser = await p.chromium.connect_over_cdp(session["cdp_url"])
        page = browser.contexts[0].pages[0]
        await page.set_content("<input type=file id=f>")
        await page.set_input_files("#f", str(client_file))
        assert await page.evaluate("document.getElementById('f').files[0].text()") == client_file.read_text()
        payload: FilePayload = {"name": "note.txt", "mimeType": "text/plain", "buffer": b"sent by value"}
        await page.set_input_files("#f", files=[payload])
        assert await page.evaluate("document.getElementById('f').files[0].text()") == "sent by value"
        await browser.close()
        # Told the browser is local, Playwright sends the host path: the browser would read it, so it is refused.
        local = await p.chromium.connect_over_cdp(session["cdp_url"], is_local=True)
        page = local.contexts[0].pages[0]
        await page.set_content("<input type=file id=f>")
        element = await page.query_selector("#f")
        assert element is not None
        with pytest.raises(Exception, match="refused by browserpool for isolation"):
            await element.set_input_files(str(client_file), timeout=5000)  # (a locator retries until its timeout)
        assert await page.evaluate("document.getElementById('f').files.length") == 0
        await local.close()


async def test_tracing_is_refused_everywhere_and_shows_nothing_of_another_session(served: Daemon, site: str) -> None:
    mine = await served.create(await served.user())
    bob = await served.user()
    theirs = await served.create(bob)
    secret_path = f"/tenant-b-{uuid.uuid4().hex}"
    categories = "devtools.timeline,disabled-by-default-devtools.timeline,loading,navigation,blink.user_timing"
    async with Cdp.open(mine["cdp_url"]) as cdp:
        _, page = await cdp.page_session()
        channels: list[str | None] = [page, None]
        starts = [await cdp.call("Tracing.start", {"categories": categories}, channel) for channel in channels]
        navigated = await served.client.post(
            f"{SESSIONS}{theirs['session_id']}/navigate", json={"url": site + secret_path}, headers=bob
        )
        assert navigated.status_code == 200, navigated.text  # the other session really browsed there
        await asyncio.sleep(1.0)
        ends = [await cdp.call("Tracing.end", {}, channel) for channel in channels]
        await asyncio.sleep(1.0)  # time for a trace's data to arrive, had one been recorded
        assert all(secret_path not in raw for raw in cdp.received)  # nothing of the other session's browsing
        assert not [e for e in cdp.events if e.get("method", "").startswith("Tracing.")]
        for answer in (*starts, *ends):
            assert "refused by browserpool for isolation" in answer["error"]["message"], answer
        assert "context.tracing.start()" in starts[0]["error"]["message"]  # and what works instead
        browser_session = (await cdp.ok("Target.attachToBrowserTarget"))["sessionId"]
        await cdp.refused("Tracing.start", {"categories": categories}, browser_session)
        for handle in ("1", "2", "3"):  # a stream of someone else's trace, guessed
            await cdp.refused("IO.read", {"handle": handle}, None)


async def test_window_calls_work_for_our_targets_only_and_refusals_never_close_the_socket(served: Daemon) -> None:
    mine = await served.create(await served.user())
    theirs = await served.create(await served.user())
    _, their_target = await served.chromium_ids(theirs["session_id"])
    slot = served.worker.browsers()[0]
    their_window = (await slot.browser_cdp_send("Browser.getWindowForTarget", {"targetId": their_target}))["windowId"]
    their_bounds = (await slot.browser_cdp_send("Browser.getWindowBounds", {"windowId": their_window}))["bounds"]
    async with Cdp.open(mine["cdp_url"]) as cdp:
        my_target, page = await cdp.page_session()
        window = (await cdp.ok("Browser.getWindowForTarget", {}, page))["windowId"]  # what Playwright sends
        assert (await cdp.ok("Browser.getWindowForTarget", {"targetId": my_target}))["windowId"] == window
        await cdp.ok("Browser.setWindowBounds", {"windowId": window, "bounds": {"width": 640, "height": 480}})
        assert (await cdp.ok("Browser.getWindowBounds", {"windowId": window}, page))["bounds"]["width"] == 640
        assert their_window != window
        for _ in range(200):
            await cdp.refused("Browser.getWindowForTarget", {"targetId": their_target})
        await cdp.refused("Browser.setWindowBounds", {"windowId": their_window, "bounds": {"width": 200}}, page)
        assert "product" in await cdp.ok("Browser.getVersion")  # still open after 200 refusals
    after = (await slot.browser_cdp_send("Browser.getWindowBounds", {"windowId": their_window}))["bounds"]
    assert after == their_bounds


async def test_a_browser_level_session_sees_only_our_targets(served: Daemon) -> None:
    mine = await served.create(await served.user())
    theirs = await served.create(await served.user())
    _, their_target = await served.chromium_ids(theirs["session_id"])
    everything = await served.worker.browsers()[0].browser_cdp_send("Target.getTargets", {})
    assert their_target in {t["targetId"] for t in everything["targetInfos"]}
    async with Cdp.open(mine["cdp_url"]) as cdp:
        browser_session = (await cdp.ok("Target.attachToBrowserTarget"))["sessionId"]
        seen = (await cdp.ok("Target.getTargets", {}, browser_session))["targetInfos"]
        assert seen and their_target not in {t["targetId"] for t in seen}
        await cdp.refused("Target.attachToTarget", {"targetId": their_target, "flatten": True}, browser_session)
        await cdp.refused("Runtime.evaluate", {"expression": "1"}, browser_session)
        mine_target = seen[0]["targetId"]
        child = (await cdp.ok("Target.attachToTarget", {"targetId": mine_target, "flatten": True}, browser_session))[
            "sessionId"
        ]
        assert await cdp.evaluate("1 + 1", child) == 2
        await cdp.ok("Target.setDiscoverTargets", {"discover": True}, browser_session)
        await served.create(await served.user())  # a third session's page appears meanwhile
        await asyncio.sleep(0.5)
        await cdp.ok("Target.detachFromTarget", {"sessionId": child}, browser_session)
    created = [e for e in cdp.events if e.get("method") == "Target.targetCreated"]
    assert created and {e["params"]["targetInfo"]["browserContextId"] for e in created} == {seen[0]["browserContextId"]}


async def test_cookies_on_a_page_session_are_the_pages_own(served: Daemon, site: str) -> None:
    me, bob = await served.user(), await served.user()
    mine, theirs = await served.create(me), await served.create(bob)
    for session, who, value in ((mine, me, "mine"), (theirs, bob, "theirs")):
        await served.client.post(f"{SESSIONS}{session['session_id']}/navigate", json={"url": site + "/"}, headers=who)
        await served.client.post(
            f"{SESSIONS}{session['session_id']}/evaluate",
            json={"expression": f"document.cookie='tenant={value}'"},
            headers=who,
        )
    async with Cdp.open(mine["cdp_url"]) as cdp:
        _, page = await cdp.page_session()
        cookies = (await cdp.ok("Storage.getCookies", {}, page))["cookies"]
        assert [(c["name"], c["value"]) for c in cookies] == [("tenant", "mine")]
        host = site.split("//")[1].split(":")[0]
        await cdp.ok(
            "Storage.setCookies", {"cookies": [{"name": "added", "value": "1", "domain": host, "path": "/"}]}, page
        )
        assert "added=1" in await cdp.evaluate("document.cookie", page)
        await cdp.ok("Storage.clearCookies", {}, page)
        assert await cdp.evaluate("document.cookie", page) == ""
        their_context, _ = await served.chromium_ids(theirs["session_id"])
        await cdp.refused("Storage.getCookies", {"browserContextId": their_context}, page)
        await cdp.refused("Storage.getCookies", {"browserContextId": their_context})
    check = await served.client.post(
        f"{SESSIONS}{theirs['session_id']}/evaluate", json={"expression": "document.cookie"}, headers=bob
    )
    assert check.json() == {"result": "tenant=theirs"}  # clearing ours left theirs alone


async def test_pipelined_context_creations_stop_at_the_cap(served: Daemon) -> None:
    session = await served.create(await served.user())
    slot = served.worker.browsers()[0]
    before = set((await slot.browser_cdp_send("Target.getBrowserContexts", {}))["browserContextIds"])
    async with Cdp.open(session["cdp_url"]) as cdp:
        sent = [await cdp.send("Target.createBrowserContext", {"disposeOnDetach": False}) for _ in range(30)]
        answers = [await cdp.reply(message_id) for message_id in sent]
        created = [a["result"]["browserContextId"] for a in answers if "result" in a]
        refusals = [a["error"]["message"] for a in answers if "error" in a]
        assert len(created) == 8 and len(refusals) == 22
        assert all("at most 8 extra browser contexts" in text for text in refusals)
        assert "product" in await cdp.ok("Browser.getVersion")
    after = set((await slot.browser_cdp_send("Target.getBrowserContexts", {}))["browserContextIds"])
    assert len(after - before) == 8


async def test_playwright_browser_cdp_session_works_over_connect_over_cdp(served: Daemon, site: str) -> None:
    mine = await served.create(await served.user())
    theirs = await served.create(await served.user())
    _, their_target = await served.chromium_ids(theirs["session_id"])
    async with async_playwright() as p:
        browser = await p.chromium.connect_over_cdp(mine["cdp_url"])
        page = browser.contexts[0].pages[0]
        await page.goto(site + "/")
        browser_cdp = await browser.new_browser_cdp_session()
        assert "product" in await browser_cdp.send("Browser.getVersion")
        targets = (await browser_cdp.send("Target.getTargets"))["targetInfos"]
        assert targets and their_target not in {t["targetId"] for t in targets}
        page_cdp = await browser.contexts[0].new_cdp_session(page)  # attaches through a browser session too
        title = await page_cdp.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True})
        assert title["result"]["value"] == "browserpool test page"
        with pytest.raises(Exception, match="refused by browserpool for isolation"):
            await browser_cdp.send("Tracing.start", {})
        shot = base64.b64decode((await page_cdp.send("Page.captureScreenshot"))["data"])
        assert shot[:4] == b"\x89PNG"
        await browser.close()
