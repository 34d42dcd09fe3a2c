"""WebDriver's error shape (`{"value": {"error", "message", "stacktrace"}}`) and the HTTP status W3C gives each
error code; browserpool's own errors (api/errors.py's one mapping) answered in that shape."""

import json
from typing import Any

from fastapi.responses import JSONResponse

from ..errors import answer_for

STATUS = {
    "invalid argument": 400,
    "invalid session id": 404,
    "unknown command": 404,
    "session not created": 500,
    "unknown error": 500,
}


class WebDriverError(Exception):
    def __init__(self, error: str, message: str, status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.error = error
        self.message = message
        self.status = status or STATUS.get(error, 500)
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"value": {"error": self.error, "message": self.message, "stacktrace": ""}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def from_pool(exc: Exception, creating: bool) -> WebDriverError:
    """A browserpool error as WebDriver says it: its status, headers (Retry-After) and message kept."""
    status, body, headers = answer_for(exc)
    detail = body.get("detail")
    message = detail if isinstance(detail, str) else validation_text(detail)
    if creating:
        return WebDriverError("session not created", message, status if status < 500 or status == 503 else 500, headers)
    if status in (404, 410):
        return WebDriverError("invalid session id", message, 404, headers)
    if status == 422:
        return WebDriverError("invalid argument", message, 400, headers)
    return WebDriverError("unknown error", message, status, headers)


def decoded(body: bytes | None) -> Any:
    """A command's JSON body (an empty one is {})."""
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise WebDriverError("invalid argument", "the body is not valid JSON") from None


def validation_text(detail: Any) -> str:
    """Validation problems (pydantic's, or a 422's `detail`) as one line: `loc: msg; ...`."""
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg')}" for item in detail)
    return str(detail)
