"""Schemathesis against the daemon's own OpenAPI schema: every documented operation, authenticated, fuzzed.

One test per operation (ids like `test_api[POST /v1/browser/sessions/]`). The schema is the document the app
builds; `test_served_schema_is_the_one_fuzzed` checks the running daemon serves exactly that document. The daemon
(Redis, Chromium, uvicorn on loopback) runs once for the module, on an event loop in a thread of its own, so
schemathesis's synchronous calls reach it over a real socket.

Checks: never a 500, another 5xx only where the operation documents it (pool full, browser failure, action
timeout), status code, content type, headers and body as documented, and nothing logged at ERROR by the daemon
(tracebacks of failing requests are attached to the failure).

Fuzzed ids alone would only ever meet 404s, so every third case of an operation taking a session id is pointed at
a live session of the caller's and every third at an ended one; likewise API-key and webhook ids and the token
endpoint's credentials. Nothing leaves the machine: URLs a live session would load and webhook targets (which the
daemon resolves, then POSTs to) are rewritten to loopback first, keeping only what fails before any lookup.
Sessions the fuzzer creates are closed at once.

What the fuzzing found (BUG-1..6 in its first report, fixed in 8ba7e67) is pinned at the bottom by plain
regression tests.

Knobs: BROWSERPOOL_FUZZ_EXAMPLES (fuzzed cases per operation, default 50); BROWSERPOOL_FUZZ_RANDOM=1 for new random
cases each run instead of Hypothesis's derandomized, reproducible ones.
"""

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from orchestrator.config import Settings
from tests.conftest import Daemon, local_worker, make_settings, serve_daemon, start_daemon
from tests.support import free_port, local_site

pytestmark = pytest.mark.timeout(150)

