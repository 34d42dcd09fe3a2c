"""Dependencies the routes declare: the runtime's parts and the calling user."""

import hashlib
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from orchestrator.accounts import AccountStore, User
from orchestrator.errors import AuthenticationFailed
from orchestrator.runtime import Runtime
from orchestrator.sessions import SessionService

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_accounts(runtime: RuntimeDep) -> AccountStore:
    return runtime.accounts


def get_sessions(runtime: RuntimeDep) -> SessionService:
    return runtime.sessions


AccountsDep = Annotated[AccountStore, Depends(get_accounts)]
SessionsDep = Annotated[SessionService, Depends(get_sessions)]


async def authenticate(runtime: Runtime, token: str | None, api_key: str | None) -> User:
    """The user behind an API key or bearer token, counted against the credential's rate limit."""
    accounts = runtime.accounts
    if api_key:
        user = await accounts.user_for_api_key(api_key)
        if user is None:
            raise AuthenticationFailed("invalid or revoked API key")
        await runtime.rate_limiter.hit(api_key.partition("_")[2].partition("_")[0] or "key")
        return user
    if token:
        user = await accounts.user_for_token(token)
        if user is None:
            raise AuthenticationFailed("invalid or expired bearer token")
        await runtime.rate_limiter.hit("token:" + hashlib.sha256(token.encode()).hexdigest()[:16])
        return user
    raise AuthenticationFailed("not authenticated: send an X-API-Key header or an OAuth2 bearer token")


async def get_current_user(
    runtime: RuntimeDep,
    token: Annotated[str | None, Security(oauth2_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> User:
    return await authenticate(runtime, token, api_key)


CurrentUser = Annotated[User, Depends(get_current_user)]


def bearer_of(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header value."""
    scheme, _, credentials = (authorization or "").partition(" ")
    return credentials if scheme.lower() == "bearer" and credentials else None
