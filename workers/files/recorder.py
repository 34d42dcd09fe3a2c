"""A session's video: frames of Chromium's screencast, encoded by ffmpeg into WebM (VP8) as the session runs.

What is recorded: the most recent page of the session's own context (the REST page, or a page a client or a
script opened there since, until it closes: then the most recent one still open). Contexts a CDP client
created itself are not recorded.

Chromium sends a screencast frame (`Page.screencastFrame`, JPEG, at most the output size) only when the
page changes, so the recorder writes frames to ffmpeg on a clock of its own at `fps`, repeating the last one:
after `t` seconds it has written `t * fps` frames, and the video lasts as long as the session did. Frames
before the first screencast frame are made up by repeating that first one. The video is written to
`<name>.part` and renamed when ffmpeg has finished it, so a complete file is always a playable one.
"""

import asyncio
import base64
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from orchestrator.deadlines import within

log = logging.getLogger(__name__)

JPEG_QUALITY = 70
FINISH_TIMEOUT = 30.0  # how long ffmpeg may take to finish the file once the session ended
FIRST_FRAME_WAIT = 1.0  # a session ended before its page drew a frame waits this long for one at most


class RecordingUnavailable(RuntimeError):
    """This worker cannot record (no ffmpeg)."""


def output_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The video's size: the viewport, scaled down to `max_width` if wider, both sides even (VP8 wants them so)."""
    if width > max_width:
        height, width = round(height * max_width / width), max_width
    return max(2, width - width % 2), max(2, height - height % 2)


def ffmpeg_command(ffmpeg: str, size: tuple[int, int], fps: int, output: Path) -> list[str]:
    width, height = size
    fit = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p"
    )
    return [
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-nostdin"),
        *("-f", "image2pipe", "-framerate", str(fps), "-c:v", "mjpeg", "-i", "pipe:0"),
        *("-vf", fit, "-an"),
        *("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-g", str(fps * 10)),
        *("-threads", "1", "-f", "webm", str(output)),
    ]


class Recorder:
    def __init__(
        self, context: BrowserContext, page: Page, partial: Path, final: Path, size: tuple[int, int], fps: int
    ):
        self.context = context
        self.partial = partial
        self.final = final
        self.size = size
        self.fps = fps
        self.stopped_why: str | None = None
        self._first_page = page
        self._pages: list[Page] = []  # the context's pages seen, oldest first; the last open one is followed
        self._cdp: CDPSession | None = None
        self._latest: bytes | None = None
        self._written = 0
        self._started_at = 0.0
        self._process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finished = asyncio.Event()
        self._first_frame = asyncio.Event()
        self._stopping = False

    @property
    def recording(self) -> bool:
        return self._process is not None and not self._finished.is_set()

    async def start(self) -> None:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RecordingUnavailable(
                "this worker cannot record sessions: ffmpeg is not installed (apt-get install ffmpeg)"
            )
        self._process = await asyncio.create_subprocess_exec(
            *ffmpeg_command(ffmpeg, self.size, self.fps, self.partial),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._started_at = asyncio.get_running_loop().time()
        self.context.on("page", self._page_opened)
        await self._follow(self._first_page)
        self._pump = asyncio.get_running_loop().create_task(self._write_on_the_clock())

    async def stop(self, why: str | None = None) -> None:
        """Write the frames due up to now, let ffmpeg finish the file, and rename it complete. Safe twice."""
        if self._stopping or self._process is None:
            return
        self._stopping = True
        if self._latest is None:  # ended at once (a create then a delete): give its page a moment to draw
            with contextlib.suppress(TimeoutError):
                await within(FIRST_FRAME_WAIT, self._first_frame.wait())
        self._finished.set()
        self.stopped_why = self.stopped_why or why
        self.context.remove_listener("page", self._page_opened)
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._stop_screencast()
        with contextlib.suppress(OSError, ValueError):
            await self._catch_up()
        process = self._process
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            _, errors = await within(FINISH_TIMEOUT, process.communicate())
        except TimeoutError:
            process.kill()
            await process.wait()
            errors = b"ffmpeg did not finish in time"
        if process.returncode == 0 and self._written:
            await asyncio.to_thread(self.partial.replace, self.final)
        elif not self._written:  # no frame to make a video of: not the encoder's failure
            log.warning("recording %s: the session ended before its page drew a frame; no video", self.final)
            await asyncio.to_thread(self.partial.unlink, True)
        else:
            log.error("recording %s failed: %s", self.final, errors.decode(errors="replace").strip()[-500:])
            await asyncio.to_thread(self.partial.unlink, True)

    # --- pages ---------------------------------------------------------------------------------

    def _page_opened(self, page: Page) -> None:
        self._spawn(self._follow(page))

    def _page_closed(self, page: Page) -> None:
        if self._pages and self._pages[-1] is page:
            self._pages.pop()
            while self._pages and self._pages[-1].is_closed():
                self._pages.pop()
            if self._pages and not self._finished.is_set():
                self._spawn(self._follow(self._pages[-1]))

    async def _follow(self, page: Page) -> None:
        """Screencast `page` from now on (the one followed before stops)."""
        if self._finished.is_set() or page.is_closed():
            return
        if page not in self._pages:
            page.on("close", self._page_closed)
        else:
            self._pages.remove(page)
        self._pages.append(page)
        await self._stop_screencast()
        try:
            cdp = await self.context.new_cdp_session(page)
            cdp.on("Page.screencastFrame", lambda event: self._frame(cdp, event))
            width, height = self.size
            params = {"format": "jpeg", "quality": JPEG_QUALITY, "maxWidth": width, "maxHeight": height}
            await cdp.send("Page.startScreencast", params)
            self._cdp = cdp
        except PlaywrightError as exc:
            log.debug("could not screencast a page: %s", exc)

    async def _stop_screencast(self) -> None:
        cdp, self._cdp = self._cdp, None
        if cdp is not None:
            with contextlib.suppress(PlaywrightError):
                await cdp.send("Page.stopScreencast")
                await cdp.detach()

    def _frame(self, cdp: CDPSession, event: dict[str, Any]) -> None:
        if cdp is self._cdp:
            with contextlib.suppress(ValueError, TypeError):
                self._latest = base64.b64decode(event.get("data", ""))
                self._first_frame.set()
        self._spawn(_quietly(cdp.send("Page.screencastFrameAck", {"sessionId": event.get("sessionId")})))

    # --- frames to ffmpeg ----------------------------------------------------------------------

    async def _write_on_the_clock(self) -> None:
        try:
            while True:
                await self._catch_up()
                await asyncio.sleep(1 / self.fps)
        except (OSError, ValueError) as exc:  # ffmpeg went away: stop, keep what it wrote
            self.stopped_why = f"the encoder stopped: {exc}"
            log.error("recording %s: %s", self.final, self.stopped_why)

    async def _catch_up(self) -> None:
        """Write the latest frame as many times as the clock says are due."""
        process = self._process
        if self._latest is None or process is None or process.stdin is None or process.stdin.is_closing():
            return
        due = int((asyncio.get_running_loop().time() - self._started_at) * self.fps) + 1
        while self._written < due:
            process.stdin.write(self._latest)
            self._written += 1
            await process.stdin.drain()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _quietly(awaitable: Any) -> None:
    with contextlib.suppress(PlaywrightError):
        await awaitable
