"""The one address policy (orchestrator/addresses.py), decided without sending a byte.

Names are resolved by the system resolver ("localhost") or, where a test needs a DNS answer it cannot get
from this machine (a name that answers a metadata address, or changes its answer), by a resolver the test
injects: that stands in for DNS only; the policy under test is the real one.
"""

import ipaddress
import shutil
import subprocess
from collections.abc import Sequence

import pytest

from orchestrator.address_policies import own_endpoints, own_ports, page_policy, webhook_policy
from orchestrator.addresses import AddressPolicy, Resolver, hold_own_port, release_own_port
from orchestrator.config import Settings
from orchestrator.host_spelling import Address

# The most permissive policy there is: private ranges and loopback allowed.
OPEN = AddressPolicy(allow_private=True, allow_loopback=True)

METADATA_SPELLINGS = [
    "169.254.169.254",
    "169.254.169.254.",
    "2852039166",  # one decimal number
    "0xa9fea9fe",  # hex
    "0XA9FEA9FE",
    "0251.0376.0251.0376",  # octal parts
    "0xa9.0xfe.0xa9.0xfe",  # hex parts
    "169.254.43518",  # three parts
    "169.16689662",  # two parts
    "%31%36%39.254.169.254",  # percent escapes
    "\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14",  # full-width digits
    "169\u3002254\u3002169\u3002254",  # ideographic full stops
    "[::ffff:169.254.169.254]",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "::ffff:0:a9fe:a9fe",  # IPv4-translated (SIIT)
    "64:ff9b::a9fe:a9fe",  # NAT64
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::a9fe:a9fe",  # NAT64, local-use prefix
    "::169.254.169.254",  # IPv4-compatible
    "2002:a9fe:a9fe::1",  # 6to4
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254
    "fd00:ec2::254",  # AWS over IPv6
    "[fd00:ec2:0:0:0:0:0:254]",
    "168.63.129.16",  # Azure wire server
    "2822734096",
    "100.100.100.200",  # Alibaba
    "0x646464c8",
    "192.0.0.192",  # Oracle
    "169.254.0.23",  # Tencent
    "169.254.170.2",  # AWS ECS
    "metadata.google.internal",
    "METADATA.GOOGLE.INTERNAL.",
    "metadata.goog",
    "metadata",
    "instance-data",
    "metadata.tencentyun.com",
    "169.254.0.1",  # any link-local
    "fe80::1",
    "[fe80::1%25eth0]",
    "0",  # unspecified (Linux connects it to this host)
    "::",
]


def answers(table: dict[str, Sequence[str]]) -> Resolver:
    """A resolver that answers from `table` (the DNS a test needs), the system's for anything else."""

    async def resolve(host: str, port: int) -> list[Address]:
        if host in table:
            return [ipaddress.ip_address(a) for a in table[host]]
        return list(await AddressPolicy().resolver(host, port))

    return resolve


def this_hosts_other_address() -> str | None:
    if shutil.which("ip") is None:
        return None
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        address = line.split()[3].partition("/")[0]
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
async def test_metadata_and_link_local_are_refused_in_every_spelling(host: str) -> None:
    for port in (80, 443, 8080):
        address, why = await OPEN.check(host, port)
        assert address is None and why, (host, port)
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host
    assert (await OPEN.check_url(f"http://{bracketed}/")).refusal


async def test_a_name_that_resolves_to_metadata_is_refused_even_among_good_answers() -> None:
    policy = AddressPolicy(resolver=answers({"nice.test": ["203.0.113.7", "169.254.169.254"]}))
    assert str((await policy.check("nice.test", 80)).refusal).startswith("cloud metadata address")
    policy = AddressPolicy(resolver=answers({"aaaa.test": ["2001:db8::1", "fd00:ec2::254"]}))
    assert "metadata" in str((await policy.check("aaaa.test", 80)).refusal)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "[::1]", "127.1", "0x7f.1", "::ffff:127.0.0.1"])
async def test_loopback_follows_its_setting_and_is_never_called_reserved(host: str) -> None:
    assert (await OPEN.check(host, 80)).refusal is None
    assert (await AddressPolicy(allow_loopback=False).check(host, 80)).refusal == "loopback address"


