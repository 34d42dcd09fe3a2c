"""The worker's internal API: what API nodes call to drive the sessions this process holds.

Authenticated with a secret shared through Redis (wire.SECRET_HEADER); never meant for users. Errors
carry their wire code (wire.ERRORS) so the caller can raise the same one.
"""

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, WebSocket, status
from fastapi.requests import HTTPConnection
from fastapi.responses import StreamingResponse

from orchestrator.actions import (
    EvaluateRequest,
    EvaluateResponse,
    NavigateRequest,
    NavigateResponse,
    SetInputFilesRequest,
)
from orchestrator.errors import AuthenticationFailed, BrowserpoolError
from orchestrator.files import FileStream, PaperFormat, PdfOptions
from orchestrator.models import SessionSpec
from orchestrator.presence import WorkerPresence
from orchestrator.runtime import Runtime
from orchestrator.worker import CdpMode
from workers.remote.sockets import ClientSocket, refuse
from workers.remote.wire import FILE_NAME_HEADER, PREFIX, SECRET_HEADER


def _holds_secret(connection: HTTPConnection) -> bool:
    runtime: Runtime = connection.app.state.runtime
    offered = connection.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(offered, runtime.shared.internal_secret.encode())


def _agent(connection: HTTPConnection) -> WorkerPresence:
    """This process's worker agent (the internal API is only mounted on the worker role, which has one)."""
    runtime: Runtime = connection.app.state.runtime
    if runtime.agent is None:
        raise RuntimeError("the internal API is mounted on a role without browsers")
    return runtime.agent


def _caller(
    held: Annotated[bool, Depends(_holds_secret)], agent: Annotated[WorkerPresence, Depends(_agent)]
) -> WorkerPresence:
    """This process's worker agent, for a caller that holds the shared secret."""
    if not held:
        raise AuthenticationFailed("worker-internal call without the shared secret")
    return agent


CallerDep = Annotated[WorkerPresence, Depends(_caller)]

router = APIRouter(prefix=PREFIX, tags=["internal"], include_in_schema=False)


@router.put("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def open_session(session_id: str, body: SessionSpec, agent: CallerDep) -> Response:
    await agent.worker.open_session(session_id, body)
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


@router.get("/{session_id}/downloads")
async def downloads(session_id: str, agent: CallerDep) -> dict[str, Any]:
    return {"downloads": [d.to_json() for d in await agent.worker.downloads(session_id)]}


def _streamed(stream: FileStream) -> StreamingResponse:
    headers = {"Content-Length": str(stream.size_bytes), FILE_NAME_HEADER: stream.name.encode().hex()}
    return StreamingResponse(stream.chunks, media_type=stream.media_type, headers=headers)


@router.get("/{session_id}/downloads/{name}")
async def download(session_id: str, name: str, agent: CallerDep) -> StreamingResponse:
    return _streamed(await agent.worker.open_file(session_id, name))


@router.get("/{session_id}/recording")
async def recording(session_id: str, agent: CallerDep) -> StreamingResponse:
    return _streamed(await agent.worker.open_file(session_id, None))


@router.put("/{session_id}/files/{name}")
async def upload(session_id: str, name: str, request: Request, agent: CallerDep) -> dict[str, Any]:
    """One file, the request's body as it streams in."""
    [stored] = await agent.worker.upload(session_id, [(name, request.stream())])
    return {"name": stored.name, "path": stored.path, "size_bytes": stored.size_bytes}


@router.post("/{session_id}/upload", status_code=status.HTTP_204_NO_CONTENT)
async def set_input_files(session_id: str, body: SetInputFilesRequest, agent: CallerDep) -> Response:
    await agent.worker.set_input_files(session_id, body.selector, body.files)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{session_id}/pdf")
async def pdf(
    session_id: str,
    agent: CallerDep,
    format: PaperFormat = "A4",
    landscape: bool = False,
    print_background: bool = False,
) -> Response:
    options = PdfOptions(format=format, landscape=landscape, print_background=print_background)
    return Response(await agent.worker.pdf(session_id, options), media_type="application/pdf")


@router.websocket("/{session_id}/cdp")
async def cdp(
    websocket: WebSocket,
    session_id: str,
    held: Annotated[bool, Depends(_holds_secret)],
    agent: Annotated[WorkerPresence, Depends(_agent)],
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
