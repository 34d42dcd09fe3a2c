"""One chromedriver process, attached to one session's discovery door and nothing else.

It listens on a loopback port it picks itself (`--port=0`; chromedriver allows only local connections unless
told otherwise), drives the session's browser over the door's websocket, and is stopped with its session.
Measured here: about 20 ms to start, 2-3 MB of private memory, no child processes.
"""

import asyncio
import contextlib
import logging
import re
import shutil
from typing import Any

import httpx

from orchestrator.addresses import hold_own_port, release_own_port
from workers.chromium.user import ChromiumUser, ChromiumUserError, resolve_user

log = logging.getLogger(__name__)

START_WAIT = 10.0  # seconds chromedriver may take to report its port
STOP_WAIT = 3.0
STARTED = re.compile(rb"started successfully on port (\d+)")
CANDIDATES = ("chromedriver", "/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver")
INSTALL_HINT = "install Debian's chromium-driver (make setup does) or set BROWSERPOOL_CHROMEDRIVER_PATH"


class DriverFailed(Exception):
    """chromedriver could not be started, or it died."""


def find_chromedriver(configured: str | None) -> str | None:
    """The chromedriver to run: the configured one, else the first on PATH or where Debian puts it."""
    for candidate in (configured,) if configured else CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def unprivileged_user(setting: str) -> ChromiumUser | None:
    """The user chromedriver runs as: Chromium's own (BROWSERPOOL_CHROMIUM_USER), else None (the daemon's)."""
    try:
        return resolve_user(setting)
    except ChromiumUserError as exc:
        log.warning("chromedriver runs as the daemon's user: %s", exc)
        return None


def as_user(user: ChromiumUser | None) -> tuple[str, ...]:
    """The prefix that runs a command as Chromium's own user (the launcher's setpriv), if it is another user."""
    if user is None or not user.separate:
        return ()
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    return (setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--nnp", "--inh-caps=-all", "--")


class ChromeDriver:
    """One chromedriver; with `user`, it runs as Chromium's unprivileged user, as the browsers it drives do."""

    def __init__(self, executable: str, user: ChromiumUser | None = None) -> None:
        self.executable = executable
        self.user = user
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self._http: httpx.AsyncClient | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *as_user(self.user),
            self.executable,
            "--port=0",
            "--log-level=SEVERE",  # OFF would hide the line that says its port
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(START_WAIT):
                while True:
                    line = await self.process.stdout.readline()
                    if not line:
                        raise DriverFailed(f"chromedriver exited at start (code {await self.process.wait()})")
                    started = STARTED.search(line)
                    if started:
                        self.port = int(started.group(1))
                        hold_own_port(self.port)  # as the door's: out of every page's reach
                        break
        except TimeoutError:
            await self.stop()
            raise DriverFailed(f"chromedriver did not start within {START_WAIT:g}s") from None
        except DriverFailed:
            await self.stop()
            raise
        self._http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=None)
        self._drain = asyncio.get_running_loop().create_task(self._log_output(self.process.stdout))

    async def _log_output(self, output: asyncio.StreamReader) -> None:
        """What it says after its start (severe errors only), logged rather than left to fill the pipe."""
        while line := await output.readline():
            log.info("chromedriver %s: %s", self.port, line.decode(errors="replace").rstrip())

    async def send(self, method: str, path: str, body: bytes | None) -> tuple[int, Any]:
        """One WebDriver command, as chromedriver answers it (status, decoded JSON)."""
        if self._http is None or not self.running:
            raise DriverFailed("chromedriver is not running")
        try:
            response = await self._http.request(
                method, path, content=body, headers={"Content-Type": "application/json; charset=utf-8"}
            )
        except httpx.HTTPError as exc:
            raise DriverFailed(f"chromedriver did not answer: {exc}") from exc
        try:
            return response.status_code, response.json()
        except ValueError:
            raise DriverFailed(f"chromedriver answered {response.status_code} without JSON") from None

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._drain is not None:
            self._drain.cancel()
        if self.port:
            release_own_port(self.port)
            self.port = 0
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(STOP_WAIT):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
