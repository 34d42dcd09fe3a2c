"""The Lua scripts of orchestrator/lua, registered once per Redis client.

Every script starts with one prelude: the lifecycle rules from lifecycle.py's table as Lua locals (which
statuses are live, where a session starts, the end reasons of the deadline rules), then lua/rules.lua
(the deadline rules, written once). So no script spells a status of its own, and what the tests check is
what runs.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from .lifecycle import INITIAL, LIVE, EndReason


def _source(name: str) -> str:
    return resources.files("orchestrator").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def _lua_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@cache
def prelude() -> str:
    """The Lua every script starts with."""
    live = ", ".join(f"[{_lua_string(status)}] = true" for status in sorted(LIVE))
    generated = [
        "-- Generated from orchestrator/lifecycle.py by orchestrator/scripts.py.",
        f"local LIVE = {{{live}}}",
        f"local INITIAL = {_lua_string(INITIAL)}",
        f"local REASON_TIMEOUT = {_lua_string(EndReason.TIMEOUT)}",
        f"local REASON_IDLE = {_lua_string(EndReason.IDLE)}",
    ]
    return "\n".join(generated) + "\n" + _source("rules") + "\n"


def script_source(name: str, *helpers: str) -> str:
    """What Redis runs for lua/<name>.lua (after the prelude and the lua/<helper>.lua files it uses)."""
    return prelude() + "".join(_source(helper) + "\n" for helper in helpers) + _source(name)


@dataclass(frozen=True)
class Scripts:
    transition: AsyncScript
    touch: AsyncScript
    list_live: AsyncScript
    create: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> "Scripts":
        return cls(
            transition=redis.register_script(script_source("transition")),
            touch=redis.register_script(script_source("touch")),
            list_live=redis.register_script(script_source("list_live")),
            create=redis.register_script(script_source("create")),
        )
