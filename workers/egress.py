"""The egress guard: every HTTP(S) and websocket request any session's page makes leaves through here.

Chromium runs with --proxy-server pointing at this small forward proxy (loopback only), so pages,
iframes, redirects, popups, workers and contexts a CDP client made are all covered. What may be reached
is the core's one address policy (orchestrator/addresses.py); the proxy asks it for every request and
connects to the address it checked (so a DNS answer cannot change between the check and the connection).
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from orchestrator.addresses import AddressPolicy, hold_own_port, release_own_port

log = logging.getLogger(__name__)

# A refused or unreachable destination fails the load the way a network failure does: a CONNECT gets an
# error status (the browser reports ERR_TUNNEL_CONNECTION_FAILED), a plain request an empty answer
# (ERR_EMPTY_RESPONSE); no page of ours is ever rendered in its place.
TUNNEL_REFUSED = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n"
TUNNEL_FAILED = b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n"
CONNECT_TIMEOUT = 15.0


class EgressProxy:
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.server: asyncio.Server | None = None
        self._held_ports: list[int] = []

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        for port in self._held_ports:
            release_own_port(port)
        self._held_ports = []
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
            self.server = None

    def block_ports(self, ports: Iterable[int]) -> None:
        """Refuse these ports of this host from now on (a browser's debugging port, learned at its launch),
        here and in every other policy of this process (webhooks), until the guard stops."""
        for port in ports:
            hold_own_port(port)
            self._held_ports.append(port)

    async def refusal_for(self, *urls: str) -> str | None:
        """Why the policy refuses the first of these URLs it refuses, decided now, for the caller's own URLs
        (a REST navigation and the requests its page saw fail): nothing is remembered between sessions."""
        for url in urls:
            if urlsplit(url).scheme.lower() not in ("http", "https", "ws", "wss"):
                continue
            why = (await self.policy.check_url(url)).refusal
            if why:
                return why
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await self._forward(head, reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError, ValueError):
            pass
        finally:
            writer.close()

    async def _forward(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            port, tunnel, outgoing = int(port_text), True, b""
        else:
            url = urlsplit(target)
            host, port, tunnel = url.hostname or "", url.port or 80, False
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            outgoing = f"{method} {path} {version}\r\n".encode("latin-1") + _one_request_only(rest)
        address, why = await self.policy.check(host, port)
        if address is None:
            log.info("egress refused: %s:%d (%s)", host, port, why)
            if tunnel:
                writer.write(TUNNEL_REFUSED)
                await writer.drain()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(str(address), port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError):
            if tunnel:
                writer.write(TUNNEL_FAILED)
                await writer.drain()
            return
        if tunnel:
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
        else:
            up_writer.write(outgoing)
        await _splice(reader, writer, up_reader, up_writer)


def _one_request_only(headers: bytes) -> bytes:
    """Drop hop-by-hop connection headers and ask for `Connection: close`: a plain-HTTP proxy connection
    carries one request, so a second request on it can never reach the first one's (checked) host."""
    hop_by_hop = (b"connection:", b"proxy-connection:", b"keep-alive:")
    lines = [line for line in headers.split(b"\r\n") if line and not line.lower().startswith(hop_by_hop)]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


async def _splice(
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
