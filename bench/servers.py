"""Throwaway servers on loopback: a redis-server with no persistence, and a tiny static web site."""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

LOOPBACK = "127.0.0.1"
PAGE = b"<!doctype html><html><head><title>bench page</title></head><body><h1>hello</h1><p>bench</p></body></html>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


class RedisServer:
    """`redis-server --bind 127.0.0.1 --port <free> --save "" --appendonly no` in a temp dir; with `replica_of`,
    a replica of the server on that port."""

    def __init__(self, replica_of: int | None = None) -> None:
        self.replica_of = replica_of
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="browserpool-bench-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [binary, "--bind", LOOPBACK, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        if self.replica_of is not None:
            args += ["--replicaof", LOOPBACK, str(self.replica_of)]
        self.process = subprocess.Popen(
            [*args, "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for_port(self.port, timeout=10):
            self.stop()
            raise RuntimeError("redis-server did not start within 10 s")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def local_site() -> Iterator[str]:
    """A small static page on http://127.0.0.1:<free>/ for the browsers to load."""
    server = ThreadingHTTPServer((LOOPBACK, 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, name="bench-site", daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
