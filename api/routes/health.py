"""Liveness and readiness probes (unauthenticated)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import ReadinessDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis answers and at least one browser is up")
async def readyz(is_ready: ReadinessDep) -> JSONResponse:
    ready = await is_ready()
    return JSONResponse({"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503)
