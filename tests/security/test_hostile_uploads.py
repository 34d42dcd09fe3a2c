"""A hostile tenant at the doors that take documents: session uploads, profiles, proxies.

An upload is answered before a byte of its body is read unless the credential is valid and the session the
caller's own (the test sends only the headers and a first slice of a large body, and the answer comes); a
profile past its bounds is refused with the bound; a profile naming a file: origin is refused, and one
stored before that rule never makes a restore open a host file.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Daemon, make_settings, serve_daemon

SESSIONS = "/v1/browser/sessions/"
PROFILES = "/v1/profiles"
DECLARED = 64 * 1024 * 1024  # what the upload claims to carry
SENT = 64 * 1024  # what the test really sends before it waits for the answer


@pytest.fixture
async def served(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    settings = make_settings(redis_url, prefix, tmp_path, warm_contexts=0, profile_max_cookies=50)
    async with serve_daemon(settings) as daemon:
        yield daemon


async def _upload_headers_only(daemon: Daemon, session_id: str, headers: dict[str, str]) -> str:
    """The status line the daemon answers an upload of DECLARED bytes with, having been sent only SENT of them."""
    host, port = str(daemon.client.base_url.host), int(daemon.client.base_url.port or 80)
    reader, writer = await asyncio.open_connection(host, port)
    boundary = uuid.uuid4().hex
    lines = [
        f"POST {SESSIONS}{session_id}/files HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        f"Content-Length: {DECLARED}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
    writer.write("\r\n".join(lines).encode() + part.encode() + b"x" * SENT)
    await writer.drain()
    try:
        return (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
    except TimeoutError:
        return "no answer: the daemon was reading the body"
    finally:
        writer.close()


async def test_an_anonymous_or_foreign_upload_is_refused_before_its_body_is_read(served: Daemon) -> None:
    owner, stranger = await served.user(), await served.user()
    session = await served.create(owner)
    sid = session["session_id"]
    assert await _upload_headers_only(served, sid, {}) == "HTTP/1.1 401 Unauthorized"
    assert await _upload_headers_only(served, sid, {"X-API-Key": "bp_wrong_key"}) == "HTTP/1.1 401 Unauthorized"
    assert await _upload_headers_only(served, sid, stranger) == "HTTP/1.1 404 Not Found"
    assert await _upload_headers_only(served, uuid.uuid4().hex, owner) == "HTTP/1.1 404 Not Found"

    # The owner's own upload still works, and a body that is not multipart is a clear 422.
    done = await served.client.post(f"{SESSIONS}{sid}/files", files={"files": ("a.txt", b"mine")}, headers=owner)
    assert done.status_code == 200 and done.json()["files"][0]["size_bytes"] == 4, done.text
    wrong = await served.client.post(f"{SESSIONS}{sid}/files", json={"files": []}, headers=owner)
    assert wrong.status_code == 422 and "multipart/form-data" in wrong.text
    empty = await served.client.post(f"{SESSIONS}{sid}/files", files={"other": ("a.txt", b"x")}, headers=owner)
    assert empty.status_code == 422 and "no `files` part" in empty.text


def _cookie(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": "v",
        "domain": "shop.test",
        "path": "/",
        "expires": -1,
        "httpOnly": False,
        "secure": False,
        "sameSite": "Lax",
    }


async def test_profiles_past_their_bounds_or_off_the_web_are_refused(served: Daemon) -> None:
    me = await served.user()
    many = {"cookies": [_cookie(f"c{i}") for i in range(51)], "origins": []}
    refused = await served.client.put(f"{PROFILES}/many", json=many, headers=me)
    assert refused.status_code == 422 and "at most 50 cookies" in refused.text, refused.text
    origins = {"cookies": [], "origins": [{"origin": f"https://o{i}.test", "localStorage": []} for i in range(101)]}
    refused = await served.client.put(f"{PROFILES}/origins", json=origins, headers=me)
    assert refused.status_code == 422 and "at most 100 origins" in refused.text, refused.text
    huge = [{"name": "k", "value": "x" * (6 * 1024 * 1024)}]
    big = {"cookies": [], "origins": [{"origin": "https://big.test", "localStorage": huge}]}
    refused = await served.client.put(f"{PROFILES}/big", json=big, headers=me)
    assert refused.status_code == 413 and "per origin" in refused.text, refused.text[:300]
    for origin in ("file://", "file:///etc", "chrome://settings", "javascript://x"):
        body = {"cookies": [], "origins": [{"origin": origin, "localStorage": [{"name": "a", "value": "b"}]}]}
        refused = await served.client.put(f"{PROFILES}/local", json=body, headers=me)
        assert refused.status_code == 422, (origin, refused.text)
    assert (await served.client.get(PROFILES, headers=me)).json()["total_count"] == 0
    health = await served.client.get("/healthz")
    assert health.status_code == 200


async def test_a_stored_profile_with_a_file_origin_never_opens_a_host_file(served: Daemon, site: str) -> None:
    # As a profile stored before file: origins were refused would hold it (written past the API's check).
    document = {
        "cookies": [],
        "origins": [
            {"origin": "file://", "localStorage": [{"name": "a", "value": "host"}]},
            {"origin": "chrome://settings", "localStorage": [{"name": "a", "value": "browser"}]},
            {"origin": site, "localStorage": [{"name": "a", "value": "web"}]},
        ],
    }
    browser = served.worker.browsers()[0].browser
    assert browser is not None
    context = await browser.new_context()  # a context of the pool's own browser, watched from its first page
    opened: list[str] = []
    context.on("page", lambda page: page.on("framenavigated", lambda frame: opened.append(frame.url)))
    try:
        await served.worker.profiles.restore(context, document)
        page = await context.new_page()
        await page.goto(site + "/")
        assert await page.evaluate("localStorage.a") == "web"  # the web origin was restored
    finally:
        await context.close()
    assert opened and not [url for url in opened if not url.startswith(("http://", "https://", "about:"))], opened
