"""The egress guard: every HTTP(S) and websocket request any session's page makes leaves through here.

Chromium runs with --proxy-server pointing at this small forward proxy (loopback only), so pages,
iframes, redirects, popups, workers and contexts a CDP client made are all covered. What may be reached
is the core's one address policy (orchestrator/addresses.py); the proxy asks it for every request and
connects to the address it checked (so a DNS answer cannot change between the check and the connection).
A session with an upstream proxy has a listener of its own here, whose connections go out through that
upstream (workers/egress/routes.py). What the guard lets through is passed on by workers/egress/exchange.py.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from orchestrator.addresses import AddressPolicy, hold_own_port, release_own_port
from orchestrator.deadlines import within
from orchestrator.host_spelling import canonical_host, literal_address
from orchestrator.proxies import UpstreamProxy
from workers.egress.exchange import Destination, Upstream, exchange, splice
from workers.egress.http import MAX_HEAD_BYTES, Head, read_head
from workers.egress.routes import Route, UpstreamFailed, UpstreamRefused

log = logging.getLogger(__name__)

# A refused or unreachable destination fails the load the way a network failure does: a CONNECT gets an
# error status (the browser reports ERR_TUNNEL_CONNECTION_FAILED), a plain request an empty answer
# (ERR_EMPTY_RESPONSE); no page of ours is ever rendered in its place.
TUNNEL_REFUSED = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n"
TUNNEL_FAILED = b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n"
CONNECT_TIMEOUT = 15.0
IDLE_SECONDS = 30.0  # a kept-alive browser connection without a new request for this long is closed


class EgressProxy:
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.server: asyncio.Server | None = None
        self._held_ports: list[int] = []
        # Browser connections open now, each with the route it came in on (None: the shared listener).
        self._connections: dict[asyncio.Task[None], tuple[asyncio.StreamWriter, Route | None]] = {}
        self._routes: set[Route] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD_BYTES)

    async def open_route(self, proxy: UpstreamProxy) -> Route:
        """A listener of its own for one session whose traffic goes through `proxy`; its port is refused as a
        destination (no page may send through another session's route)."""
        route = Route.of(proxy)
        route.server = await asyncio.start_server(
            lambda r, w: self._serve(r, w, route), "127.0.0.1", 0, limit=MAX_HEAD_BYTES
        )
        route.port = int(route.server.sockets[0].getsockname()[1])
        hold_own_port(route.port)
        self._routes.add(route)
        return route

    async def close_route(self, route: Route) -> None:
        """Stop the route's listener and end its connections (the session is over)."""
        if route not in self._routes:
            return
        self._routes.discard(route)
        release_own_port(route.port)
        assert route.server is not None
        route.server.close()
        ending = [task for task, (writer, on) in self._connections.items() if on is route]
        for task in ending:
            self._connections[task][0].close()
        if ending:
            await asyncio.wait(ending, timeout=2)

    async def stop(self) -> None:
        for port in self._held_ports:
            release_own_port(port)
        self._held_ports = []
        for route in list(self._routes):
            await self.close_route(route)
        if self.server is not None:
            self.server.close()
            for connection, _ in self._connections.values():  # kept-alive and tunnelled ones end with the guard
                connection.close()
            if self._connections:
                await asyncio.wait(list(self._connections), timeout=2)
            with contextlib.suppress(Exception):
                await within(2, self.server.wait_closed())
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

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route | None = None
    ) -> None:
        this = asyncio.current_task()
        assert this is not None  # asyncio.start_server runs each connection's handler as a task
        self._connections[this] = (writer, route)
        try:
            request = await read_head(reader)
            if request.start[0] == "CONNECT":
                await self._tunnel(request, reader, writer, route)
            else:
                await self._plain(request, reader, writer, route)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError, ValueError):
            pass
        except TimeoutError:  # a kept-alive connection left idle: the browser opens a new one when it needs one
            pass
        finally:
            writer.close()
            self._connections.pop(this, None)

    async def _tunnel(
        self, request: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route | None
    ) -> None:
        """CONNECT (https, wss): a refusal or a failure is an error status; then bytes both ways, unread."""
        host, _, port_text = request.start[1].rpartition(":")
        port = int(port_text)
        destination = await self._judge(host.strip("[]"), port, route)
        if destination is None:
            writer.write(TUNNEL_REFUSED)
            await writer.drain()
            return
        try:
            up_reader, up_writer = await self._dial(destination)
        except UpstreamRefused:
            writer.write(TUNNEL_REFUSED)
            await writer.drain()
            return
        except (OSError, TimeoutError, UpstreamFailed):
            writer.write(TUNNEL_FAILED)
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await splice(reader, writer, up_reader, up_writer)

    async def _plain(
        self, request: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route | None
    ) -> None:
        """Plain http requests, one after another on the browser's connection while both ends keep it open:
        each is checked on its own and sent only on an upstream connection made for that same destination."""
        upstream: Upstream | None = None
        try:
            while True:
                upstream = await self._upstream_for(request, upstream, route)
                if upstream is None or not await exchange(request, reader, writer, upstream):
                    return
                request = await within(IDLE_SECONDS, read_head(reader))
        finally:
            if upstream is not None:
                upstream.close()

    async def _upstream_for(self, request: Head, current: Upstream | None, route: Route | None) -> Upstream | None:
        """The connection this request goes out on: `current` if it was made for the same checked destination
        and is still open, else a new one; None when the policy refuses or nothing answers (the request then
        fails as an empty answer does: ERR_EMPTY_RESPONSE). A connection not reused is closed here."""
        url = urlsplit(request.start[1])
        host, port = url.hostname or "", url.port or 80
        destination = await self._judge(host, port, route)
        if current is not None:
            if destination is not None and current.destination == destination and not current.reader.at_eof():
                return current
            current.close()
        if destination is None:
            return None
        try:
            up_reader, up_writer = await self._dial(destination)
        except (OSError, TimeoutError, UpstreamFailed):
            return None
        return Upstream(destination, up_reader, up_writer)

    async def _judge(self, host: str, port: int, route: Route | None) -> Destination | None:
        """Where a request to host:port goes, or None (logged) if the policy refuses it. Through a route, the
        upstream resolves the name: only what its spelling shows (metadata names, addresses) is checked here."""
        if route is not None and not route.bypasses(host, port):
            name = canonical_host(host)
            literal = literal_address(name)
            why = self.policy.refuses_name(name) or (self.policy.refuses(literal, port) if literal else None)
            why = why or ("port out of range" if not 0 < port < 65536 else None)
            if why is None:
                return Destination(host, port, None, route)
        else:
            address, why = await self.policy.check(host, port)
            if address is not None:
                return Destination(host, port, str(address), None)
        log.info("egress refused: %s:%d (%s)", host, port, why)
        return None

    async def _dial(self, destination: Destination) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if destination.route is not None:
            return await destination.route.connect(self.policy, destination.host, destination.port)
        assert destination.address is not None
        opened = asyncio.open_connection(destination.address, destination.port, limit=MAX_HEAD_BYTES)
        return await within(CONNECT_TIMEOUT, opened)
