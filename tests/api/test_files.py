"""A session's files through the API: downloads (REST and CDP driven), uploads, PDF, the disk quota, retention."""

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from browserpool_client import BrowserpoolAPIError, Client
from orchestrator.config import Settings
from tests.api.files_site import REPORT, files_site
from tests.api.test_events import _read_events
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from tests.support import eventually, repo_root
from workers.files.store import tree_bytes

SESSIONS = "/v1/browser/sessions/"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def files_url() -> Iterator[str]:
    with files_site() as url:
        yield url


@pytest.fixture
async def short_retention(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, file_retention=2, metrics_public=True)) as d:
        yield d


async def _navigate(daemon: Daemon, sid: str, me: dict[str, str], url: str) -> None:
    answer = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": url}, headers=me)
    assert answer.status_code == 200, answer.text


async def _evaluate(daemon: Daemon, sid: str, me: dict[str, str], expression: str) -> Any:
    answer = await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": expression}, headers=me)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


async def _downloads(daemon: Daemon, sid: str, me: dict[str, str]) -> list[dict[str, Any]]:
    answer = await daemon.client.get(f"{SESSIONS}{sid}/downloads", headers=me)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["downloads"]
    return listed


async def _complete(daemon: Daemon, sid: str, me: dict[str, str], count: int = 1) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]]:
        listed = await _downloads(daemon, sid, me)
        return listed if len(listed) >= count and all(d["state"] != "in_progress" for d in listed) else []

    return await eventually(done, timeout=15)


async def test_a_download_is_listed_served_and_kept_after_the_end_until_its_retention(
    short_retention: Daemon, files_url: str
) -> None:
    daemon = short_retention
    me, other = await daemon.user(), await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    await _navigate(daemon, sid, me, f"{files_url}/download")
    await _evaluate(daemon, sid, me, "document.getElementById('dl').click()")

    [listed] = await _complete(daemon, sid, me)
    assert listed["name"] == "report.bin" and listed["state"] == "complete"
    assert listed["size_bytes"] == len(REPORT) and listed["source_url"] == f"{files_url}/report.bin"
    assert listed["mime_type"] == "application/octet-stream"
    assert listed["url"].endswith(f"{SESSIONS}{sid}/downloads/report.bin")
    fetched = await daemon.client.get(f"{SESSIONS}{sid}/downloads/report.bin", headers=me)
    assert fetched.status_code == 200 and fetched.content == REPORT
    assert fetched.headers["content-length"] == str(len(REPORT))
    assert "report.bin" in fetched.headers["content-disposition"]

    record = await daemon.runtime.shared.store.get(sid)
    assert record is not None
    events = await daemon.runtime.shared.store.events.after(record.user_id, "0-0")
    [download] = [e for e in events if e.type == "download"]
    assert (download.name, download.size_bytes, download.session_id) == ("report.bin", len(REPORT), sid)
    metrics = (await daemon.client.get("/metrics")).text
    worker = daemon.worker.worker_id
    assert f'browserpool_downloads_total{{state="complete",worker="{worker}"}} 1.0' in metrics, metrics
    assert f'browserpool_recordings_in_progress{{worker="{worker}"}} 0.0' in metrics

    for route in ("downloads", "downloads/report.bin", "recording", "pdf"):  # another user: as if it did not exist
        assert (await daemon.client.get(f"{SESSIONS}{sid}/{route}", headers=other)).status_code == 404, route
    assert (await daemon.client.get(f"{SESSIONS}{sid}/downloads/nothing.bin", headers=me)).status_code == 404

    assert (await daemon.client.delete(f"{SESSIONS}{sid}", headers=me)).status_code == 204
    await eventually(lambda: _fetched_after_end(daemon, sid, me), timeout=10)
    assert [d["name"] for d in await _downloads(daemon, sid, me)] == ["report.bin"]
    # Past the retention (2 s) the sweep removes them.
    await eventually(lambda: _gone(daemon, sid, me), timeout=10)
    assert not (daemon.worker.files and (daemon.worker.files.store.root / sid).exists())


