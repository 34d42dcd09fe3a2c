"""Request and response bodies. The session list shapes follow the customer's contract field for field."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, field_validator, model_validator

from orchestrator.accounts import ApiKey
from orchestrator.clock import to_datetime
from orchestrator.files import DownloadInfo, UploadedFile
from orchestrator.isolation import Isolation
from orchestrator.models import DEFAULT_PROXY, DEFAULT_VIEWPORT, SessionRecord, SessionRequest
from orchestrator.profile_state import NAME_PATTERN
from orchestrator.profiles import ProfileInfo
from orchestrator.proxies import BYPASS_MAX, CREDENTIAL_MAX, HOST_MAX, UpstreamProxy, make_proxy
from orchestrator.text import has_controls

VIEWPORT_MIN, VIEWPORT_MAX = 100, 7680
USER_AGENT_MAX = 512


class SessionProfile(BaseModel):
    """The profile a session starts from; with `persist`, it saves its state back into it when it ends."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="1-64 of A-Z a-z 0-9 . _ -")
    persist: StrictBool = False


class ProxyCreate(BaseModel):
    """The session's upstream proxy. The password is write-only: no response, event or log ever shows it."""

    model_config = ConfigDict(extra="forbid")

    server: str = Field(
        min_length=1, max_length=HOST_MAX + 20, description="http://host:port, https://host:port or socks5://host:port"
    )
    username: str | None = Field(None, min_length=1, max_length=CREDENTIAL_MAX)
    password: str | None = Field(None, min_length=1, max_length=CREDENTIAL_MAX, json_schema_extra={"writeOnly": True})
    bypass: str | None = Field(
        None, max_length=BYPASS_MAX, description="hosts that skip the proxy, comma-separated: .example.com,localhost"
    )

    _upstream: UpstreamProxy | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _usable(self) -> "ProxyCreate":
        # Parsed once, here: ProxyInvalid (a ValueError, never holding the password) says what is wrong.
        self._upstream = make_proxy(self.server, self.username, self.password, self.bypass)
        return self

    def upstream(self) -> UpstreamProxy:
        assert self._upstream is not None  # set by validation
        return self._upstream


class ProxyPublic(BaseModel):
    """A session's upstream proxy as responses show it: never its password."""

    server: str
    username: str | None = None


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: SessionProfile | None = None
    # Left out: BROWSERPOOL_DEFAULT_PROXY (if set); null: no proxy (if BROWSERPOOL_ALLOW_DIRECT).
    proxy: ProxyCreate | None = None
    viewport_width: int = Field(DEFAULT_VIEWPORT[0], ge=VIEWPORT_MIN, le=VIEWPORT_MAX, strict=True)
    viewport_height: int = Field(DEFAULT_VIEWPORT[1], ge=VIEWPORT_MIN, le=VIEWPORT_MAX, strict=True)
    user_agent: str | None = Field(None, min_length=1, max_length=USER_AGENT_MAX)
    timeout_seconds: int | None = Field(None, ge=5, strict=True)
    record: bool = Field(False, strict=True, description="Record the session's pages as a video (WebM)")
    isolation: Isolation | None = Field(
        None,
        description="context: a browser context in a shared Chromium; browser: a Chromium of the session's own. "
        "Left out: the user's default (browserpool users set NAME --isolation), else context",
    )

    @field_validator("user_agent")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and has_controls(value):
            raise ValueError("user_agent must not contain control characters")
        return value

    def request(self) -> SessionRequest:
        """The session this body asks for, as the orchestrator takes it."""
        if "proxy" not in self.model_fields_set:
            proxy: UpstreamProxy | str | None = DEFAULT_PROXY  # left out: the pool's default
        else:
            proxy = self.proxy.upstream() if self.proxy is not None else None  # null: go direct
        return SessionRequest(
            **self.model_dump(exclude={"profile", "proxy"}),  # the fields a request has as the body has them
            profile=self.profile.name if self.profile else None,
            persist_profile=self.profile.persist if self.profile else False,
            proxy=proxy,
        )


class BrowserSessionResponse(BaseModel):
    """Response schema for browser session information"""

    session_id: str
    status: str
    viewport_width: int
    viewport_height: int
    user_agent: str | None
    created_at: datetime
    last_activity: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, record: SessionRecord) -> "BrowserSessionResponse":
        return cls(**listed_fields(record))


