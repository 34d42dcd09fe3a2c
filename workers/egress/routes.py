"""Sessions with an upstream proxy: how the egress guard chains their connections through it.

Each such session has a listener of its own on the guard (a loopback port: the guard knows the session
by the port a connection arrives on), and its browser context uses that listener as its proxy. The guard
then resolves the upstream's name itself, checks its address with the page policy (metadata and
link-local never; loopback and private ranges per the settings), connects to the very address it checked,
puts TLS on the connection for an https:// upstream, and asks the upstream for the destination: HTTP
CONNECT with Basic Proxy-Authorization, or the SOCKS5 handshake with username/password (RFC 1929),
both spoken by python-socks. The destination's name goes to the upstream as a name: the upstream
resolves it. Plain http:// requests go the same way (a CONNECT to the destination's port 80, then the
request as it would go on a direct connection), so both kinds of upstream carry every request alike.
"""

import asyncio
import ssl
from dataclasses import dataclass, field

from python_socks import ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio.v2 import Proxy

from orchestrator.addresses import AddressPolicy
from orchestrator.deadlines import within
from orchestrator.proxies import UpstreamProxy
from workers.egress.bypass import BypassRules
from workers.egress.http import MAX_HEAD_BYTES

CONNECT_TIMEOUT = 15.0
_TYPES = {"http": ProxyType.HTTP, "https": ProxyType.HTTP, "socks5": ProxyType.SOCKS5}
_AUTH_FAILED = ("authentication", "407")  # how python-socks words a refusal of the credentials


class UpstreamFailed(Exception):
    """The upstream proxy could not be used for a connection; the message names it, never its password."""


class UpstreamRefused(UpstreamFailed):
    """The policy refuses the upstream's address."""


@dataclass(eq=False)
class Route:
    """One session's way out: its upstream proxy and bypass list, and the last failure reaching it."""

    proxy: UpstreamProxy
    bypass: BypassRules
    port: int = 0  # the guard's listener for it
    failure: str | None = None  # the last connection's failure, as a user may read it (cleared by a success)
    server: asyncio.Server | None = field(default=None, repr=False)

    @classmethod
    def of(cls, proxy: UpstreamProxy) -> "Route":
        return cls(proxy, BypassRules.parse(proxy.bypass))

    def bypasses(self, host: str, port: int) -> bool:
        return self.bypass.bypasses(host, port)

    async def connect(
        self, policy: AddressPolicy, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to host:port through the upstream; UpstreamFailed (remembered in `failure`) if not."""
        try:
            opened = await self._connect(policy, host, port)
        except UpstreamFailed as exc:
            self.failure = str(exc)
            raise
        self.failure = None
        return opened

    async def _connect(
        self, policy: AddressPolicy, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        proxy = self.proxy
        address, why = await policy.check(proxy.host, proxy.port)
        if address is None:
            raise UpstreamRefused(f"proxy {proxy.server} is refused: {why}")
        tls = ssl.create_default_context() if proxy.scheme == "https" else None
        try:
            opening = asyncio.open_connection(
                str(address), proxy.port, ssl=tls, server_hostname=proxy.host if tls else None, limit=MAX_HEAD_BYTES
            )
            reader, writer = await within(CONNECT_TIMEOUT, opening)
        except ssl.SSLError as exc:
            raise UpstreamFailed(f"proxy {proxy.server}: TLS with the proxy failed ({exc.reason or exc})") from None
        except (OSError, TimeoutError) as exc:
            raise UpstreamFailed(f"proxy {proxy.server} is unreachable ({_reason(exc)})") from None
        given = _GivenStream(reader, writer)
        chained = Proxy(
            _TYPES[proxy.scheme],
            proxy.host,
            proxy.port,
            proxy.username,
            proxy.password,
            rdns=True,
            forward=given,  # type: ignore[arg-type]  # its `forward` hook only calls connect()
        )
        try:
            await chained.connect(host, port, timeout=CONNECT_TIMEOUT)
        except (ProxyError, ProxyTimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            writer.close()
            raise UpstreamFailed(self._refusal(host, port, exc)) from None
        return reader, writer

    def _refusal(self, host: str, port: int, exc: Exception) -> str:
        proxy = self.proxy
        said = _scrub(str(exc) or type(exc).__name__, proxy.password)
        if isinstance(exc, ProxyError) and (exc.error_code == 407 or any(w in said.lower() for w in _AUTH_FAILED)):
            user = f"user {proxy.username!r}" if proxy.username else "no credentials"
            return f"proxy {proxy.server} refused the credentials ({user}): {said}"
        if isinstance(exc, ProxyTimeoutError | TimeoutError):
            return f"proxy {proxy.server} did not answer within {CONNECT_TIMEOUT:g}s"
        return f"proxy {proxy.server} could not connect to {host}:{port}: {said}"


class _GivenStream:
    """The connection the guard made to the upstream (to the address it checked, with TLS where asked), handed
    to python-socks in place of one it would open itself (its `forward` hook). `read` returns one whole reply
    head, so nothing the destination sends after the proxy's answer is taken from the stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def connect(self, dest_host: str, dest_port: int, **_: object) -> "_GivenStream":
        return self

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, max_bytes: int = 65536) -> bytes:
        return await self.reader.readuntil(b"\r\n\r\n")

    async def read_exactly(self, n: int) -> bytes:
        return await self.reader.readexactly(n)

    async def close(self) -> None:
        self.writer.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no connection within {CONNECT_TIMEOUT:g}s"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "[redacted]") if secret else text
