"""A worker in another process or on another host, as an API node reaches it over the internal API."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from orchestrator import errors
from orchestrator.config import Settings
from orchestrator.directory import RemoteFactory
from orchestrator.files import DownloadInfo, FileStream, PdfOptions, UploadedFile
from orchestrator.models import SessionSpec
from orchestrator.registry import WorkerInfo
from orchestrator.worker import Activity, CdpClient, CdpMode, ClientGone, NavigationResult, Upload
from workers.remote.wire import FILE_NAME_HEADER, PREFIX, SECRET_HEADER, raise_again, spec_body


class RemoteWorker:
    def __init__(self, info: WorkerInfo, secret: str, timeout: float) -> None:
        self._worker_id = info.worker_id
        self.address = info.address
        self._secret = secret
        self._http = httpx.AsyncClient(
            base_url=f"{info.address}{PREFIX}", headers={SECRET_HEADER: secret}, timeout=timeout
        )

    @property
    def worker_id(self) -> str:
        return self._worker_id

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        await self._call("PUT", f"/{session_id}", json=spec_body(spec))

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        await self._call("DELETE", f"/{session_id}", params={"reason": reason})

    async def save_profile(self, session_id: str) -> None:
        await self._call("POST", f"/{session_id}/profile/save")

    async def navigate(self, session_id: str, url: str) -> NavigationResult:
        data = (await self._call("POST", f"/{session_id}/navigate", json={"url": url})).json()
        return NavigationResult(url=data["url"], status=data["status"], title=data["title"])

    async def evaluate(self, session_id: str, expression: str) -> Any:
        return (await self._call("POST", f"/{session_id}/evaluate", json={"expression": expression})).json()["result"]

    async def screenshot(self, session_id: str) -> bytes:
        return (await self._call("GET", f"/{session_id}/screenshot")).content

    async def content(self, session_id: str) -> str:
        return (await self._call("GET", f"/{session_id}/content")).text

    async def downloads(self, session_id: str) -> list[DownloadInfo]:
        answer = (await self._call("GET", f"/{session_id}/downloads")).json()
        return [DownloadInfo.of(item) for item in answer["downloads"]]

    async def open_file(self, session_id: str, name: str | None) -> FileStream:
        """The file streamed from the worker as it arrives (never held whole here)."""
        path = f"/{session_id}/recording" if name is None else f"/{session_id}/downloads/{quote(name, safe='')}"
        try:
            response = await self._http.send(self._http.build_request("GET", path), stream=True)
        except httpx.TimeoutException as exc:
            raise errors.ActionTimedOut(f"worker {self.worker_id} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise errors.PoolUnavailable(f"worker {self.worker_id} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise _error_of(response)
        served = bytes.fromhex(response.headers.get(FILE_NAME_HEADER, "")).decode(errors="replace")
        return FileStream(
            served or name or "file",
            int(response.headers.get("content-length", "0")),
            response.headers.get("content-type", "application/octet-stream"),
            _body(response),
        )

    async def upload(self, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        stored = []
        for name, chunks in files:
            answer = (await self._call("PUT", f"/{session_id}/files/{quote(name, safe='')}", content=chunks)).json()
            stored.append(UploadedFile(answer["name"], answer["path"], answer["size_bytes"]))
        return stored

    async def set_input_files(self, session_id: str, selector: str, names: list[str]) -> None:
        await self._call("POST", f"/{session_id}/upload", json={"selector": selector, "files": names})

    async def pdf(self, session_id: str, options: PdfOptions) -> bytes:
        query = {
            "format": options.format,
            "landscape": str(options.landscape).lower(),
            "print_background": str(options.print_background).lower(),
        }
        return (await self._call("GET", f"/{session_id}/pdf", params=query)).content

    async def relay_cdp(
        self, session_id: str, client: CdpClient, on_activity: Activity, mode: CdpMode = CdpMode.FULL
    ) -> None:
        """Pipe the client's frames to the worker's relay, which scopes them (to `mode`) and records activity."""
        url = self.address.replace("http", "ws", 1) + f"{PREFIX}/{session_id}/cdp?mode={mode.value}"
        try:
            upstream = await connect(url, additional_headers={SECRET_HEADER: self._secret}, max_size=None)
        except (OSError, InvalidHandshake) as exc:
            raise errors.PoolUnavailable(f"worker {self.worker_id} is unreachable: {exc}") from exc
        async with upstream:
            await _pipe(client, upstream)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise errors.ActionTimedOut(f"worker {self.worker_id} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise errors.PoolUnavailable(f"worker {self.worker_id} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response


def _error_of(response: httpx.Response) -> errors.BrowserpoolError:
    try:
        payload = response.json()
    except ValueError:
        payload = {"detail": response.text[:200]}
    return raise_again(payload, response.status_code)


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()


async def _pipe(client: CdpClient, upstream: ClientConnection) -> None:
    async def client_to_worker() -> None:
        with contextlib.suppress(ClientGone, ConnectionClosed):
            while True:
                await upstream.send(await client.receive_text())

    async def worker_to_client() -> tuple[int, str]:
        try:
            async for frame in upstream:
                await client.send_text(frame if isinstance(frame, str) else frame.decode())
        except ConnectionClosed:
            pass
        return (upstream.close_code or 1000, upstream.close_reason or "")

    outbound = asyncio.create_task(client_to_worker())
    inbound = asyncio.create_task(worker_to_client())
    done, _ = await asyncio.wait({outbound, inbound}, return_when=asyncio.FIRST_COMPLETED)
    for task in (outbound, inbound):
        task.cancel()
    await asyncio.gather(outbound, inbound, return_exceptions=True)
    if inbound in done and not inbound.cancelled() and inbound.exception() is None:
        code, reason = inbound.result()
        with contextlib.suppress(Exception):
            await client.close(code if code not in (1005, 1006) else 1011, reason)


def remote_factory(secret: str, settings: Settings) -> RemoteFactory:
    def make(info: WorkerInfo) -> RemoteWorker:
        return RemoteWorker(info, secret, timeout=settings.action_timeout + 5)

    return make
