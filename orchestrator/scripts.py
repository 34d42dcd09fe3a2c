"""The Lua scripts of orchestrator/lua, registered once per Redis client."""

from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def _source(name: str) -> str:
    return resources.files("orchestrator").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Scripts:
    transition: AsyncScript
    touch: AsyncScript
    list_live: AsyncScript
    create: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> "Scripts":
        return cls(
            transition=redis.register_script(_source("transition")),
            touch=redis.register_script(_source("touch")),
            list_live=redis.register_script(_source("list_live")),
            create=redis.register_script(_source("create")),
        )
