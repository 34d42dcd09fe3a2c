"""Real upstream proxies for the proxy tests, and a target site that tells which process connected to it.

- `proxy.py` (PyPI) as the HTTP proxy with Basic auth; `asyncio-socks-server` (PyPI) as the SOCKS5 proxy with
  username/password. Each runs as its own process group on 127.0.0.1, logging every request it carries.
- `PeerSite` answers every request on loopback and records, for each, the process group that owns the
  connecting socket (looked up in /proc while the connection is open): a proxy's group when the request came
  through that proxy, this test process's when the egress guard connected directly.
"""

import asyncio
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import free_port

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class ProxyProcess:
    scheme: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def group(self) -> int:
        return self.process.pid  # started in a session of its own: its pid is its process group

    @property
    def server(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def logged(self) -> str:
        return self.log.read_text(errors="replace")

    def carried(self, host: str, port: int) -> bool:
        """Whether the proxy logged a connection to host:port (proxy.py logs one when it ends)."""
        return f"CONNECT {host}:{port} " in self.logged() or f"and ('{host}', {port})" in self.logged()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _start(scheme: str, argv: list[str], port: int, log: Path) -> ProxyProcess:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proxy = ProxyProcess(scheme, port, process, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited: {proxy.logged()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proxy
        time.sleep(0.05)
    proxy.stop()
    raise RuntimeError(f"{argv[0]} did not listen on {port}")


def start_http_proxy(tmp: Path, username: str, password: str) -> ProxyProcess:
    port = free_port()
    argv = [
        _bin("proxy"),
        "--hostname", "127.0.0.1", "--port", str(port), "--basic-auth", f"{username}:{password}",
        "--num-acceptors", "1", "--num-workers", "1", "--log-level", "INFO",
    ]  # fmt: skip
    return _start("http", argv, port, tmp / f"http-proxy-{port}.log")


def start_socks_proxy(tmp: Path, username: str, password: str) -> ProxyProcess:
    port = free_port()
    config = tmp / f"socks-{port}.json"
    config.write_text(json.dumps({"USERS": {username: password}}))
    argv = [
        _bin("asyncio_socks_server"),
        "-H", "127.0.0.1", "-P", str(port), "-A", "2", "--access-log", "--config", str(config),
    ]  # fmt: skip
    return _start("socks5", argv, port, tmp / f"socks-proxy-{port}.log")


def owner_group(peer: tuple[str, int], local_port: int) -> int | None:
    """The process group of the process holding the connecting end of an open loopback connection."""
    inode = _socket_inode(peer, local_port)
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return os.getpgid(int(pid))
            except OSError:
                continue  # closed meanwhile
    return None


def _socket_inode(peer: tuple[str, int], local_port: int) -> str | None:
    """The inode of the socket whose local end is `peer` and remote end our port (its owner's end)."""
    ip = socket.inet_aton(peer[0])[::-1].hex().upper()
    local = f"{ip}:{peer[1]:04X}"
    remote_suffix = f":{local_port:04X}"
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2].endswith(remote_suffix):
                return fields[9]
    return None


@dataclass
class Seen:
    path: str
    group: int | None  # the process group that connected (a proxy's, or this process's for a direct one)


@dataclass
class PeerSite:
    """A loopback site: /page (an image, a fetch, a websocket), /popup, anything else a tiny page."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "PeerSite":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    def groups(self, path: str) -> list[int | None]:
        return [s.group for s in self.seen if s.path == path]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        group = await asyncio.to_thread(owner_group, (peer[0], peer[1]), self.port)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                path = head.split(" ", 2)[1]
                self.seen.append(Seen(path, group))
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in head.split("\r\n"))}
                if headers.get("upgrade", "").lower() == "websocket":
                    accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + _WS_GUID).encode()).digest())
                    writer.write(
                        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
                    )
                    await writer.drain()
                    await reader.read()  # until the page goes
                    return
                body = self._body(path)
                kind = b"image/svg+xml" if path.partition("?")[0].endswith(".svg") else b"text/html"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: " + kind + b"\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\nCache-Control: no-store\r\n\r\n" + body
                )  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, KeyError):
            pass
        finally:
            writer.close()

    def _body(self, path: str) -> bytes:
        """/page?tag loads /img.svg?tag, /fetch?tag and the websocket /ws?tag (so two pages' requests differ)."""
        path, _, tag = path.partition("?")
        if path.endswith(".svg"):
            return b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>'
        if path == "/page":
            ws = self.url.replace("http://", "ws://")
            return (
                f"<title>page</title><img src='/img.svg?{tag}'>"
                "<script>window.done = Promise.all(["
                f"fetch('/fetch?{tag}').then(r => r.text()),"
                f"new Promise((ok, no) => {{ const s = new WebSocket('{ws}/ws?{tag}');"
                " s.onopen = ok; s.onerror = no; })"
                "]).then(() => 'ok', e => 'failed: ' + e);</script>"
            ).encode()
        return f"<title>{path}</title>".encode()
