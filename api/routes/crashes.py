"""Operator endpoints for crash containment: the latest shared-browser crashes and who is quarantined."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ..deps import SharedDep
from .admin import AdminUser

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class QuarantinePublic(BaseModel):
    user_id: str
    until_ms: int


class CrashesPublic(BaseModel):
    crashes: list[dict[str, Any]]  # newest first: at_ms, worker_id, browser, in_flight, recent, restarted, quarantined
    quarantined: list[QuarantinePublic]


@router.get(
    "/crashes", response_model=CrashesPublic, summary="Shared-browser crashes: who was in flight, who came back"
)
async def crashes(_: AdminUser, shared: SharedDep) -> CrashesPublic:
    log = shared.crashes
    quarantined = [QuarantinePublic(user_id=q.user_id, until_ms=q.until_ms) for q in await log.quarantined()]
    return CrashesPublic(crashes=await log.reports(), quarantined=quarantined)