async def _fetched_after_end(daemon: Daemon, sid: str, me: dict[str, str]) -> bool:
    if sid in daemon.worker.held_session_ids():
        return False
    answer = await daemon.client.get(f"{SESSIONS}{sid}/downloads/report.bin", headers=me)
    return answer.status_code == 200 and answer.content == REPORT


async def _gone(daemon: Daemon, sid: str, me: dict[str, str]) -> bool:
    answer = await daemon.client.get(f"{SESSIONS}{sid}/downloads/report.bin", headers=me)
    return answer.status_code == 404 and await _downloads(daemon, sid, me) == []


async def test_rest_upload_sets_the_files_on_an_input_and_the_page_prints_to_pdf(
    daemon: Daemon, files_url: str
) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    await _navigate(daemon, sid, me, f"{files_url}/upload")
    sent = {"files": [("files", ("invoice.pdf", b"%PDF-1.4 invoice", "application/pdf")), ("files", ("a.txt", b"ab"))]}
    answer = await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, **sent)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    stored = answer.json()["files"]
    assert [(f["name"], f["size_bytes"]) for f in stored] == [("invoice.pdf", 16), ("a.txt", 2)]
    assert Path(stored[0]["path"]).read_bytes() == b"%PDF-1.4 invoice"

    body = {"selector": "#f", "files": ["invoice.pdf", "a.txt"]}
    assert (await daemon.client.post(f"{SESSIONS}{sid}/upload", json=body, headers=me)).status_code == 204
    picked = await _evaluate(daemon, sid, me, "[...document.getElementById('f').files].map(f => [f.name, f.size])")
    assert picked == [["invoice.pdf", 16], ["a.txt", 2]]
    unknown = await daemon.client.post(f"{SESSIONS}{sid}/upload", json={**body, "files": ["nope"]}, headers=me)
    assert unknown.status_code == 422 and "upload it first" in unknown.text

    await _navigate(daemon, sid, me, f"{files_url}/text")
    pdf = await daemon.client.get(f"{SESSIONS}{sid}/pdf", params={"format": "Letter", "landscape": "true"}, headers=me)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "Quarterly figures for browserpool" in _pdf_text(pdf.content)
    bad = await daemon.client.get(f"{SESSIONS}{sid}/pdf", params={"format": "A0"}, headers=me)
    assert bad.status_code == 422


def _pdf_text(data: bytes) -> str:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (poppler-utils) is installed by make setup-dev"
    return subprocess.run([pdftotext, "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


async def test_a_download_past_the_disk_quota_fails_with_the_reason_and_the_disk_stays_bounded(
    redis_url: str, prefix: str, tmp_path: Path, files_url: str
) -> None:
    settings: Settings = make_settings(redis_url, prefix, tmp_path, session_disk_quota=4 * MIB)
    async with start_daemon(settings) as daemon:
        me = await daemon.user()
        sid = (await daemon.create(me))["session_id"]
        await _navigate(daemon, sid, me, f"{files_url}/big")
        await _evaluate(daemon, sid, me, "document.getElementById('dl').click()")
        [failed] = await _complete(daemon, sid, me)
        assert failed["state"] == "failed" and "disk quota" in failed["failure_reason"], failed
        files = daemon.worker.files
        assert files is not None
        assert await asyncio.to_thread(tree_bytes, files.quota_paths(sid)) <= 4 * MIB
        assert (await daemon.client.get(f"{SESSIONS}{sid}/downloads/big.bin", headers=me)).status_code == 404
        too_big = {"files": [("files", ("big.bin", b"\0" * (5 * MIB)))]}
        refused = await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, **too_big)  # type: ignore[arg-type]
        assert refused.status_code == 413 and "disk quota" in refused.text  # refused before it is read
        part = {"files": [("files", ("part.bin", b"\1" * (3 * MIB)))]}
        assert (await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, **part)).status_code == 200  # type: ignore[arg-type]
        again = await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, **part)  # type: ignore[arg-type]
        assert again.status_code == 413 and "nothing was kept" in again.text  # refused as it passes the quota
        assert await asyncio.to_thread(tree_bytes, files.quota_paths(sid)) <= 4 * MIB
        assert await _evaluate(daemon, sid, me, "1 + 1") == 2  # the session lives on


