"""Every orchestrator error and infrastructure failure, mapped to an HTTP answer in one place."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.errors import (
    ActionFailed,
    ActionTimedOut,
    ApiKeyNotFound,
    AuthenticationFailed,
    BrowserpoolError,
    InvalidInput,
    PoolFull,
    PoolUnavailable,
    SessionEnded,
    SessionNotFound,
    SessionNotReady,
    UnknownUser,
    UserExists,
)

log = logging.getLogger(__name__)


def _json(code: int, detail: str, headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=code, headers=headers)


async def _browserpool_error(request: Request, exc: Exception) -> JSONResponse:
    match exc:
        case AuthenticationFailed():
            return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})
        case SessionNotFound():
            return _json(404, "session not found")
        case SessionEnded():
            return _json(410, str(exc), status=exc.status)
        case SessionNotReady():
            return _json(409, str(exc), status=exc.status)
        case PoolFull() | PoolUnavailable():
            return _json(503, str(exc), {"Retry-After": str(exc.retry_after)})
        case ActionTimedOut():
            return _json(504, str(exc))
        case ActionFailed():
            return _json(502 if exc.upstream else 400, str(exc))
        case InvalidInput():
            return _json(422, str(exc))
        case UserExists():
            return _json(409, str(exc))
        case UnknownUser() | ApiKeyNotFound():
            return _json(404, str(exc))
    log.error("unmapped error %r", exc)
    return _json(500, "internal error")


async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("Redis unreachable while serving %s %s: %s", request.method, request.url.path, exc)
    return _json(503, "the session store (Redis) is unreachable; retry shortly", {"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BrowserpoolError, _browserpool_error)
    app.add_exception_handler(RedisConnectionError, _redis_down)
    app.add_exception_handler(RedisTimeoutError, _redis_down)
