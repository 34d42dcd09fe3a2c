"""The WebDriver sessions this API node drives: each a browserpool session with a chromedriver of its own,
attached through the session's discovery door (workers/webdriver/door.py) and so through its CDP relay.

The WebDriver session id is the browserpool session id. A New Session is a create (the same limits, queue and
defaults); a command counts as the session's activity; `DELETE /webdriver/session/{id}` ends it. A session
that ends any other way (its DELETE, the reaper, its browser lost) has its chromedriver stopped within
SWEEP_SECONDS, and its client then gets `invalid session id`. chromedriver holds its state in this node's
memory, so a WebDriver client keeps to the node that created its session (see docs/webdriver.md).
"""

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from orchestrator.cdp_totals import CdpTotals
from orchestrator.errors import BrowserpoolError, SessionNotFound
from orchestrator.lifecycle import EndReason
from orchestrator.metrics import Metrics
from orchestrator.session_start import GaveUp
from orchestrator.sessions import SessionService
from orchestrator.worker import CdpClient
from workers.webdriver.chromedriver import (
    INSTALL_HINT,
    ChromeDriver,
    ChromiumUser,
    DriverFailed,
    find_chromedriver,
    unprivileged_user,
)
from workers.webdriver.door import DiscoveryDoor
from workers.webdriver.spares import SpareDrivers

from ..schemas import SessionCreate
from . import capabilities as caps
from . import grid_files
from .errors import WebDriverError, decoded, from_pool, validation_text

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0


@dataclass
class Driven:
    session_id: str
    user_id: str
    driver: ChromeDriver
    door: DiscoveryDoor
    driver_session: str  # chromedriver's own id for it, never shown to the client
    downloads: bool = False  # se:downloadsEnabled: Grid's se/files commands serve the session's downloads

    async def stop(self) -> None:
        with contextlib.suppress(DriverFailed):
            await self.driver.send("DELETE", f"/session/{self.driver_session}", None)
        await self.driver.stop()
        await self.door.close()