async def test_cdp_clients_download_and_upload_through_the_session_directory(
    redis_url: str, prefix: str, tmp_path: Path, files_url: str
) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path)) as daemon:
        me = await daemon.user()
        session = await daemon.create(me)
        sid = session["session_id"]
        uploaded = await daemon.client.post(
            f"{SESSIONS}{sid}/files", headers=me, files={"files": ("cv.txt", b"curriculum")}
        )
        path = uploaded.json()["files"][0]["path"]
        seen: list[dict[str, Any]] = []
        reader = asyncio.create_task(_read_events(daemon.client, me, 1, seen))
        await asyncio.sleep(0.3)
        async with async_playwright() as p:
            # is_local: Playwright sends the path itself (DOM.setFileInputFiles), as a client on another host must.
            browser = await p.chromium.connect_over_cdp(session["cdp_url"], is_local=True)
            page = browser.contexts[0].pages[0]
            await page.goto(f"{files_url}/download")
            async with page.expect_download() as began:
                await page.click("#dl")
            assert (await began.value).suggested_filename == "report.bin"

            await page.goto(f"{files_url}/upload")
            await page.set_input_files("#f", path)
            assert await page.evaluate("[...f.files].map(x => [x.name, x.size])") == [["cv.txt", 10]]
            buffer = {"name": "b.bin", "mimeType": "application/octet-stream", "buffer": b"12345"}
            await page.set_input_files("#f", buffer)  # buffers go another way, and keep working
            assert await page.evaluate("[...f.files].map(x => [x.name, x.size])") == [["b.bin", 5]]

            cdp = await page.context.new_cdp_session(page)
            root = await cdp.send("DOM.getDocument")
            node = await cdp.send("DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": "#f"})
            for foreign in ("/etc/passwd", f"{Path(path).parent}/../../../../etc/passwd"):
                with pytest.raises(PlaywrightError, match="not a file inside this session's own directory"):
                    await cdp.send("DOM.setFileInputFiles", {"files": [foreign], "nodeId": node["nodeId"]})
            await browser.close()
        [listed] = await _complete(daemon, sid, me)
        assert listed["name"] == "report.bin" and listed["state"] == "complete"
        assert (await daemon.client.get(listed["url"], headers=me)).content == REPORT
        await asyncio.wait_for(reader, timeout=10)  # the SSE stream says so too
        assert seen[0]["event"] == "download"
        assert {k: seen[0]["data"][k] for k in ("session_id", "name", "size_bytes", "status")} == {
            "session_id": sid,
            "name": "report.bin",
            "size_bytes": len(REPORT),
            "status": "active",
        }


