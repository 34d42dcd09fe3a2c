"""GET /metrics: Prometheus text, admin-only unless made public, figures that move with the pool."""

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Daemon, make_settings, start_daemon

SESSIONS = "/v1/browser/sessions/"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_need_an_admin_and_follow_the_pool(daemon: Daemon) -> None:
    admin = await daemon.runtime.shared.accounts.add_user("ops", None, admin=True)
    ops = {"X-API-Key": (await daemon.runtime.shared.accounts.create_api_key(admin, "m")).secret}
    me = await daemon.user()
    assert (await daemon.client.get("/metrics")).status_code == 401
    assert (await daemon.client.get("/metrics", headers=me)).status_code == 403

    sid = (await daemon.create(me))["session_id"]
    await daemon.create(me)
    await daemon.client.delete(SESSIONS + sid, headers=me)
    await daemon.runtime.control.sessions.drain()  # DELETE answers first; its context closes right after
    await daemon.runtime.reap()

    response = await daemon.client.get("/metrics", headers=ops)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    worker = daemon.worker.worker_id
    assert got[("browserpool_sessions", (("status", "active"),))] == 1
    assert got[("browserpool_sessions_created_total", ())] == 2
    assert got[("browserpool_sessions_ended_total", (("reason", "deleted"),))] == 1
    assert got[("browserpool_worker_capacity", (("worker", worker),))] == daemon.runtime.settings.contexts_per_browser
    assert got[("browserpool_worker_used", (("worker", worker),))] == 1
    assert got[("browserpool_queue_waiting", ())] == 0
    assert got[("browserpool_session_start_seconds_count", ())] == 2
    assert got[("browserpool_reaper_tick_seconds_count", ())] >= 1
    created = ("browserpool_http_request_seconds_count", (("code", "201"), ("method", "POST"), ("route", SESSIONS)))
    assert got[created] == 2


async def test_metrics_can_be_public(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, metrics_public=True)) as daemon:
        response = await daemon.client.get("/metrics")
        assert response.status_code == 200
        assert "browserpool_sessions" in response.text
