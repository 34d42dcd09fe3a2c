"""Every orchestrator error and infrastructure failure, mapped to an HTTP answer in one place."""

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.errors import (
    ActionFailed,
    ActionTimedOut,
    ApiKeyNotFound,
    AuthenticationFailed,
    BrowserpoolError,
    ClientGaveUp,
    DiskQuotaExceeded,
    FileNotFound,
    InvalidInput,
    LiveLinkNotFound,
    NavigationRefused,
    NoProfileToSave,
    PageUnresponsive,
    PermissionDenied,
    PoolFull,
    PoolUnavailable,
    ProfileInUse,
    ProfileLeaseLost,
    ProfileNotFound,
    ProfileTooLarge,
    QuotaExceeded,
    RecordingNotReady,
    SessionEnded,
    SessionNotFound,
    SessionNotReady,
    UnknownUser,
    UserExists,
    WebhookNotFound,
    WorkerNotFound,
)
from orchestrator.redis_watch import REDIS_AWAY
from workers.remote import wire

from .deps import get_metrics

log = logging.getLogger(__name__)


Answer = tuple[int, dict[str, object], dict[str, str]]  # status, body, headers


def _answer(code: int, detail: str, headers: dict[str, str] | None = None, **extra: object) -> Answer:
    return code, {"detail": detail, **extra}, headers or {}


def answer_for(exc: Exception) -> Answer:
    """The answer to an orchestrator error or a Redis failure, for routes that answer themselves (websockets)."""
    if isinstance(exc, MaxConnectionsError):  # every Redis connection of this node busy: overload, not an outage
        return _answer(
            503, "this node is too busy to reach the session store in time; retry shortly", {"Retry-After": "1"}
        )
    if isinstance(exc, REDIS_AWAY):
        return _answer(503, "the session store (Redis) is unreachable; retry shortly", {"Retry-After": "5"})
    return _map(exc)


async def _browserpool_error(request: Request, exc: Exception) -> JSONResponse:
    code, body, headers = _map(exc)
    if request.url.path.startswith(wire.PREFIX) and isinstance(exc, BrowserpoolError):
        body = {**body, **wire.error_fields(exc)}  # the API node raises the same error again
    return JSONResponse(body, status_code=code, headers=headers)


def _map(exc: Exception) -> Answer:
    match exc:
        case AuthenticationFailed():
            return _answer(401, str(exc), {"WWW-Authenticate": "Bearer"})
        case SessionNotFound():
            return _answer(404, "session not found")
        case SessionEnded():
            return _answer(410, str(exc), status=exc.status)
        case SessionNotReady():
            return _answer(409, str(exc), status=exc.status)
        case ClientGaveUp():
            return _answer(499, str(exc))
        case PermissionDenied() | NavigationRefused():
            return _answer(403, str(exc))
        case QuotaExceeded():
            return _answer(429, str(exc), {"Retry-After": str(exc.retry_after)} if exc.retry_after else None)
        case PoolFull() | PoolUnavailable():
            return _answer(503, str(exc), {"Retry-After": str(exc.retry_after)})
        case ActionTimedOut():
            return _answer(504, str(exc))
        case ActionFailed():
            return _answer(502 if exc.upstream else 400, str(exc))
        case InvalidInput():
            # The same shape as FastAPI's own 422 (HTTPValidationError), so clients parse one thing.
            return 422, {"detail": [{"loc": list(exc.loc), "msg": str(exc), "type": "value_error"}]}, {}
        case UserExists() | RecordingNotReady() | NoProfileToSave() | ProfileLeaseLost() | PageUnresponsive():
            return _answer(409, str(exc))
        case ProfileInUse():
            return _answer(409, str(exc), session_id=exc.session_id)
        case FileNotFound():
            return _answer(404, str(exc))
        case ProfileNotFound():
            return _answer(404, "profile not found")
        case DiskQuotaExceeded():
            return _answer(413, str(exc))
        case ProfileTooLarge():
            return _answer(413, str(exc), size_bytes=exc.size, limit_bytes=exc.limit)
        case UnknownUser() | ApiKeyNotFound() | WorkerNotFound() | WebhookNotFound() | LiveLinkNotFound():
            return _answer(404, str(exc))
    log.error("unmapped error %r", exc)
    return _answer(500, "internal error")


async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, MaxConnectionsError):
        log.warning("no free Redis connection in time while serving %s %s", request.method, request.url.path)
    else:
        log.warning("Redis unreachable while serving %s %s: %s", request.method, request.url.path, exc)
        get_metrics(request).redis_errors.inc()
    code, body, headers = answer_for(exc)
    return JSONResponse(body, status_code=code, headers=headers)


async def _unparseable_body(request: Request, exc: Exception) -> Response:
    """FastAPI answers a body it cannot decode (not UTF-8) with a bare 400; give it the documented 422."""
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 400 and "parsing the body" in str(exc.detail):
        body = {
            "detail": [{"loc": ["body"], "msg": "the body is not valid JSON (or not UTF-8)", "type": "json_invalid"}]
        }
        return JSONResponse(body, status_code=422)
    return await http_exception_handler(request, exc)  # type: ignore[arg-type]


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422, less the input of anything inside a proxy (it may be, or hold, a password)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {k: v for k, v in error.items() if k != "input"} if "proxy" in error.get("loc", ()) else error
        for error in exc.errors()
    ]
    return await request_validation_exception_handler(request, RequestValidationError(errors, body=None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _unparseable_body)
    app.add_exception_handler(BrowserpoolError, _browserpool_error)
    app.add_exception_handler(RedisConnectionError, _redis_down)
    app.add_exception_handler(RedisTimeoutError, _redis_down)
    app.add_exception_handler(ReadOnlyError, _redis_down)  # a demoted primary, until the client finds the new one
