"""Per-user CDP totals against a real Redis: two CdpTotals on one Redis are two API nodes."""

import asyncio
import time

import pytest
from redis.asyncio import Redis

from orchestrator.cdp_totals import CdpConnection, CdpTotals, CdpUserLimits
from orchestrator.errors import QuotaExceeded
from orchestrator.keys import Keys
from orchestrator.redis_connect import connect_redis
from tests.support import free_port


async def test_the_socket_cap_holds_across_nodes_and_a_dead_nodes_sockets_lapse(redis: Redis, keys: Keys) -> None:
    limits = CdpUserLimits(sockets=3)
    node_a, node_b = CdpTotals(redis, keys, limits, lease_ms=600), CdpTotals(redis, keys, limits, lease_ms=600)
    on_a = [await node_a.open("alice"), await node_a.open("alice")]
    on_b = await node_b.open("alice")
    with pytest.raises(QuotaExceeded) as refused:
        await node_b.open("alice")
    assert refused.value.retry_after and refused.value.retry_after > 0
    assert "3 CDP connections" in str(refused.value)
    other = await node_a.open("bob")  # another user's cap is their own

    for connection in on_a:  # node A dies: its leases are neither renewed nor given back
        assert connection._renewer is not None
        connection._renewer.cancel()
    await asyncio.sleep(1.0)  # past A's leases; B's live one was renewed meanwhile
    more = [await node_b.open("alice"), await node_b.open("alice")]
    with pytest.raises(QuotaExceeded):
        await node_b.open("alice")

    await on_b.close()
    await on_b.close()  # safe twice
    again = await node_b.open("alice")  # a closed connection gives its place back at once
    for connection in [*more, again, other]:
        await connection.close()


async def _spend_for(connection: CdpConnection, seconds: float, size: int = 100) -> int:
    """Messages spent as fast as the budget lets, for `seconds`."""
    spent, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        await connection.budget.spend(size)
        spent += 1
    return spent


async def test_a_users_rate_is_shared_by_all_their_connections_on_every_node(redis: Redis, keys: Keys) -> None:
    rate, burst, seconds = 200.0, 0.5, 2.0
    limits = CdpUserLimits(sockets=0, commands_per_second=rate, bytes_per_second=0, burst_seconds=burst)
    nodes = [CdpTotals(redis, keys, limits), CdpTotals(redis, keys, limits)]
    connections = [await node.open("alice") for node in nodes for _ in range(3)]
    started = time.monotonic()
    spent = await asyncio.gather(*(_spend_for(c, seconds) for c in connections))
    elapsed = time.monotonic() - started
    chunk_slack = 2 * rate * 0.05 + 2  # each node may hold one chunk taken ahead
    assert sum(spent) <= rate * burst + rate * elapsed + chunk_slack, (spent, elapsed)
    assert sum(spent) >= rate * seconds * 0.8, spent  # paced, not stopped
    assert all(n > 0 for n in spent), spent  # every connection got its turn

    bob = await nodes[0].open("bob")  # another user's budget is untouched: a burst passes at once
    started = time.monotonic()
    for _ in range(int(rate * burst * 0.8)):
        await bob.budget.spend(100)
    assert time.monotonic() - started < 0.5
    for connection in [*connections, bob]:
        await connection.close()


async def test_bytes_are_budgeted_too_and_a_large_message_waits_its_share(redis: Redis, keys: Keys) -> None:
    limits = CdpUserLimits(sockets=0, commands_per_second=0, bytes_per_second=100_000, burst_seconds=1.0)
    connection = await CdpTotals(redis, keys, limits).open("alice")
    started = time.monotonic()
    await connection.budget.spend(90_000)  # within the burst
    assert time.monotonic() - started < 0.3
    await connection.budget.spend(110_000)  # 200,000 of a 100,000 burst: one more second's worth
    assert 0.7 < time.monotonic() - started < 2.0
    await connection.close()


async def test_without_redis_the_budget_goes_unpaced_rather_than_stalling(keys: Keys) -> None:
    gone = connect_redis(f"redis://127.0.0.1:{free_port()}/0")
    limits = CdpUserLimits(sockets=0, commands_per_second=10, bytes_per_second=1000, burst_seconds=0.1)
    try:
        totals = CdpTotals(gone, keys, limits)
        connection = await totals.open("alice")
        started = time.monotonic()
        for _ in range(50):
            await connection.budget.spend(500)
        assert time.monotonic() - started < 2.0
        await connection.close()
    finally:
        await gone.aclose()
