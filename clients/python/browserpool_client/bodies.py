"""What the sync and async clients send: paths, headers and request bodies, built the same way for both."""

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SESSIONS = "/v1/browser/sessions/"
PROFILES = "/v1/profiles"

# A profile for `create`: its name (the session starts from it, read-only), or {"name": ..., "persist": True}
# (the session also saves its state back into it when it ends; the profile is made if new).
ProfileChoice = str | Mapping[str, Any] | None
# An upstream proxy for `create`: {"server": "socks5://host:port", "username": ..., "password": ..., "bypass": ...},
# or the same as one URL ("http://user:password@host:port", user and password percent-encoded); None: no proxy
# (where the pool allows it); left out: the pool's default proxy, if it has one.
ProxyChoice = str | Mapping[str, Any] | None
DEFAULT_PROXY: Any = object()
# A Playwright storage state: the document, or the path of a file `context.storage_state(path=...)` wrote.
StorageStateSource = Mapping[str, Any] | str | Path


def headers(api_key: str | None, token: str | None) -> dict[str, str]:
    """The credentials header: an API key, else a bearer token."""
    if api_key:
        return {"X-API-Key": api_key}
    if token:
        return {"Authorization": f"Bearer {token}"}
    raise ValueError("give an api_key or a token")


def create_body(
    viewport_width: int | None,
    viewport_height: int | None,
    user_agent: str | None,
    timeout_seconds: int | None,
    profile: ProfileChoice,
    proxy: ProxyChoice,
    record: bool,
) -> dict[str, Any]:
    """The body of `POST /v1/browser/sessions/`: only the fields given (the proxy also when it is None)."""
    body = {
        "viewport_width": viewport_width,
        "viewport_height": viewport_height,
        "user_agent": user_agent,
        "timeout_seconds": timeout_seconds,
        "profile": {"name": profile} if isinstance(profile, str) else (dict(profile) if profile else None),
        "record": record or None,
    }
    body = {k: v for k, v in body.items() if v is not None}
    if proxy is not DEFAULT_PROXY:
        body["proxy"] = _proxy(proxy)
    return body


def _proxy(proxy: ProxyChoice) -> dict[str, Any] | None:
    if proxy is None or not isinstance(proxy, str):
        return dict(proxy) if proxy is not None else None
    url = urlsplit(proxy)
    body = {"server": url._replace(netloc=url.netloc.rpartition("@")[2]).geturl()}
    if url.username is not None:
        body["username"] = unquote(url.username)
    if url.password is not None:
        body["password"] = unquote(url.password)
    return body


def state_body(state: StorageStateSource) -> bytes:
    """A storage state as the bytes `PUT /v1/profiles/{name}` takes (a path is read as it is)."""
    if isinstance(state, (str, Path)):
        return Path(state).read_bytes()
    return json.dumps(state).encode()


def saved(state: dict[str, Any], path: str | Path | None) -> dict[str, Any]:
    """The storage state, also written to `path` when one is given."""
    if path is not None:
        Path(path).write_text(json.dumps(state, indent=2))
    return state


def warn_close_with_session_id() -> None:
    """The deprecation of `close(session_id)`, pointed at the caller's line."""
    warnings.warn(
        "close(session_id) is deprecated and goes in the next release: end a session with "
        "delete_session(session_id); close() with no argument closes the client",
        DeprecationWarning,
        stacklevel=3,
    )
