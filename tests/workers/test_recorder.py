"""The recorder against a real Chromium and ffmpeg: a session that ends before its page drew a frame."""

import logging
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from workers.chromium.find import find_chromium
from workers.files.recorder import Recorder


async def test_a_recording_stopped_at_once_still_waits_for_a_first_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(None))
        try:
            context = await browser.new_context(viewport={"width": 320, "height": 180})
            page = await context.new_page()
            final = tmp_path / "recording.webm"
            recorder = Recorder(context, page, tmp_path / "recording.webm.part", final, (320, 180), 10)
            await recorder.start()
            await recorder.stop("the session ended")  # before Chromium sent its first screencast frame
        finally:
            await browser.close()
    assert final.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # a WebM of the one frame, not a failed encode
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
