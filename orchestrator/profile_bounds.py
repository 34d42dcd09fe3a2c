"""How much one profile document may hold, checked before it is stored (and off the event loop).

A storage-state document is parsed, validated and bounded in a worker thread: one of 100,000 cookies takes
seconds of CPU, which on the event loop stalled every tenant's requests. Past a bound the upload is refused
with what the bound is: too many cookies or origins is 422, an origin whose storage is too large is 413.
"""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .config import Settings
from .errors import InvalidInput, ProfileTooLarge
from .profile_state import StorageState


class ProfileInvalid(Exception):
    """The document does not validate: FastAPI-shaped errors, without the input."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid storage state")
        self.errors = errors


@dataclass(frozen=True)
class ProfileBounds:
    max_cookies: int = 3000
    max_origins: int = 100
    max_origin_bytes: int = 5 * 1024 * 1024  # one origin's localStorage and IndexedDB, as JSON

    @classmethod
    def from_settings(cls, settings: Settings) -> "ProfileBounds":
        return cls(settings.profile_max_cookies, settings.profile_max_origins, settings.profile_max_origin_bytes)

    def parse(self, raw: bytes) -> dict[str, Any]:
        """The checked document of an uploaded body (blocking: run it in a thread)."""
        try:
            state = StorageState.model_validate_json(raw)
        except ValidationError as exc:
            raise ProfileInvalid(
                [{"loc": ("body", *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
            ) from exc
        # Stored as given (only the fields it had), so it downloads unchanged in shape.
        document: dict[str, Any] = state.model_dump(mode="json", by_alias=True, exclude_unset=True)
        self.check(document)
        return document

    def check(self, document: dict[str, Any]) -> None:
        cookies, origins = document.get("cookies") or [], document.get("origins") or []
        if len(cookies) > self.max_cookies:
            raise InvalidInput(
                f"a profile holds at most {self.max_cookies} cookies (BROWSERPOOL_PROFILE_MAX_COOKIES); "
                f"this one has {len(cookies)}",
                loc=("body", "cookies"),
            )
        if len(origins) > self.max_origins:
            raise InvalidInput(
                f"a profile holds at most {self.max_origins} origins (BROWSERPOOL_PROFILE_MAX_ORIGINS); "
                f"this one has {len(origins)}",
                loc=("body", "origins"),
            )
        for origin in origins:
            size = len(json.dumps(origin, separators=(",", ":"), ensure_ascii=False).encode())
            if size > self.max_origin_bytes:
                raise ProfileTooLarge(
                    size,
                    self.max_origin_bytes,
                    f"the storage of origin {origin.get('origin')} is {size} bytes, over the limit of "
                    f"{self.max_origin_bytes} bytes per origin (BROWSERPOOL_PROFILE_MAX_ORIGIN_BYTES)",
                )
