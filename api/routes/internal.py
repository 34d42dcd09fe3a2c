"""The worker's internal API: what API nodes call to drive the sessions this process holds.

Authenticated with a secret shared through Redis (header X-Browserpool-Internal); never meant for
users. Errors carry their orchestrator class name so the caller can raise the same one.
"""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response, WebSocket, status
from pydantic import BaseModel

from orchestrator.agent import WorkerAgent
from orchestrator.errors import AuthenticationFailed, BrowserpoolError
from orchestrator.models import SessionSpec
from orchestrator.runtime import Runtime

from ..deps import RuntimeDep
from ..schemas import EvaluateRequest, EvaluateResponse, NavigateRequest, NavigateResponse
from .cdp import ClientSocket, refuse

SECRET_HEADER = "X-Browserpool-Internal"


def _allowed(runtime: Runtime, secret: str) -> WorkerAgent | None:
    """This process's worker agent, if the caller holds the shared secret."""
    return runtime.agent if hmac.compare_digest(secret, runtime.internal_secret) else None


def _agent(runtime: RuntimeDep, secret: Annotated[str, Header(alias=SECRET_HEADER)] = "") -> WorkerAgent:
    agent = _allowed(runtime, secret)
    if agent is None:
        raise AuthenticationFailed("worker-internal call without the shared secret")
    return agent


AgentDep = Annotated[WorkerAgent, Depends(_agent)]

router = APIRouter(prefix="/internal/sessions", tags=["internal"], include_in_schema=False)


class OpenSession(BaseModel):
    viewport_width: int
    viewport_height: int
    user_agent: str | None
    timeout_seconds: int


@router.put("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def open_session(session_id: str, body: OpenSession, agent: AgentDep) -> Response:
    spec = SessionSpec(body.viewport_width, body.viewport_height, body.user_agent, body.timeout_seconds)
    await agent.worker.open_session(session_id, spec)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(session_id: str, agent: AgentDep, reason: str = "session ended") -> Response:
    await agent.worker.close_session(session_id, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{session_id}/navigate", response_model=NavigateResponse)
async def navigate(session_id: str, body: NavigateRequest, agent: AgentDep) -> NavigateResponse:
    result = await agent.worker.navigate(session_id, body.url)
    return NavigateResponse(url=result.url, status=result.status, title=result.title)


@router.post("/{session_id}/evaluate", response_model=EvaluateResponse)
async def evaluate(session_id: str, body: EvaluateRequest, agent: AgentDep) -> EvaluateResponse:
    return EvaluateResponse(result=await agent.worker.evaluate(session_id, body.expression))


@router.get("/{session_id}/screenshot")
async def screenshot(session_id: str, agent: AgentDep) -> Response:
    return Response(await agent.worker.screenshot(session_id), media_type="image/png")


@router.get("/{session_id}/content")
async def content(session_id: str, agent: AgentDep) -> Response:
    return Response(await agent.worker.content(session_id), media_type="text/html; charset=utf-8")


@router.websocket("/{session_id}/cdp")
async def cdp(websocket: WebSocket, session_id: str) -> None:
    agent = _allowed(websocket.app.state.runtime, websocket.headers.get(SECRET_HEADER, ""))
    if agent is None:
        await refuse(websocket, 401, "worker-internal call without the shared secret")
        return
    if session_id not in agent.worker.held_session_ids():
        await refuse(websocket, 404, "session not held by this worker")
        return
    await websocket.accept()
    try:
        await agent.worker.relay_cdp(session_id, ClientSocket(websocket), lambda: agent.activity.record(session_id))
    except BrowserpoolError as exc:
        await websocket.close(1011, str(exc))
