"""OAuth2 password flow: trade a username and password for a bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from orchestrator.errors import AuthenticationFailed

from ..deps import AccountsDep
from ..schemas import ErrorBody, TokenResponse

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenResponse,
    responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}},
    summary="Get a token",
)
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], accounts: AccountsDep) -> TokenResponse:
    user = await accounts.login(form.username, form.password)
    if user is None:
        raise AuthenticationFailed("incorrect username or password")
    issued = await accounts.issue_token(user)
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)
