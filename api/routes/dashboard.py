"""The web dashboard: one static page that signs in with an API key or password and uses the public API.

Served with a strict Content-Security-Policy (its one inline script and style allowed by hash, nothing
else), and headers that stop content sniffing. The same page is a live link's page (`/live/{id}`, the token
in the URL's fragment): there it shows only the session's live view and needs no sign-in.

Framing differs on purpose. The dashboard holds its user's credentials and buttons that close sessions, so a
page of another origin must not frame it (clickjacking): `frame-ancestors 'none'` and `X-Frame-Options: DENY`.
A live link's page holds only its own narrow token, for one session and mode, which its owner chose to share,
and embedding it is the point: its frame-ancestors come from BROWSERPOOL_LIVE_LINK_FRAME_ANCESTORS (`*`).
"""

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from ..deps import SettingsDep

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@cache
def _page() -> str:
    return resources.files("api").joinpath("static", "dashboard.html").read_text(encoding="utf-8")


def _hashes(page: str, tag: str) -> str:
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in bodies)
    return " ".join(f"'sha256-{d}'" for d in digests)


@cache
def _headers(frame_ancestors: str = "'none'") -> dict[str, str]:
    page = _page()
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_hashes(page, 'script')}",
            f"style-src {_hashes(page, 'style')}",
            "img-src 'self' blob: data:",
            "media-src blob:",  # an ended session's recording, fetched with the user's credentials
            "connect-src 'self' ws: wss:",  # the live view opens the session's own CDP websocket
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        )
    )
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    if frame_ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers


@router.get("/ui")
async def dashboard() -> HTMLResponse:
    return HTMLResponse(_page(), headers=_headers())


@router.get("/live/{session_id}")
async def live_link_page(session_id: str, settings: SettingsDep) -> HTMLResponse:
    """A live link's page. It checks nothing itself: its script opens the session's CDP websocket with the token
    from the fragment, and the server refuses that before any frame when the token does not hold."""
    return HTMLResponse(_page(), headers=_headers(settings.live_link_frame_ancestors))


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/ui")
