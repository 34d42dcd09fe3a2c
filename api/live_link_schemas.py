"""Live links' request and response bodies (the routes are in routes/live_links.py)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LiveLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interactive: bool = Field(False, strict=True)  # false: view only (the server refuses its input)
    ttl_seconds: int = Field(900, ge=1, strict=True)  # at most BROWSERPOOL_LIVE_LINK_MAX_TTL; never past the session


class LiveLinkCreated(BaseModel):
    """A shareable live view of one session: open `url` (or put it in an iframe); revoke it by `link_id`."""

    link_id: str
    url: str
    interactive: bool
    expires_at: datetime


class LiveLinkPublic(BaseModel):
    """One of a session's working live links, as its owner lists it. Its token (the secret in its `url`) is
    shown only once, when it is minted: the server keeps nothing but a digest of it."""

    link_id: str
    interactive: bool
    created_at: datetime
    expires_at: datetime  # the link's end (sooner if its session ends, or it or its credential is revoked)
    viewers: int = Field(description="connections open through this link now (all API nodes)")
    api_key_id: str | None = Field(
        description="the API key that minted the link: revoking it ends the link; null: a bearer token did, and the "
        "link ends with that token"
    )
