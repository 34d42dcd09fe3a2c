"""Profiles: a user's saved browser state (Playwright storage-state documents), uploaded, read, listed, deleted."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError

from orchestrator.profile_bounds import ProfileBounds, ProfileInvalid
from orchestrator.profile_state import NAME_PATTERN

from ..deps import CurrentUser, ProfilesDep, SettingsDep
from ..schemas import ErrorBody, ProfileListResponse, ProfilePublic

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfileName = Annotated[str, Path(pattern=NAME_PATTERN, description="1-64 of A-Z a-z 0-9 . _ -")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown profile, or another user's"}
}
HELD: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A live session persists into the profile (its id in `session_id`)"}
}


@router.get("", response_model=ProfileListResponse, summary="List your profiles")
async def list_profiles(user: CurrentUser, profiles: ProfilesDep) -> ProfileListResponse:
    items = [ProfilePublic.of(info) for info in await profiles.of_user(user.user_id)]
    return ProfileListResponse(profiles=items, total_count=len(items))


@router.put(
    "/{name}",
    response_model=ProfilePublic,
    status_code=status.HTTP_200_OK,
    responses={
        201: {"model": ProfilePublic, "description": "The profile was created"},
        **HELD,
        413: {"model": ErrorBody, "description": "Larger than BROWSERPOOL_PROFILE_MAX_BYTES once compressed"},
    },
    summary="Upload a Playwright storage state as a profile (creates it, or replaces its state)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A Playwright storage-state document, as context.storage_state() writes it",
            "content": {"application/json": {"schema": {"type": "object", "required": ["cookies", "origins"]}}},
        }
    },
)
async def put_profile(
    name: ProfileName,
    request: Request,
    user: CurrentUser,
    profiles: ProfilesDep,
    settings: SettingsDep,
    response: Response,
) -> ProfilePublic:
    # Read as JSON whatever its Content-Type says (`curl --data-binary @state.json` sends a form type); parsed,
    # validated and bounded in a thread, so a large document stalls no other request.
    raw = await request.body()
    try:
        document = await asyncio.to_thread(ProfileBounds.from_settings(settings).parse, raw)
    except ProfileInvalid as exc:
        raise RequestValidationError(exc.errors) from exc  # where and what, without echoing the input
    info, created = await profiles.upload(user.user_id, name, document)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return ProfilePublic.of(info)


@router.get("/{name}", response_model=ProfilePublic, responses=NOT_FOUND, summary="A profile's metadata")
async def get_profile(name: ProfileName, user: CurrentUser, profiles: ProfilesDep) -> ProfilePublic:
    return ProfilePublic.of(await profiles.info(user.user_id, name))


@router.get(
    "/{name}/state",
    responses={**NOT_FOUND, 200: {"description": "The Playwright storage-state JSON"}},
    summary="Download a profile's state (load it with Playwright's new_context(storage_state=...))",
)
async def get_profile_state(name: ProfileName, user: CurrentUser, profiles: ProfilesDep) -> dict[str, Any]:
    return await profiles.state(user.user_id, name)


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, **HELD},
    summary="Delete a profile",
)
async def delete_profile(name: ProfileName, user: CurrentUser, profiles: ProfilesDep) -> Response:
    await profiles.delete(user.user_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
