"""Operator endpoints (admin users only): the pool's state and draining workers."""

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel

from orchestrator import clock
from orchestrator.accounts import User
from orchestrator.errors import PermissionDenied, WorkerNotFound

from ..deps import CurrentUser, RegistryDep, SessionsDep
from ..schemas import ErrorBody

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def _admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise PermissionDenied("this call is for admin users")
    return user


AdminUser = Annotated[User, Depends(_admin)]


class WorkerPublic(BaseModel):
    worker_id: str
    address: str
    capacity: int
    used: int
    draining: bool
    version: str
    last_heartbeat_ms_ago: int


class PoolPublic(BaseModel):
    capacity: int
    used: int
    queued: int
    utilisation: float
    workers: list[WorkerPublic]


class DrainAccepted(BaseModel):
    worker_id: str
    draining: bool


@router.get("/pool", response_model=PoolPublic, summary="Capacity, use and queue across all live workers")
async def pool(_: AdminUser, registry: RegistryDep, sessions: SessionsDep) -> PoolPublic:
    now = clock.now_ms()
    live = await registry.live(now)
    capacity = sum(w.capacity for w in live if not w.draining)
    used = sum(w.used for w in live)
    queued = await sessions.queue.waiting()
    workers = [
        WorkerPublic(
            worker_id=w.worker_id,
            address=w.address,
            capacity=w.capacity,
            used=w.used,
            draining=w.draining,
            version=w.version,
            last_heartbeat_ms_ago=max(now - w.heartbeat_ms, 0),
        )
        for w in live
    ]
    utilisation = min((used + queued) / capacity, 1.0) if capacity else (1.0 if queued else 0.0)
    return PoolPublic(capacity=capacity, used=used, queued=queued, utilisation=utilisation, workers=workers)


@router.post(
    "/workers/{worker_id}/drain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DrainAccepted,
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    summary="Ask a worker to drain: no new sessions, held ones finish up to the grace period, then it exits",
)
async def drain(worker_id: str, _: AdminUser, registry: RegistryDep) -> DrainAccepted:
    if not await registry.request_drain(worker_id):
        raise WorkerNotFound(f"no registered worker {worker_id!r}")
    return DrainAccepted(worker_id=worker_id, draining=True)
