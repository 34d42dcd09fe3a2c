"""The in-process worker: a pool of Chromium processes, one browser context per session."""

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from playwright.async_api import Dialog, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from orchestrator.addresses import AddressPolicy
from orchestrator.errors import (
    ActionFailed,
    ActionTimedOut,
    InvalidInput,
    NavigationRefused,
    PoolFull,
    PoolUnavailable,
    SessionEnded,
)
from orchestrator.lifecycle import EndReason
from orchestrator.models import SessionSpec
from orchestrator.profiles import ProfileStore
from orchestrator.proxies import UpstreamProxy
from orchestrator.worker import (
    CdpClient,
    CdpMode,
    ClientClosed,
    CrashListener,
    DownloadDone,
    LoadChanged,
    NavigationResult,
    PageHung,
    SessionsLost,
    WorkerLoad,
)
from workers.cdp.limits import CdpLimits
from workers.cdp.relay import BROWSER_LOST, CdpRelay, close_client
from workers.cdp.scope import CdpScope
from workers.chromium.devtools import DevToolsUnavailable
from workers.chromium.find import ensure_chromium
from workers.chromium.launcher import ChromiumLaunch, prepare_launch
from workers.chromium.process_guard import driver_environment, make_undumpable
from workers.chromium.sandbox import SandboxMode
from workers.chromium.user import resolve_user
from workers.egress.guard import EgressProxy
from workers.egress.routes import Route
from workers.files.keeper import WorkerFiles
from workers.local.files import FileActions
from workers.local.rehome import Rehoming, triage
from workers.pages.bounds import BrowserBounds, SessionLimits
from workers.pages.checkpoints import Checkpointer
from workers.pages.evaluate_bound import bounded_evaluate
from workers.pages.jsonable import jsonable
from workers.pages.navigation_watch import NavigationWatch
from workers.pages.profiles import ProfileKeeper
from workers.pages.watchdog import PageWatchdog
from workers.pool.background import BackgroundTasks
from workers.pool.dedicated import ReadyBrowsers
from workers.pool.placement import least_loaded
from workers.pool.ready_shapes import ReadyShapes
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage

log = logging.getLogger(__name__)