async def test_localhost_resolving_to_ipv6_loopback_is_loopback_not_reserved() -> None:
    policy = AddressPolicy(resolver=answers({"localhost": ["::1"]}))
    assert (await policy.check("localhost", 80)).address == ipaddress.ip_address("::1")


async def test_private_ranges_follow_their_setting() -> None:
    closed = AddressPolicy(allow_private=False)
    for host in ("10.1.2.3", "192.168.1.1", "172.16.0.1", "100.64.0.1", "fd12::1"):
        assert (await OPEN.check(host, 80)).address == ipaddress.ip_address(host)
        assert (await closed.check(host, 80)).refusal == "private address", host
    assert (await closed.check("1.1.1.1", 80)).address == ipaddress.ip_address("1.1.1.1")


async def test_reserved_multicast_and_bad_ports_are_refused() -> None:
    for host in ("240.0.0.1", "255.255.255.255", "224.0.0.1", "ff02::1"):
        assert (await OPEN.check(host, 80)).refusal, host
    assert (await OPEN.check("1.1.1.1", 0)).refusal == "port out of range"
    assert (await OPEN.check("1.1.1.1", 70000)).refusal == "port out of range"
    assert (await OPEN.check("", 80)).refusal == "no host"
    assert (await OPEN.check("no-such-name.invalid", 80)).refusal == "name does not resolve"


async def test_the_pools_own_ports_are_refused_on_every_address_of_this_host() -> None:
    policy = AddressPolicy(allow_loopback=True, own_ports=frozenset({8123}))
    for host in ("127.0.0.1", "127.0.0.9", "localhost", "::1", "::ffff:127.0.0.1", "2130706433"):
        assert (await policy.check(host, 8123)).refusal == "the pool's own port", host
        assert (await policy.check(host, 8124)).refusal is None, host
    other = this_hosts_other_address()
    if other is not None:  # reached through the host's own network address
        assert (await policy.check(other, 8123)).refusal == "the pool's own port"
    assert (await policy.check("10.255.255.1", 8123)).refusal is None  # not this host: somebody else's 8123


async def test_ports_learned_at_run_time_are_refused_by_every_policy_until_released() -> None:
    pages, hooks = AddressPolicy(), AddressPolicy(allow_loopback=True)
    hold_own_port(41999)
    try:
        assert (await pages.check("127.0.0.1", 41999)).refusal == "the pool's own port"
        assert (await hooks.check("localhost", 41999)).refusal == "the pool's own port"
    finally:
        release_own_port(41999)
    assert (await pages.check("127.0.0.1", 41999)).refusal is None


def test_the_pools_own_ports_come_from_the_settings() -> None:
    settings = Settings(port=8123, redis_url="redis://:pw@127.0.0.1:7001/0", advertise_url="http://worker-1:9001")
    assert {8123, 7001, 9001} <= own_ports(settings)
    assert 6379 in own_ports(Settings(redis_url=None))  # the daemon tries 127.0.0.1:6379 first
    assert own_ports(Settings(port=8123, redis_url="unix:///run/redis.sock")) == {8123}
    policy = page_policy(Settings(allow_loopback=False, allow_private_networks=False))
    assert not policy.allow_loopback and not policy.allow_private
    assert not webhook_policy(Settings()).allow_loopback  # webhooks: loopback only when said so
    assert webhook_policy(Settings(webhooks_allow_loopback=True)).allow_loopback


async def test_a_remote_redis_of_the_pool_is_refused_on_its_port() -> None:
    settings = Settings(redis_url="redis://redis.internal:6380/0")
    assert own_endpoints(settings) == {("redis.internal", 6380)}
    dns = answers({"redis.internal": ["10.9.8.7"], "alias.test": ["10.9.8.7"]})
    policy = AddressPolicy(own_endpoints=own_endpoints(settings), resolver=dns)
    assert (await policy.check("10.9.8.7", 6380)).refusal == "the pool's own port"
    assert (await policy.check("alias.test", 6380)).refusal == "the pool's own port"
    assert (await policy.check("10.9.8.7", 80)).refusal is None
