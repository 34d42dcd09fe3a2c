"""Live links: minted for one session and mode, refused by the server past that, framable by other origins."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Frame, Page, async_playwright, expect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from orchestrator.config import Settings
from orchestrator.events import BEFORE_ALL
from orchestrator.live_viewers import LiveViewers
from tests.api.live_site import live_site
from tests.conftest import Daemon, serve_daemon
from tests.support import eventually, repo_root
from workers.chromium.find import find_chromium

ARTIFACTS = repo_root() / "tests" / "artifacts"
SESSIONS = "/v1/browser/sessions/"


@pytest.fixture
def form_site() -> Iterator[str]:
    with live_site() as url:
        yield url


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


async def mint(daemon: Daemon, headers: dict[str, str], session_id: str, **body: Any) -> dict[str, Any]:
    response = await daemon.client.post(f"{SESSIONS}{session_id}/live-links", json=body, headers=headers)
    assert response.status_code == 201, response.text
    minted: dict[str, Any] = response.json()
    return minted


def socket_url(daemon: Daemon, session_id: str, link_url: str) -> str:
    token = link_url.partition("#token=")[2].partition("&")[0]
    base = str(daemon.client.base_url).replace("http", "ws", 1).rstrip("/")
    return f"{base}{SESSIONS}{session_id}/cdp?link={quote(token)}"


class Cdp:
    """A hand-written CDP client, as a modified live-link page could be."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        await self.socket.send(json.dumps({**message, **({"sessionId": session} if session else {})}))
        while True:
            answer = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if answer.get("id") == self.next_id:
                return answer

    async def attach_first_page(self) -> str:
        pages = (await self.call("Target.getTargets"))["result"]["targetInfos"]
        attached = await self.call("Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True})
        return str(attached["result"]["sessionId"])

    async def frame(self, session: str) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if message.get("method") == "Page.screencastFrame" and message.get("sessionId") == session:
                return dict(message["params"])


async def refused_status(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url):
            pass
    return refused.value.response.status_code


async def test_the_server_holds_each_link_to_its_session_mode_and_life(served: Daemon, form_site: str) -> None:
    owner = await served.user()
    session = await served.create(owner)
    other = await served.create(owner)
    sid = session["session_id"]
    await served.client.post(f"{SESSIONS}{sid}/navigate", json={"url": form_site + "/"}, headers=owner)
    view = await mint(served, owner, sid, interactive=False, ttl_seconds=600)
    hands = await mint(served, owner, sid, interactive=True)
    base = str(served.client.base_url).rstrip("/")
    assert view["url"].startswith(f"{base}/live/{sid}#token=bpl_") and view["url"].endswith("&mode=view")
    assert datetime.fromisoformat(view["expires_at"]) <= datetime.fromisoformat(session["expires_at"])

    # A view-only link watches; its input and anything else are refused by the server, the connection stays up.
    async with connect(socket_url(served, sid, view["url"])) as socket:
        cdp = Cdp(socket)
        page = await cdp.attach_first_page()
        await cdp.call("Page.startScreencast", {"format": "jpeg", "maxWidth": 640, "maxHeight": 400}, page)
        frame = await cdp.frame(page)
        assert frame["metadata"]["deviceWidth"] == session["viewport_width"]
        await cdp.call("Page.screencastFrameAck", {"sessionId": frame["sessionId"]}, page)
        for method, params in [
            ("Input.insertText", {"text": "typed by a view-only link"}),
            ("Input.dispatchMouseEvent", {"type": "mousePressed", "x": 50, "y": 50, "button": "left", "clickCount": 1}),
        ]:
            answer = await cdp.call(method, params, page)
            assert "view-only live view" in answer["error"]["message"], answer
        for method, params in [("Runtime.evaluate", {"expression": "1"}), ("Page.navigate", {"url": form_site})]:
            assert "may only watch" in (await cdp.call(method, params, page))["error"]["message"]
        assert "result" in await cdp.call("Page.getLayoutMetrics", {}, page)  # still connected, still watching
    value = await served.client.post(
        f"{SESSIONS}{sid}/evaluate", json={"expression": "document.getElementById('name').value"}, headers=owner
    )
    assert value.json()["result"] == ""

    # An interactive link sends input, and still no script, navigation or anything else.
    async with connect(socket_url(served, sid, hands["url"])) as socket:
        cdp = Cdp(socket)
        page = await cdp.attach_first_page()
        assert "may only watch" in (await cdp.call("Runtime.evaluate", {"expression": "1"}, page))["error"]["message"]
        for kind in ("mousePressed", "mouseReleased"):
            click = {"type": kind, "x": 100, "y": 50, "button": "left", "clickCount": 1}
            assert "error" not in await cdp.call("Input.dispatchMouseEvent", click, page)
        assert "error" not in await cdp.call("Input.insertText", {"text": "by a human"}, page)
    value = await served.client.post(
        f"{SESSIONS}{sid}/evaluate", json={"expression": "document.getElementById('name').value"}, headers=owner
    )
    assert value.json()["result"] == "by a human"
    user_id = (await served.runtime.shared.store.get(sid)).user_id  # type: ignore[union-attr]
    events = await served.runtime.shared.store.events.after(user_id, BEFORE_ALL, count=1000)
    takeovers = [(e.type, e.reason) for e in events if e.type.startswith("takeover")]
    assert takeovers == [  # only the interactive viewer took over
        ("takeover_started", f"live_link:{hands['link_id']}"),
        ("takeover_ended", f"live_link:{hands['link_id']}"),
    ]

    # Refused before any frame: another session's id, a made-up token, an expired and a revoked link.
    assert await refused_status(socket_url(served, other["session_id"], view["url"])) == 401
    assert await refused_status(socket_url(served, sid, "#token=bpl_0123456789abcdef_guess")) == 401
    short = await mint(served, owner, sid, ttl_seconds=1)
    await asyncio.sleep(1.2)
    assert await refused_status(socket_url(served, sid, short["url"])) == 401

    async with connect(socket_url(served, sid, view["url"])) as watching:
        revoked = await served.client.delete(f"{SESSIONS}{sid}/live-links/{view['link_id']}", headers=owner)
        assert revoked.status_code == 204
        with pytest.raises(ConnectionClosed) as closed:  # the open view closes too
            while True:
                await asyncio.wait_for(watching.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert await refused_status(socket_url(served, sid, view["url"])) == 401
    again = await served.client.delete(f"{SESSIONS}{sid}/live-links/{view['link_id']}", headers=owner)
    assert again.status_code == 404

    # The session's end ends its links.
    async with connect(socket_url(served, sid, hands["url"])) as driving:
        await served.client.delete(f"{SESSIONS}{sid}", headers=owner)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(driving.recv(), 10)
    assert await refused_status(socket_url(served, sid, hands["url"])) == 410


async def test_minting_is_validated_and_owned(daemon: Daemon) -> None:
    owner, stranger = await daemon.user(), await daemon.user()
    sid = (await daemon.create(owner))["session_id"]
    path = f"{SESSIONS}{sid}/live-links"
    for body in ({"ttl_seconds": 0}, {"ttl_seconds": 86401}, {"ttl_seconds": "60"}, {"interactive": "yes"}, {"x": 1}):
        response = await daemon.client.post(path, json=body, headers=owner)
        assert response.status_code == 422, (body, response.text)
        assert isinstance(response.json()["detail"], list)
    assert (await daemon.client.post(path, json={}, headers=stranger)).status_code == 404
    assert (await daemon.client.post(path, json={}, headers={})).status_code == 401
    link = (await daemon.client.post(path, json={}, headers=owner)).json()
    assert link["interactive"] is False and link["url"].endswith("&mode=view")
    assert (await daemon.client.delete(f"{path}/{link['link_id']}", headers=stranger)).status_code == 404
    assert (await daemon.client.delete(f"{path}/nonexistent", headers=owner)).status_code == 404
    await daemon.client.delete(f"{SESSIONS}{sid}", headers=owner)
    ended = await daemon.client.post(path, json={}, headers=owner)
    assert ended.status_code == 410 and ended.json()["status"] == "closed"


async def test_the_link_page_embeds_in_another_origin_and_the_dashboard_does_not(
    served: Daemon, form_site: str, daemon_settings: Settings
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    owner = await served.user()
    session = await served.create(owner, viewport_width=900, viewport_height=500)
    sid = session["session_id"]
    await served.client.post(f"{SESSIONS}{sid}/navigate", json={"url": form_site + "/"}, headers=owner)
    link = await mint(served, owner, sid, interactive=True)
    live = await served.client.get(link["url"].partition("#")[0])
    assert "frame-ancestors *" in live.headers["content-security-policy"] and "x-frame-options" not in live.headers
    dashboard = await served.client.get("/ui")
    assert "frame-ancestors 'none'" in dashboard.headers["content-security-policy"]
    assert dashboard.headers["x-frame-options"] == "DENY"

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(daemon_settings.chromium_path))
        page = await browser.new_page(viewport={"width": 1000, "height": 700})
        await page.goto(f"{form_site}/frame?src={quote(link['url'])}")  # another origin: another port
        embedded = page.frame_locator("#embedded")
        canvas = embedded.locator("#live")
        await expect(canvas).to_have_attribute("data-viewport", "900x500", timeout=15000)
        await expect(embedded.locator("#signin")).to_be_hidden()  # no sign-in, no session list, no buttons
        await expect(embedded.locator("#sessions")).to_be_hidden()
        box = await canvas.bounding_box()
        assert box is not None
        await page.mouse.click(box["x"] + 190 * box["width"] / 900, box["y"] + 50 * box["height"] / 500)
        await page.keyboard.type("through the iframe")
        expression = {"expression": "document.getElementById('name').value"}

        async def typed() -> bool:
            answer = await served.client.post(f"{SESSIONS}{sid}/evaluate", json=expression, headers=owner)
            return bool(answer.json()["result"] == "through the iframe")

        await eventually(typed)
        await page.screenshot(path=str(ARTIFACTS / "live-link-in-iframe.png"))

        dashboard_url = str(served.client.base_url).rstrip("/") + "/ui"
        await page.goto(f"{form_site}/frame?src={quote(dashboard_url)}")
        frame = await eventually(lambda: _child_frame(page), timeout=5)
        assert frame.url.startswith("chrome-error://")  # the browser refused to show it there
        assert await page.frame_locator("#embedded").locator("#signin").count() == 0
        await page.screenshot(path=str(ARTIFACTS / "dashboard-not-framed.png"))
        await browser.close()


async def _child_frame(page: Page) -> Frame | None:
    frames = [f for f in page.frames if f is not page.main_frame]
    return frames[0] if frames and frames[0].url.startswith(("chrome-error", "http")) else None


async def refused_answer(url: str) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body of a websocket handshake the server refused."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url):
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


async def listed(daemon: Daemon, headers: dict[str, str], session_id: str) -> list[dict[str, Any]]:
    response = await daemon.client.get(f"{SESSIONS}{session_id}/live-links", headers=headers)
    assert response.status_code == 200, response.text
    links: list[dict[str, Any]] = response.json()
    return links


async def test_a_sessions_links_are_listed_to_its_owner_without_their_tokens(daemon: Daemon) -> None:
    owner, stranger = await daemon.user(), await daemon.user()
    key_id = owner["X-API-Key"].split("_")[1]
    sid = (await daemon.create(owner))["session_id"]
    assert await listed(daemon, owner, sid) == []
    path = f"{SESSIONS}{sid}/live-links"
    drive = (await daemon.client.post(path, json={"interactive": True, "ttl_seconds": 120}, headers=owner)).json()
    watch = (await daemon.client.post(path, json={"ttl_seconds": 60}, headers=owner)).json()

    response = await daemon.client.get(f"{SESSIONS}{sid}/live-links", headers=owner)
    assert "bpl_" not in response.text and watch["url"].partition("#token=")[2].partition("&")[0] not in response.text
    links = response.json()
    assert [set(link) for link in links] == [
        {"link_id", "interactive", "created_at", "expires_at", "viewers", "api_key_id"}
    ] * 2
    assert [(link["link_id"], link["interactive"]) for link in links] == [
        (watch["link_id"], False),
        (drive["link_id"], True),
    ]  # soonest end first
    assert [link["expires_at"] for link in links] == [watch["expires_at"], drive["expires_at"]]
    assert all(link["viewers"] == 0 and link["api_key_id"] == key_id for link in links)
    assert datetime.fromisoformat(links[0]["created_at"]) < datetime.fromisoformat(links[0]["expires_at"])

    for headers, session_id, code in [(stranger, sid, 404), (owner, "0" * 32, 404), ({}, sid, 401)]:
        answer = await daemon.client.get(f"{SESSIONS}{session_id}/live-links", headers=headers)
        assert answer.status_code == code and isinstance(answer.json()["detail"], str), answer.text
    await daemon.client.delete(f"{SESSIONS}{sid}/live-links/{watch['link_id']}", headers=owner)
    assert [link["link_id"] for link in await listed(daemon, owner, sid)] == [drive["link_id"]]
    await daemon.client.delete(f"{SESSIONS}{sid}", headers=owner)
    assert await listed(daemon, owner, sid) == []  # an ended session's links open nothing


async def test_links_per_session_and_per_user_are_capped(daemon_settings: Settings) -> None:
    settings = daemon_settings.model_copy(update={"max_live_links_per_session": 3, "max_live_links_per_user": 5})
    async with serve_daemon(settings) as served:
        owner, other = await served.user(), await served.user()
        first, second, third = [(await served.create(owner))["session_id"] for _ in range(3)]

        async def mint_on(session_id: str, headers: dict[str, str] = owner, **body: Any) -> Any:
            return await served.client.post(f"{SESSIONS}{session_id}/live-links", json=body, headers=headers)

        made = [(await mint_on(first)).json() for _ in range(3)]
        full = await mint_on(first)
        assert full.status_code == 429, full.text
        detail = full.json()["detail"]
        assert "3 working live links" in detail and "BROWSERPOOL_MAX_LIVE_LINKS_PER_SESSION" in detail
        assert "revoke one" in detail and f"GET {SESSIONS}{first}/live-links lists them" in detail
        await served.client.delete(f"{SESSIONS}{first}/live-links/{made[0]['link_id']}", headers=owner)
        assert (await mint_on(first)).status_code == 201  # a revoked link frees its place at once

        assert [(await mint_on(second)).status_code for _ in range(2)] == [201, 201]  # 5: the user's cap
        over = await mint_on(third)
        assert over.status_code == 429 and "BROWSERPOOL_MAX_LIVE_LINKS_PER_USER" in over.json()["detail"]
        theirs = (await served.create(other))["session_id"]
        assert (await mint_on(theirs, other)).status_code == 201  # another user's allowance is their own

        await served.client.delete(f"{SESSIONS}{second}", headers=owner)  # its links end with it
        assert (await mint_on(third, ttl_seconds=1)).status_code == 201
        assert (await mint_on(third)).status_code == 201
        assert (await mint_on(third)).status_code == 429
        await asyncio.sleep(1.2)
        assert (await mint_on(third)).status_code == 201  # an expired link stops counting

        redis, keys = served.runtime.shared.redis, served.runtime.keys
        hashes = [key async for key in redis.scan_iter(match=keys.live_link("*"))]
        assert len(hashes) <= 5 + 1  # the owner's working links and the other user's: ended ones are gone


async def test_viewers_of_a_session_are_capped_and_a_dead_nodes_viewers_lapse(daemon_settings: Settings) -> None:
    async with serve_daemon(daemon_settings.model_copy(update={"max_live_viewers_per_session": 2})) as served:
        owner = await served.user()
        session = await served.create(owner)
        sid = session["session_id"]
        one, two = await mint(served, owner, sid), await mint(served, owner, sid, interactive=True)
        async with connect(socket_url(served, sid, one["url"])) as first:
            async with connect(socket_url(served, sid, two["url"])) as second:
                status, body = await refused_answer(socket_url(served, sid, one["url"]))
                assert status == 429, body
                assert "2 live viewers" in body["detail"]
                assert "BROWSERPOOL_MAX_LIVE_VIEWERS_PER_SESSION" in body["detail"]
                assert "close an open live view" in body["detail"]
                async with connect(session["cdp_url"] + "&mode=view") as mine:  # the owner's own view: not counted
                    assert "result" in await Cdp(mine).call("Browser.getVersion")
                for socket in (first, second):  # the viewers already in keep watching
                    assert "result" in await Cdp(socket).call("Browser.getVersion")
                viewers = {link["link_id"]: link["viewers"] for link in await listed(served, owner, sid)}
                assert viewers == {one["link_id"]: 1, two["link_id"]: 1}

        async def all_left() -> bool:
            return all(link["viewers"] == 0 for link in await listed(served, owner, sid))

        await eventually(all_left, timeout=5)  # a viewer that leaves frees its place
        async with connect(socket_url(served, sid, one["url"])) as again:
            assert "result" in await Cdp(again).call("Browser.getVersion")
        await eventually(all_left, timeout=5)

        # Another API node admitted two viewers, then died: it neither renews nor releases their leases.
        dead_node = LiveViewers(served.runtime.shared.redis, served.runtime.keys, 2, lease_ms=1000)
        for _ in range(2):
            await dead_node.admit(sid, two["link_id"])
        assert (await refused_answer(socket_url(served, sid, one["url"])))[0] == 429
        await asyncio.sleep(1.2)
        async with connect(socket_url(served, sid, one["url"])) as back:
            assert "result" in await Cdp(back).call("Browser.getVersion")


async def test_a_link_dies_with_the_credential_that_minted_it(daemon_settings: Settings) -> None:
    async with serve_daemon(daemon_settings.model_copy(update={"token_ttl": 60})) as served:
        accounts = served.runtime.shared.accounts
        user = await accounts.add_user(f"user-{uuid.uuid4().hex[:8]}", "a long password")
        key_a, key_b = [await accounts.create_api_key(user, name) for name in ("a", "b")]
        by_a, by_b = {"X-API-Key": key_a.secret}, {"X-API-Key": key_b.secret}
        sid = (await served.create(by_a, timeout_seconds=3600))["session_id"]
        link_a, link_b = await mint(served, by_a, sid), await mint(served, by_b, sid)

        async with connect(socket_url(served, sid, link_a["url"])) as watching:
            assert "result" in await Cdp(watching).call("Browser.getVersion")
            revoked = await served.client.delete(f"/v1/api-keys/{key_a.key.key_id}", headers=by_b)
            assert revoked.status_code == 204
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:  # the open view closes promptly
                while True:
                    await asyncio.wait_for(watching.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert time.monotonic() - started < 5
        assert await refused_status(socket_url(served, sid, link_a["url"])) == 401
        assert [(link["link_id"], link["api_key_id"]) for link in await listed(served, by_b, sid)] == [
            (link_b["link_id"], key_b.key.key_id)
        ]
        async with connect(socket_url(served, sid, link_b["url"])) as still:  # the other key's link lives on
            assert "result" in await Cdp(still).call("Browser.getVersion")

        # A bearer token's link lives no longer than the token, and ends when the token is revoked.
        login = await served.client.post("/v1/auth/token", data={"username": user.name, "password": "a long password"})
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        minted_at = datetime.now(UTC)
        by_token = await mint(served, bearer, sid, ttl_seconds=3000)
        left = (datetime.fromisoformat(by_token["expires_at"]) - minted_at).total_seconds()
        assert 50 < left <= 61, left
        assert {link["link_id"]: link["api_key_id"] for link in await listed(served, by_b, sid)}[
            by_token["link_id"]
        ] is None
        async with connect(socket_url(served, sid, by_token["url"])) as watching:
            await accounts.set_password(user.name, "another long password")  # revokes every bearer token
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(watching.recv(), 10)
        assert await refused_status(socket_url(served, sid, by_token["url"])) == 401
        assert [link["link_id"] for link in await listed(served, by_b, sid)] == [link_b["link_id"]]
