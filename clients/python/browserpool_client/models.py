"""What the client hands back."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx


class BrowserpoolAPIError(Exception):
    """The API answered with an error; `status` is the HTTP status, `detail` its message."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Session:
    """A session as the API shows it: its status, viewport, deadlines, CDP URL and, once ended, why."""

    session_id: str
    status: str
    viewport_width: int
    viewport_height: int
    user_agent: str | None
    created_at: datetime
    last_activity: datetime
    expires_at: datetime | None
    cdp_url: str | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    profile: dict[str, Any] | None = None  # {"name", "persist"} for a session that started from a profile
    profile_saved_at: datetime | None = None
    profile_save: str | None = None  # persisting sessions: pending, saved, failed or not_saved
    proxy: dict[str, Any] | None = None  # {"server", "username"} of its upstream proxy (never the password)
    recording_url: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Session":
        """The session from the API's JSON (timestamps parsed; fields the API left out are None)."""
        stamp = _stamps(data)

        return cls(
            session_id=data["session_id"],
            status=data["status"],
            viewport_width=data["viewport_width"],
            viewport_height=data["viewport_height"],
            user_agent=data.get("user_agent"),
            created_at=stamp("created_at"),  # type: ignore[arg-type]
            last_activity=stamp("last_activity"),  # type: ignore[arg-type]
            expires_at=stamp("expires_at"),
            cdp_url=data.get("cdp_url"),
            ended_at=stamp("ended_at"),
            end_reason=data.get("end_reason"),
            profile=data.get("profile"),
            profile_saved_at=stamp("profile_saved_at"),
            profile_save=data.get("profile_save"),
            proxy=data.get("proxy"),
            recording_url=data.get("recording_url"),
        )


@dataclass(frozen=True)
class LiveLink:
    """A shareable live view of one session: `url` works without signing in until `expires_at` (or revoked)."""

    link_id: str
    url: str
    interactive: bool
    expires_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LiveLink":
        """The link from the API's JSON."""
        expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
        return cls(link_id=data["link_id"], url=data["url"], interactive=data["interactive"], expires_at=expires)


@dataclass(frozen=True)
class Profile:
    """A profile's metadata: stored (compressed) size, what it holds, the session persisting into it."""

    name: str
    size_bytes: int
    cookies: int
    origins: int
    created_at: datetime
    updated_at: datetime
    in_use_by: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Profile":
        """The profile from the API's JSON."""
        stamp = _stamps(data)
        return cls(
            name=data["name"],
            size_bytes=data["size_bytes"],
            cookies=data["cookies"],
            origins=data["origins"],
            created_at=stamp("created_at"),  # type: ignore[arg-type]
            updated_at=stamp("updated_at"),  # type: ignore[arg-type]
            in_use_by=data.get("in_use_by"),
        )


def _stamps(data: dict[str, Any]) -> Callable[[str], datetime | None]:
    def stamp(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    return stamp


def checked(response: httpx.Response) -> httpx.Response:
    """The response, if it is not an error; else a BrowserpoolAPIError with its status and `detail`."""
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise BrowserpoolAPIError(response.status_code, detail)
    return response
