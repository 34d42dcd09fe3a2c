"""A create answers 201 only once the replicas it must reach hold the session; otherwise it is undone."""

from pathlib import Path

from tests.conftest import make_settings, start_daemon
from tests.support import eventually

SESSIONS = "/v1/browser/sessions/"


async def test_a_create_no_replica_confirms_answers_503_and_leaves_nothing(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # The test Redis has no replica, so WAIT 1 can only time out: what a lagging or absent replica looks like.
    settings = make_settings(redis_url, prefix, tmp_path, redis_wait_replicas=1, redis_wait_timeout=0.2)
    async with start_daemon(settings) as daemon:
        me = await daemon.user()
        refused = await daemon.client.post(SESSIONS, json={}, headers=me)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] and "replicas confirmed the session 0 of 1" in refused.json()["detail"]
        assert (await daemon.client.get(SESSIONS, headers=me)).json()["sessions"] == []

        async def no_context_left() -> bool:
            return daemon.worker.held_session_ids() == []

        await eventually(no_context_left, timeout=5)
