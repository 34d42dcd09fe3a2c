"""What routes declare they need: one service each, typed, and the calling user.

Routes never see the Runtime: each dependency hands over the one part a route uses. The control plane,
which only API roles have, is reached through `ControlPlane` here, so a route mounted for the wrong role
fails loudly at its first call. (The worker's internal routes, workers/remote/server.py, find the worker
agent the same way.)
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Security
from fastapi.requests import HTTPConnection
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from orchestrator.accounts import AccountStore, Credential, User
from orchestrator.cdp_totals import CdpTotals
from orchestrator.config import Settings
from orchestrator.errors import AuthenticationFailed
from orchestrator.files import FileStats
from orchestrator.live_links import LiveLinks
from orchestrator.metrics import Metrics
from orchestrator.parts import ControlPlane, Shared
from orchestrator.profiles import ProfileStore
from orchestrator.queue import CreateQueue
from orchestrator.ratelimit import RateLimiter
from orchestrator.registry import WorkerRegistry
from orchestrator.runtime import Runtime
from orchestrator.sessions import SessionService
from orchestrator.store import SessionStore
from orchestrator.stream_leases import StreamLeases
from orchestrator.webhooks import WebhookStore

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


def _runtime(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def get_settings(connection: HTTPConnection) -> Settings:
    return _runtime(connection).settings


def get_metrics(connection: HTTPConnection) -> Metrics:
    return _runtime(connection).metrics


def get_shared(connection: HTTPConnection) -> Shared:
    return _runtime(connection).shared


def get_control(connection: HTTPConnection) -> ControlPlane:
    control = _runtime(connection).control
    if control is None:
        raise RuntimeError("an API route was called on a role without an API")
    return control


def get_file_stats(connection: HTTPConnection) -> tuple[str, FileStats] | None:
    """(worker id, what its session files cost) on roles with browsers; None elsewhere."""
    agent = _runtime(connection).agent
    return (agent.worker_id, agent.worker.file_stats()) if agent is not None else None


def get_readiness(connection: HTTPConnection) -> Callable[[], Awaitable[bool]]:
    return _runtime(connection).ready


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SharedDep = Annotated[Shared, Depends(get_shared)]
ControlDep = Annotated[ControlPlane, Depends(get_control)]
FileStatsDep = Annotated[tuple[str, FileStats] | None, Depends(get_file_stats)]
ReadinessDep = Annotated[Callable[[], Awaitable[bool]], Depends(get_readiness)]


def get_store(shared: SharedDep) -> SessionStore:
    return shared.store


def get_accounts(shared: SharedDep) -> AccountStore:
    return shared.accounts


def get_registry(shared: SharedDep) -> WorkerRegistry:
    return shared.registry


def get_profiles(shared: SharedDep) -> ProfileStore:
    return shared.profiles


def get_sessions(control: ControlDep) -> SessionService:
    return control.sessions


def get_queue(connection: HTTPConnection) -> CreateQueue | None:
    """The create queue, on roles that have one (metrics are served by every role)."""
    control = _runtime(connection).control
    return control.sessions.queue if control is not None else None


def get_webhooks(control: ControlDep) -> WebhookStore:
    return control.webhooks


def get_event_streams(control: ControlDep) -> StreamLeases:
    return control.event_streams


def get_live_links(control: ControlDep) -> LiveLinks:
    return control.live_links


def get_cdp_totals(control: ControlDep) -> CdpTotals:
    return control.cdp_totals


StoreDep = Annotated[SessionStore, Depends(get_store)]
AccountsDep = Annotated[AccountStore, Depends(get_accounts)]
RegistryDep = Annotated[WorkerRegistry, Depends(get_registry)]
SessionsDep = Annotated[SessionService, Depends(get_sessions)]
ProfilesDep = Annotated[ProfileStore, Depends(get_profiles)]
QueueDep = Annotated[CreateQueue | None, Depends(get_queue)]
WebhooksDep = Annotated[WebhookStore, Depends(get_webhooks)]
EventStreamsDep = Annotated[StreamLeases, Depends(get_event_streams)]
LiveLinksDep = Annotated[LiveLinks, Depends(get_live_links)]
CdpTotalsDep = Annotated[CdpTotals, Depends(get_cdp_totals)]


class Authenticator:
    """Who is calling, from an API key or a bearer token, counted against the user's rate limit."""

    def __init__(self, accounts: AccountStore, rate_limiter: RateLimiter) -> None:
        self.accounts = accounts
        self.rate_limiter = rate_limiter

    async def user(self, token: str | None, api_key: str | None) -> User:
        if api_key:
            user = await self.accounts.user_for_api_key(api_key)
            if user is None:
                raise AuthenticationFailed("invalid or revoked API key")
            await self.rate_limiter.hit(user.user_id)
            return user
        if token:
            user = await self.accounts.user_for_token(token)
            if user is None:
                raise AuthenticationFailed("invalid or expired bearer token")
            await self.rate_limiter.hit(user.user_id)
            return user
        raise AuthenticationFailed("not authenticated: send an X-API-Key header or an OAuth2 bearer token")

    async def from_headers(self, connection: HTTPConnection) -> User:
        """For routes that read credentials themselves (websockets, optionally-public metrics)."""
        return await self.user(bearer_of(connection.headers.get("authorization")), connection.headers.get("x-api-key"))


def get_authenticator(shared: SharedDep) -> Authenticator:
    return Authenticator(shared.accounts, shared.rate_limiter)


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]


async def get_current_user(
    authenticator: AuthenticatorDep,
    token: Annotated[str | None, Security(oauth2_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> User:
    return await authenticator.user(token, api_key)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_credential(
    user: CurrentUser,
    accounts: AccountsDep,
    token: Annotated[str | None, Security(oauth2_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Credential:
    """Which credential the (authenticated) caller used: for what must end with it, such as a live link."""
    credential = accounts.credential_of(token, api_key)
    if credential is None:  # not after a successful authentication; kept for the type
        raise AuthenticationFailed("not authenticated: send an X-API-Key header or an OAuth2 bearer token")
    return credential


CurrentCredential = Annotated[Credential, Depends(get_current_credential)]


def bearer_of(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header value."""
    scheme, _, credentials = (authorization or "").partition(" ")
    return credentials if scheme.lower() == "bearer" and credentials else None
