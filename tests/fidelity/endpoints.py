"""The two places a scenario runs: a plain local Chromium (the reference) and a pool session's cdp_url.

The reference is the pool's own binary started by hand with `--remote-debugging-port`, and with the
flags the pool's Chromium got from Playwright and the pool, minus the pool's plumbing (its egress proxy,
Playwright's pipe, its slot tag, its own user): what a user gets from
`chromium.launch(args=["--remote-debugging-port=0"])` and then `connect_over_cdp`, with no second
client attached. Through the pool, every connection is a fresh session of the default shape, deleted
afterwards. Both are reached through the CdpTap, so a failure can say which CDP calls went wrong.
"""

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from playwright.async_api import Browser, Playwright

from tests.conftest import Daemon
from tests.fidelity.cdp_tap import CdpTap, TapLog
from workers.chromium.devtools import browser_endpoint
from workers.chromium.find import find_chromium
from workers.chromium.processes import SLOT_FLAG

SESSIONS = "/v1/browser/sessions/"
PLUMBING = (SLOT_FLAG, "--proxy-server=", "--proxy-bypass-list=", "--user-data-dir=", "--remote-debugging-")
# Playwright's own flags, as a fallback when the pool's command line cannot be read.
FALLBACK_FLAGS = ("--headless", "--hide-scrollbars", "--mute-audio", "--disable-dev-shm-usage", "--no-first-run")


class Endpoint(Protocol):
    name: str

    @property
    def debugging_port(self) -> int: ...

    def connect(self, playwright: Playwright) -> contextlib.AbstractAsyncContextManager[tuple[Browser, TapLog]]: ...


def reference_flags(pool_command_line: list[str]) -> list[str]:
    """The pool Chromium's flags without its plumbing or its binary.

    The pool's own flags (workers.pool.slot.CHROMIUM_ARGS) stay: none of them changes what a loopback page
    sees, and one the pool may add later (--site-per-process, say) must reach the reference too.
    """
    flags = [arg for arg in pool_command_line[1:] if arg and not arg.startswith(PLUMBING)]
    return [arg for arg in flags if arg not in ("--remote-debugging-pipe", "--no-startup-window")]


def pool_command_line(daemon: Daemon) -> list[str]:
    pid = daemon.worker.browsers()[0].pid
    if pid is None:
        return ["chromium", *FALLBACK_FLAGS]
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def port_of(ws_url: str) -> int:
    port = urlsplit(ws_url).port
    assert port is not None
    return port


@dataclass
class ReferenceChromium:
    """A plain local Chromium with a debugging port; everyone connects over CDP, nobody else is attached."""

    flags: list[str]
    tap: CdpTap
    name: str = "reference"
    process: subprocess.Popen[bytes] | None = None
    profile: str = ""
    endpoint: str = ""

    @property
    def debugging_port(self) -> int:
        return port_of(self.endpoint)

    def start(self) -> "ReferenceChromium":
        binary = find_chromium()
        assert binary is not None, "no Chromium on this machine"
        self.profile = tempfile.mkdtemp(prefix="fidelity-reference-")
        sandbox = ["--no-sandbox"] if os.geteuid() == 0 and "--no-sandbox" not in self.flags else []
        command = [binary, *self.flags, *sandbox, f"--user-data-dir={self.profile}", "--remote-debugging-port=0"]
        command += ["--remote-debugging-address=127.0.0.1", "about:blank"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = self._wait_for_endpoint()
        return self

    def _wait_for_endpoint(self) -> str:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, "the reference Chromium exited"
            with contextlib.suppress(OSError, ValueError):
                port, path = marker.read_text().split("\n")[:2]
                if port and path:
                    return f"ws://127.0.0.1:{int(port)}{path.strip()}"
            time.sleep(0.05)
        raise RuntimeError("the reference Chromium wrote no DevToolsActivePort")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    @contextlib.asynccontextmanager
    async def connect(self, playwright: Playwright) -> AsyncIterator[tuple[Browser, TapLog]]:
        url, log = self.tap.route(self.endpoint)
        browser = await playwright.chromium.connect_over_cdp(url)
        try:
            yield browser, log
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 10)


@contextlib.contextmanager
def reference_chromium(flags: list[str], tap: CdpTap) -> Iterator[ReferenceChromium]:
    reference = ReferenceChromium(flags, tap).start()
    try:
        yield reference
    finally:
        reference.stop()


@dataclass
class PoolSessions:
    """Fresh pool sessions of the default shape, one per connection, deleted afterwards."""

    daemon: Daemon
    owner: dict[str, str]
    tap: CdpTap
    name: str = "pool"

    @property
    def debugging_port(self) -> int:
        pid = self.daemon.worker.browsers()[0].pid
        assert pid is not None
        return port_of(browser_endpoint(pid))

    @contextlib.asynccontextmanager
    async def connect(self, playwright: Playwright) -> AsyncIterator[tuple[Browser, TapLog]]:
        session: dict[str, Any] = await self.daemon.create(self.owner)
        try:
            url, log = self.tap.route(session["cdp_url"])
            browser = await playwright.chromium.connect_over_cdp(url)
            try:
                yield browser, log
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.close(), 10)
        finally:
            await self.daemon.client.delete(SESSIONS + session["session_id"], headers=self.owner)
