"""A profile's content: a Playwright storage-state document, checked, and how it is stored.

The shape is the one `BrowserContext.storage_state(indexed_db=True)` writes and `new_context(storage_state=...)`
reads (Playwright 1.65's protocol: cookies; origins with localStorage and optionally IndexedDB), so files users
already have upload as they are and download unchanged. Fields it does not know are refused rather than
dropped, so a round trip never loses anything silently. What is stored is the document as given (after the
check), zlib-compressed.
"""

import json
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

NAME_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
ORIGIN_PATTERN = r"^https?://[^/\s?#]+$"  # web origins only: a restore never opens file: or chrome: pages

EMPTY_STATE: dict[str, Any] = {"cookies": [], "origins": []}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cookie(_Strict):
    name: StrictStr
    value: StrictStr
    domain: StrictStr = Field(min_length=1)
    path: StrictStr
    expires: float  # seconds since the epoch; -1 for a session cookie
    httpOnly: StrictBool
    secure: StrictBool
    sameSite: Literal["Strict", "Lax", "None"]
    partitionKey: StrictStr | None = None
    crHasCrossSiteAncestor: StrictBool | None = Field(None, alias="_crHasCrossSiteAncestor")


class NameValue(_Strict):
    name: StrictStr
    value: StrictStr


class IndexedDBRecord(_Strict):
    key: Any = None
    keyEncoded: Any = None
    value: Any = None
    valueEncoded: Any = None


class IndexedDBIndex(_Strict):
    name: StrictStr
    keyPath: StrictStr | None = None
    keyPathArray: list[StrictStr] | None = None
    multiEntry: StrictBool
    unique: StrictBool


class IndexedDBStore(_Strict):
    name: StrictStr
    autoIncrement: StrictBool
    keyPath: StrictStr | None = None
    keyPathArray: list[StrictStr] | None = None
    records: list[IndexedDBRecord]
    indexes: list[IndexedDBIndex]


class IndexedDBDatabase(_Strict):
    name: StrictStr
    version: StrictInt
    stores: list[IndexedDBStore]


class OriginState(_Strict):
    origin: StrictStr = Field(pattern=ORIGIN_PATTERN, max_length=2048)
    localStorage: list[NameValue]
    indexedDB: list[IndexedDBDatabase] | None = None


class StorageState(_Strict):
    """A Playwright storage-state document (`context.storage_state()`)."""

    cookies: list[Cookie]
    origins: list[OriginState]


@dataclass(frozen=True)
class EncodedState:
    """A storage state as the store keeps it."""

    data: bytes  # zlib-compressed JSON
    raw_bytes: int  # its JSON's size before compression
    cookies: int
    origins: int

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def encode(document: dict[str, Any]) -> EncodedState:
    """Compress a checked storage-state document (CPU-bound for big ones: callers run it in a thread)."""
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return EncodedState(zlib.compress(raw, 6), len(raw), len(document["cookies"]), len(document["origins"]))


def decode(data: bytes | None) -> dict[str, Any]:
    """The storage-state document of stored bytes (None: an empty profile)."""
    if not data:
        return {"cookies": [], "origins": []}
    document: dict[str, Any] = json.loads(zlib.decompress(data))
    return document
