"""Driving a session's page over REST: navigate, evaluate, screenshot, content."""

import struct

from tests.conftest import Daemon
from tests.support import free_port


async def test_navigate_reports_url_status_and_title(daemon: Daemon, site: str) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    response = await daemon.client.post(f"/v1/browser/sessions/{sid}/navigate", json={"url": site + "/"}, headers=me)
    assert response.status_code == 200, response.text
    assert response.json() == {"url": site + "/", "status": 200, "title": "browserpool test page"}

    content = await daemon.client.get(f"/v1/browser/sessions/{sid}/content", headers=me)
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("text/html")
    assert "<h1>hello</h1>" in content.text


async def test_screenshot_is_a_png_of_the_viewport(daemon: Daemon, site: str) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me, viewport_width=640, viewport_height=360))["session_id"]
    await daemon.client.post(f"/v1/browser/sessions/{sid}/navigate", json={"url": site + "/"}, headers=me)
    response = await daemon.client.get(f"/v1/browser/sessions/{sid}/screenshot", headers=me)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    png = response.content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (640, 360)


async def test_failed_navigation_is_502_with_the_browsers_error_and_the_session_lives(
    daemon: Daemon, site: str
) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    dead = f"http://127.0.0.1:{free_port()}/"
    response = await daemon.client.post(f"/v1/browser/sessions/{sid}/navigate", json={"url": dead}, headers=me)
    assert response.status_code == 502
    assert "net::ERR_" in response.json()["detail"]  # the browser's own error (through the egress guard)

    again = await daemon.client.post(f"/v1/browser/sessions/{sid}/navigate", json={"url": site + "/other"}, headers=me)
    assert again.status_code == 200, again.text
    assert again.json()["title"] == "other page"
    assert (await daemon.client.get(f"/v1/browser/sessions/{sid}", headers=me)).json()["status"] == "active"


async def test_navigation_to_files_and_browser_internals_is_refused(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    for url in ["file:///etc/passwd", "chrome://version", "javascript:alert(1)", "/relative"]:
        response = await daemon.client.post(f"/v1/browser/sessions/{sid}/navigate", json={"url": url}, headers=me)
        assert response.status_code == 422, url
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["body", "url"] and "not allowed" in detail[0]["msg"]


async def test_evaluate_returns_json_values_and_reports_script_errors(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    url = f"/v1/browser/sessions/{sid}/evaluate"
    cases = {
        "({a: 1, b: [true, null, 'x']})": {"a": 1, "b": [True, None, "x"]},
        "undefined": None,
        "0/0": "NaN",
        "1/0": "Infinity",
        "document.title": "",
        "new Date(0)": "1970-01-01T00:00:00+00:00",
    }
    for expression, expected in cases.items():
        response = await daemon.client.post(url, json={"expression": expression}, headers=me)
        assert response.status_code == 200, (expression, response.text)
        assert response.json() == {"result": expected}, expression

    broken = await daemon.client.post(url, json={"expression": "throw new Error('boom')"}, headers=me)
    assert broken.status_code == 400
    assert "boom" in broken.json()["detail"]
    syntax = await daemon.client.post(url, json={"expression": "this is not js"}, headers=me)
    assert syntax.status_code == 400
