"""HTTP/1.1 framing for the egress guard's plain-HTTP requests: where each request and response ends.

The guard keeps a browser's proxy connection, and the upstream connection behind it, open between
requests the way a direct connection is kept (`Connection: keep-alive`), so it must find where each
message ends (RFC 9112 section 6.3) to read the next request, check its destination, and send it only
to an upstream connection made for that same checked destination. Heads are read line by line (a bare
LF ends a line too, as Chromium accepts) and bounded; a response whose end cannot be known ends the
connection after it, and one the guard cannot read at all is passed on as it came.
"""

import asyncio
from dataclasses import dataclass
from enum import Enum

MAX_HEAD_BYTES = 256 * 1024  # Chromium's own bound on response headers
MAX_HEAD_LINES = 1000
COPY_CHUNK = 65536
_HOP_BY_HOP = (b"connection", b"proxy-connection", b"keep-alive")


class Framing(Enum):
    NONE = "none"  # no body
    LENGTH = "length"  # Content-Length bytes
    CHUNKED = "chunked"  # chunked transfer coding, up to its last chunk and trailers
    UNTIL_CLOSE = "until_close"  # everything until the sender closes: the connection ends with it


class Unframed(ValueError):
    """A head that is not HTTP/1.x or whose length fields contradict each other."""


@dataclass
class Head:
    raw: bytes  # exactly as received, start line and headers, up to and including the empty line
    start: list[str]  # the start line's three parts (request: method, target, version; response: version, status, …)
    fields: list[tuple[bytes, bytes]]  # (name as sent, value), in order

    def values(self, name: bytes) -> list[bytes]:
        return [value for field, value in self.fields if field.lower() == name]

    def tokens(self, name: bytes) -> list[str]:
        """The comma-separated tokens of every `name` field, lower-cased, in order."""
        return [t.strip().lower() for v in self.values(name) for t in v.decode("latin-1").split(",") if t.strip()]


async def read_head(reader: asyncio.StreamReader) -> Head:
    """One message head; IncompleteReadError if the peer closed first (its `partial` holds all that came).
    A header line without a colon is kept in `raw` and left out of `fields`, as Chromium ignores it."""
    lines: list[bytes] = []
    size = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as closed:
            raise asyncio.IncompleteReadError(b"".join(lines) + closed.partial, None) from None
        size += len(line)
        if size > MAX_HEAD_BYTES or len(lines) > MAX_HEAD_LINES:
            raise Unframed("message head too large")
        if line in (b"\r\n", b"\n"):
            if lines:
                break
            continue  # stray empty lines between messages are skipped (RFC 9112 section 2.2)
        lines.append(line)
    raw = b"".join(lines) + line
    start = lines[0].decode("latin-1").strip().split(" ", 2)
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name and name == name.strip():
            fields.append((name, value.strip()))
    return Head(raw, start, fields)


def request_framing(request: Head) -> tuple[Framing, int]:
    """How the request's body is framed (a request says so itself, or has none)."""
    codings = request.tokens(b"transfer-encoding")
    if codings:
        if codings[-1] != "chunked":
            raise Unframed("a request body whose end cannot be known")
        return Framing.CHUNKED, 0
    return _length(request) or (Framing.NONE, 0)


def response_framing(response: Head, request_method: str) -> tuple[Framing, int]:
    status = response_status(response)
    if request_method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return Framing.NONE, 0
    codings = response.tokens(b"transfer-encoding")
    if codings:
        return (Framing.CHUNKED, 0) if codings[-1] == "chunked" else (Framing.UNTIL_CLOSE, 0)
    try:
        return _length(response) or (Framing.UNTIL_CLOSE, 0)
    except Unframed:  # passed on as it came, to the end: the browser judges it (and fails it) as it would directly
        return Framing.UNTIL_CLOSE, 0


def _length(head: Head) -> tuple[Framing, int] | None:
    declared = {value.strip() for value in head.values(b"content-length")}
    if not declared:
        return None
    if len(declared) != 1 or not next(iter(declared)).isdigit():
        raise Unframed("contradicting or malformed Content-Length")
    length = int(next(iter(declared)))
    return (Framing.LENGTH, length) if length else (Framing.NONE, 0)


def response_status(response: Head) -> int:
    if len(response.start) < 2 or not response.start[0].startswith("HTTP/1.") or not response.start[1].isdigit():
        raise Unframed("not an HTTP/1.x response")
    return int(response.start[1])


def persistent(head: Head, connection_field: bytes = b"connection") -> bool:
    """Whether the sender keeps the connection open after this message (HTTP/1.1 by default, 1.0 if asked)."""
    tokens = head.tokens(connection_field)
    if "close" in tokens:
        return False
    version = head.start[0] if head.start[0].startswith("HTTP/") else head.start[-1]
    return version != "HTTP/1.0" or "keep-alive" in tokens


def client_persistent(request: Head) -> bool:
    """A browser says it to a proxy in `Proxy-Connection` (or `Connection`)."""
    field = b"connection" if request.values(b"connection") else b"proxy-connection"
    return persistent(request, field)


def upstream_head(request: Head, path: str) -> bytes:
    """The request as the origin server gets it: origin-form target, the browser's own headers, and its
    connection wish in `Connection` (where a browser without a proxy says it), nothing else hop-by-hop."""
    method, _, version = request.start
    wish = request.values(b"connection") or request.values(b"proxy-connection")
    lines = [f"{method} {path} {version}".encode("latin-1")]
    for name, value in request.fields:
        if name.lower() not in _HOP_BY_HOP:
            lines.append(name + b": " + value)
        elif wish and name.lower() in (b"connection", b"proxy-connection"):
            lines.append(b"Connection: " + wish[0])
            wish = []
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def copy_body(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, framing: Framing, length: int = 0
) -> None:
    """Copy one message body as framed; IncompleteReadError if the sender stops short."""
    if framing is Framing.LENGTH:
        await _copy_exactly(source, sink, length)
    elif framing is Framing.CHUNKED:
        await _copy_chunked(source, sink)
    elif framing is Framing.UNTIL_CLOSE:
        while chunk := await source.read(COPY_CHUNK):
            sink.write(chunk)
            await sink.drain()


async def _copy_exactly(source: asyncio.StreamReader, sink: asyncio.StreamWriter, length: int) -> None:
    while length > 0:
        chunk = await source.read(min(COPY_CHUNK, length))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", length)
        sink.write(chunk)
        await sink.drain()
        length -= len(chunk)


async def _copy_chunked(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while True:
        size_line = await source.readuntil(b"\n")
        sink.write(size_line)
        size_text = size_line.split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF") or len(size_text) > 16:
            raise Unframed(f"malformed chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        await _copy_exactly(source, sink, size)
        sink.write(await source.readuntil(b"\n"))  # the chunk's own line end
    while (trailer := await source.readuntil(b"\n")) not in (b"\r\n", b"\n"):
        sink.write(trailer)
    sink.write(trailer)
    await sink.drain()
