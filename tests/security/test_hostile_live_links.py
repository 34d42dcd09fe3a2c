"""A hostile tenant (or whoever holds its link) against live links: floods of viewers and of links.

Issue 22 found 40 viewers of one view-only link, each acknowledging screencast frames, taking another tenant's
evaluate p50 from 9 to 583 ms, and 300 links minted on one session all accepted (each a Redis hash until the
session's end). Now a session has at most BROWSERPOOL_MAX_LIVE_VIEWERS_PER_SESSION viewers open through its
links, and at most BROWSERPOOL_MAX_LIVE_LINKS_PER_SESSION / _PER_USER working links; past a cap: 429, whatever
the concurrency.
"""

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Daemon, make_settings, serve_daemon

SESSIONS = "/v1/browser/sessions/"
ANIMATE = "setInterval(() => { document.body.textContent = String(performance.now()); }, 16); true"


def _link_socket(daemon: Daemon, session_id: str, url: str) -> str:
    token = url.partition("#token=")[2].partition("&")[0]
    base = str(daemon.client.base_url).replace("http", "ws", 1).rstrip("/")
    return f"{base}{SESSIONS}{session_id}/cdp?link={quote(token)}"


async def _watch(url: str, stop: asyncio.Event, frames: list[int]) -> int | ClientConnection:
    """One viewer, as the link's page is: attach, screencast, acknowledge every frame until `stop`. Returns
    the refused handshake's status, or the socket once it has watched."""
    try:
        socket = await connect(url, max_size=None)
    except InvalidStatus as refused:
        assert json.loads(refused.response.body or b"{}")["detail"], refused.response.body
        return refused.response.status_code
    async with socket:
        calls = iter(range(1, 1_000_000))

        async def call(method: str, params: dict[str, Any], session: str | None = None) -> dict[str, Any]:
            number = next(calls)
            await socket.send(json.dumps({"id": number, "method": method, "params": params, "sessionId": session}))
            while True:
                answer = json.loads(await asyncio.wait_for(socket.recv(), 15))
                if answer.get("id") == number:
                    return dict(answer)

        targets = (await call("Target.getTargets", {}))["result"]["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        attached = await call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
        child = attached["result"]["sessionId"]
        await call("Page.startScreencast", {"format": "jpeg", "everyNthFrame": 1}, child)
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            while not stop.is_set():
                message = json.loads(await asyncio.wait_for(socket.recv(), 1))
                if message.get("method") == "Page.screencastFrame":
                    frames.append(1)
                    ack = {"sessionId": message["params"]["sessionId"]}
                    await socket.send(
                        json.dumps({"id": 0, "method": "Page.screencastFrameAck", "params": ack, "sessionId": child})
                    )
        return socket


async def test_forty_viewers_of_one_link_get_five_places_and_the_rest_429(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path)) as served:
        holder, victim = await served.user(), await served.user()
        sid = (await served.create(holder))["session_id"]
        theirs = (await served.create(victim))["session_id"]
        animated = await served.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": ANIMATE}, headers=holder)
        assert animated.status_code == 200, animated.text
        link = (await served.client.post(f"{SESSIONS}{sid}/live-links", json={}, headers=holder)).json()

        stop, frames = asyncio.Event(), []
        url = _link_socket(served, sid, link["url"])
        viewers = [asyncio.create_task(_watch(url, stop, frames)) for _ in range(40)]
        await asyncio.sleep(3)  # the admitted ones watch and acknowledge
        answers = []
        for _ in range(10):  # another tenant is answered meanwhile
            answer = await served.client.post(
                f"{SESSIONS}{theirs}/evaluate", json={"expression": "6*7"}, headers=victim
            )
            answers.append(answer.json().get("result"))
        listing = await served.client.get(f"{SESSIONS}{sid}/live-links", headers=holder)
        stop.set()
        outcomes = await asyncio.gather(*viewers)

        refused = [o for o in outcomes if isinstance(o, int)]
        assert len(outcomes) - len(refused) == 5 and refused == [429] * 35, outcomes
        assert listing.json()[0]["viewers"] == 5
        assert frames, "the admitted viewers saw no frame"
        assert answers == [42] * 10


async def test_three_hundred_links_on_one_session_stop_at_the_cap(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, rate_limit=0, contexts_per_browser=8)) as served:
        minter = await served.user()
        sessions = [(await served.create(minter))["session_id"] for _ in range(6)]

        async def mint(session_id: str) -> int:
            response = await served.client.post(f"{SESSIONS}{session_id}/live-links", json={}, headers=minter)
            assert (
                response.status_code in (201, 429)
                and response.json()["detail" if response.status_code == 429 else "url"]
            )
            return response.status_code

        codes = await asyncio.gather(*(mint(sessions[0]) for _ in range(300)))  # all at once: the cap is atomic
        assert codes.count(201) == 20 and codes.count(429) == 280
        more = await asyncio.gather(*(mint(sid) for sid in sessions[1:] for _ in range(25)))
        assert more.count(201) == 80  # 100 per user, across their sessions
        redis, keys = served.runtime.shared.redis, served.runtime.keys
        assert len([key async for key in redis.scan_iter(match=keys.live_link("*"))]) == 100
        listing = await served.client.get(f"{SESSIONS}{sessions[0]}/live-links", headers=minter)
        assert len(listing.json()) == 20
