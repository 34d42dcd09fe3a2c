"""The dashboard in a real browser: sign in, see the session rows, watch a live view receive frames."""

import asyncio
import re

from playwright.async_api import async_playwright, expect

from orchestrator.config import Settings
from tests.conftest import serve_daemon
from tests.support import repo_root
from workers.chromium.find import find_chromium

ARTIFACTS = repo_root() / "tests" / "artifacts"


async def test_dashboard_lists_sessions_and_shows_a_live_view(daemon_settings: Settings, site: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with serve_daemon(daemon_settings) as daemon:
        admin = await daemon.runtime.shared.accounts.add_user("operator", None, admin=True)
        key = (await daemon.runtime.shared.accounts.create_api_key(admin, "ui")).secret
        headers = {"X-API-Key": key}
        first = await daemon.create(headers, viewport_width=800, viewport_height=500, user_agent="DashAgent/1")
        proxy = {"server": "socks5://127.0.0.1:9", "username": "dash", "password": "dash-secret"}
        second = await daemon.create(headers, proxy=proxy)  # it never loads a page: the proxy needs no listener
        await daemon.client.post(
            f"/v1/browser/sessions/{first['session_id']}/navigate", json={"url": site + "/"}, headers=headers
        )
        base = str(daemon.client.base_url).rstrip("/")

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=find_chromium(daemon_settings.chromium_path))
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            answer = await page.goto(base + "/")
            assert answer is not None
            sent = await answer.all_headers()
            assert "default-src 'none'" in sent["content-security-policy"]
            assert sent["x-frame-options"] == "DENY" and sent["x-content-type-options"] == "nosniff"
            await page.fill("#apikey", key)
            await page.click("button[type=submit]")

            rows = page.locator("#sessions tr")
            await expect(rows).to_have_count(2)
            await expect(page.locator("#signin")).to_be_hidden()
            newest = rows.nth(0)
            assert await newest.get_attribute("data-session-id") == second["session_id"]
            oldest = page.locator(f"tr[data-session-id='{first['session_id']}']")
            await expect(oldest).to_contain_text("800\u00d7500")
            await expect(oldest).to_contain_text("DashAgent/1")
            await expect(oldest).to_contain_text("active")
            await expect(oldest).to_contain_text("direct")
            await expect(newest).to_contain_text("socks5://127.0.0.1:9")  # the server only, never a credential
            assert "dash-secret" not in await page.content()
            await expect(page.locator("#workers tr")).to_have_count(1)  # admins see the workers
            await expect(oldest.locator("img.thumb")).to_have_attribute("src", re.compile("^blob:"))
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"))

            await oldest.locator("a").click()
            canvas = page.locator("#live")
            await expect(canvas).not_to_have_attribute("data-frames", "0", timeout=15000)
            await page.screenshot(path=str(ARTIFACTS / "live-view.png"))

            await page.click("#close")
            await expect(rows).to_have_count(1)
            assert violations == []  # the policy lets the page do all of the above, and nothing else
            await browser.close()
        status = (await daemon.client.get(f"/v1/browser/sessions/{first['session_id']}", headers=headers)).json()
        assert status["status"] == "closed"


async def test_dashboard_plays_an_ended_sessions_recording(daemon_settings: Settings, site: str) -> None:
    async with serve_daemon(daemon_settings) as daemon:
        user = await daemon.runtime.shared.accounts.add_user("viewer", None)
        key = (await daemon.runtime.shared.accounts.create_api_key(user, "ui")).secret
        headers = {"X-API-Key": key}
        sid = (await daemon.create(headers, record=True, viewport_width=480, viewport_height=270))["session_id"]
        await daemon.client.post(f"/v1/browser/sessions/{sid}/navigate", json={"url": site + "/"}, headers=headers)
        await asyncio.sleep(1.0)
        await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=headers)
        base = str(daemon.client.base_url).rstrip("/")

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=find_chromium(daemon_settings.chromium_path))
            page = await browser.new_page()
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            await page.goto(base + "/ui")
            await page.fill("#apikey", key)
            await page.click("button[type=submit]")
            await expect(page.locator("#signin")).to_be_hidden()
            await page.goto(f"{base}/ui#/sessions/{sid}")
            await expect(page.locator("#video")).to_have_attribute("src", re.compile("^blob:"), timeout=20000)
            await page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=10000)
            duration = await page.evaluate("document.getElementById('video').duration")
            assert duration > 0.5, duration
            await page.screenshot(path=str(ARTIFACTS / "recording.png"))
            assert violations == []


async def test_dashboard_lists_profiles_with_size_and_holder(daemon_settings: Settings) -> None:
    async with serve_daemon(daemon_settings) as daemon:
        headers = await daemon.user()
        empty = {"cookies": [], "origins": []}
        assert (await daemon.client.put("/v1/profiles/idle-one", json=empty, headers=headers)).status_code == 201
        holder = await daemon.create(headers, profile={"name": "held-one", "persist": True})
        base = str(daemon.client.base_url).rstrip("/")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=find_chromium(daemon_settings.chromium_path))
            page = await browser.new_page()
            await page.goto(base + "/")
            await page.fill("#apikey", headers["X-API-Key"])
            await page.click("button[type=submit]")
            await expect(page.locator("#profiles tr")).to_have_count(2)
            held = page.locator("tr[data-profile='held-one']")
            await expect(held).to_contain_text(holder["session_id"][:12])
            await expect(page.locator("tr[data-profile='idle-one']")).to_contain_text(re.compile(r"\d+ B.*-$"))
            await browser.close()
