"""GET /metrics in Prometheus text format: admin credentials needed unless BROWSERPOOL_METRICS_PUBLIC."""

from typing import Annotated

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST

from orchestrator.errors import PermissionDenied

from ..deps import (
    AuthenticatorDep,
    FileStatsDep,
    MetricsDep,
    QueueDep,
    RegistryDep,
    SettingsDep,
    SharedDep,
    StoreDep,
    bearer_of,
)

router = APIRouter(tags=["metrics"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(
    settings: SettingsDep,
    authenticator: AuthenticatorDep,
    metrics: MetricsDep,
    store: StoreDep,
    registry: RegistryDep,
    queue: QueueDep,
    files: FileStatsDep,
    shared: SharedDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    if not settings.metrics_public:
        user = await authenticator.user(bearer_of(authorization), x_api_key)
        if not user.is_admin:
            raise PermissionDenied("metrics are for admin users (or set BROWSERPOOL_METRICS_PUBLIC=true)")
    await metrics.refresh(store, registry, queue, files, shared.crashes)
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
