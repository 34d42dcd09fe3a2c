"""Creating, reading, listing, keeping alive and closing sessions, seen through the HTTP API."""

import asyncio
import json
import re

import jsonschema

from tests.conftest import Daemon
from tests.support import eventually, repo_root

SEED = "list-browser-sessions.txt"


def seed_list_schema() -> dict:
    """The 200 response schema of the customer's contract for GET /v1/browser/sessions/."""
    text = (repo_root() / "tests" / "contracts" / SEED).read_text()
    shared = repo_root().parent / "shared" / "seed" / SEED
    if shared.exists():
        assert shared.read_text() == text, "tests/contracts is out of date with shared/seed"
    section = text.split("Resolved schema:", 1)[1]
    start = section.index("{")
    schema, _ = json.JSONDecoder().raw_decode(section[start:])
    return schema


async def test_page_has_requested_viewport_and_user_agent(daemon: Daemon) -> None:
    me = await daemon.user()
    session = await daemon.create(me, viewport_width=811, viewport_height=613, user_agent="AcmeBot/2.0 (+tests)")
    assert session["status"] == "active"
    assert (session["viewport_width"], session["viewport_height"]) == (811, 613)

    sid = session["session_id"]
    response = await daemon.client.post(
        f"/v1/browser/sessions/{sid}/evaluate",
        json={"expression": "[window.innerWidth, window.innerHeight, navigator.userAgent]"},
        headers=me,
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == [811, 613, "AcmeBot/2.0 (+tests)"]


async def test_defaults_are_1280x720_and_the_browsers_own_user_agent(daemon: Daemon) -> None:
    me = await daemon.user()
    session = await daemon.create(me)
    assert (session["viewport_width"], session["viewport_height"], session["user_agent"]) == (1280, 720, None)
    response = await daemon.client.post(
        f"/v1/browser/sessions/{session['session_id']}/evaluate",
        json={"expression": "[innerWidth, innerHeight, navigator.userAgent]"},
        headers=me,
    )
    width, height, agent = response.json()["result"]
    assert (width, height) == (1280, 720)
    assert "Chrome" in agent


async def test_timeout_sets_expires_at(daemon: Daemon) -> None:
    me = await daemon.user()
    session = await daemon.create(me, timeout_seconds=120)
    created = _parse(session["created_at"])
    expires = _parse(session["expires_at"])
    assert abs((expires - created).total_seconds() - 120) < 1
    default = await daemon.create(me)
    assert abs((_parse(default["expires_at"]) - _parse(default["created_at"])).total_seconds() - 300) < 1


async def test_list_matches_the_seed_schema_newest_first(daemon: Daemon) -> None:
    me = await daemon.user()
    first = await daemon.create(me, user_agent="first")
    second = await daemon.create(me, viewport_width=640, viewport_height=480)
    response = await daemon.client.get("/v1/browser/sessions/", headers=me)
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, seed_list_schema(), format_checker=jsonschema.FormatChecker())
    assert body["total_count"] == 2
    assert [s["session_id"] for s in body["sessions"]] == [second["session_id"], first["session_id"]]
    assert set(body["sessions"][0]) == set(seed_list_schema()["properties"]["sessions"]["items"]["properties"])
    for item in body["sessions"]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", item["created_at"])


async def test_list_shows_only_live_sessions(daemon: Daemon) -> None:
    me = await daemon.user()
    kept = await daemon.create(me)
    closed = await daemon.create(me)
    assert (await daemon.client.delete(f"/v1/browser/sessions/{closed['session_id']}", headers=me)).status_code == 204
    body = (await daemon.client.get("/v1/browser/sessions/", headers=me)).json()
    assert [s["session_id"] for s in body["sessions"]] == [kept["session_id"]]
    assert body["total_count"] == 1


async def test_empty_list(daemon: Daemon) -> None:
    me = await daemon.user()
    response = await daemon.client.get("/v1/browser/sessions/", headers=me)
    assert response.json() == {"sessions": [], "total_count": 0}


async def test_delete_really_closes_the_context_and_is_idempotent(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    held = daemon.worker.held(sid)
    assert not held.page.is_closed()

    assert (await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=me)).status_code == 204
    record = await daemon.runtime.shared.store.get(sid)
    assert record is not None and record.status.value == "closed"  # the record says closed when DELETE answers

    async def context_closed() -> bool:  # ... and the context closes right after
        return held.page.is_closed() and held.context not in daemon.worker.browsers()[0].browser.contexts

    await eventually(context_closed, timeout=5)
    assert (await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=me)).status_code == 204

    after = await daemon.client.get(f"/v1/browser/sessions/{sid}", headers=me)
    assert after.status_code == 200
    assert after.json()["status"] == "closed"


async def test_actions_on_an_ended_session_answer_410_with_its_status(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=me)
    base = f"/v1/browser/sessions/{sid}"
    for method, path, body in [
        ("POST", "/navigate", {"url": "about:blank"}),
        ("POST", "/evaluate", {"expression": "1"}),
        ("GET", "/screenshot", None),
        ("GET", "/content", None),
        ("POST", "/keepalive", None),
    ]:
        response = await daemon.client.request(method, base + path, json=body, headers=me)
        assert response.status_code == 410, (path, response.text)
        assert response.json()["status"] == "closed"


async def test_keepalive_pushes_the_deadline(daemon: Daemon) -> None:
    me = await daemon.user()
    session = await daemon.create(me, timeout_seconds=60)
    await asyncio.sleep(1.1)
    response = await daemon.client.post(f"/v1/browser/sessions/{session['session_id']}/keepalive", headers=me)
    assert response.status_code == 200
    renewed = response.json()
    assert _parse(renewed["expires_at"]) > _parse(session["expires_at"])
    assert _parse(renewed["last_activity"]) > _parse(session["last_activity"])


async def test_actions_move_last_activity(daemon: Daemon) -> None:
    me = await daemon.user()
    session = await daemon.create(me)
    sid = session["session_id"]
    await asyncio.sleep(1.1)
    await daemon.client.post(f"/v1/browser/sessions/{sid}/evaluate", json={"expression": "1+1"}, headers=me)
    after = (await daemon.client.get(f"/v1/browser/sessions/{sid}", headers=me)).json()
    assert _parse(after["last_activity"]) > _parse(session["last_activity"])


async def test_unknown_session_is_404(daemon: Daemon) -> None:
    me = await daemon.user()
    for method, path in [("GET", ""), ("DELETE", ""), ("POST", "/keepalive"), ("GET", "/screenshot")]:
        response = await daemon.client.request(method, f"/v1/browser/sessions/nope{path}", headers=me)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "session not found"}


def _parse(stamp: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
