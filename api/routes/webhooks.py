"""The caller's webhooks: session events POSTed to a URL of theirs, signed with a secret shown once."""

import asyncio
import ipaddress
import socket
from datetime import datetime
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.clock import to_datetime
from orchestrator.errors import InvalidInput, WebhookNotFound
from orchestrator.webhooks import MAX_PER_USER, Webhook

from ..deps import CurrentUser, RuntimeDep
from ..schemas import ErrorBody

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")


class WebhookPublic(BaseModel):
    webhook_id: str
    url: str
    created_at: datetime

    @classmethod
    def of(cls, hook: Webhook) -> "WebhookPublic":
        return cls(webhook_id=hook.webhook_id, url=hook.url, created_at=to_datetime(hook.created_at_ms))


class WebhookCreated(WebhookPublic):
    secret: str  # verify X-Browserpool-Signature with it; shown only here


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved


async def _check_target(url: str) -> None:
    """Refuse URLs that cannot be sent to, and targets no webhook should reach (link-local, cloud metadata)."""
    loc = ("body", "url")
    try:
        httpx.URL(url)  # what delivery will use: refuse now what it would refuse then
        host = urlsplit(url).hostname
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidInput(f"webhook url is not valid: {exc}", loc) from exc
    if not host:
        raise InvalidInput("webhook url has no host", loc)
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, None)
    except (OSError, UnicodeError, ValueError) as exc:
        raise InvalidInput(f"webhook host {host!r} does not resolve", loc) from exc
    if any(_forbidden(str(info[4][0])) for info in infos):
        raise InvalidInput(f"webhook host {host!r} resolves to a link-local or reserved address", loc)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated, summary="Add a webhook")
async def create_webhook(body: WebhookCreate, user: CurrentUser, runtime: RuntimeDep) -> WebhookCreated:
    if await runtime.webhooks.count(user.user_id) >= MAX_PER_USER:
        raise InvalidInput(f"at most {MAX_PER_USER} webhooks per user")
    await _check_target(body.url)
    hook = await runtime.webhooks.create(user.user_id, body.url)
    return WebhookCreated(**WebhookPublic.of(hook).model_dump(), secret=hook.secret)


@router.get("", response_model=list[WebhookPublic], summary="List webhooks (no secrets)")
async def list_webhooks(user: CurrentUser, runtime: RuntimeDep) -> list[WebhookPublic]:
    return [WebhookPublic.of(h) for h in await runtime.webhooks.of_user(user.user_id)]


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody}},
    summary="Remove a webhook",
)
async def delete_webhook(webhook_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    if not await runtime.webhooks.delete(user.user_id, webhook_id):
        raise WebhookNotFound("webhook not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
