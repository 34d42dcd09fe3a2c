"""A session's files: its downloads, uploads to it, a PDF of its page and its recording.

Downloads and the recording stay readable after the session ended, for BROWSERPOOL_FILE_RETENTION; they are
served by the worker that held the session, streamed through whichever API node is asked.
"""

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.formparsers import MultiPartException

from orchestrator.actions import SetInputFilesRequest
from orchestrator.errors import InvalidInput
from orchestrator.files import FileStream, PaperFormat, PdfOptions

from ..deps import CurrentUser, SessionsDep, SettingsDep
from ..links import public_base, session_path
from ..schemas import DownloadList, DownloadPublic, ErrorBody, UploadedPublic, UploadList
from .actions import ACTION_ERRORS

router = APIRouter(prefix="/v1/browser/sessions/{session_id}", tags=["session files"])

CHUNK = 256 * 1024
FILE_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "Unknown session or file, another user's, or past its retention"},
    409: {"model": ErrorBody, "description": "The session is still starting, or its video is not finished yet"},
}


def _streamed(stream: FileStream, disposition: str = "attachment") -> StreamingResponse:
    headers = {
        "Content-Length": str(stream.size_bytes),
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stream.name, safe='')}",
    }
    return StreamingResponse(stream.chunks, media_type=stream.media_type, headers=headers)


@router.get("/downloads", response_model=DownloadList, responses=FILE_ERRORS, summary="List a session's downloads")
async def list_downloads(
    session_id: str, user: CurrentUser, sessions: SessionsDep, settings: SettingsDep, request: Request
) -> DownloadList:
    infos = await sessions.downloads(user.user_id, session_id)
    base = f"{public_base(request, settings)}{session_path(session_id)}/downloads/"
    return DownloadList(downloads=[DownloadPublic.of(i, base + quote(i.name, safe="")) for i in infos])


@router.get(
    "/downloads/{name}",
    response_class=StreamingResponse,
    responses={**FILE_ERRORS, 200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
    summary="Fetch a download",
)
async def get_download(session_id: str, name: str, user: CurrentUser, sessions: SessionsDep) -> StreamingResponse:
    return _streamed(await sessions.download(user.user_id, session_id, name))


@router.get(
    "/recording",
    response_class=StreamingResponse,
    responses={**FILE_ERRORS, 200: {"content": {"video/webm": {}}, "description": "The session's video"}},
    summary="Fetch the session's recording",
)
async def get_recording(session_id: str, user: CurrentUser, sessions: SessionsDep) -> StreamingResponse:
    return _streamed(await sessions.recording(user.user_id, session_id), disposition="inline")


# The body is read by the route, after its dependencies: the credential and the session's owner are checked
# before a byte of it is (an anonymous or foreign upload is refused with nothing read, nothing spooled).
UPLOAD_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more files",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/files",
    response_model=UploadList,
    responses={**ACTION_ERRORS, 413: {"model": ErrorBody, "description": "Past the session's disk quota"}},
    summary="Upload files into the session",
    openapi_extra=UPLOAD_BODY,
)
async def upload_files(session_id: str, request: Request, user: CurrentUser, sessions: SessionsDep) -> UploadList:
    await sessions.get(user.user_id, session_id)  # theirs (else 404), before the body is read
    files = await _form_files(request)
    try:
        uploads = [(upload.filename or "upload", _chunks(upload)) for upload in files]
        stored = await sessions.upload(user.user_id, session_id, uploads)
    finally:
        for upload in files:
            await upload.close()
    return UploadList(files=[UploadedPublic.of(f) for f in stored])


async def _form_files(request: Request) -> list[StarletteUpload]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the files as multipart/form-data, one `files` part per file", loc=("body", "files"))
    try:
        form = await request.form()
    except MultiPartException as exc:
        raise InvalidInput(f"the multipart body is malformed: {exc.message}", loc=("body", "files")) from exc
    files = [part for part in form.getlist("files") if isinstance(part, StarletteUpload)]
    if not files:
        raise InvalidInput("the multipart body has no `files` part with a file", loc=("body", "files"))
    return files


@router.post("/upload", status_code=204, responses=ACTION_ERRORS, summary="Set uploaded files on a file input")
async def set_input_files(
    session_id: str, body: SetInputFilesRequest, user: CurrentUser, sessions: SessionsDep
) -> Response:
    await sessions.set_input_files(user.user_id, session_id, body.selector, body.files)
    return Response(status_code=204)


@router.get(
    "/pdf",
    response_class=Response,
    responses={**ACTION_ERRORS, 200: {"content": {"application/pdf": {}}, "description": "The page as PDF"}},
    summary="Print the page to PDF",
)
async def pdf(
    session_id: str,
    user: CurrentUser,
    sessions: SessionsDep,
    format: Annotated[PaperFormat, Query()] = "A4",
    landscape: bool = False,
    print_background: bool = False,
) -> Response:
    options = PdfOptions(format=format, landscape=landscape, print_background=print_background)
    return Response(await sessions.pdf(user.user_id, session_id, options), media_type="application/pdf")


async def _chunks(upload: StarletteUpload) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk
