"""The sync and async clients: the same calls, one over httpx.Client, one over httpx.AsyncClient."""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from .files import Download, UploadedFile, UploadSource, close_parts, pdf_query, upload_parts, uploaded
from .models import LiveLink, Profile, Session, checked

SESSIONS = "/v1/browser/sessions/"
PROFILES = "/v1/profiles"
Downloads = list[Download]  # (the clients' own `list` method shadows the builtin in their bodies)
Uploads = list[UploadedFile]
Names = list[str]

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


def _headers(api_key: str | None, token: str | None) -> dict[str, str]:
    if api_key:
        return {"X-API-Key": api_key}
    if token:
        return {"Authorization": f"Bearer {token}"}
    raise ValueError("give an api_key or a token")


def _spec(
    viewport_width: int | None,
    viewport_height: int | None,
    user_agent: str | None,
    timeout_seconds: int | None,
    profile: ProfileChoice = None,
    record: bool = False,
) -> dict[str, Any]:
    body = {
        "viewport_width": viewport_width,
        "viewport_height": viewport_height,
        "user_agent": user_agent,
        "timeout_seconds": timeout_seconds,
        "profile": {"name": profile} if isinstance(profile, str) else (dict(profile) if profile else None),
        "record": record or None,
    }
    return {k: v for k, v in body.items() if v is not None}


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


def _state_body(state: StorageStateSource) -> bytes:
    if isinstance(state, (str, Path)):
        return Path(state).read_bytes()
    return json.dumps(state).encode()


def _saved(state: dict[str, Any], path: str | Path | None) -> dict[str, Any]:
    if path is not None:
        Path(path).write_text(json.dumps(state, indent=2))
    return state


