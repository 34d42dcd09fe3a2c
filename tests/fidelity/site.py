"""The loopback web the fidelity scenarios browse: two origins, a websocket echo and a port nobody answers.

`main` listens on 127.0.0.1 and `other` on localhost (127.0.0.1 and ::1), on different ports, so a page
of one framing the other is cross-site: Chromium puts the child in a process of its own (an
out-of-process iframe). Every answer is computed from the request alone, so the reference browser and
the pool see byte-identical pages.
"""

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from websockets.sync.server import Server, ServerConnection
from websockets.sync.server import serve as ws_serve

from tests.support import free_port

DOWNLOAD_BYTES = 10_000  # size of /download/<name>
BIG_BYTES = 2 * 1024 * 1024  # size of /big


def html(title: str, body: str = "", head: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{head}</head><body>{body}</body></html>"
    )


AT_LOAD = """<script>
window.__atLoad = {w: innerWidth, h: innerHeight, ua: navigator.userAgent, touch: 'ontouchstart' in window,
  init: window.__initMark || null, exposed: typeof window.fidelityExposed, lang: navigator.language};
</script>"""

CHILD = html("child", "<p id=c>child frame</p><script>window.childMark = location.origin</script>")
WORKER_JS = "onmessage = (e) => postMessage('worker got ' + e.data); self.workerName = 'dedicated';"
SERVICE_WORKER_JS = """
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => {
  if (new URL(e.request.url).pathname.endsWith('/sw/hello')) e.respondWith(new Response('from service worker'));
});
"""

STATIC: dict[str, str] = {
    "/": html("fidelity home", "<h1>hello</h1><a id=next href=/page/next>next</a>"),
    "/tall": html("tall", "<div style='height:3000px;background:linear-gradient(red,blue)'>tall</div>"),
    "/popup/opener": html(
        "opener",
        "<a id=blank target=_blank href=/popup/target>open</a>"
        "<a id=noopener target=_blank rel=noopener href=/popup/target>open alone</a>",
    ),
    "/popup/target": html("popup target", "<p>popup</p>", AT_LOAD),
    "/popup/dialog": html("popup dialog", "<script>alert('popup says hi')</script>"),
    "/worker": html("worker", "<script>window.w = new Worker('/worker.js')</script>"),
    "/sw/page": html("service worker page", "<p>sw</p>"),
    "/beforeunload": html(
        "beforeunload",
        "<input id=field><script>addEventListener('beforeunload', (e) => { e.preventDefault(); "
        "e.returnValue = 'sure?'; })</script>",
    ),
    "/upload": html(
        "upload",
        "<input id=file type=file multiple><script>window.__files = null; document.getElementById('file')"
        ".addEventListener('change', async (e) => { window.__files = await Promise.all([...e.target.files]"
        ".map(async (f) => [f.name, f.size, f.type, await f.text()])); });</script>",
    ),
    "/form": html(
        "form",
        "<input id=text><textarea id=area></textarea><select id=sel><option value=a>A</option>"
        "<option value=b>B</option></select><input id=box type=checkbox><button id=btn>go</button>"
        "<div id=log></div>",
    ),
    "/download-link": html(
        "downloads", "<a id=dl href=/download/report.csv>get</a><a id=slow href=/download-slow>s</a>"
    ),
}


def frame_pages(other: str) -> dict[str, str]:
    """Pages that frame the other origin (computed once the other origin's port is known)."""
    return {
        "/frames/parent": html("parent", f"<iframe name=child src='{other}/frames/child'></iframe>"),
        "/frames/same": html("same", "<iframe name=same src='/frames/child'></iframe>"),
        "/frames/child": CHILD,
        "/frames/nested": html("nested", f"<iframe name=middle src='{other}/frames/middle'></iframe>"),
        "/popup/cross": html("cross opener", f"<a id=cross target=_blank href='{other}/popup/target'>x</a>"),
    }


