"""A local web site for the session-files tests: a download link, a file input, coloured pages, a text page."""

import contextlib
import hashlib
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

from tests.support import serving, url_of

REPORT = hashlib.sha256(b"browserpool").digest() * 10_000  # 320,000 bytes, not all alike
COLOURS = {"red": (255, 0, 0), "green": (0, 160, 0), "blue": (0, 0, 255)}
SLOW_CHUNK = 64 * 1024

PAGES = {
    "/download": '<html><body><a id="dl" href="/report.bin" download>report</a></body></html>',
    "/upload": '<html><body><input type="file" id="f" multiple></body></html>',
    "/text": "<html><body><h1>Quarterly figures for browserpool</h1><p>All is well.</p></body></html>",
    "/big": '<html><body><a id="dl" href="/big.bin" download>big</a></body></html>',
    **{f"/{name}": f'<html><body style="margin:0;background:rgb{rgb}"></body></html>' for name, rgb in COLOURS.items()},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/report.bin":
            self._send(REPORT, "application/octet-stream", {"Content-Disposition": 'attachment; filename="report.bin"'})
        elif self.path == "/big.bin":
            self._trickle()
        elif self.path in PAGES:
            self._send(PAGES[self.path].encode(), "text/html; charset=utf-8")
        else:
            self._send(b"not found", "text/plain", status=404)

    def _send(self, body: bytes, kind: str, headers: dict[str, str] | None = None, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        """64 MiB at about 20 MiB/s: a download the quota has time to see growing."""
        total = 64 * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition", 'attachment; filename="big.bin"')
        self.send_header("Content-Length", str(total))
        self.end_headers()
        chunk = b"\0" * SLOW_CHUNK
        with contextlib.suppress(OSError):
            for _ in range(total // SLOW_CHUNK):
                self.wfile.write(chunk)
                time.sleep(0.003)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def files_site() -> Iterator[str]:
    with serving(_Handler) as server:
        yield url_of(server)