MAX_EXAMPLES = int(os.environ.get("BROWSERPOOL_FUZZ_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("BROWSERPOOL_FUZZ_RANDOM", "") != "1"

EVENTS = "/v1/browser/sessions/events"  # SSE: streams until the client leaves, not a request/response call
DOCUMENT: dict[str, Any] = create_app(local_worker, Settings(redis_prefix="openapi")).openapi()
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
        admin = await daemon.runtime.accounts.add_user(f"fuzz-admin-{uuid.uuid4().hex[:8]}", None, admin=True)
        issued = await daemon.runtime.accounts.create_api_key(admin, "fuzz")
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


@pytest.fixture(scope="module")
def target(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    daemon_settings = make_settings(
        redis_url,
        f"test-fuzz-{uuid.uuid4().hex[:8]}",
        Path(tmp_path_factory.mktemp("fuzz")),
        contexts_per_browser=20,
        action_timeout=5.0,
        retention=60,
        rate_limit=0,  # thousands of requests a minute from one key: fuzz the API, not its rate limiter
    )
    threaded = ThreadedDaemon(daemon_settings)
    with local_site() as site, ErrorLog() as errors:
        threaded.start()
        try:
            yield Target(threaded, site, errors)
        finally:
            threaded.stop()


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


# --- the fuzzing --------------------------------------------------------------------------------------------


def aim(case: schemathesis.Case, target: Target) -> None:
    """Point some cases at real resources (see the module docstring); keep every URL on loopback."""
    path, method = case.operation.path, case.method.upper()
    turn = next(target.turns[f"{method} {path}"]) % 3
    params = case.path_parameters if case.path_parameters is not None else {}
    body = case.body if isinstance(case.body, dict) else {}
    if "session_id" in params:
        if turn == 1:
            params["session_id"] = target.live_session()
        elif turn == 2:
            params["session_id"] = target.ended
        if path.endswith("/navigate") and "url" in body:
            body["url"] = target.navigable(body["url"])
    elif "key_id" in params and turn == 1:
        params["key_id"] = target.api_key_id()
    elif "webhook_id" in params and turn == 1:
        params["webhook_id"] = target.webhook_id() or params["webhook_id"]
    elif path == "/v1/auth/token" and turn == 1 and isinstance(case.body, dict):
        body.update(username=target.user_name, password=target.password)
    if path == "/v1/webhooks" and method == "POST" and "url" in body:
        body["url"] = target.loopback(body["url"])


def authenticate(case: schemathesis.Case, target: Target) -> None:
    admin_only = case.operation.path.startswith("/v1/admin/") or case.operation.path == "/metrics"
    case.headers.update(target.admin if admin_only else target.user)  # case-insensitive: replaces a generated one


def clean_up(case: schemathesis.Case, response: schemathesis.Response, target: Target) -> None:
    if case.operation.path == "/v1/browser/sessions/" and case.method.upper() == "POST" and response.status_code == 201:
        sid = response.json()["session_id"]
        assert target.request("DELETE", f"/v1/browser/sessions/{sid}").status_code == 204


def test_served_schema_is_the_one_fuzzed(target: Target) -> None:
    response = target.request("GET", "/openapi.json")
    assert response.status_code == 200
    assert response.json() == DOCUMENT
    assert EVENTS in DOCUMENT["paths"], "the SSE exclusion names a path the API no longer has"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_api(case: schemathesis.Case, target: Target) -> None:
    aim(case, target)
    authenticate(case, target)
    logged = len(target.errors.records)
    response = case.call(base_url=target.url, session=target.http, timeout=60)
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as exc:
        if len(target.errors.records) > logged:
            exc.add_note("The daemon logged:\n" + ErrorLog.text(target.errors.records[logged:]))
        raise
    finally:
        clean_up(case, response, target)


def test_the_daemon_logged_no_error_while_fuzzed(target: Target) -> None:
    unexpected = unexpected_errors(target.errors)
    assert not unexpected, ErrorLog.text(unexpected)


# --- what the fuzzing found, pinned ------------------------------------------------------------------------
# Each of these failed when this suite first ran (reported as BUG-1..6) and was fixed in 8ba7e67.


def conforms(target: Target, method: str, path: str, params: dict[str, str] | None = None, **request: Any) -> int:
    """Send one request by hand, hold its answer to the fuzzer's checks (FailureGroup if it fails); its status."""
    response = target.request(method, path.format(**(params or {})), **request)
    schema[path][method].Case(path_parameters=params).validate_response(response, checks=CHECKS)
    return response.status_code


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/browser/sessions/", {"timeout_seconds": 86401}),
        ("/v1/browser/sessions/{session_id}/navigate", {"url": "ftp://127.0.0.1/"}),
        ("/v1/webhooks", {"url": "https://"}),
    ],
    ids=["create-timeout-over-max", "navigate-scheme", "webhook-without-host"],
)
def test_refusals_of_schema_valid_input_are_documented_422s(target: Target, path: str, body: dict[str, Any]) -> None:
    """BUG-1: they answered {"detail": "<text>"}; the schema documents 422 as a list of {loc, msg, type}."""
    params = {"session_id": target.live_session()} if "{session_id}" in path else None
    headers = target.fresh_user() if "webhooks" in path else {}
    assert conforms(target, "POST", path, params, json=body, headers=headers) == 422


def test_a_json_body_that_is_not_utf8_is_a_documented_422(target: Target) -> None:
    """BUG-2: FastAPI's bare 400 'There was an error parsing the body', documented nowhere."""
    assert conforms(target, "POST", "/v1/api-keys", data=b"\xff", headers={"Content-Type": "application/json"}) == 422


def test_a_script_that_throws_is_a_documented_400(target: Target) -> None:
    """BUG-3: the 400 was right (README) but undocumented for POST .../evaluate."""
    path, params = "/v1/browser/sessions/{session_id}/evaluate", {"session_id": target.live_session()}
    assert conforms(target, "POST", path, params, json={"expression": "throw new Error('boom')"}) == 400


def test_navigate_to_a_url_urlsplit_cannot_parse_is_a_422(target: Target) -> None:
    """BUG-4: '//[' made urlsplit raise ValueError('Invalid IPv6 URL') in the route: a 500."""
    path = "/v1/browser/sessions/{session_id}/navigate"
    assert conforms(target, "POST", path, {"session_id": target.live_session()}, json={"url": "//["}) == 422


@pytest.mark.parametrize(
    "url",
    ["http://[", "http://a..b/", "http://" + "a" * 64 + "/", "http://\x80/", "http://127.0.0.1:8080a/"],
    ids=["ipv6", "empty-label", "64-label", "x80", "bad-port"],
)
def test_webhook_urls_that_cannot_be_checked_or_sent_to_are_422s(target: Target, url: str) -> None:
    """BUG-5: a 500 from urlsplit (ValueError) or the IDNA codec in getaddrinfo (UnicodeError); BUG-6: a port httpx
    refuses was accepted, and delivery to it raised httpx.InvalidURL."""
    assert conforms(target, "POST", "/v1/webhooks", json={"url": url}, headers=target.fresh_user()) == 422


class Sink:
    """A loopback webhook receiver that counts what it is sent."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_stored_webhook_delivery_cannot_send_to_does_not_starve_the_others(
    redis_url: str, tmp_path: Path
) -> None:
    """BUG-6: such a hook (stored before creation refused it) made every dispatcher tick raise httpx.InvalidURL,
    so the hooks of users iterated after its owner got nothing."""
    settings_ = make_settings(redis_url, f"test-{uuid.uuid4().hex[:12]}", tmp_path, webhook_interval=3600)
    sink = Sink()
    try:
        async with start_daemon(settings_) as daemon:  # ticked by hand below: the interval never comes
            accounts, hooks = daemon.runtime.accounts, daemon.runtime.webhooks
            for name, url in (("mallory", "http://127.0.0.1:8080a/"), ("alice", sink.url)):
                user = await accounts.add_user(f"{name}-{uuid.uuid4().hex[:6]}", None)
                headers = {"X-API-Key": (await accounts.create_api_key(user, "t")).secret}
                await hooks.create(user.user_id, url)  # past the API's check, as a hook stored before it
                sid = (await daemon.create(headers))["session_id"]
                assert (await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=headers)).status_code == 204
            await daemon.runtime.webhook_dispatcher.tick()
            assert sink.received, "alice's webhook got nothing"
    finally:
        sink.close()