def other_pages(main: str) -> dict[str, str]:
    return {
        "/frames/child": CHILD,
        "/frames/middle": html("middle", f"<iframe name=leaf src='{main}/frames/child'></iframe>"),
        "/popup/target": STATIC["/popup/target"],
    }


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]] = {}
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        if self.path.startswith("http://"):  # asked as a forward proxy: answer for any host, and say so
            return self._send(200, html("proxied", f"<p id=via>{self.path}</p>"), Via="1.1 fidelity-proxy")
        path = self.path.split("?")[0]
        if path in self.pages:
            return self._send(200, self.pages[path])
        head, _, rest = path[1:].partition("/")
        route = ROUTES.get(head)
        if route is None:
            return self._send(404, html("not found"))
        return route(self, rest)

    def _send(self, status: int, body: str | bytes, kind: str = "text/html; charset=utf-8", **headers: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def _page(self, name: str) -> None:
        self._send(200, html(name, f"<p id=name>{name}</p>"))

    def _echo(self, _: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode(errors="replace") if length else ""
        seen = {"method": self.command, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()]}
        self._send(200, json.dumps({**seen, "body": body}), "application/json", Access_Control_Allow_Origin="*")

    def _status(self, code: str) -> None:
        self._send(int(code), html(f"status {code}"))

    def _redirect(self, hops: str) -> None:
        left = int(hops)
        target = f"/redirect/{left - 1}" if left > 0 else "/page/landed"
        self._send(302, "", Location=target)

    def _slow(self, _: str) -> None:
        time.sleep(3)
        with contextlib.suppress(OSError):
            self._send(200, html("slow"))

    def _download(self, name: str) -> None:
        data = (name.encode() * (DOWNLOAD_BYTES // max(len(name), 1) + 1))[:DOWNLOAD_BYTES]
        self._send(200, data, "application/octet-stream", Content_Disposition=f'attachment; filename="{name}"')

    def _download_slow(self, rest: str) -> None:
        """An attachment that trickles for up to 20 s: long enough to be cancelled."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Disposition", 'attachment; filename="slow.bin"')
        self.send_header("Content-Length", str(1_000_000))
        self.end_headers()
        with contextlib.suppress(OSError):
            for _chunk in range(200):
                self.wfile.write(b"x" * 100)
                self.wfile.flush()
                time.sleep(0.1)

    def _set_cookie(self, _: str) -> None:
        body = html("cookies set")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Set-Cookie", "server_plain=1; Path=/")
        self.send_header("Set-Cookie", "server_http_only=2; Path=/; HttpOnly; SameSite=Lax")
        self.end_headers()
        self.wfile.write(data)

    def _big(self, _: str) -> None:
        self._send(200, b"b" * BIG_BYTES, "text/plain")

    def _worker_js(self, _: str) -> None:
        self._send(200, WORKER_JS, "text/javascript")

    def _sw(self, rest: str) -> None:
        if rest == "sw.js":
            return self._send(200, SERVICE_WORKER_JS, "text/javascript")
        return self._send(200, "from the network", "text/plain")

    def log_message(self, *args: Any) -> None:
        pass


ROUTES = {
    "page": _Handler._page,
    "echo": _Handler._echo,
    "status": _Handler._status,
    "redirect": _Handler._redirect,
    "slow": _Handler._slow,
    "download": _Handler._download,
    "download-slow": _Handler._download_slow,
    "set-cookie": _Handler._set_cookie,
    "big": _Handler._big,
    "worker.js": _Handler._worker_js,
    "sw": _Handler._sw,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(pages: dict[str, str]) -> type[_Handler]:
    return type("Handler", (_Handler,), {"pages": pages})


def _echo_socket(connection: ServerConnection) -> None:
    for message in connection:
        connection.send(f"echo:{message!s}")


@dataclass(frozen=True)
class SiteUrls:
    main: str  # http://127.0.0.1:<port>
    other: str  # http://localhost:<port>, another site
    ws: str  # ws://127.0.0.1:<port>, echoes every message as "echo:<message>"
    closed: str  # http://127.0.0.1:<port>/ where nothing listens


@contextlib.contextmanager
def fidelity_site() -> Iterator[SiteUrls]:
    """Start both origins and the websocket echo on loopback; stop them afterwards."""
    main_port, other_port = free_port(), free_port()
    main, other = f"http://127.0.0.1:{main_port}", f"http://localhost:{other_port}"
    servers: list[ThreadingHTTPServer | Server] = [
        _Server(("127.0.0.1", main_port), _handler({**STATIC, **frame_pages(other)})),
        _Server(("127.0.0.1", other_port), _handler({**STATIC, **other_pages(main)})),
    ]
    with contextlib.suppress(OSError):  # localhost may resolve to ::1 first; answer there too when we can
        servers.append(_Server6(("::1", other_port), _handler({**STATIC, **other_pages(main)})))
    echo = ws_serve(_echo_socket, "127.0.0.1", 0)
    servers.append(echo)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ws_port = echo.socket.getsockname()[1]
    try:
        yield SiteUrls(main, other, f"ws://127.0.0.1:{ws_port}", f"http://127.0.0.1:{free_port()}/")
    finally:
        for server in servers:
            server.shutdown()
            if isinstance(server, ThreadingHTTPServer):
                server.server_close()