async def test_the_python_client_moves_files(redis_url: str, prefix: str, tmp_path: Path, files_url: str) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path)) as daemon:
        key = (await daemon.user())["X-API-Key"]
        local = tmp_path / "letter.txt"
        local.write_bytes(b"dear pool")

        def use_it() -> None:
            with Client(str(daemon.client.base_url), api_key=key) as pool:
                session = pool.create(viewport_width=400, viewport_height=300, record=True)
                sid = session.session_id
                assert session.recording_url and session.recording_url.endswith(f"{sid}/recording")
                pool.navigate(sid, f"{files_url}/upload")
                stored = pool.upload(sid, local, ("b.bin", b"\0\1"))
                assert [(f.name, f.size_bytes) for f in stored] == [("letter.txt", 9), ("b.bin", 2)]
                pool.set_input_files(sid, "#f", ["letter.txt"])
                assert pool.evaluate(sid, "f.files[0].size") == 9
                assert pool.pdf(sid, format="Letter").startswith(b"%PDF")
                pool.navigate(sid, f"{files_url}/download")
                pool.evaluate(sid, "document.getElementById('dl').click()")
                deadline = time.monotonic() + 15
                while not [d for d in pool.downloads(sid) if d.state == "complete"]:
                    assert time.monotonic() < deadline, pool.downloads(sid)
                    time.sleep(0.1)
                assert pool.download(sid, "report.bin") == REPORT
                with pytest.raises(BrowserpoolAPIError) as early:
                    pool.recording(sid)
                assert early.value.status == 409
                pool.delete_session(sid)
                while True:
                    try:
                        assert pool.recording(sid)[:4] == b"\x1a\x45\xdf\xa3"
                        return
                    except BrowserpoolAPIError as exc:
                        assert exc.status == 409 and time.monotonic() < deadline + 15

        await asyncio.to_thread(use_it)


async def test_chromiums_user_cannot_make_the_daemon_read_or_write_elsewhere(daemon: Daemon, files_url: str) -> None:
    """The session's directory belongs to Chromium's user: a renderer that escaped could put symlinks there."""
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    await _navigate(daemon, sid, me, f"{files_url}/download")
    await _evaluate(daemon, sid, me, "document.getElementById('dl').click()")
    await _complete(daemon, sid, me)
    live = Path(daemon.worker.held(sid).download_dir or "")
    [guid] = [p for p in live.iterdir() if p.is_file()]
    guid.unlink()
    guid.symlink_to("/etc/passwd")
    answer = await daemon.client.get(f"{SESSIONS}{sid}/downloads/report.bin", headers=me)
    assert answer.status_code == 404 and b"root:" not in answer.content

    elsewhere = live.parent.parent / "elsewhere"
    elsewhere.mkdir()
    (live / "uploads").symlink_to(elsewhere)
    sent = await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, files={"files": ("x.txt", b"x")})
    assert sent.status_code == 502 and "upload directory" in sent.text
    assert list(elsewhere.iterdir()) == []


async def test_files_outlive_a_restart_of_their_worker(
    redis_url: str, prefix: str, tmp_path: Path, files_url: str
) -> None:
    settings = make_settings(redis_url, prefix, tmp_path)  # the same worker id and state directory both times
    async with start_daemon(settings) as daemon:
        me = await daemon.user()
        sid = (await daemon.create(me))["session_id"]
        await _navigate(daemon, sid, me, f"{files_url}/download")
        await _evaluate(daemon, sid, me, "document.getElementById('dl').click()")
        await _complete(daemon, sid, me)
    async with start_daemon(settings) as daemon:  # the shutdown closed the session; its files were kept
        assert (await daemon.client.get(f"{SESSIONS}{sid}", headers=me)).json()["status"] == "closed"
        [listed] = await _downloads(daemon, sid, me)
        assert listed["state"] == "complete"
        assert (await daemon.client.get(f"{SESSIONS}{sid}/downloads/report.bin", headers=me)).content == REPORT


async def test_puppeteer_uploads_a_file_the_session_holds_and_no_other(
    redis_url: str, prefix: str, tmp_path: Path, files_url: str
) -> None:
    script = repo_root() / "tests" / "node" / "puppeteer_upload.mjs"
    assert (script.parent / "node_modules" / "puppeteer-core").exists(), "run make setup-dev"
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path)) as daemon:
        me = await daemon.user()
        session = await daemon.create(me)
        sid = session["session_id"]
        sent = await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, files={"files": ("id.png", b"png!")})
        path = sent.json()["files"][0]["path"]
        node = ("node", str(script), session["cdp_url"], f"{files_url}/upload", path)
        process = await asyncio.create_subprocess_exec(
            *node, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=script.parent
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        seen = json.loads(out)
        assert seen["picked"] == [["id.png", 4]]
        assert "not a file inside this session's own directory" in seen["refused"]
