"""The caller's webhooks: session events POSTed to a URL of theirs, signed with a secret shown once."""

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.clock import to_datetime
from orchestrator.errors import WebhookNotFound
from orchestrator.webhooks import Webhook

from ..deps import CurrentUser, WebhooksDep
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


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated, summary="Add a webhook")
async def create_webhook(body: WebhookCreate, user: CurrentUser, webhooks: WebhooksDep) -> WebhookCreated:
    hook = await webhooks.add(user.user_id, body.url)  # the target is checked by the core's address policy
    return WebhookCreated(**WebhookPublic.of(hook).model_dump(), secret=hook.secret)


@router.get("", response_model=list[WebhookPublic], summary="List webhooks (no secrets)")
async def list_webhooks(user: CurrentUser, webhooks: WebhooksDep) -> list[WebhookPublic]:
    return [WebhookPublic.of(h) for h in await webhooks.of_user(user.user_id)]


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody}},
    summary="Remove a webhook",
)
async def delete_webhook(webhook_id: str, user: CurrentUser, webhooks: WebhooksDep) -> Response:
    if not await webhooks.delete(user.user_id, webhook_id):
        raise WebhookNotFound("webhook not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
