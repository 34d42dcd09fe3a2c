"""Downloads and uploads: what reaches the client's side, and what the page reads of the client's files."""

import hashlib
from typing import Any

from playwright.async_api import Browser, Download

from tests.fidelity.harness import Env, Json, scenario
from tests.fidelity.site import DOWNLOAD_BYTES


async def _download(browser: Browser, env: Env, **context_options: Any) -> Download:
    context = await env.new_context(browser, **context_options)
    page = await context.new_page()
    await page.goto(env.site + "/download-link")
    async with page.expect_download() as info:
        await page.click("#dl")
    return await info.value


@scenario
async def download_event(browser: Browser, env: Env) -> Json:
    download = await _download(browser, env)
    return {"name": download.suggested_filename, "url": download.url, "failure": await download.failure()}


@scenario
async def download_path_bytes(browser: Browser, env: Env) -> Json:
    download = await _download(browser, env)
    path = await download.path()
    data = path.read_bytes()
    return {"size": len(data), "sha": hashlib.sha256(data).hexdigest()[:16], "expected": DOWNLOAD_BYTES}


@scenario
async def download_save_as(browser: Browser, env: Env) -> Json:
    download = await _download(browser, env)
    target = env.tmp / "saved.csv"
    await download.save_as(target)
    return {"size": target.stat().st_size, "head": target.read_bytes()[:10].decode()}


@scenario
async def download_in_home_context(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/download-link")
    async with page.expect_download() as info:
        await page.click("#dl")
    download = await info.value
    path = await download.path()
    return {"name": download.suggested_filename, "size": path.stat().st_size}


@scenario
async def download_cancel(browser: Browser, env: Env) -> Json:
    context = await env.new_context(browser)
    page = await context.new_page()
    await page.goto(env.site + "/download-link")
    async with page.expect_download() as info:
        await page.click("#slow")
    download = await info.value
    await download.cancel()
    return {"name": download.suggested_filename, "failure": await download.failure()}


@scenario
async def download_refused_by_context(browser: Browser, env: Env) -> Json:
    download = await _download(browser, env, accept_downloads=False)
    return {"failure": await download.failure()}


@scenario
async def upload_from_client_path(browser: Browser, env: Env) -> Json:
    local = env.tmp / "upload.txt"
    local.write_text("uploaded from the client")
    page = await env.page(browser)
    await page.goto(env.site + "/upload")
    await page.set_input_files("#file", local)
    await page.wait_for_function("window.__files !== null")
    return await page.evaluate("window.__files")


@scenario
async def upload_from_buffer(browser: Browser, env: Env) -> Json:
    page = await env.page(browser)
    await page.goto(env.site + "/upload")
    await page.set_input_files("#file", {"name": "mem.txt", "mimeType": "text/plain", "buffer": b"from memory"})
    await page.wait_for_function("window.__files !== null")
    return await page.evaluate("window.__files")


@scenario
async def upload_file_chooser(browser: Browser, env: Env) -> Json:
    local = env.tmp / "chosen.txt"
    local.write_text("chosen file")
    page = await env.page(browser)
    await page.goto(env.site + "/upload")
    async with page.expect_file_chooser() as info:
        await page.click("#file")
    chooser = await info.value
    await chooser.set_files(local)
    await page.wait_for_function("window.__files !== null")
    return {"multiple": chooser.is_multiple(), "files": await page.evaluate("window.__files")}
