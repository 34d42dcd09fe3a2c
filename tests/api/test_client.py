"""The Python client (clients/python), sync and async, against a running daemon."""

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from browserpool_client import AsyncClient, BrowserpoolAPIError, Client
from orchestrator.config import Settings
from tests.conftest import serve_daemon


async def test_async_client_drives_a_session_end_to_end(daemon_settings: Settings, site: str) -> None:
    async with serve_daemon(daemon_settings) as daemon:
        key = (await daemon.user())["X-API-Key"]
        async with AsyncClient(str(daemon.client.base_url), api_key=key) as pool:
            session = await pool.create(viewport_width=900, viewport_height=600, user_agent="ClientTest/1")
            assert session.status == "active" and session.cdp_url
            assert [s.session_id for s in await pool.list()] == [session.session_id]
            assert (await pool.navigate(session.session_id, site + "/"))["title"] == "browserpool test page"
            assert await pool.evaluate(session.session_id, "[innerWidth, navigator.userAgent]") == [900, "ClientTest/1"]
            assert (await pool.screenshot(session.session_id))[:4] == b"\x89PNG"
            renewed = await pool.keepalive(session.session_id)
            assert renewed.expires_at and session.expires_at and renewed.expires_at >= session.expires_at
            async with async_playwright() as p:
                browser = await pool.connect(session, p)
                assert await browser.contexts[0].pages[0].title() == "browserpool test page"
                await browser.close()
            link = await pool.live_link(session.session_id, interactive=True, ttl_seconds=60)
            assert link.interactive and f"/live/{session.session_id}#token=bpl_" in link.url
            assert session.expires_at and link.expires_at <= session.expires_at
            await pool.revoke_live_link(session.session_id, link.link_id)
            with pytest.raises(BrowserpoolAPIError) as gone:
                await pool.revoke_live_link(session.session_id, link.link_id)
            assert gone.value.status == 404
            await pool.delete_session(session.session_id)
            ended = await pool.get(session.session_id)
            assert (ended.status, ended.end_reason) == ("closed", "deleted") and ended.ended_at
            with pytest.raises(BrowserpoolAPIError) as error:
                await pool.evaluate(session.session_id, "1")
            assert error.value.status == 410


async def test_sync_client(daemon_settings: Settings) -> None:
    async with serve_daemon(daemon_settings) as daemon:
        key = (await daemon.user())["X-API-Key"]
        base = str(daemon.client.base_url)

        def use_it() -> tuple[int, str, int]:
            with Client(base, api_key=key) as pool:
                session = pool.create(viewport_width=500, viewport_height=400)
                width = pool.evaluate(session.session_id, "innerWidth")
                assert pool.live_link(session.session_id).url.endswith("&mode=view")
                pool.delete_session(session.session_id)
                try:
                    pool.get("unknown")
                except BrowserpoolAPIError as exc:
                    return width, pool.get(session.session_id).status, exc.status
            raise AssertionError("unknown session did not fail")

        assert await asyncio.to_thread(use_it) == (500, "closed", 404)


async def test_clients_round_trip_a_profile(daemon_settings: Settings, tmp_path: Path) -> None:
    state = {
        "cookies": [
            {"name": "sid", "value": "token-zoe", "domain": "127.0.0.1", "path": "/", "expires": -1,
             "httpOnly": True, "secure": False, "sameSite": "Lax"}
        ],
        "origins": [{"origin": "http://127.0.0.1:9", "localStorage": [{"name": "user", "value": "zoe"}]}],
    }  # fmt: skip
    async with serve_daemon(daemon_settings) as daemon:
        key = (await daemon.user())["X-API-Key"]
        async with AsyncClient(str(daemon.client.base_url), api_key=key) as pool:
            uploaded = await pool.upload_profile("zoe", state)
            assert (uploaded.name, uploaded.cookies, uploaded.origins, uploaded.in_use_by) == ("zoe", 1, 1, None)
            session = await pool.create(profile={"name": "zoe", "persist": True})
            assert session.profile == {"name": "zoe", "persist": True} and session.profile_save == "pending"
            assert [p.in_use_by for p in await pool.profiles()] == [session.session_id]
            assert (await pool.save_profile(session.session_id)).profile_saved_at is not None
            await pool.delete_session(session.session_id)
            assert (await pool.get(session.session_id)).profile_save == "saved"
            downloaded = await pool.download_profile("zoe", tmp_path / "zoe.json")
            assert downloaded["cookies"] == state["cookies"]  # saved by the session: Playwright adds `indexedDB`
            assert [{**o, "indexedDB": []} for o in state["origins"]] == downloaded["origins"]
            reader = await pool.create(profile="zoe")
            assert reader.profile == {"name": "zoe", "persist": False}
            await pool.delete_session(reader.session_id)

        def sync_round_trip() -> list[str]:
            with Client(str(daemon.client.base_url), api_key=key) as pool:
                pool.upload_profile("from-file", tmp_path / "zoe.json")
                assert pool.profile("from-file").cookies == 1
                pool.delete_profile("zoe")
                return [p.name for p in pool.profiles()]

        assert await asyncio.to_thread(sync_round_trip) == ["from-file"]


async def test_close_closes_the_client_and_delete_session_ends_a_session(daemon_settings: Settings) -> None:
    async with serve_daemon(daemon_settings) as daemon:
        me = await daemon.user()
        base = str(daemon.client.base_url)
        async with AsyncClient(base, api_key=me["X-API-Key"]) as pool:
            kept = await pool.create()
            ended = await pool.create()
            with pytest.warns(DeprecationWarning, match=r"delete_session\(session_id\)") as warned:
                await pool.close(ended.session_id)  # the old spelling, for one release
            assert [w.filename for w in warned] == [__file__]  # the warning points at the caller's line
            assert (await pool.get(ended.session_id)).end_reason == "deleted"
            assert not pool.http.is_closed
        assert pool.http.is_closed  # the block's end closed the client...
        with pytest.raises(RuntimeError, match="closed"):
            await pool.get(kept.session_id)
        live = await daemon.client.get(f"/v1/browser/sessions/{kept.session_id}", headers=me)
        assert live.json()["status"] == "active"  # ...and nothing else: the session lives on

        def sync_close() -> tuple[str | None, str]:
            pool = Client(base, api_key=me["X-API-Key"])
            with pytest.warns(DeprecationWarning, match=r"delete_session\(session_id\)"):
                pool.close(kept.session_id)
            reason = pool.get(kept.session_id).end_reason
            pool.close()
            try:
                pool.list()
            except RuntimeError as exc:
                return reason, str(exc)
            raise AssertionError("a closed client still sent a request")

        reason, refusal = await asyncio.to_thread(sync_close)
        assert reason == "deleted" and "closed" in refusal

        other = AsyncClient(base, api_key=me["X-API-Key"])
        await other.close()
        assert other.http.is_closed
