"""The async client, over one httpx.AsyncClient (its connection pool lives until `close()`): the sync calls, awaited."""

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .bodies import (
    DEFAULT_PROXY,
    PROFILES,
    SESSIONS,
    ProfileChoice,
    ProxyChoice,
    StorageStateSource,
    create_body,
    headers,
    saved,
    state_body,
    warn_close_with_session_id,
)
from .files import Download, UploadSource, close_parts, pdf_query, upload_parts, uploaded
from .lists import Downloads, Names, Profiles, Sessions, Uploads
from .models import LiveLink, Profile, Session, checked


class AsyncClient:
    """browserpool's API from asyncio code; use it with `async with`, or await `close()` when done."""

    def __init__(self, base_url: str, api_key: str | None = None, token: str | None = None, timeout: float = 60):
        """A client of the pool at `base_url`, signed in with an API key or a bearer token."""
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers(api_key, token), timeout=timeout)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self, session_id: str | None = None) -> None:
        """Close the client's HTTP connections; its sessions live on (end them with `delete_session`).

        Deprecated: `close(session_id)` still ends that session, with a DeprecationWarning, for one release."""
        if session_id is not None:
            warn_close_with_session_id()
            await self.delete_session(session_id)
            return
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
        body = create_body(viewport_width, viewport_height, user_agent, timeout_seconds, profile, proxy, record)
        return Session.from_json(checked(await self.http.post(SESSIONS, json=body)).json())

    async def delete_session(self, session_id: str) -> None:
        """End the session (`DELETE /v1/browser/sessions/{id}`); a persisting one is saved into its profile first."""
        checked(await self.http.delete(SESSIONS + session_id))

    async def list(self) -> Sessions:
        """Your live sessions (ended ones are read with `get`)."""
        return [Session.from_json(s) for s in checked(await self.http.get(SESSIONS)).json()["sessions"]]

    async def get(self, session_id: str) -> Session:
        """One session, live or ended (an ended one keeps its `end_reason`)."""
        return Session.from_json(checked(await self.http.get(SESSIONS + session_id)).json())

    async def keepalive(self, session_id: str) -> Session:
        """Push the session's deadline out by its timeout; the session as it now stands."""
        return Session.from_json(checked(await self.http.post(f"{SESSIONS}{session_id}/keepalive")).json())

    async def navigate(self, session_id: str, url: str) -> dict[str, Any]:
        """Load `url` in the session's page; the answer has the final `url`, its `status` and the `title`."""
        response = await self.http.post(f"{SESSIONS}{session_id}/navigate", json={"url": url})
        result: dict[str, Any] = checked(response).json()
        return result

    async def evaluate(self, session_id: str, expression: str) -> Any:
        """The value of a JavaScript expression evaluated in the session's page."""
        response = await self.http.post(f"{SESSIONS}{session_id}/evaluate", json={"expression": expression})
        return checked(response).json()["result"]

    async def screenshot(self, session_id: str) -> bytes:
        """A PNG of the session's page."""
        return checked(await self.http.get(f"{SESSIONS}{session_id}/screenshot")).content

    async def connect(self, session: Session, playwright: Any) -> Any:
        """A Playwright `Browser` on the session (pass the object `async_playwright()` gives)."""
        url = session.cdp_url or (await self.get(session.session_id)).cdp_url
        return await playwright.chromium.connect_over_cdp(url)

    # --- profiles

    async def save_profile(self, session_id: str) -> Session:
        """Save a persisting session's state into its profile now (it carries on)."""
        return Session.from_json(checked(await self.http.post(f"{SESSIONS}{session_id}/profile/save")).json())

    async def upload_profile(self, name: str, state: StorageStateSource) -> Profile:
        """Store a Playwright storage state (a document or a file's path) as profile `name`, new or replaced."""
        response = await self.http.put(f"{PROFILES}/{name}", content=state_body(state))
        return Profile.from_json(checked(response).json())

    async def download_profile(self, name: str, path: str | Path | None = None) -> dict[str, Any]:
        """The profile's storage state (also written to `path` if given), for new_context(storage_state=...)."""
        return saved(checked(await self.http.get(f"{PROFILES}/{name}/state")).json(), path)

    async def profiles(self) -> Profiles:
        """Your profiles' metadata."""
        return [Profile.from_json(p) for p in checked(await self.http.get(PROFILES)).json()["profiles"]]

    async def profile(self, name: str) -> Profile:
        """One profile's metadata."""
        return Profile.from_json(checked(await self.http.get(f"{PROFILES}/{name}")).json())

    async def delete_profile(self, name: str) -> None:
        """Delete the profile (the API answers 409 while a session persists into it)."""
        checked(await self.http.delete(f"{PROFILES}/{name}"))

    # --- files: downloads and the recording stay readable after the session ends, for the file retention

    async def downloads(self, session_id: str) -> Downloads:
        """What the session's pages downloaded, finished or not."""
        answer = checked(await self.http.get(f"{SESSIONS}{session_id}/downloads")).json()
        return [Download.from_json(d) for d in answer["downloads"]]

    async def download(self, session_id: str, name: str) -> bytes:
        """The contents of one of the session's downloads."""
        return checked(await self.http.get(f"{SESSIONS}{session_id}/downloads/{quote(name, safe='')}")).content

    async def upload(self, session_id: str, *files: UploadSource) -> Uploads:
        """Upload local files (paths) or (name, bytes) into the session's own directory."""
        parts = upload_parts(files)
        try:
            response = await self.http.post(f"{SESSIONS}{session_id}/files", files=parts)
            return uploaded(checked(response).json())
        finally:
            close_parts(parts)

    async def set_input_files(self, session_id: str, selector: str, names: Names) -> None:
        """Set uploaded files (by name) on a file input of the session's page."""
        body = {"selector": selector, "files": names}
        checked(await self.http.post(f"{SESSIONS}{session_id}/upload", json=body))

    async def pdf(
        self, session_id: str, format: str = "A4", landscape: bool = False, print_background: bool = False
    ) -> bytes:
        """The session's page printed as a PDF."""
        query = pdf_query(format, landscape, print_background)
        return checked(await self.http.get(f"{SESSIONS}{session_id}/pdf", params=query)).content

    async def recording(self, session_id: str) -> bytes:
        """The session's video (WebM), once it has ended (409 while it is still being recorded or finalised)."""
        return checked(await self.http.get(f"{SESSIONS}{session_id}/recording")).content

    # --- live links

    async def live_link(self, session_id: str, interactive: bool = False, ttl_seconds: int = 900) -> LiveLink:
        """A page anyone with the URL can open (or embed in an iframe) to watch the session, and with
        `interactive` to drive it with mouse and keyboard, for `ttl_seconds` or until the session ends."""
        body = {"interactive": interactive, "ttl_seconds": ttl_seconds}
        response = await self.http.post(f"{SESSIONS}{session_id}/live-links", json=body)
        return LiveLink.from_json(checked(response).json())

    async def revoke_live_link(self, session_id: str, link_id: str) -> None:
        """Revoke a live link: its URL opens nothing more and its open views are closed."""
        checked(await self.http.delete(f"{SESSIONS}{session_id}/live-links/{link_id}"))