class Client:
    def __init__(self, base_url: str, api_key: str | None = None, token: str | None = None, timeout: float = 60):
        self.http = httpx.Client(base_url=base_url, headers=_headers(api_key, token), timeout=timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def create(
        self,
        viewport_width: int | None = None,
        viewport_height: int | None = None,
        user_agent: str | None = None,
        timeout_seconds: int | None = None,
        profile: ProfileChoice = None,
        proxy: ProxyChoice = DEFAULT_PROXY,
        record: bool = False,
    ) -> Session:
        """A new session; `proxy` routes all its traffic through an upstream proxy (see ProxyChoice)."""
        body = _spec(viewport_width, viewport_height, user_agent, timeout_seconds, profile, record)
        if proxy is not DEFAULT_PROXY:
            body["proxy"] = _proxy(proxy)
        return Session.from_json(checked(self.http.post(SESSIONS, json=body)).json())

    def save_profile(self, session_id: str) -> Session:
        """Save a persisting session's state into its profile now (it carries on)."""
        return Session.from_json(checked(self.http.post(f"{SESSIONS}{session_id}/profile/save")).json())

    def upload_profile(self, name: str, state: StorageStateSource) -> Profile:
        response = self.http.put(f"{PROFILES}/{name}", content=_state_body(state))
        return Profile.from_json(checked(response).json())

    def download_profile(self, name: str, path: str | Path | None = None) -> dict[str, Any]:
        """The profile's storage state (also written to `path` if given), for new_context(storage_state=...)."""
        return _saved(checked(self.http.get(f"{PROFILES}/{name}/state")).json(), path)

    def profiles(self) -> list[Profile]:
        return [Profile.from_json(p) for p in checked(self.http.get(PROFILES)).json()["profiles"]]

    def profile(self, name: str) -> Profile:
        return Profile.from_json(checked(self.http.get(f"{PROFILES}/{name}")).json())

    def delete_profile(self, name: str) -> None:
        checked(self.http.delete(f"{PROFILES}/{name}"))

    def list(self) -> list[Session]:
        return [Session.from_json(s) for s in checked(self.http.get(SESSIONS)).json()["sessions"]]

    def get(self, session_id: str) -> Session:
        return Session.from_json(checked(self.http.get(SESSIONS + session_id)).json())

    def keepalive(self, session_id: str) -> Session:
        return Session.from_json(checked(self.http.post(f"{SESSIONS}{session_id}/keepalive")).json())

    def close(self, session_id: str) -> None:
        checked(self.http.delete(SESSIONS + session_id))

    def navigate(self, session_id: str, url: str) -> dict[str, Any]:
        response = self.http.post(f"{SESSIONS}{session_id}/navigate", json={"url": url})
        result: dict[str, Any] = checked(response).json()
        return result

    def evaluate(self, session_id: str, expression: str) -> Any:
        response = self.http.post(f"{SESSIONS}{session_id}/evaluate", json={"expression": expression})
        return checked(response).json()["result"]

    def screenshot(self, session_id: str) -> bytes:
        return checked(self.http.get(f"{SESSIONS}{session_id}/screenshot")).content

    # --- files: downloads and the recording stay readable after the session ends, for the file retention

    def downloads(self, session_id: str) -> Downloads:
        answer = checked(self.http.get(f"{SESSIONS}{session_id}/downloads")).json()
        return [Download.from_json(d) for d in answer["downloads"]]

    def download(self, session_id: str, name: str) -> bytes:
        return checked(self.http.get(f"{SESSIONS}{session_id}/downloads/{quote(name, safe='')}")).content

    def upload(self, session_id: str, *files: UploadSource) -> Uploads:
        """Upload local files (paths) or (name, bytes) into the session's own directory."""
        parts = upload_parts(files)
        try:
            return uploaded(checked(self.http.post(f"{SESSIONS}{session_id}/files", files=parts)).json())
        finally:
            close_parts(parts)

    def set_input_files(self, session_id: str, selector: str, names: Names) -> None:
        """Set uploaded files (by name) on a file input of the session's page."""
        body = {"selector": selector, "files": names}
        checked(self.http.post(f"{SESSIONS}{session_id}/upload", json=body))

    def pdf(
        self, session_id: str, format: str = "A4", landscape: bool = False, print_background: bool = False
    ) -> bytes:
        query = pdf_query(format, landscape, print_background)
        return checked(self.http.get(f"{SESSIONS}{session_id}/pdf", params=query)).content

    def recording(self, session_id: str) -> bytes:
        """The session's video (WebM), once it has ended (409 while it is still being recorded or finalised)."""
        return checked(self.http.get(f"{SESSIONS}{session_id}/recording")).content

    def live_link(self, session_id: str, interactive: bool = False, ttl_seconds: int = 900) -> LiveLink:
        """A page anyone with the URL can open (or embed in an iframe) to watch the session, and with
        `interactive` to drive it with mouse and keyboard, for `ttl_seconds` or until the session ends."""
        body = {"interactive": interactive, "ttl_seconds": ttl_seconds}
        return LiveLink.from_json(checked(self.http.post(f"{SESSIONS}{session_id}/live-links", json=body)).json())

    def revoke_live_link(self, session_id: str, link_id: str) -> None:
        checked(self.http.delete(f"{SESSIONS}{session_id}/live-links/{link_id}"))

    def connect(self, session: Session, playwright: Any) -> Any:
        """A Playwright `Browser` on the session (pass `sync_playwright().start()` or its context value)."""
        return playwright.chromium.connect_over_cdp(session.cdp_url or self.get(session.session_id).cdp_url)


class AsyncClient:
    def __init__(self, base_url: str, api_key: str | None = None, token: str | None = None, timeout: float = 60):
        self.http = httpx.AsyncClient(base_url=base_url, headers=_headers(api_key, token), timeout=timeout)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def create(
        self,
        viewport_width: int | None = None,
        viewport_height: int | None = None,
        user_agent: str | None = None,
        timeout_seconds: int | None = None,
        profile: ProfileChoice = None,
        proxy: ProxyChoice = DEFAULT_PROXY,
        record: bool = False,
    ) -> Session:
        """A new session; `proxy` routes all its traffic through an upstream proxy (see ProxyChoice)."""
        body = _spec(viewport_width, viewport_height, user_agent, timeout_seconds, profile, record)
        if proxy is not DEFAULT_PROXY:
            body["proxy"] = _proxy(proxy)
        return Session.from_json(checked(await self.http.post(SESSIONS, json=body)).json())

    async def save_profile(self, session_id: str) -> Session:
        """Save a persisting session's state into its profile now (it carries on)."""
        return Session.from_json(checked(await self.http.post(f"{SESSIONS}{session_id}/profile/save")).json())

    async def upload_profile(self, name: str, state: StorageStateSource) -> Profile:
        response = await self.http.put(f"{PROFILES}/{name}", content=_state_body(state))
        return Profile.from_json(checked(response).json())

    async def download_profile(self, name: str, path: str | Path | None = None) -> dict[str, Any]:
        """The profile's storage state (also written to `path` if given), for new_context(storage_state=...)."""
        return _saved(checked(await self.http.get(f"{PROFILES}/{name}/state")).json(), path)

    async def profiles(self) -> list[Profile]:
        return [Profile.from_json(p) for p in checked(await self.http.get(PROFILES)).json()["profiles"]]

    async def profile(self, name: str) -> Profile:
        return Profile.from_json(checked(await self.http.get(f"{PROFILES}/{name}")).json())

    async def delete_profile(self, name: str) -> None:
        checked(await self.http.delete(f"{PROFILES}/{name}"))

    async def list(self) -> list[Session]:
        return [Session.from_json(s) for s in checked(await self.http.get(SESSIONS)).json()["sessions"]]

    async def get(self, session_id: str) -> Session:
        return Session.from_json(checked(await self.http.get(SESSIONS + session_id)).json())

    async def keepalive(self, session_id: str) -> Session:
        return Session.from_json(checked(await self.http.post(f"{SESSIONS}{session_id}/keepalive")).json())

    async def close(self, session_id: str) -> None:
        checked(await self.http.delete(SESSIONS + session_id))

    async def navigate(self, session_id: str, url: str) -> dict[str, Any]:
        response = await self.http.post(f"{SESSIONS}{session_id}/navigate", json={"url": url})
        result: dict[str, Any] = checked(response).json()
        return result

    async def evaluate(self, session_id: str, expression: str) -> Any:
        response = await self.http.post(f"{SESSIONS}{session_id}/evaluate", json={"expression": expression})
        return checked(response).json()["result"]

    async def screenshot(self, session_id: str) -> bytes:
        return checked(await self.http.get(f"{SESSIONS}{session_id}/screenshot")).content

    # --- files: downloads and the recording stay readable after the session ends, for the file retention

    async def downloads(self, session_id: str) -> Downloads:
        answer = checked(await self.http.get(f"{SESSIONS}{session_id}/downloads")).json()
        return [Download.from_json(d) for d in answer["downloads"]]

    async def download(self, session_id: str, name: str) -> bytes:
        return checked(await self.http.get(f"{SESSIONS}{session_id}/downloads/{quote(name, safe='')}")).content

    async def upload(self, session_id: str, *files: UploadSource) -> Uploads:
        """Upload local files (paths) or (name, bytes) into the session's own directory."""
        parts = upload_parts(files)
        try:
            return uploaded(checked(await self.http.post(f"{SESSIONS}{session_id}/files", files=parts)).json())
        finally:
            close_parts(parts)

    async def set_input_files(self, session_id: str, selector: str, names: Names) -> None:
        body = {"selector": selector, "files": names}
        checked(await self.http.post(f"{SESSIONS}{session_id}/upload", json=body))

    async def pdf(
        self, session_id: str, format: str = "A4", landscape: bool = False, print_background: bool = False
    ) -> bytes:
        query = pdf_query(format, landscape, print_background)
        return checked(await self.http.get(f"{SESSIONS}{session_id}/pdf", params=query)).content

    async def recording(self, session_id: str) -> bytes:
        return checked(await self.http.get(f"{SESSIONS}{session_id}/recording")).content

    async def live_link(self, session_id: str, interactive: bool = False, ttl_seconds: int = 900) -> LiveLink:
        """A page anyone with the URL can open (or embed in an iframe) to watch the session, and with
        `interactive` to drive it with mouse and keyboard, for `ttl_seconds` or until the session ends."""
        body = {"interactive": interactive, "ttl_seconds": ttl_seconds}
        response = await self.http.post(f"{SESSIONS}{session_id}/live-links", json=body)
        return LiveLink.from_json(checked(response).json())

    async def revoke_live_link(self, session_id: str, link_id: str) -> None:
        checked(await self.http.delete(f"{SESSIONS}{session_id}/live-links/{link_id}"))

    async def connect(self, session: Session, playwright: Any) -> Any:
        """A Playwright `Browser` on the session (pass the object `async_playwright()` gives)."""
        url = session.cdp_url or (await self.get(session.session_id)).cdp_url
        return await playwright.chromium.connect_over_cdp(url)
