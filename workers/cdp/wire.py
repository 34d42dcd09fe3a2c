"""CDP messages as text: parsing, writing, and the cheap reads that spare the relay a full parse.

Chromium writes every response as `{"id":N,...}` with the id first, so the relay can tell a response
from an event, find its pending command and give it the client's id by looking at the first bytes,
without decoding a result it has no reason to look at (a 5 MB screenshot, a large evaluate result).
Anything that does not have that exact shape is parsed in full, so the shortcut can never pass a
message the slow path would have inspected. Parsing and writing use orjson: with it the relay spends
about a fifth less CPU per small round trip than with the standard library (measured, see README).
"""

import json
import re
from typing import Any

import orjson

_RESPONSE_HEAD = re.compile(rb'\{"id":(\d{1,15}),')
_COMMAND_HEAD = re.compile(r'\s*\{\s*"id"\s*:\s*(\d{1,15})\s*[,}]')
_COMMAND_TAIL = re.compile(r'"sessionId"\s*:\s*"([A-Za-z0-9_.:-]{1,128})"\s*\}\s*$')


def loads(raw: str | bytes) -> Any:
    """orjson (about 5x faster than json here); json for what only it accepts (lone surrogate escapes)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(message: Any) -> str:
    try:
        return orjson.dumps(message).decode()
    except TypeError:  # lone surrogates, integers past 64 bits: json writes them as valid escaped JSON
        return json.dumps(message, separators=(",", ":"))


def response_id(raw: bytes) -> int | None:
    """The id of a response in Chromium's own layout, read from its first bytes; None for anything else."""
    head = _RESPONSE_HEAD.match(raw, 0, 32)
    return int(head.group(1)) if head else None


def with_id(raw: bytes, new_id: int) -> str:
    """A response (checked by `response_id`) as text, with its id replaced and nothing else touched."""
    head = _RESPONSE_HEAD.match(raw, 0, 32)
    assert head is not None, "with_id needs a message response_id recognised"
    return f'{{"id":{new_id}' + str(memoryview(raw)[head.end(1) :], "utf-8")


def command_address(raw: str) -> tuple[int | None, str | None]:
    """(id, sessionId) of a command too large to parse, where its ends show them; else None for either."""
    head = _COMMAND_HEAD.match(raw[:64])
    tail = _COMMAND_TAIL.search(raw[-256:])
    return (int(head.group(1)) if head else None), (tail.group(1) if tail else None)