def listed_fields(record: SessionRecord) -> dict[str, Any]:
    """A record's fields as responses show them: its context shape as it is (a detail shows every shape field it
    declares), then the listing's own."""
    return {
        **record.shape_values(),
        "session_id": record.session_id,
        "status": record.status.value,
        "created_at": to_datetime(record.created_at_ms),
        "last_activity": to_datetime(record.last_activity_ms),
        "expires_at": to_datetime(record.expires_at_ms),
    }


class SessionDetail(BrowserSessionResponse):
    """One session, with where to drive it over CDP (null once it has ended) and, once ended, when and why."""

    cdp_url: str | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    # Sessions that start from a profile: which one; a persisting one's last save into it and what became of
    # its final save (pending, saved, failed, or not_saved when it ended in a way that cannot save).
    profile: SessionProfile | None = None
    profile_saved_at: datetime | None = None
    profile_save: str | None = None
    proxy: ProxyPublic | None = None  # its upstream proxy (server and username; the password is never shown)
    recording_url: str | None = None  # sessions created with "record": true; the video once the session has ended
    isolation: Isolation = "context"  # browser: the session has a Chromium of its own


class SessionEvent(BaseModel):
    """One lifecycle event: created, active, closing, expiring (soon), takeover_started / takeover_ended (with
    the viewer as reason), page_unresponsive (with what was done as reason), session_restarted (after a crash of its
    shared browser, with what was restored as reason), ended (with its reason)."""

    type: str
    session_id: str
    status: str
    reason: str | None
    at: datetime
    name: str | None = None  # `download`: the file's name in the session's downloads
    size_bytes: int | None = None  # `download`: its size


class BrowserSessionListResponse(BaseModel):
    """Response schema for listing browser sessions"""

    sessions: list[BrowserSessionResponse]
    total_count: int


class ProfilePublic(BaseModel):
    """A profile's metadata: its stored (compressed) size, what it holds, and the session persisting into it."""

    name: str
    size_bytes: int
    cookies: int
    origins: int
    created_at: datetime
    updated_at: datetime
    in_use_by: str | None

    @classmethod
    def of(cls, info: ProfileInfo) -> "ProfilePublic":
        return cls(
            name=info.name,
            size_bytes=info.size_bytes,
            cookies=info.cookies,
            origins=info.origins,
            created_at=to_datetime(info.created_at_ms),
            updated_at=to_datetime(info.updated_at_ms),
            in_use_by=info.in_use_by,
        )


class ProfileListResponse(BaseModel):
    profiles: list[ProfilePublic]
    total_count: int


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_ .@:-]+$")


class ApiKeyPublic(BaseModel):
    key_id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyPublic":
        return cls(key_id=key.key_id, name=key.name, created_at=to_datetime(key.created_at_ms))


class ApiKeyCreated(ApiKeyPublic):
    api_key: str


class ErrorBody(BaseModel):
    detail: str


class DownloadPublic(BaseModel):
    """One download of a session. `url` fetches it (complete ones); `source_url` is what the page downloaded."""

    name: str
    size_bytes: int
    mime_type: str
    created_at: datetime
    state: Literal["in_progress", "complete", "failed"]
    url: str
    source_url: str
    failure_reason: str | None = None

    @classmethod
    def of(cls, info: DownloadInfo, url: str) -> "DownloadPublic":
        return cls(
            name=info.name,
            size_bytes=info.size_bytes,
            mime_type=info.mime_type,
            created_at=to_datetime(info.created_at_ms),
            state=info.state.value,
            url=url,
            source_url=info.source_url,
            failure_reason=info.failure_reason,
        )


class DownloadList(BaseModel):
    downloads: list[DownloadPublic]


class UploadedPublic(BaseModel):
    """A stored upload; `path` is the file as the browser sees it (set_input_files, DOM.setFileInputFiles)."""

    name: str
    path: str
    size_bytes: int

    @classmethod
    def of(cls, uploaded: UploadedFile) -> "UploadedPublic":
        return cls(name=uploaded.name, path=uploaded.path, size_bytes=uploaded.size_bytes)


class UploadList(BaseModel):
    files: list[UploadedPublic]
