"""The web dashboard: one static page that signs in with an API key or password and uses the public API.

Served with a strict Content-Security-Policy (its one inline script and style allowed by hash, nothing
else), and headers that keep it out of frames and stop content sniffing.
"""

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@cache
def _page() -> str:
    return resources.files("api").joinpath("static", "dashboard.html").read_text(encoding="utf-8")


def _hashes(page: str, tag: str) -> str:
    bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() for body in bodies)
    return " ".join(f"'sha256-{d}'" for d in digests)


@cache
def _headers() -> dict[str, str]:
    page = _page()
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_hashes(page, 'script')}",
            f"style-src {_hashes(page, 'style')}",
            "img-src 'self' blob: data:",
            "media-src blob:",  # an ended session's recording, fetched with the user's credentials
            "connect-src 'self' ws: wss:",  # the live view opens the session's own cdp_url
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


@router.get("/ui")
async def dashboard() -> HTMLResponse:
    return HTMLResponse(_page(), headers=_headers())


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/ui")