class WebDriverHost:
    def __init__(
        self,
        sessions: SessionService,
        totals: CdpTotals,
        metrics: Metrics,
        chromedriver: str | None,
        chromium_user: str = "auto",
    ) -> None:
        self.sessions = sessions
        self.chromium_user = chromium_user
        self._user: ChromiumUser | None = None
        self._spares: SpareDrivers | None = None
        self._versions: dict[str, dict[str, Any]] = {}  # Browser.getVersion by worker (workers/webdriver/door.py)
        self.totals = totals
        self.metrics = metrics
        self.chromedriver = find_chromedriver(chromedriver)
        self.configured = chromedriver
        self._driven: dict[str, Driven] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._spares is not None:
            await self._spares.close()
        driven, self._driven = list(self._driven.values()), {}
        self.metrics.webdriver_sessions.set(0)
        await asyncio.gather(*(d.stop() for d in driven), return_exceptions=True)

    async def new_session(self, user_id: str, body: Any, cdp_url_of: Any, gave_up: GaveUp) -> dict[str, Any]:
        """Create the session and attach a chromedriver to it; what New Session answers (its `value`). A client
        that leaves while its create waits in the queue (`gave_up`) gets no session, as a REST create."""
        asked = caps.merged(body)
        try:
            wanted = SessionCreate.model_validate(caps.create_body(asked)).request()
        except ValidationError as exc:
            raise WebDriverError("invalid argument", validation_text(exc.errors())) from None
        except ValueError as exc:
            raise WebDriverError("invalid argument", str(exc)) from None
        if self.chromedriver is None:
            where = f"{self.configured!r} not found" if self.configured else "no chromedriver on this API node"
            raise WebDriverError("session not created", f"{where}: {INSTALL_HINT}")
        try:
            record = await self.sessions.create(user_id, wanted, gave_up=gave_up)
        except BrowserpoolError as exc:
            raise from_pool(exc, creating=True) from exc
        try:
            driven, answer = await self._attach(user_id, record.session_id, record.worker_id, asked)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.sessions.close(user_id, record.session_id)
            raise
        if self._spares is not None:
            self._spares.top_up()
        driven.downloads = asked.get("se:downloadsEnabled") is True
        self._driven[record.session_id] = driven
        self.metrics.webdriver_sessions.set(len(self._driven))
        capabilities = dict(answer.get("capabilities") or {})
        capabilities["se:downloadsEnabled"] = driven.downloads
        capabilities.pop("goog:chromeOptions", None)  # the door's loopback address: nothing a client can use
        capabilities["se:cdp"] = cdp_url_of(record)
        capabilities["browserpool:session"] = {
            "viewport_width": record.viewport_width,
            "viewport_height": record.viewport_height,
            "expires_at_ms": record.expires_at_ms,
        }
        return {"sessionId": record.session_id, "capabilities": capabilities}

    async def command(self, user_id: str, session_id: str, method: str, path: str, body: bytes | None) -> Any:
        """One command of a session this node drives, as chromedriver answers it: (status, JSON body)."""
        driven = await self._own(user_id, session_id)
        if path in ("se/file", "se/files"):
            try:
                return 200, {"value": await self._grid_files(driven, method, path, body)}
            finally:
                await self.sessions.activity.record(session_id)
        tail = f"/{path}" if path else ""
        try:
            answer = await driven.driver.send(method, f"/session/{driven.driver_session}{tail}", body)
        except DriverFailed as exc:
            raise WebDriverError("unknown error", f"the session's chromedriver failed: {exc}") from exc
        finally:
            await self.sessions.activity.record(session_id)
        return answer

    async def _grid_files(self, driven: Driven, method: str, path: str, body: bytes | None) -> Any:
        sid, user = driven.session_id, driven.user_id
        if path == "se/file" and method == "POST":
            return await grid_files.upload(self.sessions, user, sid, decoded(body))
        if path == "se/files" and not driven.downloads:
            raise WebDriverError(
                "unknown error", "downloads are not enabled: ask for the capability se:downloadsEnabled"
            )
        if method == "GET":
            return await grid_files.names(self.sessions, user, sid)
        if method == "POST":
            return await grid_files.fetch(self.sessions, user, sid, decoded(body))
        raise WebDriverError("unknown command", f"{method} {path}: the session's files end with the session")

    async def quit(self, user_id: str, session_id: str) -> None:
        driven = await self._own(user_id, session_id)
        self._forget(session_id)
        await driven.stop()
        try:
            await self.sessions.close(user_id, session_id)
        except BrowserpoolError as exc:
            raise from_pool(exc, creating=False) from exc

    def driven(self, session_id: str) -> Driven | None:
        """What this node runs for a session (None if it drives none for it)."""
        return self._driven.get(session_id)

    def _forget(self, session_id: str) -> None:
        self._driven.pop(session_id, None)
        self.metrics.webdriver_sessions.set(len(self._driven))

    async def _own(self, user_id: str, session_id: str) -> Driven:
        """The session, if it is the caller's, live, and driven by this node; else `invalid session id`."""
        try:
            record = await self.sessions.get(user_id, session_id)
        except SessionNotFound:
            raise WebDriverError("invalid session id", "no such WebDriver session (or another user's)") from None
        driven = self._driven.get(session_id)
        if not record.status.is_live:
            if driven is not None:
                self._forget(session_id)
                await driven.stop()
            ended = f"the session has ended: {record.status.value}"
            raise WebDriverError("invalid session id", f"{ended} ({record.end_reason})" if record.end_reason else ended)
        if driven is None:
            raise WebDriverError(
                "invalid session id",
                "this session has no WebDriver driver on this API node: send a WebDriver session's commands to "
                "the node that created it, or drive a REST-created session over its cdp_url",
            )
        return driven

    async def _attach(
        self, user_id: str, session_id: str, worker_id: str, asked: dict[str, Any]
    ) -> tuple[Driven, dict[str, Any]]:
        assert self.chromedriver is not None
        door = DiscoveryDoor(lambda client: self._relay(user_id, session_id, client), self._versions, worker_id)
        if self._spares is None:
            self._spares = SpareDrivers(self.chromedriver, self._driver_user())
        driver = ChromeDriver(self.chromedriver)  # stands for the one taken, until it is
        try:
            await door.start()
            driver = await self._spares.take()
            status, answer = await driver.send(
                "POST", "/session", json.dumps(caps.for_chromedriver(asked, door.address)).encode()
            )
        except DriverFailed as exc:
            await driver.stop()
            await door.close()
            raise WebDriverError("session not created", str(exc)) from exc
        except BaseException:
            await driver.stop()
            await door.close()
            raise
        value = answer.get("value") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(value, dict) or "sessionId" not in value:
            await driver.stop()
            await door.close()
            message = value.get("message") if isinstance(value, dict) else None
            raise WebDriverError("session not created", f"chromedriver could not attach: {message or answer}")
        return Driven(session_id, user_id, driver, door, str(value["sessionId"])), value

    def _driver_user(self) -> ChromiumUser | None:
        """Chromium's own user, which chromedriver runs as too (None: the daemon's own)."""
        if self._user is None:
            self._user = unprivileged_user(self.chromium_user)
        return self._user

    async def _relay(self, user_id: str, session_id: str, client: CdpClient) -> None:
        """A door's connection relayed as the owner's own CDP client: the same policy, totals and activity."""
        record, worker = await self.sessions.cdp_target(session_id, user_id, None)
        connection = await self.totals.open(record.user_id)
        try:
            await self.sessions.relay_cdp(worker, session_id, connection.paced(client))
        finally:
            await connection.close()

    async def _sweep(self) -> None:
        """Stop the drivers of sessions that ended without a quit, and end the sessions whose driver died."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for driven in list(self._driven.values()):
                try:
                    await self._check(driven)
                except Exception:
                    log.warning("checking WebDriver session %s failed", driven.session_id, exc_info=True)

    async def _check(self, driven: Driven) -> None:
        record = await self.sessions.store.get(driven.session_id)
        if record is not None and record.status.is_live and driven.driver.running:
            return
        self._forget(driven.session_id)
        await driven.stop()
        if record is not None and record.status.is_live:
            log.warning("chromedriver of session %s died: the session fails", driven.session_id)
            await self.sessions.fail(
                driven.session_id, EndReason.WEBDRIVER_LOST, "session failed (its chromedriver died)"
            )
