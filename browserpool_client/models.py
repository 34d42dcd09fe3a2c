"""What the client hands back."""

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
    recording_url: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Session":
        def stamp(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

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
            recording_url=data.get("recording_url"),
        )


def checked(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise BrowserpoolAPIError(response.status_code, detail)
    return response
