"""The fuzzing's target: the daemon on its own event loop, its error log, and the checks every answer must pass."""

import asyncio
import concurrent.futures
import itertools
import logging
import os
import threading
import traceback
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import schemathesis
from schemathesis.checks import CheckContext
from schemathesis.core.failures import ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from browserpool.compose import build_app
from orchestrator.config import Settings
from tests.conftest import Daemon, serve_daemon
from tests.support import free_port

MAX_EXAMPLES = int(os.environ.get("BROWSERPOOL_FUZZ_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("BROWSERPOOL_FUZZ_RANDOM", "") != "1"

EVENTS = "/v1/browser/sessions/events"  # SSE: streams until the client leaves, not a request/response call
DOCUMENT: dict[str, Any] = build_app(Settings(redis_prefix="openapi")).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path=EVENTS, method="GET")


# --- the daemon, on its own event loop ----------------------------------------------------------------------


class ThreadedDaemon:
    """`serve_daemon` held open by one task on an event loop in a thread; `run` calls into that loop."""

    def __init__(self, daemon_settings: Settings) -> None:
        self.settings = daemon_settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-daemon", daemon=True)
        self.ready = threading.Event()
        self.stopping: asyncio.Event | None = None
        self.daemon: Daemon | None = None
        self.main: concurrent.futures.Future[None] | None = None

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _serve(self) -> None:
        self.stopping = asyncio.Event()
        async with serve_daemon(self.settings) as daemon:
            self.daemon = daemon
            self.ready.set()
            await self.stopping.wait()

    def start(self) -> Daemon:
        self.thread.start()
        self.main = asyncio.run_coroutine_threadsafe(self._serve(), self.loop)
        while not self.ready.wait(0.1):
            if self.main.done():
                self.main.result()
                raise RuntimeError("the daemon stopped before it was ready")
        assert self.daemon is not None
        return self.daemon

    def stop(self) -> None:
        try:
            if self.main is not None and not self.main.done():
                assert self.stopping is not None
                self.loop.call_soon_threadsafe(self.stopping.set)
                self.main.result(timeout=60)
        finally:
            self.run(self.loop.shutdown_default_executor())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


class ErrorLog(logging.Handler):
    """Every record the daemon logs at ERROR or above (uvicorn's loggers do not propagate to the root)."""

    LOGGERS = ("", "uvicorn")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def __enter__(self) -> "ErrorLog":
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @staticmethod
    def text(records: list[logging.LogRecord]) -> str:
        out = []
        for record in records:
            out.append(f"{record.name}: {record.getMessage()}")
            if record.exc_info:
                out.append("".join(traceback.format_exception(*record.exc_info)).rstrip())
        return "\n".join(out)


class Target:
    """The running daemon, the callers, and the resources cases are pointed at."""

    def __init__(self, threaded: ThreadedDaemon, site: str, errors: ErrorLog) -> None:
        self.threaded = threaded
        self.errors = errors
        daemon = threaded.daemon
        assert daemon is not None
        self.url = str(daemon.client.base_url).rstrip("/")
        self.site = site
        self.dead_port = free_port()  # webhook deliveries go here: loopback, nobody listening
        self.password = uuid.uuid4().hex
        self.user_name = f"fuzz-{uuid.uuid4().hex[:8]}"
        self.user = threaded.run(daemon.user(self.user_name, self.password))
        self.admin = threaded.run(self._admin(daemon))
        self.http = requests.Session()
        self._live: str | None = None
        self.ended = self._ended_session()
        self.turns: dict[str, Iterator[int]] = defaultdict(itertools.count)

    @staticmethod
    async def _admin(daemon: Daemon) -> dict[str, str]:
        admin = await daemon.runtime.shared.accounts.add_user(f"fuzz-admin-{uuid.uuid4().hex[:8]}", None, admin=True)
        issued = await daemon.runtime.shared.accounts.create_api_key(admin, "fuzz")
        return {"X-API-Key": issued.secret}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.user, **kwargs.pop("headers", {})}
        return self.http.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def _create_session(self) -> str:
        response = self.request("POST", "/v1/browser/sessions/", json={})
        assert response.status_code == 201, response.text
        return str(response.json()["session_id"])

    def live_session(self) -> str:
        """A live session of the caller's (a new one once a case has ended the previous one)."""
        if self._live is not None:
            response = self.request("GET", f"/v1/browser/sessions/{self._live}")
            if response.status_code == 200 and response.json()["status"] in ("starting", "active"):
                return self._live
        self._live = self._create_session()
        return self._live

    def _ended_session(self) -> str:
        sid = self._create_session()
        assert self.request("DELETE", f"/v1/browser/sessions/{sid}").status_code == 204
        return sid

    def fresh_user(self) -> dict[str, str]:
        """Another caller (the fuzzed one may have hit the per-user webhook cap)."""
        assert self.threaded.daemon is not None
        headers: dict[str, str] = self.threaded.run(self.threaded.daemon.user())
        return headers

    def api_key_id(self) -> str:
        """A fresh key of the caller's; never the one the cases authenticate with."""
        response = self.request("POST", "/v1/api-keys", json={"name": "fuzz-victim"})
        assert response.status_code == 201, response.text
        return str(response.json()["key_id"])

    def webhook_id(self) -> str | None:
        response = self.request("POST", "/v1/webhooks", json={"url": f"http://127.0.0.1:{self.dead_port}/hook"})
        return str(response.json()["webhook_id"]) if response.status_code == 201 else None  # the per-user cap

    def loopback(self, url: Any) -> Any:
        """A webhook target that stays on this machine: any host the resolver would look up becomes 127.0.0.1
        (a valid port becomes the dead port). URLs that fail to parse, or whose host cannot even be IDNA-encoded,
        fail before any lookup and are kept as generated."""
        if not isinstance(url, str):
            return url
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return url
        if not host:
            return url
        try:
            host.encode("idna")
        except UnicodeError:
            return url
        try:
            valid_port = parts.port is not None
        except ValueError:  # kept below: httpx refuses it before connecting (BUG-6)
            valid_port = False
        userinfo, _, hostport = parts.netloc.rpartition("@")
        raw_port = hostport.rpartition("]")[2].partition(":")[2]
        port = str(self.dead_port) if valid_port or not raw_port else raw_port
        netloc = f"{userinfo + '@' if userinfo else ''}127.0.0.1:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def navigable(self, url: Any) -> Any:
        """What a live session may load: about:, data: and our local site, nothing else."""
        if not isinstance(url, str):
            return url
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            return url  # the API fails on it before any browser sees it (BUG-4)
        if scheme in ("http", "https"):
            return f"{self.site}/{quote(url.split(':', 1)[1].lstrip('/'), safe='/?=&')}"
        return url  # about: and data: stay in the page; other schemes are refused by the API


# --- checks -------------------------------------------------------------------------------------------------


def documented_statuses(case: schemathesis.Case) -> set[str]:
    return set(DOCUMENT["paths"][case.operation.path][case.method.lower()]["responses"])


def no_server_error(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A 500 is always a bug; another 5xx only where the operation documents it (503 pool full, 504 timeout...)."""
    code = response.status_code
    if code >= 500 and (code == 500 or str(code) not in documented_statuses(case)):
        raise ServerError(operation=case.operation.label, status_code=code)
    return None


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _given_up(record: logging.LogRecord) -> bool:
    """By design: deliveries to the fuzzer's webhooks (a dead loopback port) are dropped after 6 attempts."""
    return record.name == "orchestrator.webhook_delivery" and "giving up on event" in record.msg


def unexpected_errors(log: "ErrorLog") -> list[logging.LogRecord]:
    return [r for r in log.records if not _given_up(r)]
