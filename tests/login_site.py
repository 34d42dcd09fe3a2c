"""A local site with a login: /login?user=NAME sets a cookie (HttpOnly, so only the browser holds it) and puts
the name in localStorage; / shows who the cookie says is signed in and what localStorage holds."""

from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from tests.support import serving, url_of

HOME = """<!doctype html><title>home</title><p id="who">{who}</p><p id="ls"></p>
<script>document.getElementById('ls').textContent = localStorage.getItem('user') || 'none'</script>"""
LOGIN = """<!doctype html><title>signed in</title>
<script>localStorage.setItem('user', {user!r})</script>"""

# What a page of this site says: who the server sees, and what localStorage holds.
WHO = "[document.getElementById('who').textContent, document.getElementById('ls').textContent]"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/login":
            user = parse_qs(url.query).get("user", ["alice"])[0]
            self._page(LOGIN.format(user=user), f"sid=token-{user}; Path=/; HttpOnly; Max-Age=3600")
            return
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        sid = cookie["sid"].value if "sid" in cookie else ""
        self._page(HOME.format(who=sid.removeprefix("token-") or "anonymous"))

    def _page(self, body: str, set_cookie: str | None = None) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if set_cookie:
            self.send_header("Set-Cookie", set_cookie)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def login_site() -> Iterator[str]:
    with serving(_Handler) as server:
        yield url_of(server)
