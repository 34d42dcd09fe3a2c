"""A page that stops answering is killed and replaced, and a client's Browser.close ends its session."""

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect

from orchestrator.config import Settings
from orchestrator.worker import CdpMode
from tests.conftest import Daemon, make_settings, serve_daemon
from tests.support import eventually, repo_root
from workers.cdp.scope import CdpScope

SESSIONS = "/v1/browser/sessions/"
HANG_TIMEOUT = 2.0  # BROWSERPOOL_PAGE_HANG_TIMEOUT for these tests
ACTION_TIMEOUT = 25.0  # far past the hang timeout: an action that waits it out is told apart from a 409
HANG = "setTimeout(() => { while (true) {} }, 50); 'hanging'"


@pytest.fixture
def hang_settings(redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    return make_settings(
        redis_url, prefix, tmp_path, page_hang_timeout=HANG_TIMEOUT, action_timeout=ACTION_TIMEOUT, warm_contexts=0
    )


@pytest.fixture
async def served(hang_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(hang_settings) as daemon:
        yield daemon


async def _events(client: httpx.AsyncClient, headers: dict[str, str], into: list[dict[str, Any]]) -> None:
    """Read the caller's events into `into` until cancelled (or the daemon stops)."""
    with contextlib.suppress(httpx.HTTPError):
        async with client.stream("GET", SESSIONS + "events", headers=headers, timeout=120) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    into.append(json.loads(line.removeprefix("data: ")))


async def _evaluate(daemon: Daemon, session_id: str, headers: dict[str, str], expression: str) -> httpx.Response:
    return await daemon.client.post(
        f"{SESSIONS}{session_id}/evaluate", json={"expression": expression}, headers=headers
    )


async def test_a_hung_page_fails_actions_fast_is_reported_killed_and_replaced(served: Daemon, site: str) -> None:
    """Before: every action waited out its own timeout (504), and the session stayed useless until deleted."""
    me, other = await served.user(), await served.user()
    session = (await served.create(me))["session_id"]
    theirs = (await served.create(other))["session_id"]  # another tenant's session in the same Chromium
    seen: list[dict[str, Any]] = []
    reader = asyncio.create_task(_events(served.client, me, seen))
    await asyncio.sleep(0.3)
    goto = await served.client.post(f"{SESSIONS}{session}/navigate", json={"url": site + "/"}, headers=me)
    assert goto.status_code == 200, goto.text

    assert (await _evaluate(served, session, me, HANG)).json() == {"result": "hanging"}
    await asyncio.sleep(0.3)  # the loop has begun
    started = time.monotonic()
    path = f"{SESSIONS}{session}"
    answers = await asyncio.gather(
        served.client.get(path + "/screenshot", headers=me),
        _evaluate(served, session, me, "document.title"),
        served.client.get(path + "/content", headers=me),
    )
    waited = time.monotonic() - started
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert "not responding (hung since" in answer.json()["detail"]
        assert "being restarted" in answer.json()["detail"]
    assert waited < ACTION_TIMEOUT / 2, waited  # the hang timeout and the restart, not the action timeout

    unresponsive = await eventually(
        lambda: asyncio.sleep(0, [e for e in seen if e["type"] == "page_unresponsive"]), timeout=15
    )
    assert unresponsive[0]["session_id"] == session and unresponsive[0]["status"] == "active"
    assert "did not answer for 2s" in unresponsive[0]["reason"] and "fresh" in unresponsive[0]["reason"]
    assert not [e for e in seen if e["type"] == "ended"]

    detail = (await served.client.get(path, headers=me)).json()
    assert detail["status"] == "active"
    assert (await _evaluate(served, session, me, "[location.href, 6 * 7]")).json() == {"result": ["about:blank", 42]}
    assert (await served.client.get(path + "/screenshot", headers=me)).status_code == 200
    assert (await _evaluate(served, theirs, other, "6 * 7")).json() == {"result": 42}

    # Hung again, a navigation is refused the same way (alone: a navigation in flight changes what else fails).
    assert (await _evaluate(served, session, me, HANG)).json() == {"result": "hanging"}
    await asyncio.sleep(0.3)
    started = time.monotonic()
    navigation = await served.client.post(path + "/navigate", json={"url": site + "/other"}, headers=me)
    assert navigation.status_code == 409, navigation.text
    assert time.monotonic() - started < ACTION_TIMEOUT / 2
    await eventually(lambda: asyncio.sleep(0, len([e for e in seen if e["type"] == "page_unresponsive"]) == 2))
    assert (await _evaluate(served, session, me, "6 * 7")).json() == {"result": 42}

    reader.cancel()
    cdp_url = (await served.client.get(path, headers=me)).json()["cdp_url"]
    async with async_playwright() as p:
        started = time.monotonic()
        browser = await p.chromium.connect_over_cdp(cdp_url, timeout=20_000)
        connected = time.monotonic() - started
        pages = browser.contexts[0].pages
        assert [page.url for page in pages] == ["about:blank"]  # the killed page is gone, the fresh one is there
        await pages[0].goto(site + "/")
        assert await pages[0].title() == "browserpool test page"
        await browser.close()
    assert connected < 5, connected  # the target is 2 s; generous on a shared machine


async def test_a_connect_during_a_hang_succeeds_once_the_page_is_killed(served: Daemon, site: str) -> None:
    """Before: connect_over_cdp waited on the hung page and timed out after 30 s."""
    me = await served.user()
    created = await served.create(me)
    await served.client.post(f"{SESSIONS}{created['session_id']}/navigate", json={"url": site + "/"}, headers=me)
    assert (await _evaluate(served, created["session_id"], me, HANG)).status_code == 200
    await asyncio.sleep(0.5)
    async with async_playwright() as p:
        started = time.monotonic()
        browser = await p.chromium.connect_over_cdp(created["cdp_url"], timeout=20_000)
        connected = time.monotonic() - started
        page = browser.contexts[0].pages[0]  # the session's fresh page, opened before the hung one was killed
        assert page.url == "about:blank" and await page.evaluate("6 * 7") == 42
        await browser.close()
    assert connected < HANG_TIMEOUT + 5, connected
    status = (await served.client.get(SESSIONS + created["session_id"], headers=me)).json()["status"]
    assert status == "active"


async def test_a_page_showing_a_dialog_is_not_hung(served: Daemon, site: str) -> None:
    """An alert holds every answer of its page; that is the client's to close, not a hang to kill."""
    me = await served.user()
    created = await served.create(me)
    session = created["session_id"]
    await served.client.post(f"{SESSIONS}{session}/navigate", json={"url": site + "/"}, headers=me)
    await _evaluate(served, session, me, "window.__kept = 'still here'")
    seen: list[dict[str, Any]] = []
    reader = asyncio.create_task(_events(served.client, me, seen))
    async with connect(created["cdp_url"]) as socket:  # a client drives it: its dialogs stay open for it
        cdp = _Raw(socket)
        targets = (await cdp.call("Target.getTargets"))["targetInfos"]
        attached = await cdp.call("Target.attachToTarget", {"targetId": targets[0]["targetId"], "flatten": True})
        await cdp.call("Page.enable", session_id=attached["sessionId"])
        await _evaluate(served, session, me, "setTimeout(() => alert('hold on'), 50); 1")
        await asyncio.sleep(HANG_TIMEOUT * 2.5)  # the page answers nothing meanwhile
        await cdp.call("Page.handleJavaScriptDialog", {"accept": True}, session_id=attached["sessionId"])
    assert (await _evaluate(served, session, me, "window.__kept")).json() == {"result": "still here"}
    reader.cancel()
    assert not [e for e in seen if e["type"] == "page_unresponsive"]


class _Raw:
    """A bare CDP client: commands and their answers, events skipped."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        await self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if reply.get("id") == self.next_id:
                assert "result" in reply, reply
                return reply["result"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_puppeteer_browser_close_ends_the_session_and_no_one_elses(served: Daemon) -> None:
    """Before: Browser.close was refused, so Puppeteer's browser.close() left the session active (and counted)."""
    script = repo_root() / "tests" / "node" / "puppeteer_close.mjs"
    me, other = await served.user(), await served.user()
    mine = await served.create(me)
    theirs = await served.create(other)
    seen: list[dict[str, Any]] = []
    reader = asyncio.create_task(_events(served.client, me, seen))
    await asyncio.sleep(0.3)

    process = await asyncio.create_subprocess_exec(
        "node", str(script), mine["cdp_url"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=script.parent
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["pages"] == 1 and result["disconnected"] is True

    async def ended() -> dict[str, Any]:
        detail: dict[str, Any] = (await served.client.get(SESSIONS + mine["session_id"], headers=me)).json()
        return detail if detail["status"] == "closed" else {}

    detail = await eventually(ended, timeout=10)
    assert detail["end_reason"] == "client_closed"
    assert (await served.client.get(SESSIONS, headers=me)).json()["total_count"] == 0  # no longer counted
    await eventually(lambda: asyncio.sleep(0, [e for e in seen if e["type"] == "ended"]), timeout=10)
    reader.cancel()
    assert [(e["type"], e["status"], e["reason"]) for e in seen if e["type"] in ("closing", "ended")] == [
        ("closing", "closing", "client_closed"),
        ("ended", "closed", "client_closed"),
    ]
    assert mine["session_id"] not in served.worker.held_session_ids()  # its context is closed
    assert (await _evaluate(served, theirs["session_id"], other, "6 * 7")).json() == {"result": 42}
    assert served.worker.browsers()[0].browser is not None and served.worker.browsers()[0].browser.is_connected()


async def test_browser_close_is_answered_then_the_socket_closes(served: Daemon) -> None:
    me = await served.user()
    created = await served.create(me)
    async with connect(created["cdp_url"]) as socket:
        await socket.send(json.dumps({"id": 7, "method": "Browser.close"}))
        assert json.loads(await socket.recv()) == {"id": 7, "result": {}}
        await asyncio.wait_for(socket.wait_closed(), 10)
        assert socket.close_code == 1000 and "Browser.close" in (socket.close_reason or "")

    async def closed() -> bool:
        detail = (await served.client.get(SESSIONS + created["session_id"], headers=me)).json()
        return bool(detail["status"] == "closed" and detail["end_reason"] == "client_closed")

    await eventually(closed, timeout=10, interval=0.01)


def test_a_live_viewer_cannot_close_the_session(tmp_path: Path) -> None:
    for mode in (CdpMode.VIEW, CdpMode.INTERACTIVE):
        verdict = CdpScope("C1", str(tmp_path), mode=mode).command("Browser.close", {}, None)
        assert verdict.error and "live view" in verdict.error
    assert CdpScope("C1", str(tmp_path)).command("Browser.close", {}, None).result == {}
