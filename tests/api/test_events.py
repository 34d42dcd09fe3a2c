"""Lifecycle events over Server-Sent Events, and why a session ended on its detail."""

import asyncio
import json
from pathlib import Path

import httpx

from tests.conftest import Daemon, make_settings, serve_daemon

SESSIONS = "/v1/browser/sessions/"


async def _read_events(client: httpx.AsyncClient, headers: dict[str, str], want: int, into: list[dict]) -> None:
    async with client.stream("GET", SESSIONS + "events", headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict = {}
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event["event"] = line.removeprefix("event: ")
            elif line.startswith("id: "):
                event["id"] = line.removeprefix("id: ")
            elif line.startswith("data: "):
                event["data"] = json.loads(line.removeprefix("data: "))
            elif line == "" and event:
                into.append(event)
                event = {}
                if len(into) >= want:
                    return


async def test_events_follow_a_session_from_created_to_ended(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, expiry_warning=10)
    async with serve_daemon(settings) as daemon:
        me, other = await daemon.user(), await daemon.user()
        seen: list[dict] = []
        reader = asyncio.create_task(_read_events(daemon.client, me, 6, seen))
        await asyncio.sleep(0.5)
        await daemon.create(other)  # someone else's: never in my stream
        deleted = (await daemon.create(me))["session_id"]
        await daemon.client.delete(SESSIONS + deleted, headers=me)
        expiring = (await daemon.create(me, timeout_seconds=5))["session_id"]
        await asyncio.wait_for(reader, timeout=15)

        mine = [(e["event"], e["data"]["session_id"]) for e in seen]
        assert mine[:4] == [("created", deleted), ("active", deleted), ("closing", deleted), ("ended", deleted)]
        assert seen[3]["data"]["reason"] == "deleted" and seen[3]["data"]["status"] == "closed"
        assert mine[4:] == [("created", expiring), ("active", expiring)]

        more: list[dict] = []
        after = seen[-1]["id"]
        resumed = asyncio.create_task(_read_events(daemon.client, {**me, "Last-Event-ID": after}, 2, more))
        await asyncio.wait_for(resumed, timeout=15)
        assert [(e["event"], e["data"]["session_id"]) for e in more] == [("expiring", expiring), ("ended", expiring)]
        assert more[1]["data"]["reason"] == "timeout"


async def test_an_ended_session_says_when_and_why(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    live = (await daemon.client.get(SESSIONS + sid, headers=me)).json()
    assert live["ended_at"] is None and live["end_reason"] is None and live["cdp_url"]
    await daemon.client.delete(SESSIONS + sid, headers=me)
    ended = (await daemon.client.get(SESSIONS + sid, headers=me)).json()
    assert ended["status"] == "closed" and ended["end_reason"] == "deleted"
    assert ended["ended_at"] >= ended["created_at"] and ended["cdp_url"] is None
    listed_fields = set((await daemon.client.get(SESSIONS, headers=me)).json())
    assert listed_fields == {"sessions", "total_count"}


async def test_events_need_credentials(daemon: Daemon) -> None:
    response = await daemon.client.get(SESSIONS + "events")
    assert response.status_code == 401


async def test_event_streams_per_user_are_bounded_and_freed(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, max_event_streams_per_user=2)
    async with serve_daemon(settings) as daemon:
        me, other = await daemon.user(), await daemon.user()
        url = SESSIONS + "events"
        async with daemon.client.stream("GET", url, headers=me) as first:
            async with daemon.client.stream("GET", url, headers=me) as second:
                assert first.status_code == second.status_code == 200
                third = await daemon.client.get(url, headers=me)
                assert third.status_code == 429 and "at most 2 event streams" in third.json()["detail"]
                async with daemon.client.stream("GET", url, headers=other) as others:
                    assert others.status_code == 200  # one user's streams never count against another's
        # closed streams give their places back (the server notices the disconnect within one read)
        for _ in range(50):
            async with daemon.client.stream("GET", url, headers=me) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.2)
        assert again.status_code == 200
