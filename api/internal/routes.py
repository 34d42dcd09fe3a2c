"""The worker's internal API: what API nodes call to drive the sessions this process holds.

Authenticated with a secret shared through Redis (wire.SECRET_HEADER); never meant for users. Errors
carry their wire code (wire.ERRORS) so the caller can raise the same one.
"""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Response, WebSocket, status
from fastapi.requests import HTTPConnection

from orchestrator.agent import WorkerAgent
from orchestrator.errors import AuthenticationFailed, BrowserpoolError
from orchestrator.worker import CdpMode

from ..deps import AgentDep, SharedDep
from ..schemas import EvaluateRequest, EvaluateResponse, NavigateRequest, NavigateResponse
from ..websockets import ClientSocket, refuse
from .wire import PREFIX, SECRET_HEADER, OpenSession


def _holds_secret(connection: HTTPConnection, shared: SharedDep) -> bool:
    offered = connection.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(offered, shared.internal_secret.encode())


def _caller(held: Annotated[bool, Depends(_holds_secret)], agent: AgentDep) -> WorkerAgent:
    """This process's worker agent, for a caller that holds the shared secret."""
    if not held:
        raise AuthenticationFailed("worker-internal call without the shared secret")
    return agent


CallerDep = Annotated[WorkerAgent, Depends(_caller)]

router = APIRouter(prefix=PREFIX, tags=["internal"], include_in_schema=False)


@router.put("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def open_session(session_id: str, body: OpenSession, agent: CallerDep) -> Response:
    await agent.worker.open_session(session_id, body.spec())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(session_id: str, agent: CallerDep, reason: str = "session ended") -> Response:
    await agent.worker.close_session(session_id, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{session_id}/profile/save", status_code=status.HTTP_204_NO_CONTENT)
async def save_profile(session_id: str, agent: CallerDep) -> Response:
    await agent.worker.save_profile(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{session_id}/navigate", response_model=NavigateResponse)
async def navigate(session_id: str, body: NavigateRequest, agent: CallerDep) -> NavigateResponse:
    result = await agent.worker.navigate(session_id, body.url)
    return NavigateResponse(url=result.url, status=result.status, title=result.title)


@router.post("/{session_id}/evaluate", response_model=EvaluateResponse)
async def evaluate(session_id: str, body: EvaluateRequest, agent: CallerDep) -> EvaluateResponse:
    return EvaluateResponse(result=await agent.worker.evaluate(session_id, body.expression))


@router.get("/{session_id}/screenshot")
async def screenshot(session_id: str, agent: CallerDep) -> Response:
    return Response(await agent.worker.screenshot(session_id), media_type="image/png")


@router.get("/{session_id}/content")
async def content(session_id: str, agent: CallerDep) -> Response:
    return Response(await agent.worker.content(session_id), media_type="text/html; charset=utf-8")


@router.websocket("/{session_id}/cdp")
async def cdp(
    websocket: WebSocket,
    session_id: str,
    held: Annotated[bool, Depends(_holds_secret)],
    agent: AgentDep,
    mode: CdpMode = CdpMode.FULL,
) -> None:
    """The API node has authorised the client, and says which mode it may use (a live viewer's is narrower)."""
    if not held:
        await refuse(websocket, 401, "worker-internal call without the shared secret")
        return
    if session_id not in agent.worker.held_session_ids():
        await refuse(websocket, 404, "session not held by this worker")
        return
    await websocket.accept()
    try:
        await agent.worker.relay_cdp(
            session_id, ClientSocket(websocket), lambda: agent.activity.record(session_id), mode
        )
    except BrowserpoolError as exc:
        await websocket.close(1011, str(exc))
