"""The shipped Python client, sync and async, against a running daemon."""

import asyncio

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
            await pool.close(session.session_id)
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
                pool.close(session.session_id)
                try:
                    pool.get("unknown")
                except BrowserpoolAPIError as exc:
                    return width, pool.get(session.session_id).status, exc.status
            raise AssertionError("unknown session did not fail")

        assert await asyncio.to_thread(use_it) == (500, "closed", 404)
