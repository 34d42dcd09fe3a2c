"""Test plumbing: throwaway Redis servers, free ports, a tiny local web site, polling."""

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

from orchestrator.lifecycle import SessionStatus
from orchestrator.models import SessionRecord

T = TypeVar("T")


def process_states() -> dict[int, tuple[int, str]]:
    """Every process on the machine: pid -> (parent pid, state letter), read from /proc."""
    states: dict[int, tuple[int, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            states[int(stat.parent.name)] = (int(fields[1]), fields[0])
        except (OSError, IndexError, ValueError):
            continue
    return states


def descendants(pid: int, states: dict[int, tuple[int, str]] | None = None) -> set[int]:
    """The processes below `pid` (children, theirs, and so on)."""
    states = process_states() if states is None else states
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, (parent, _) in states.items() if parent in frontier} - below
        below |= frontier
    return below


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A throwaway redis-server on loopback, no persistence."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="browserpool-test-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisProcess":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


PAGES = {
    "/": "<html><head><title>browserpool test page</title></head><body><h1>hello</h1></body></html>",
    "/other": "<html><head><title>other page</title></head><body>other</body></html>",
}


def pages_handler(pages: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    """A handler that serves `pages` (path, query left out, to HTML) and 404 for anything else."""

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path.split("?", 1)[0])
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "<title>not found</title>").encode())

        def log_message(self, *args: object) -> None:
            pass

    return Pages


_Handler = pages_handler(PAGES)


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A threaded HTTP server of `handler` on a free loopback port, for the length of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@contextlib.contextmanager
def local_site() -> Iterator[str]:
    with serving(_Handler) as server:
        yield url_of(server)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `check` until it returns a truthy value; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T = await check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")
        await asyncio.sleep(interval)
        last = await check()
    return last


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


class WebhookReceiver:
    """A loopback webhook endpoint that records deliveries and fails the first `failures` of them (500)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), body))
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


def a_record(
    user: str = "u1",
    worker: str = "w1",
    created: int = 1_800_000_000_000,
    timeout: int = 300,
    idle: int = 300,
    status: SessionStatus = SessionStatus.ACTIVE,
) -> SessionRecord:
    """A session record as the create script would write it, for store and lifecycle tests."""
    return SessionRecord(
        session_id=uuid.uuid4().hex,
        user_id=user,
        worker_id=worker,
        status=status,
        viewport_width=1280,
        viewport_height=720,
        user_agent=None,
        timeout_seconds=timeout,
        idle_timeout=idle,
        created_at_ms=created,
        last_activity_ms=created,
        expires_at_ms=created + timeout * 1000,
    )
