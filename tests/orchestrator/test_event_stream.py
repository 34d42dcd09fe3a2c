"""The event stream has one owner (orchestrator/events.py), and what it reads is what the scripts wrote."""

import re

from redis.asyncio import Redis

from orchestrator.events import EventStream
from orchestrator.keys import Keys
from orchestrator.lifecycle import EndReason, SessionStatus
from orchestrator.store import SessionStore
from tests.support import a_record, repo_root

NOW = 1_800_000_000_000
STREAM_COMMANDS = re.compile(r"\.(xread|xreadgroup|xrange|xrevrange|xadd|xtrim|xlen)\(")


def test_no_code_but_the_event_module_touches_a_stream() -> None:
    """Writers other than the Lua scripts and every reader go through orchestrator/events.py."""
    offenders = []
    for package in ("orchestrator", "api", "workers", "browserpool"):
        for path in (repo_root() / package).rglob("*.py"):
            if path.name != "events.py" or path.parent.name != "orchestrator":
                offenders += [f"{path}: {m.group(0)}" for m in STREAM_COMMANDS.finditer(path.read_text())]
    assert offenders == []


async def test_what_is_read_is_what_the_scripts_wrote_in_order(redis: Redis, keys: Keys) -> None:
    store, stream = SessionStore(redis, keys, retention_seconds=60), EventStream(redis, keys)
    session = a_record(created=NOW, timeout=60, idle=60, status=SessionStatus.STARTING)
    start = await stream.newest_id("u1")
    await store.create(session)
    await store.transition(session.session_id, SessionStatus.ACTIVE, NOW + 1)
    await store.warn_expiring([(session.session_id, "u1", NOW + 60_000)])
    await store.transition(session.session_id, SessionStatus.EXPIRED, NOW + 2, reason=EndReason.TIMEOUT)

    events = await stream.after("u1", start)
    assert [(e.type, e.status, e.reason, e.at_ms) for e in events] == [
        ("created", "starting", "", NOW),
        ("active", "active", "", NOW + 1),
        ("expiring", "active", "", NOW + 60_000),
        ("ended", "expired", "timeout", NOW + 2),
    ]
    raw = await redis.xrange(keys.user_events("u1"), f"({start}", "+")
    for event, (event_id, fields) in zip(events, raw, strict=True):  # a webhook body: the entry as written
        assert event.payload() == {"id": event_id, **{k: v for k, v in fields.items() if v != ""}}
        assert list(event.payload()) == ["id", *(k for k, v in fields.items() if v != "")]
    assert await stream.newest_id("u1") == events[-1].id
    assert await stream.after("u1", events[-1].id) == []
    assert [e.id for e in await stream.wait_after("u1", events[1].id, block_ms=10)] == [e.id for e in events[2:]]