class LocalWorker(FileActions):
    def __init__(
        self,
        worker_id: str,
        browsers: int,
        contexts_per_browser: int,
        chromium_path: str | None = None,
        action_timeout: float = 30.0,
        warm_contexts: int = 0,
        warm_per_shape: int = 0,
        warm_shapes: int = 0,
        egress: AddressPolicy | None = None,
        cdp_limits: CdpLimits | None = None,
        chromium_user: str = "auto",
        chromium_sandbox: SandboxMode = "auto",
        limits: SessionLimits | None = None,
        files: WorkerFiles | None = None,
        page_hang_timeout: float = 10.0,
        checkpoint_interval: float = 2.0,
        ready_browsers: int = 1,
        max_dedicated_browsers: int = 4,
    ) -> None:
        self._worker_id = worker_id
        self.chromium_user = chromium_user  # BROWSERPOOL_CHROMIUM_USER: see workers.chromium.user
        self.chromium_sandbox: SandboxMode = chromium_sandbox
        self.cdp_limits = cdp_limits or CdpLimits()
        self.limits = limits or SessionLimits()  # what one session may cost: memory, pages, downloads, results
        self.capacity_per_browser = contexts_per_browser
        self.chromium_path = chromium_path
        self.action_timeout = action_timeout
        self.ready_shapes = ReadyShapes(warm_contexts, warm_per_shape, warm_shapes)
        self._warm_again = False
        self.egress = EgressProxy(egress) if egress is not None else None
        self._warming = False
        self.files = files  # sessions' downloads, uploads and recordings, kept past their end (None: removed at close)
        self.slots = [BrowserSlot(index=i, tag=f"{worker_id}/{i}", files=files) for i in range(browsers)]
        self._playwright: Playwright | None = None
        self._plan: ChromiumLaunch | None = None  # how browsers start: user, sandbox, environment, directories
        self._on_lost: SessionsLost | None = None
        self._on_load: LoadChanged | None = None
        self._stopping = False
        self._draining = False
        self._background = BackgroundTasks("worker")
        self.profiles = ProfileKeeper(None, action_timeout)  # given its store at start
        self.watchdog = PageWatchdog(page_hang_timeout)  # pages that stop answering: killed, the session lives on
        self.rehoming = Rehoming(self)  # sessions of a crashed browser on their way to a fresh one
        self.checkpoints = Checkpointer(
            checkpoint_interval, lambda: [h for s in self.slots for h in s.sessions.values()]
        )
        self._on_crash: CrashListener | None = None
        self._on_client_closed: ClientClosed | None = None
        # Sessions with isolation `browser`: a Chromium each, from a few kept launched (workers/pool/dedicated.py).
        self.dedicated = ReadyBrowsers(
            worker_id, ready_browsers, max_dedicated_browsers, self._launch_own, self._own_browser_gone, files
        )

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def launch_plan(self) -> ChromiumLaunch | None:
        """How this worker's browsers start (their user, sandbox, environment, directories); None before start."""
        return self._plan

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(
        self,
        on_sessions_lost: SessionsLost,
        on_load_changed: LoadChanged | None = None,
        on_download: DownloadDone | None = None,
        profiles: ProfileStore | None = None,
        on_client_closed: ClientClosed | None = None,
        on_page_hung: PageHung | None = None,
        on_crash: CrashListener | None = None,
    ) -> None:
        self._on_lost = on_sessions_lost
        self._on_client_closed = on_client_closed
        self.watchdog.on_hung = on_page_hung
        self._on_load = on_load_changed
        self.profiles.store = profiles
        make_undumpable()  # before anything of Chromium's runs: its user may be ours (containers)
        self._plan = plan = await asyncio.to_thread(self._prepare)
        try:
            if self.files is not None:
                self.files.on_download = on_download
                await self.files.start()
            if self.egress is not None:
                await self.egress.start()
            with driver_environment(plan.driver_tmpdir):
                self._playwright = await async_playwright().start()
            log.info("Chromium runs as %s; sandbox %s", plan.home.user.name, plan.sandbox.why)
            await asyncio.gather(*(self._launch(slot) for slot in self.slots))
            self._on_crash = on_crash
            self.checkpoints.start()
            self.dedicated.start(guard_ports=self.egress is not None)
        except BaseException:
            await self.stop()  # a start that failed half-way leaves no driver, browser or directory behind
            raise

    async def stop(self) -> None:
        if self._stopping and self._playwright is None:
            return
        self._stopping = True
        self.watchdog.stop()
        await self.checkpoints.stop()
        self._background.cancel()
        if self.files is not None:
            await self.files.stop()  # recordings finished and files kept, before the browsers go
        await self.dedicated.stop()
        await asyncio.gather(*(slot.shut(timeout=10) for slot in self.slots), return_exceptions=True)
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            await playwright.stop()
        if self.egress is not None:
            await self.egress.stop()
        if self._plan is not None:
            await asyncio.to_thread(self._plan.home.remove)

    def load(self) -> WorkerLoad:
        loads = [slot.load for slot in self.slots]
        up = [load for load in loads if load is not None]
        # A session with a browser of its own counts as one session of the capacity (see README, isolation).
        used = sum(up) + len(self.dedicated.in_use)
        return WorkerLoad(capacity=len(up) * self.capacity_per_browser, used=used, browsers_up=len(up))

    def held_session_ids(self) -> list[str]:
        return [*(sid for slot in self._every_slot() for sid in slot.sessions), *self.rehoming.waiting]

    def opening_session_ids(self) -> list[str]:
        return [sid for slot in self._every_slot() for sid in slot.reserved]

    def _every_slot(self) -> list[BrowserSlot]:
        """The shared browsers and the sessions' own ones."""
        return [*self.slots, *self.dedicated.in_use]

    # --- sessions ----------------------------------------------------------------------------

    def stop_taking_sessions(self) -> None:
        self._draining = True

    @property
    def draining(self) -> bool:
        return self._draining or self._stopping

    def _reserve(self, session_id: str) -> BrowserSlot:
        loads = self._room()
        index = least_loaded(loads, self.capacity_per_browser)
        if index is None:
            raise PoolFull()
        slot = self.slots[index]
        slot.reserve(session_id)
        return slot

    def _room(self) -> list[int | None]:
        """The shared browsers' loads, if this worker takes one more session of either isolation."""
        if self._stopping or self._draining:
            raise PoolUnavailable("this worker is draining or shutting down and takes no new sessions")
        loads = [slot.load for slot in self.slots]
        if all(load is None for load in loads):
            raise PoolUnavailable("no browser is up right now (starting or restarting); retry shortly", retry_after=2)
        load = self.load()
        if load.used >= load.capacity:
            raise PoolFull()
        return loads

    async def _reserve_own(self, session_id: str) -> BrowserSlot:
        self._room()
        return await self.dedicated.take(session_id, self._room)

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        state = await self.profiles.load(spec.profile) if spec.profile is not None else None
        own = spec.isolation == "browser"
        slot = await self._reserve_own(session_id) if own else self._reserve(session_id)
        route = None
        try:
            shape = (spec.viewport_width, spec.viewport_height, spec.user_agent)
            if spec.proxy is None:
                self.ready_shapes.asked(shape)  # proxied sessions never take a ready context: none is warmed for them
            else:
                route = await self._open_route(spec.proxy)
            held = await slot.open(session_id, shape, route)
        except BaseException as exc:
            if route is not None:
                await self._close_route(route)
            if isinstance(exc, PlaywrightError):
                raise ActionFailed(f"could not open a browser context: {_first_line(exc)}") from exc
            raise
        finally:
            slot.release(session_id)
        self._watch_crashes(slot, session_id, held.page)
        held.profile, held.spec = spec.profile, spec
        if state is not None:
            await self._restore(slot, session_id, held, state)
        await self._bound(slot, session_id, held, spec)  # after the restore: a recording starts on the session's page
        self.watchdog.watch(session_id, held, lambda page: self._watch_crashes(slot, session_id, page))
        self._spawn(self.checkpoints.refresh(held))  # a crash from now on finds it with its state
        await self._load_changed()
        self._warm_up()

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        """Close it; a session that persists into a profile saves first, once its CDP clients have let go."""
        waiting = self.rehoming.forget(session_id)
        if waiting is not None:  # its browser crashed and it had not been reopened yet
            await self._close_route(waiting.route)
        for slot in self._every_slot():
            if session_id in slot.sessions:
                route = slot.sessions[session_id].route
                try:
                    await slot.close(
                        session_id, timeout=self.action_timeout, reason=reason, before_close=self._final_save
                    )
                finally:
                    await self._close_route(route)
                await self._load_changed()

    async def save_profile(self, session_id: str) -> None:
        held = self._held(session_id)
        await self.profiles.checkpoint(held.profile, session_id, held.context)

    async def relay_cdp(
        self,
        session_id: str,
        client: CdpClient,
        on_activity: Callable[[], Awaitable[None]],
        mode: CdpMode = CdpMode.FULL,
    ) -> None:
        """Relay until either side closes. The session may end during any await of the set-up (a DELETE
        racing the connect): `held.ended` is checked after each, and the relay registers itself with no
        await after the last check, so BrowserSlot.close either ends it or ran before and is seen here."""
        try:
            slot, held = self._slot_of(session_id)
        except SessionEnded:
            await close_client(client, 1000, "session ended")  # ended between the API's check and here
            return
        try:
            context_id = await slot.context_id(held)  # looked up ahead for ready and new contexts alike
            endpoint = slot.cdp_endpoint()  # read once per browser launch
        except (PlaywrightError, DevToolsUnavailable) as exc:
            if held.ended is None:
                message = f"the session's browser cannot take CDP connections: {exc}"
                raise PoolUnavailable(message, retry_after=1) from exc
        if held.ended is not None:
            await close_client(client, 1000, held.ended)
            return
        assert held.download_dir is not None  # made when the session opened (_bound)
        bounds = slot.bounds
        pages = (lambda: bounds.page_refusal(session_id)) if bounds is not None else None
        scope = CdpScope(
            context_id,
            held.download_dir,
            held.extra_contexts,
            page_refusal=pages,
            mode=mode,
            context_proxy=f"http://127.0.0.1:{held.route.port}" if held.route else None,
        )
        # While a client drives the session, its dialogs are the client's to answer: with no listener of its own,
        # the worker's Playwright would dismiss them first. A live viewer cannot answer one, so it does not count.
        drives = mode is CdpMode.FULL
        closes = (lambda: self._spawn(self._client_closed(session_id))) if drives else None  # its Browser.close
        relay = CdpRelay(client, endpoint, scope, on_activity, self.cdp_limits, on_client_close=closes)
        if drives and not _drivers(held):
            held.context.on("dialog", _leave_to_the_client)
        held.relays.add(relay)
        try:
            await relay.run()
        finally:
            held.relays.discard(relay)
            if relay.browser_lost:  # what its client had in flight when the browser died, for the crash's triage
                held.witnessed.extend(relay.in_flight())
            if drives and not _drivers(held):
                held.context.remove_listener("dialog", _leave_to_the_client)

    # --- actions -----------------------------------------------------------------------------

    async def navigate(self, session_id: str, url: str) -> NavigationResult:
        held = self._held(session_id)
        page = held.page
        if held.route is not None:
            held.route.failure = None  # what fails from here on is this navigation's
        with NavigationWatch(page) as watch:
            try:
                goto = page.goto(url, timeout=self.action_timeout * 1000)
                response = await self._act(goto, "navigation", session=session_id)
            except ActionFailed as exc:
                if "net::ERR_" in str(exc):
                    await watch.error_page_committed(timeout=2)
                if held.route is not None and held.route.failure is not None:
                    raise ActionFailed(f"navigation to {url} failed: {held.route.failure}") from exc
                # Decided now, for this session's own URLs (as Chromium spelled them): never another session's.
                urls = (url, *watch.failed_urls)
                refused = await self.egress.refusal_for(*urls) if self.egress is not None else None
                if refused:
                    raise NavigationRefused(f"navigation to {url} refused: {refused}") from exc
                raise
        title = await self._act(page.title(), "reading the title", session=session_id)
        return NavigationResult(url=page.url, status=response.status if response else None, title=title)

    async def evaluate(self, session_id: str, expression: str) -> Any:
        page = self._held(session_id).page
        result = bounded_evaluate(page, expression, self.limits.evaluate_result_bytes)
        return jsonable(await self._act(result, "evaluation", upstream=False, session=session_id))

    async def screenshot(self, session_id: str) -> bytes:
        page = self._held(session_id).page
        shot = page.screenshot(type="png", timeout=self.action_timeout * 1000)
        return await self._act(shot, "screenshot", session=session_id)

    async def content(self, session_id: str) -> str:
        page = self._held(session_id).page
        return await self._act(page.content(), "reading the content", session=session_id)

    # --- internals ---------------------------------------------------------------------------

    def _held(self, session_id: str) -> SessionPage:
        return self._slot_of(session_id)[1]

    def _slot_of(self, session_id: str) -> tuple[BrowserSlot, SessionPage]:
        self.rehoming.check(session_id)  # on its way to a fresh browser: retry shortly
        for slot in self._every_slot():
            held = slot.sessions.get(session_id)
            if held is not None:
                return slot, held
        self._spawn(self._report_lost([session_id]))
        raise SessionEnded("failed")

    async def _act(self, awaitable: Any, what: str, upstream: bool = True, session: str | None = None) -> Any:
        """Run an action within the action timeout; on a session's page, PageUnresponsive once it is found hung."""
        action = self.watchdog.guard(session, awaitable) if session is not None else awaitable
        try:
            return await asyncio.wait_for(action, self.action_timeout)
        except (TimeoutError, PlaywrightTimeout) as exc:
            raise ActionTimedOut(f"{what} did not finish within {self.action_timeout:g}s") from exc
        except PlaywrightError as exc:
            raise ActionFailed(f"{what} failed: {_first_line(exc)}", upstream=upstream) from exc

    async def _open_route(self, proxy: UpstreamProxy) -> Route:
        if self.egress is None:
            raise InvalidInput("this worker runs without an egress guard, so it cannot chain to an upstream proxy")
        return await self.egress.open_route(proxy)

    async def _close_route(self, route: Route | None) -> None:
        if route is not None and self.egress is not None:
            await self.egress.close_route(route)

    def _prepare(self) -> ChromiumLaunch:
        """Find Chromium and its user, decide on its sandbox, make its directories (blocking)."""
        executable = ensure_chromium(self.chromium_path)
        return prepare_launch(executable, resolve_user(self.chromium_user), self.chromium_sandbox)

    async def _launch(self, slot: BrowserSlot) -> None:
        assert self._playwright is not None and self._plan is not None
        proxy_port = self.egress.port if self.egress is not None else None
        try:
            await slot.launch(self._playwright, self._plan, self._browser_gone, proxy_port, self._bounds_for(slot))
        except PlaywrightError as exc:
            if not self._plan.sandbox.on or self._plan.sandbox_mode != "auto":
                raise
            # The kernel allowed the namespaces, yet Chromium's sandbox did not start: say so, run without.
            log.error("Chromium did not start with its sandbox (%s); running it without", _first_line(exc))
            self._plan = self._plan.without_sandbox(f"Chromium did not start with it: {_first_line(exc)}")
            await slot.launch(self._playwright, self._plan, self._browser_gone, proxy_port, self._bounds_for(slot))
        if self.egress is not None:
            # A page must never reach a browser's own debugging endpoint (it controls every session).
            with contextlib.suppress(DevToolsUnavailable):
                endpoint = await asyncio.to_thread(slot.cdp_endpoint)
                self.egress.block_ports([int(endpoint.split(":")[2].split("/")[0])])
        self._warm_up()

    async def _launch_own(self, slot: BrowserSlot, on_disconnect: Callable[[BrowserSlot], None]) -> None:
        """Launch a session's own browser as the shared ones are (user, sandbox, egress proxy, bounds)."""
        assert self._playwright is not None and self._plan is not None
        proxy_port = self.egress.port if self.egress is not None else None
        await slot.launch(self._playwright, self._plan, on_disconnect, proxy_port, self._bounds_for(slot))

    def _own_browser_gone(self, slot: BrowserSlot) -> None:
        """A session's own browser died: its session ends failed (browser_crashed); nothing else is touched."""
        for held in slot.sessions.values():
            self._spawn(self._close_route(held.route))
        lost = slot.lost()
        if lost.profile_dir:
            self._spawn(asyncio.to_thread(shutil.rmtree, lost.profile_dir, True))
        self._spawn(self._report_lost(lost.session_ids))
        if self.files is not None:
            for session_id in lost.session_ids:
                self._spawn(self.files.ended(session_id))
        self._spawn(self._load_changed())

    def _warm_up(self) -> None:
        """Top up every browser's ready contexts in the background (one top-up at a time; a request for
        another while one runs makes it go round once more)."""
        if self._stopping or self._draining:
            return
        if self._warming:
            self._warm_again = True
            return
        self._warming = True
        self._spawn(self._top_up())

    async def _top_up(self) -> None:
        try:
            again = True
            while again and not (self._stopping or self._draining):
                self._warm_again = False
                for slot in self.slots:
                    await slot.warm_up(self.ready_shapes.targets())
                again = self._warm_again
        except PlaywrightError as exc:
            log.warning("preparing ready contexts failed: %s", _first_line(exc))
        finally:
            self._warming = False

    def _bounds_for(self, slot: BrowserSlot) -> BrowserBounds:
        """What holds a (re)launched browser's sessions to their limits; one past a bound that ends it ends."""
        return BrowserBounds(
            slot.tag, self.limits, lambda sid, why: self._spawn(self._end_session(slot, sid, why)), self.files
        )

    async def _bound(self, slot: BrowserSlot, session_id: str, held: SessionPage, spec: SessionSpec) -> None:
        """Before the session is handed out: its CDP ids (a client connects without waiting for them), its own
        directory (all its downloads land there), its files' entry and recording, and its limits. A session that
        cannot be bounded is not opened."""
        try:
            await slot.context_id(held)
            held.download_dir = await asyncio.to_thread(slot.session_dir, session_id)
            if self.files is not None and self._plan is not None:
                await self.files.opened(session_id, held, spec, self._plan.home.user)
            if slot.bounds is not None:
                await slot.bounds.register(session_id, held)
        except InvalidInput:
            await slot.close(session_id, timeout=5, reason="session could not be opened")
            raise
        except (PlaywrightError, OSError) as exc:
            await slot.close(session_id, timeout=5, reason="session could not be opened")
            await self._close_route(held.route)
            raise ActionFailed(f"could not open a browser context: {_first_line(exc)}") from exc

    async def _restore(self, slot: BrowserSlot, session_id: str, held: SessionPage, state: dict[str, Any]) -> None:
        """Put the profile's state into the context before the session is handed out; else do not open it."""
        try:
            await self.profiles.restore(held.context, state)
        except BaseException:
            await slot.close(session_id, timeout=5, reason="session could not be opened")
            await self._close_route(held.route)
            raise

    async def _final_save(self, session_id: str, held: SessionPage) -> None:
        if held.profile is not None and held.profile.persist:
            await self.profiles.final_save(held.profile, session_id, held.context)

    def _browser_gone(self, slot: BrowserSlot) -> None:
        """A browser died: the sessions whose commands were in flight fail, the others are re-homed
        (workers/local/rehome.py) on the browser relaunched in its place."""
        if self._stopping or slot.browser is None:
            return
        started = time.monotonic()
        sessions = dict(slot.sessions)
        report = triage(slot.tag, sessions)
        lost = slot.lost()
        log.error(
            "browser %s disconnected with %d session(s) (in flight: %s); restarting it and %d of them",
            slot.tag,
            len(lost.session_ids),
            report.in_flight or "nothing",
            len(report.survivors),
        )
        if lost.profile_dir:
            self._spawn(asyncio.to_thread(shutil.rmtree, lost.profile_dir, True))
        survivors = {sid: sessions[sid] for sid in report.survivors}
        for held in survivors.values():
            for relay in list(held.relays):
                relay.end(1012, BROWSER_LOST)
        self.rehoming.hold(survivors)
        for session_id in report.in_flight:
            self._spawn(self.give_up(session_id, sessions[session_id]))
        if self._on_crash is not None:
            self._spawn(self._on_crash.browser_crashed(report))
        self._spawn(self._relaunch(slot, report.survivors, started))

    async def _relaunch(self, slot: BrowserSlot, survivors: list[str], started: float) -> None:
        delay = 0.5
        while not self._stopping:
            try:
                await self._launch(slot)
                break
            except PlaywrightError as exc:
                log.error("relaunching browser %s failed: %s; retrying in %.1fs", slot.tag, _first_line(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        await self.rehoming.rehome(slot, survivors, started)
        await self._load_changed()

    async def give_up(self, session_id: str, held: SessionPage) -> None:
        """A session of a dead browser that is not coming back: `failed` (browser_crashed), its files kept."""
        await self._close_route(held.route)
        await self._report_lost([session_id])
        if self.files is not None:
            await self.files.ended(session_id)  # what it downloaded stays readable for the retention

    async def restarted(self, session_id: str, seconds: float, detail: str) -> None:
        if self._on_crash is not None:
            await self._on_crash.session_restarted(session_id, seconds, detail)

    def watch(self, slot: BrowserSlot, session_id: str, held: SessionPage) -> None:
        """Its page's crashes end it, and a hang of its page is caught (every session, opened or re-homed)."""
        self._watch_crashes(slot, session_id, held.page)
        self.watchdog.watch(session_id, held, lambda page: self._watch_crashes(slot, session_id, page))

    def _watch_crashes(self, slot: BrowserSlot, session_id: str, page: Page) -> None:
        """A crash of the session's page ends the session (unless it is the hang watchdog's kill)."""
        page.on("crash", lambda crashed: self._spawn(self._page_crashed(slot, session_id, crashed)))

    async def _page_crashed(self, slot: BrowserSlot, session_id: str, page: Page) -> None:
        held = slot.sessions.get(session_id)
        if held is None or self.watchdog.ours(session_id, page) or page is not held.page:
            return
        reason = await slot.bounds.crash_reason(held) if slot.bounds is not None else EndReason.BROWSER_CRASHED
        log.error("page of session %s crashed (%s)", session_id, reason)
        await self._end_session(slot, session_id, reason)

    async def _client_closed(self, session_id: str) -> None:
        """The session's own CDP client closed the browser: the session ends `closed` (client_closed)."""
        if self._on_client_closed is not None:
            await self._on_client_closed(session_id)
        else:
            await self.close_session(session_id, "session closed: its client closed the browser")

    async def _end_session(self, slot: BrowserSlot, session_id: str, reason: EndReason) -> None:
        """End a session the worker had to give up (its page crashed, it went past a bound): its record first,
        with the reason, then its context."""
        if session_id not in slot.sessions:
            return
        route = slot.sessions[session_id].route
        try:
            await self._report_lost([session_id], reason)
        finally:
            await slot.close(session_id, timeout=5, reason=f"session failed ({reason})")
            await self._close_route(route)
            await self._load_changed()

    async def _report_lost(self, session_ids: Sequence[str], reason: EndReason = EndReason.BROWSER_CRASHED) -> None:
        if session_ids and self._on_lost is not None:
            await self._on_lost(session_ids, reason)

    async def _load_changed(self) -> None:
        """Report the new load before answering, so the next placement (maybe on another node) sees it."""
        if self._on_load is None:
            return
        try:
            await self._on_load(self.load())
        except Exception:  # placement copes with a stale figure; the heartbeat corrects it
            log.warning("could not report this worker's load", exc_info=True)

    def _spawn(self, coro: Any) -> None:
        self._background.spawn(coro)


def _drivers(held: SessionPage) -> list[CdpRelay]:
    """The session's CDP connections that may answer dialogs (its own clients, not live viewers)."""
    return [relay for relay in held.relays if relay.scope.mode is CdpMode.FULL]


def _leave_to_the_client(dialog: Dialog) -> None:
    """A dialog listener that does nothing, so the dialog stays open for the CDP client to answer."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
