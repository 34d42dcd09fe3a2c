"""What the live view tests drive: a page with a text input, a click counter, a scrollable area and a popup
link, served on loopback; and a page of another origin that frames whatever URL it is given."""

import contextlib
import html
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support import serving, url_of

FORM = """<!doctype html><html><head><title>live form</title>
<style>body { margin: 0; font: 16px sans-serif; } #name { position: absolute; left: 40px; top: 40px; width: 300px; }
#count { position: absolute; left: 40px; top: 120px; width: 200px; height: 60px; }
#area { position: absolute; left: 400px; top: 40px; width: 300px; height: 200px; overflow: auto; border: 1px solid; }
#pop { position: absolute; left: 40px; top: 260px; font-size: 24px; }</style></head><body>
<input id="name" autocomplete="off">
<button id="count" data-clicks="0" data-double="0" data-right="0"
  onclick="this.dataset.clicks = Number(this.dataset.clicks) + 1; this.textContent = this.dataset.clicks"
  ondblclick="this.dataset.double = Number(this.dataset.double) + 1"
  oncontextmenu="this.dataset.right = Number(this.dataset.right) + 1; return false">0</button>
<div id="area"><div style="height: 3000px; background: linear-gradient(#fff, #36c)">scroll me</div></div>
<a id="pop" href="/popup" target="_blank">open a popup</a>
</body></html>"""

POPUP = """<!doctype html><html><head><title>the popup</title></head><body style="margin: 0">
<input id="reply" autocomplete="off" style="position: absolute; left: 40px; top: 40px; width: 300px">
</body></html>"""

ANIMATION = """<!doctype html><html><head><title>animating</title></head><body style="margin: 0">
<div id="box" style="width: 200px; height: 200px; background: #c33"></div>
<script>let t = 0; (function step() { t += 1; box.style.transform = `translateX(${(t * 7) % 800}px)`;
requestAnimationFrame(step); })();</script></body></html>"""


def framing(src: str) -> str:
    frame = f'<iframe id="embedded" src="{html.escape(src)}" width="900" height="600"></iframe>'
    return f"<!doctype html><title>embedder</title>{frame}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/frame":
            body = framing(parse_qs(url.query)["src"][0])
        else:
            body = {"/": FORM, "/popup": POPUP, "/animation": ANIMATION}.get(url.path, "")
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def live_site() -> Iterator[str]:
    with serving(_Handler) as server:
        yield url_of(server)
