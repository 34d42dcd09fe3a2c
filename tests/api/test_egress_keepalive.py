"""The egress guard keeps plain-HTTP connections alive as a direct connection would, per checked destination.

A real guard (workers.egress.guard.EgressProxy) on loopback, real origin servers that record which of their
connections carried which request, and a raw client speaking to the guard the way Chromium does
(absolute-form targets, `Proxy-Connection: keep-alive`), its answers parsed by h11, not by the guard's
own code. What must hold: the origin sees the browser's `Connection: keep-alive` and gets several
requests on one connection; a request for another destination never travels on a connection made for
the first; a refused destination still gets no connection at all, even in the middle of a kept-alive
connection; bytes inside a request body stay a body.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import h11

from orchestrator.addresses import AddressPolicy
from tests.api.test_egress import Listener
from tests.support import serving
from workers.egress.guard import EgressProxy


@dataclass
class Seen:
    requests: list[tuple[int, str, str, str | None, str | None]] = field(default_factory=list)
    # (client port: one per connection, method, path, Connection, Proxy-Connection)


@contextmanager
def origin() -> Iterator[tuple[int, Seen]]:
    """An HTTP/1.1 origin: /len and /chunked keep the connection; /echo answers with the body it got."""
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _note(self) -> None:
            seen.requests.append(
                (
                    self.client_address[1],
                    self.command,
                    self.path,
                    self.headers.get("Connection"),
                    self.headers.get("Proxy-Connection"),
                )
            )

        def do_GET(self) -> None:
            self._note()
            if self.path == "/chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-X: 1\r\n\r\n")
                return
            self._answer(f"GET {self.path}".encode())

        def do_POST(self) -> None:
            self._note()
            self._answer(self.rfile.read(int(self.headers["Content-Length"])))

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as server:
        yield server.server_address[1], seen


@asynccontextmanager
async def guard(*blocked: int) -> AsyncIterator[EgressProxy]:
    proxy = EgressProxy(AddressPolicy(allow_private=True, allow_loopback=True))
    await proxy.start()
    proxy.block_ports(blocked)
    try:
        yield proxy
    finally:
        await proxy.stop()


class BrowserLikeClient:
    """One connection to the guard; requests as Chromium sends them to a proxy, answers parsed by h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = h11.Connection(h11.CLIENT)

    async def fetch(self, method: str, url: str, body: bytes = b"") -> tuple[int, bytes] | None:
        """(status, body), or None when the guard closed the connection without an answer."""
        host = url.split("/")[2]
        headers = [("Host", host), ("Proxy-Connection", "keep-alive"), ("Content-Length", str(len(body)))]
        if self.parser.our_state is h11.DONE:
            self.parser.start_next_cycle()
        self.writer.write(self.parser.send(h11.Request(method=method, target=url, headers=headers)))
        self.writer.write(self.parser.send(h11.Data(data=body)) + self.parser.send(h11.EndOfMessage()))
        status, received = 0, b""
        while True:
            event = self.parser.next_event()
            if event is h11.NEED_DATA:
                data = await asyncio.wait_for(self.reader.read(65536), 5)
                if not data and not status:
                    return None  # closed before any answer
                self.parser.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                received += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, received


async def test_plain_http_is_kept_alive_per_checked_destination_and_refusals_still_reach_nothing() -> None:
    blocked = Listener()
    blocked_port = await blocked.start()
    with origin() as (a_port, a), origin() as (b_port, b):
        async with guard(blocked_port) as proxy:
            client = BrowserLikeClient(*await asyncio.open_connection("127.0.0.1", proxy.port))
            smuggled = f"GET http://127.0.0.1:{blocked_port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            answers = [
                await client.fetch("GET", f"http://127.0.0.1:{a_port}/len"),
                await client.fetch("GET", f"http://127.0.0.1:{a_port}/chunked"),
                await client.fetch("POST", f"http://127.0.0.1:{a_port}/echo", smuggled),
                await client.fetch("GET", f"http://127.0.0.1:{b_port}/len"),
                await client.fetch("GET", f"http://127.0.0.1:{blocked_port}/"),
            ]
            client.writer.close()
    assert blocked.server is not None
    blocked.server.close()

    assert answers == [
        (200, b"GET /len"),
        (200, b"hello world"),
        (200, smuggled),  # a body stays a body: it went to A as data, never to the blocked port
        (200, b"GET /len"),
        None,  # refused mid-connection: closed, no answer
    ]
    assert len({port for port, *_ in a.requests}) == 1, a.requests  # three requests, one upstream connection
    assert [(method, path, conn, proxy_conn) for _, method, path, conn, proxy_conn in a.requests] == [
        ("GET", "/len", "keep-alive", None),  # what a server sees from a browser without a proxy
        ("GET", "/chunked", "keep-alive", None),
        ("POST", "/echo", "keep-alive", None),
    ]
    assert [path for _, _, path, *_ in b.requests] == ["/len"]  # another destination: its own connection
    assert blocked.connections == 0
