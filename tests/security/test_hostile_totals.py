"""A hostile tenant with many CDP sockets: per-user totals (issue 22, finding 4).

Before: the CDP budget was per connection only, so 200 sockets of one tenant across 4 sessions carried
6,034 commands a second; and a burst of 200 handshakes made the daemon refuse 77-80 of them and 7 of 20
of another tenant's with `503 the session store (Redis) is unreachable` (every Redis connection of the
pool was in use: redis-py's pool raised instead of waiting) while Redis was fine.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Daemon, make_settings, serve_daemon
from tests.security.test_hostile_relay import Cdp

SESSIONS = "/v1/browser/sessions/"
IN_FLIGHT = 20  # a pipelining client's commands in flight per socket


@contextlib.asynccontextmanager
async def _daemon(redis_url: str, prefix: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Daemon]:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, contexts_per_browser=8, **overrides)) as d:
        yield d


async def _handshake(url: str, opened: list[ClientConnection]) -> tuple[int, str | None, Any]:
    """(status, Retry-After, JSON body) of one handshake; 101 for a socket that opened (kept in `opened`)."""
    try:
        opened.append(await connect(url, max_size=None, open_timeout=60))
        return 101, None, None
    except InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.headers.get("Retry-After"), json.loads(bytes(response.body))


async def test_a_burst_past_the_socket_cap_gets_429_and_another_tenants_handshakes_all_succeed(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    cap = 20
    async with _daemon(redis_url, prefix, tmp_path, cdp_user_sockets=cap) as served:
        hostile, victim = await served.user(), await served.user()
        mine = [await served.create(hostile) for _ in range(4)]
        theirs = await served.create(victim)
        opened: list[ClientConnection] = []
        try:
            burst = [_handshake(mine[n % 4]["cdp_url"], opened) for n in range(200)]
            others = [_handshake(theirs["cdp_url"], opened) for _ in range(20)]
            answers = await asyncio.gather(*burst, *others)
            hostile_answers, victim_answers = answers[:200], answers[200:]

            assert [status for status, _, _ in victim_answers] == [101] * 20, victim_answers
            assert sum(status == 101 for status, _, _ in hostile_answers) == cap
            refused = [answer for answer in hostile_answers if answer[0] != 101]
            assert {status for status, _, _ in refused} == {429}, refused[:3]
            for _, retry_after, body in refused:
                assert retry_after is not None and int(retry_after) > 0
                assert f"at most {cap} CDP connections per user" in body["detail"]
            victim_socket = opened[-1]
            assert "result" in await Cdp(victim_socket).call("Browser.getVersion")
        finally:
            await asyncio.gather(*(socket.close() for socket in opened))

        async with connect(mine[0]["cdp_url"]) as again:  # closed sockets gave their places back
            assert "result" in await Cdp(again).call("Browser.getVersion")


async def _pump(socket: ClientConnection, child: str, stop: asyncio.Event, answers: list[dict[str, Any]]) -> None:
    """Keep IN_FLIGHT evaluates in flight (as fast as the relay answers), collecting the answers, until `stop`."""
    message = {"method": "Runtime.evaluate", "params": {"expression": "1+1"}, "sessionId": child}
    window = asyncio.Semaphore(IN_FLIGHT)

    async def send() -> None:
        n = 0
        while not stop.is_set():
            await window.acquire()
            n += 1
            await socket.send(json.dumps({"id": 1000 + n, **message}))

    async def read() -> None:
        async for raw in socket:
            reply = json.loads(raw)
            if reply.get("id", 0) >= 1000:
                answers.append(reply)
                window.release()

    tasks = [asyncio.create_task(send()), asyncio.create_task(read())]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_tenants_sockets_share_one_rate_and_are_paced_not_refused(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    rate, burst_s, seconds = 150, 1.0, 3.0
    limits = {"cdp_user_commands_per_second": rate, "cdp_burst_seconds": burst_s}  # a connection's own: 1,000/s
    async with _daemon(redis_url, prefix, tmp_path, **limits) as served:
        hostile, victim = await served.user(), await served.user()
        mine = [await served.create(hostile) for _ in range(2)]
        theirs = await served.create(victim)
        async with contextlib.AsyncExitStack() as stack:
            sockets = [
                await stack.enter_async_context(connect(mine[n % 2]["cdp_url"], max_size=None)) for n in range(6)
            ]
            children = [await Cdp(socket).page_session() for socket in sockets]
            stop = asyncio.Event()
            per_socket: list[list[dict[str, Any]]] = [[] for _ in sockets]
            started = time.monotonic()
            pumps = [
                asyncio.create_task(_pump(socket, child, stop, answers))
                for socket, child, answers in zip(sockets, children, per_socket, strict=True)
            ]
            await asyncio.sleep(1.0)
            victim_started = time.monotonic()
            async with connect(theirs["cdp_url"], max_size=None) as own:  # the victim's budget is its own
                cdp = Cdp(own)
                ids = [await cdp.send("Browser.getVersion") for _ in range(100)]
                replies = [await cdp.answer(message_id) for message_id in ids]
                assert all("result" in reply for reply in replies)
            victim_took = time.monotonic() - victim_started
            evaluate = await served.client.post(
                f"{SESSIONS}{theirs['session_id']}/evaluate", json={"expression": "6*7"}, headers=victim
            )
            await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
            stop.set()
            await asyncio.gather(*pumps)
            elapsed = time.monotonic() - started
            still_open = [await Cdp(socket).call("Browser.getVersion") for socket in sockets]

        total = sum(len(answers) for answers in per_socket)
        # The paced setup messages (getTargets, attach) spent some budget too: the bound is on what flowed.
        assert total <= rate * burst_s + rate * elapsed + 50, (total, elapsed)
        assert total >= rate * 1.0, (total, elapsed)  # paced, still flowing
        assert all("result" in answer for answers in per_socket for answer in answers)  # none refused
        assert all(answers for answers in per_socket)  # every socket got its turn
        assert all("result" in answer for answer in still_open)  # none closed
        assert evaluate.status_code == 200 and evaluate.json()["result"] == 42
        assert victim_took < 5, victim_took


async def test_a_handshake_refused_for_any_reason_answers_with_the_one_error_mapping(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with _daemon(redis_url, prefix, tmp_path, cdp_user_sockets=1) as served:
        me = await served.user()
        session = await served.create(me)
        async with connect(session["cdp_url"]):
            status, retry_after, body = await _handshake(session["cdp_url"], [])
            assert (status, retry_after) == (429, "5") and "CDP connections" in body["detail"]
        base = session["cdp_url"].split("?")[0]
        with contextlib.suppress(ConnectionClosed):
            try:
                async with connect(base, additional_headers={"X-API-Key": "bp_nope_nope"}):
                    raise AssertionError("a bad key opened a socket")
            except InvalidStatus as refused:
                assert refused.response.status_code == 401
                assert refused.response.headers.get("WWW-Authenticate") == "Bearer"  # as REST answers it
                assert json.loads(bytes(refused.response.body))["detail"]
