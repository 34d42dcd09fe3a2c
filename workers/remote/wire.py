"""What crosses the internal API between API nodes and workers, defined once for both ends.

Paths, the secret header, the body that opens a session (its SessionSpec, as itself), and errors: a worker
answers an error with a stable string code from `ERRORS`; the API node raises the same orchestrator error again
from that code.
"""

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from orchestrator import errors
from orchestrator.models import SessionSpec

PREFIX = "/internal/sessions"
SECRET_HEADER = "X-Browserpool-Internal"
FILE_NAME_HEADER = "X-Browserpool-File-Name"  # a served file's name, hex of its UTF-8 (headers are latin-1)

Payload = dict[str, Any]


# A session's spec crosses as itself, its upstream proxy's password included: the one place the password
# travels (to the worker that will hold it in memory, already checked by the API node).
SPEC = TypeAdapter(SessionSpec)


def spec_body(spec: SessionSpec) -> Payload:
    """The body of the request that opens a session (the worker's route reads it back as a SessionSpec)."""
    body: Payload = SPEC.dump_python(spec, mode="json")
    return body


def _detail(payload: Payload) -> str:
    return str(payload.get("detail", "worker error"))


# code -> (the error class a worker raises, how an API node raises it again from the wire)
ERRORS: dict[str, tuple[type[errors.BrowserpoolError], Callable[[Payload], errors.BrowserpoolError]]] = {
    "pool_full": (errors.PoolFull, lambda p: errors.PoolFull()),
    "pool_unavailable": (errors.PoolUnavailable, lambda p: errors.PoolUnavailable(_detail(p))),
    "session_ended": (errors.SessionEnded, lambda p: errors.SessionEnded(str(p.get("status", "failed")))),
    "action_timed_out": (errors.ActionTimedOut, lambda p: errors.ActionTimedOut(_detail(p))),
    "page_unresponsive": (errors.PageUnresponsive, lambda p: errors.PageUnresponsive(_detail(p))),
    "action_failed": (
        errors.ActionFailed,
        lambda p: errors.ActionFailed(_detail(p), upstream=bool(p.get("upstream", True))),
    ),
    "invalid_input": (errors.InvalidInput, lambda p: errors.InvalidInput(_detail(p))),
    "navigation_refused": (errors.NavigationRefused, lambda p: errors.NavigationRefused(_detail(p))),
    "file_not_found": (errors.FileNotFound, lambda p: errors.FileNotFound(_detail(p))),
    "recording_not_ready": (errors.RecordingNotReady, lambda p: errors.RecordingNotReady(_detail(p))),
    "disk_quota_exceeded": (errors.DiskQuotaExceeded, lambda p: errors.DiskQuotaExceeded(_detail(p))),
    "profile_not_found": (errors.ProfileNotFound, lambda p: errors.ProfileNotFound(str(p.get("name", "")))),
    "no_profile_to_save": (errors.NoProfileToSave, lambda p: errors.NoProfileToSave(_detail(p))),
    "profile_lease_lost": (errors.ProfileLeaseLost, lambda p: errors.ProfileLeaseLost(_detail(p))),
    "profile_too_large": (
        errors.ProfileTooLarge,
        lambda p: errors.ProfileTooLarge(int(p.get("size", 0)), int(p.get("limit", 0))),
    ),
}


def error_code(exc: errors.BrowserpoolError) -> str | None:
    """The wire code of an error a worker raised, or None for one that has none (answered as a failure)."""
    for code, (kind, _) in ERRORS.items():
        if type(exc) is kind:
            return code
    return None


def error_fields(exc: errors.BrowserpoolError) -> Payload:
    """What a worker adds to its error body so the API node can raise the same error again."""
    fields: Payload = {"error": error_code(exc), "detail": str(exc)}
    if isinstance(exc, errors.ActionFailed):
        fields["upstream"] = exc.upstream
    if isinstance(exc, errors.SessionEnded):
        fields["status"] = exc.status
    if isinstance(exc, errors.ProfileNotFound):
        fields["name"] = exc.name
    if isinstance(exc, errors.ProfileTooLarge):
        fields.update(size=exc.size, limit=exc.limit)
    return fields


def raise_again(payload: Payload, status: int) -> errors.BrowserpoolError:
    """The error a worker's error answer stands for."""
    entry = ERRORS.get(str(payload.get("error")))
    if entry is None:
        return errors.PoolUnavailable(f"worker answered {status}: {_detail(payload)}")
    return entry[1](payload)
