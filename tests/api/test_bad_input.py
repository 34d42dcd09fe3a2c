"""Bad input gets a clear 4xx in FastAPI's validation shape, and no session (or context) comes of it."""

import pytest

from tests.conftest import Daemon

SESSIONS = "/v1/browser/sessions/"

BAD_BODIES = [
    {"viewport_width": 99},
    {"viewport_width": 7681},
    {"viewport_height": 0},
    {"viewport_height": -5},
    {"viewport_width": "wide"},
    {"viewport_width": 800.5},
    {"viewport_width": True},
    {"user_agent": "x" * 513},
    {"user_agent": "bad\nagent"},
    {"user_agent": "bell\x07"},
    {"user_agent": ""},
    {"user_agent": 42},
    {"timeout_seconds": 4},
    {"timeout_seconds": 0},
    {"timeout_seconds": "soon"},
    {"unknown_field": 1},
]


async def _nothing_created(daemon: Daemon, headers: dict[str, str]) -> None:
    assert (await daemon.client.get(SESSIONS, headers=headers)).json()["total_count"] == 0
    assert daemon.worker.held_session_ids() == []


@pytest.mark.parametrize("body", BAD_BODIES, ids=[str(b)[:40] for b in BAD_BODIES])
async def test_bad_session_bodies_are_422_in_validation_shape(daemon: Daemon, body: dict) -> None:
    me = await daemon.user()
    response = await daemon.client.post(SESSIONS, json=body, headers=me)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert {"loc", "msg", "type"} <= set(detail[0])
    await _nothing_created(daemon, me)


async def test_timeout_over_the_maximum_is_422(daemon: Daemon) -> None:
    me = await daemon.user()
    too_long = daemon.runtime.settings.max_session_timeout + 1
    response = await daemon.client.post(SESSIONS, json={"timeout_seconds": too_long}, headers=me)
    assert response.status_code == 422
    assert str(daemon.runtime.settings.max_session_timeout) in response.json()["detail"][0]["msg"]
    await _nothing_created(daemon, me)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b'{"viewport_width": 800,}'])
async def test_malformed_json_is_422(daemon: Daemon, raw: bytes) -> None:
    me = await daemon.user()
    headers = {**me, "Content-Type": "application/json"}
    response = await daemon.client.post(SESSIONS, content=raw, headers=headers)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    await _nothing_created(daemon, me)


async def test_bad_action_bodies_are_422(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    for path, body in [("navigate", {}), ("navigate", {"url": ""}), ("evaluate", {}), ("evaluate", {"expression": 5})]:
        response = await daemon.client.post(f"{SESSIONS}{sid}/{path}", json=body, headers=me)
        assert response.status_code == 422, (path, body)
    assert (await daemon.client.get(SESSIONS + sid, headers=me)).json()["status"] == "active"


async def test_a_full_pool_answers_503_with_retry_after(redis_url: str, prefix: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings, start_daemon

    settings = make_settings(redis_url, prefix, tmp_path, browsers=1, contexts_per_browser=2)
    async with start_daemon(settings) as daemon:
        me = await daemon.user()
        await daemon.create(me)
        await daemon.create(me)
        response = await daemon.client.post(SESSIONS, json={}, headers=me)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert "full" in response.json()["detail"]
        listed = (await daemon.client.get(SESSIONS, headers=me)).json()
        assert listed["total_count"] == 2
        # a slot that frees up is usable again
        await daemon.client.delete(SESSIONS + listed["sessions"][0]["session_id"], headers=me)
        await daemon.create(me)
