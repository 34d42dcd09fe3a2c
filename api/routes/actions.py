"""Driving a session's page over REST."""

from fastapi import APIRouter, Response

from orchestrator.actions import EvaluateRequest, EvaluateResponse, NavigateRequest, NavigateResponse
from orchestrator.errors import InvalidInput
from orchestrator.urls import scheme_refused, unparseable

from ..deps import CurrentUser, SessionsDep
from ..schemas import ErrorBody

router = APIRouter(prefix="/v1/browser/sessions/{session_id}", tags=["session actions"])

ACTION_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "The script threw (evaluate)"},
    403: {"model": ErrorBody, "description": "The egress guard refused the destination (navigate)"},
    404: {"model": ErrorBody, "description": "Unknown session, or another user's"},
    409: {"model": ErrorBody, "description": "The session is still starting"},
    410: {"model": ErrorBody, "description": "The session has ended; the body carries its status"},
    502: {"model": ErrorBody, "description": "The browser failed the action; the session is still usable"},
    504: {"model": ErrorBody, "description": "The action timed out"},
}


@router.post("/navigate", response_model=NavigateResponse, responses=ACTION_ERRORS, summary="Navigate the page")
async def navigate(
    session_id: str, body: NavigateRequest, user: CurrentUser, sessions: SessionsDep
) -> NavigateResponse:
    refused = unparseable(body.url) or scheme_refused(body.url)
    if refused:
        raise InvalidInput(refused, loc=("body", "url"))
    result = await sessions.navigate(user.user_id, session_id, body.url)
    return NavigateResponse(url=result.url, status=result.status, title=result.title)


@router.post("/evaluate", response_model=EvaluateResponse, responses=ACTION_ERRORS, summary="Evaluate JavaScript")
async def evaluate(
    session_id: str, body: EvaluateRequest, user: CurrentUser, sessions: SessionsDep
) -> EvaluateResponse:
    return EvaluateResponse(result=await sessions.evaluate(user.user_id, session_id, body.expression))


@router.get(
    "/screenshot",
    response_class=Response,
    responses={**ACTION_ERRORS, 200: {"content": {"image/png": {}}, "description": "A PNG of the viewport"}},
    summary="Screenshot the page",
)
async def screenshot(session_id: str, user: CurrentUser, sessions: SessionsDep) -> Response:
    return Response(await sessions.screenshot(user.user_id, session_id), media_type="image/png")


@router.get(
    "/content",
    response_class=Response,
    responses={**ACTION_ERRORS, 200: {"content": {"text/html": {}}, "description": "The page's HTML"}},
    summary="The page's HTML",
)
async def content(session_id: str, user: CurrentUser, sessions: SessionsDep) -> Response:
    return Response(await sessions.content(user.user_id, session_id), media_type="text/html; charset=utf-8")
