"""The W3C WebDriver endpoint: `webdriver.Remote("http://HOST:8000/webdriver")` drives a browserpool session.

Credentials: the user's API key as the HTTP Basic password (any user name), `X-API-Key`, or a bearer token.
Every answer, refusals included, has WebDriver's shape (`{"value": ...}`); api/webdriver/host.py holds the
sessions and their chromedrivers.
"""

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from orchestrator.accounts import User
from orchestrator.errors import BrowserpoolError
from orchestrator.models import SessionRecord

from ..deps import Authenticator, bearer_of, get_authenticator, get_metrics, get_sessions, get_settings
from ..links import session_detail
from ..webdriver.errors import WebDriverError, decoded, from_pool
from ..webdriver.host import WebDriverHost

router = APIRouter(prefix="/webdriver", tags=["webdriver"], include_in_schema=False)

UNAUTHENTICATED = "send your API key as the HTTP Basic password (any user name) or as X-API-Key"


def host_of(request: Request) -> WebDriverHost:
    host: WebDriverHost = request.app.state.webdriver
    return host


async def _user(request: Request, creating: bool) -> User:
    authenticator: Authenticator = get_authenticator(request.app.state.runtime.shared)
    api_key = request.headers.get("x-api-key") or _basic_password(request.headers.get("authorization"))
    try:
        return await authenticator.user(bearer_of(request.headers.get("authorization")), api_key)
    except BrowserpoolError as exc:
        error = from_pool(exc, creating)
        if error.status == 401:
            given = "not authenticated" if error.message.startswith("not authenticated") else error.message
            error.message = f"{given}: {UNAUTHENTICATED}"
            if not creating:
                error.error = "invalid session id"
        raise error from exc


def _basic_password(authorization: str | None) -> str | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or None


def _answer(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"value": value}, status_code=status)


def _counted(request: Request, response: Response, outcome: str | None = None) -> Response:
    """The answer, counted in browserpool_webdriver_commands by its outcome."""
    if outcome is None:
        outcome = "success" if response.status_code == 200 else "error"
    get_metrics(request).webdriver_commands.labels(outcome).inc()
    return response


def _refused(request: Request, error: WebDriverError) -> Response:
    return _counted(request, error.response(), error.error)


async def _body(request: Request) -> Any:
    return decoded(await request.body())


@router.get("/status")
async def status(request: Request) -> Response:
    host = host_of(request)
    ready = host.chromedriver is not None
    message = "ready to create sessions" if ready else "no chromedriver on this API node"
    return _answer({"ready": ready, "message": message})


@router.post("/session")
async def new_session(request: Request) -> Response:
    try:
        user = await _user(request, creating=True)
        body = await _body(request)
        settings = get_settings(request)
        sessions = get_sessions(request.app.state.runtime.control)

        def cdp_url_of(record: SessionRecord) -> str | None:
            return session_detail(record, request, settings, sessions).cdp_url

        return _counted(
            request,
            _answer(await host_of(request).new_session(user.user_id, body, cdp_url_of, request.is_disconnected)),
        )
    except WebDriverError as exc:
        return _refused(request, exc)


@router.delete("/session/{session_id}")
async def delete_session(session_id: str, request: Request) -> Response:
    try:
        user = await _user(request, creating=False)
        await host_of(request).quit(user.user_id, session_id)
        return _counted(request, _answer(None))
    except WebDriverError as exc:
        return _refused(request, exc)


@router.api_route("/session/{session_id}/{command:path}", methods=["GET", "POST", "DELETE"])
async def command(session_id: str, command: str, request: Request) -> Response:
    try:
        user = await _user(request, creating=False)
        body = await request.body() if request.method == "POST" else None
        status, answer = await host_of(request).command(user.user_id, session_id, request.method, command, body)
        value = answer.get("value") if isinstance(answer, dict) else None
        error = value.get("error") if isinstance(value, dict) and status != 200 else None
        return _counted(request, JSONResponse(answer, status_code=status), error)
    except WebDriverError as exc:
        return _refused(request, exc)


@router.api_route("/{anything:path}", methods=["GET", "POST", "DELETE"])
async def unknown(anything: str, request: Request) -> Response:
    return WebDriverError(
        "unknown command", f"{request.method} /webdriver/{anything} is not a WebDriver command"
    ).response()
