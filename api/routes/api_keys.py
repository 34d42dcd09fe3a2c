"""The caller's API keys: create (secret shown once), list, revoke."""

from fastapi import APIRouter, Response, status

from orchestrator.errors import ApiKeyNotFound

from ..deps import AccountsDep, CurrentUser
from ..schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, ErrorBody

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated, summary="Create an API key")
async def create_api_key(user: CurrentUser, accounts: AccountsDep, body: ApiKeyCreate | None = None) -> ApiKeyCreated:
    issued = await accounts.create_api_key(user, body.name if body else "default")
    public = ApiKeyPublic.of(issued.key)
    return ApiKeyCreated(**public.model_dump(), api_key=issued.secret)


@router.get("", response_model=list[ApiKeyPublic], summary="List API keys (no secrets)")
async def list_api_keys(user: CurrentUser, accounts: AccountsDep) -> list[ApiKeyPublic]:
    return [ApiKeyPublic.of(k) for k in await accounts.list_api_keys(user)]


@router.delete(
    "/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"model": ErrorBody}}, summary="Revoke a key"
)
async def revoke_api_key(key_id: str, user: CurrentUser, accounts: AccountsDep) -> Response:
    if not await accounts.revoke_api_key(user, key_id):
        raise ApiKeyNotFound("API key not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
