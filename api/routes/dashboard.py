"""The web dashboard: one static page that signs in with an API key or password and uses the public API."""

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@cache
def _page() -> str:
    return resources.files("api").joinpath("static", "dashboard.html").read_text(encoding="utf-8")


@router.get("/ui")
async def dashboard() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/ui")
