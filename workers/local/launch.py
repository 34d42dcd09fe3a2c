"""The worker's browsers: the pool's start and stop, and the launch of a browser (shared, relaunched after a
crash, or a session's own) with the worker's Chromium user, sandbox, egress proxy and bounds."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from orchestrator.worker import CrashListener, DownloadDone
from workers.chromium.devtools import DevToolsUnavailable
from workers.chromium.find import ensure_chromium
from workers.chromium.launcher import ChromiumLaunch, prepare_launch
from workers.chromium.process_guard import driver_environment, make_undumpable
from workers.chromium.sandbox import SandboxMode
from workers.chromium.user import resolve_user
from workers.local.endings import Endings
from workers.local.parts import WorkerParts, first_line
from workers.local.warmup import Warmup
from workers.pages.bounds import BrowserBounds
from workers.pages.session_limits import SessionLimits
from workers.pool.slot import BrowserSlot

log = logging.getLogger(__name__)

Gone = Callable[[BrowserSlot], None]  # a browser disconnected


class Browsers:
    def __init__(
        self,
        parts: WorkerParts,
        warmup: Warmup,
        endings: Endings,
        limits: SessionLimits,
        chromium_path: str | None,
        chromium_user: str,
        chromium_sandbox: SandboxMode,
    ) -> None:
        self.parts = parts
        self.warmup = warmup
        self.endings = endings
        self.limits = limits  # what one session may cost: memory, pages, downloads, results
        self.chromium_path = chromium_path
        self.chromium_user = chromium_user  # BROWSERPOOL_CHROMIUM_USER: see workers.chromium.user
        self.chromium_sandbox = chromium_sandbox

    async def start(self, on_download: DownloadDone | None, on_crash: CrashListener | None, on_gone: Gone) -> None:
        """Launch the shared browsers (each reporting its disconnect to `on_gone`) and what runs beside them."""
        parts = self.parts
        make_undumpable()  # before anything of Chromium's runs: its user may be ours (containers)
        parts.plan = plan = await asyncio.to_thread(self._prepare)
        try:
            if parts.files is not None:
                parts.files.on_download = on_download
                await parts.files.start()
            if parts.egress is not None:
                await parts.egress.start()
            with driver_environment(plan.driver_tmpdir):
                parts.playwright = await async_playwright().start()
            log.info("Chromium runs as %s; sandbox %s", plan.home.user.name, plan.sandbox.why)
            await asyncio.gather(*(self.launch(slot, on_gone) for slot in parts.slots))
            parts.on_crash = on_crash
            parts.checkpoints.start()
            parts.dedicated.start(guard_ports=parts.egress is not None)
        except BaseException:
            await self.stop()  # a start that failed half-way leaves no driver, browser or directory behind
            raise

    async def stop(self) -> None:
        parts = self.parts
        if parts.stopping and parts.playwright is None:
            return
        parts.stopping = True
        parts.watchdog.stop()
        await parts.checkpoints.stop()
        parts.background.cancel()
        if parts.files is not None:
            await parts.files.stop()  # recordings finished and files kept, before the browsers go
        await parts.dedicated.stop()
        await asyncio.gather(*(slot.shut(timeout=10) for slot in parts.slots), return_exceptions=True)
        playwright, parts.playwright = parts.playwright, None
        if playwright is not None:
            await playwright.stop()
        if parts.egress is not None:
            await parts.egress.stop()
        if parts.plan is not None:
            await asyncio.to_thread(parts.plan.home.remove)

    def _prepare(self) -> ChromiumLaunch:
        """Find Chromium and its user, decide on its sandbox, make its directories (blocking)."""
        executable = ensure_chromium(self.chromium_path)
        return prepare_launch(executable, resolve_user(self.chromium_user), self.chromium_sandbox)

    async def launch(self, slot: BrowserSlot, on_gone: Gone) -> None:
        """(Re)launch a shared browser; its debugging port is refused to pages, its ready contexts are made."""
        parts = self.parts
        assert parts.playwright is not None and parts.plan is not None
        proxy_port = parts.egress.port if parts.egress is not None else None
        try:
            await slot.launch(parts.playwright, parts.plan, on_gone, proxy_port, self._bounds_for(slot))
        except PlaywrightError as exc:
            if not parts.plan.sandbox.on or parts.plan.sandbox_mode != "auto":
                raise
            # The kernel allowed the namespaces, yet Chromium's sandbox did not start: say so, run without.
            log.error("Chromium did not start with its sandbox (%s); running it without", first_line(exc))
            parts.plan = parts.plan.without_sandbox(f"Chromium did not start with it: {first_line(exc)}")
            await slot.launch(parts.playwright, parts.plan, on_gone, proxy_port, self._bounds_for(slot))
        if parts.egress is not None:
            # A page must never reach a browser's own debugging endpoint (it controls every session).
            with contextlib.suppress(DevToolsUnavailable):
                endpoint = await asyncio.to_thread(slot.cdp_endpoint)
                parts.egress.block_ports([int(endpoint.split(":")[2].split("/")[0])])
        self.warmup.warm_up()

    async def launch_own(self, slot: BrowserSlot, on_disconnect: Gone) -> None:
        """Launch a session's own browser as the shared ones are (user, sandbox, egress proxy, bounds)."""
        parts = self.parts
        assert parts.playwright is not None and parts.plan is not None
        proxy_port = parts.egress.port if parts.egress is not None else None
        await slot.launch(parts.playwright, parts.plan, on_disconnect, proxy_port, self._bounds_for(slot))

    def _bounds_for(self, slot: BrowserSlot) -> BrowserBounds:
        """What holds a (re)launched browser's sessions to their limits; one past a bound that ends it ends."""
        end = self.endings.end_session
        return BrowserBounds(
            slot.tag, self.limits, lambda sid, why: self.parts.spawn(end(slot, sid, why)), self.parts.files
        )
