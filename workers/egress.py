"""The egress guard: every HTTP(S) and websocket request any session's page makes leaves through here.

Chromium runs with --proxy-server pointing at this small forward proxy (loopback only), so pages,
iframes, redirects, popups, workers and contexts a CDP client made are all covered. The proxy resolves
each host itself, refuses addresses the policy forbids, and connects to the address it checked (so a
DNS answer cannot change between the check and the connection).
"""

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

METADATA_NAMES = frozenset({"metadata.google.internal", "metadata", "metadata.azure.internal", "instance-data"})
HEADER_LIMIT = 64 * 1024
# A refused or unreachable destination fails the load the way a network failure does: a CONNECT gets an
# error status (the browser reports ERR_TUNNEL_CONNECTION_FAILED), a plain request an empty answer
# (ERR_EMPTY_RESPONSE); no page of ours is ever rendered in its place.
TUNNEL_REFUSED = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n"
TUNNEL_FAILED = b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class EgressPolicy:
    """Link-local and cloud metadata addresses are always refused; private ranges and loopback by setting."""

    allow_private: bool = True
    allow_loopback: bool = True
    blocked_ports: frozenset[tuple[str, int]] = field(default_factory=frozenset)  # (host, port) always refused

    def refuses(self, address: Address, port: int) -> str | None:
        """Why this destination is refused, or None if it is allowed."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
            return "link-local, multicast or reserved address"
        if address.is_loopback:
            if (str(address), port) in self.blocked_ports or ("*", port) in self.blocked_ports:
                return "the pool's own internal port"
            return None if self.allow_loopback else "loopback address"
        if address.is_private and not self.allow_private:
            return "private address"
        return None

    def refuses_name(self, host: str) -> str | None:
        return "cloud metadata name" if host.rstrip(".").lower() in METADATA_NAMES else None


async def resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def checked_address(policy: EgressPolicy, host: str, port: int) -> tuple[Address | None, str | None]:
    """The address to connect to, or why the destination is refused."""
    why = policy.refuses_name(host)
    if why:
        return None, why
    try:
        addresses = await resolve(host, port)
    except OSError:
        return None, "name does not resolve"
    for address in addresses:  # refuse if ANY answer is forbidden: a mixed answer is an attack
        why = policy.refuses(address, port)
        if why:
            return None, why
    return (addresses[0], None) if addresses else (None, "no address")


class EgressProxy:
    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self.server: asyncio.Server | None = None
        self.refused: list[tuple[str, int, str]] = []  # recent refusals, newest last (for tests and logs)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
            self.server = None

    def refusal_for(self, url: str) -> str | None:
        """Why the guard refused this URL's host recently, if it did."""
        parts = urlsplit(url)
        host = (parts.hostname or "").strip("[]")
        return next((why for h, _, why in reversed(self.refused) if h == host), None)

    def block_ports(self, ports: Iterable[int]) -> None:
        self.policy = EgressPolicy(
            self.policy.allow_private,
            self.policy.allow_loopback,
            self.policy.blocked_ports | {("*", p) for p in ports},
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        try:
            await self._forward(head, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
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
        address, why = await checked_address(self.policy, host.strip("[]"), port)
        if address is None:
            self.refused.append((host.strip("[]"), port, why or ""))
            del self.refused[:-100]
            log.info("egress refused: %s:%d (%s)", host, port, why)
            if tunnel:
                writer.write(TUNNEL_REFUSED)
                await writer.drain()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(str(address), port), 15)
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
