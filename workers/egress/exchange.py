"""Passing traffic between a browser's proxy connection and an upstream one, once the egress guard
(workers/egress/guard.py) has checked where it goes: one plain request and its response, framed by
workers/egress/http.py, and bytes both ways for tunnels and protocol switches.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from workers.egress.http import (
    Framing,
    Head,
    Unframed,
    client_persistent,
    copy_body,
    persistent,
    read_head,
    request_framing,
    response_framing,
    response_status,
    upstream_head,
)
from workers.egress.routes import Route

MAX_INTERIM_RESPONSES = 16  # 1xx answers before the final one


@dataclass(frozen=True)
class Destination:
    """Where a request the policy allowed goes: the address it checked, or the route that takes it."""

    host: str  # as asked
    port: int
    address: str | None  # the address the policy checked (a direct connection)
    route: Route | None  # or the route whose upstream connects to host:port


@dataclass
class Upstream:
    """An upstream connection, made for one checked destination."""

    destination: Destination
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


async def exchange(
    request: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: Upstream
) -> bool:
    """One request and its response; whether both connections may carry another."""
    url = urlsplit(request.start[1])
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    upstream.writer.write(upstream_head(request, path))
    sending = asyncio.create_task(copy_body(reader, upstream.writer, *request_framing(request)))
    try:
        outcome = await _response(request.start[0], upstream.reader, writer)
    except BaseException:
        sending.cancel()
        raise
    if outcome == "upgraded":  # a protocol switch (101): bytes both ways from here on
        await sending
        await splice(reader, writer, upstream.reader, upstream.writer)
        return False
    if not sending.done():  # answered before the whole body was sent: this connection carries no more
        sending.cancel()
        return False
    sending.result()  # a failed send ends the connection
    return outcome == "kept" and client_persistent(request)


async def _response(method: str, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> str:
    """Pass one response on, with the interim (1xx) ones before it: "kept" (the server keeps its connection),
    "closed" or "upgraded". What the guard cannot frame is passed on as it came, up to the server's close."""
    for _ in range(MAX_INTERIM_RESPONSES + 1):
        try:
            response = await read_head(source)
        except asyncio.IncompleteReadError as closed:
            sink.write(closed.partial)  # what a direct connection would have seen before the server hung up
            await sink.drain()
            return "closed"
        sink.write(response.raw)
        try:
            status = response_status(response)
        except Unframed:
            await copy_body(source, sink, Framing.UNTIL_CLOSE)
            return "closed"
        if status == 101:
            await sink.drain()
            return "upgraded"
        if status >= 200:
            framing, length = response_framing(response, method)
            await copy_body(source, sink, framing, length)
            return "kept" if framing is not Framing.UNTIL_CLOSE and persistent(response) else "closed"
        await sink.drain()
    return "closed"


async def splice(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        with contextlib.suppress(ConnectionError, OSError):
            sink.close()

    await asyncio.gather(pump(a_reader, b_writer), pump(b_reader, a_writer))
