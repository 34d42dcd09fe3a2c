"""The one address policy: where traffic a tenant causes may go, and at which checked address.

Pages (every request, through the worker's egress guard in workers/egress/guard.py) and webhooks (when one is
added, and again at every delivery in webhook_delivery.py) ask the same question here. The answer never
depends on how the host is spelled: decimal, hex or octal IPv4, IPv4 inside IPv6 (mapped, translated,
compatible, NAT64, 6to4, Teredo), brackets, zone ids, percent escapes, letter case, full-width digits
and trailing dots all reduce to addresses first (orchestrator/host_spelling.py), and every address a name
resolves to must pass.

Always refused, whatever the settings: the cloud metadata endpoints below, all of link-local
(169.254.0.0/16, fe80::/10), unspecified, multicast and reserved addresses, and the pool's own ports
(API, worker, Redis, every browser's debugging port) on this host's addresses. Loopback and private
ranges are settings (`BROWSERPOOL_ALLOW_LOOPBACK`, `BROWSERPOOL_ALLOW_PRIVATE_NETWORKS`; webhooks have
`BROWSERPOOL_WEBHOOKS_ALLOW_LOOPBACK`, off by default).
"""

import asyncio
import ipaddress
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit

from .host_spelling import Address, canonical_host, judged_as, literal_address

Resolver = Callable[[str, int], Awaitable[Sequence[Address]]]

# Cloud metadata endpoints (instance credentials live there). Keep this list up to date: an entry here
# is refused even where the settings allow private ranges and loopback.
METADATA_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), provider)
    for net, provider in (
        ("169.254.169.254/32", "AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack, Hetzner, IBM Cloud metadata"),
        ("169.254.170.2/32", "AWS ECS task metadata"),
        ("169.254.0.23/32", "Tencent Cloud metadata"),
        ("fd00:ec2::254/128", "AWS metadata over IPv6"),
        ("168.63.129.16/32", "Azure wire server"),
        ("100.100.100.200/32", "Alibaba Cloud metadata"),
        ("192.0.0.192/32", "Oracle Cloud metadata (legacy)"),
    )
)
METADATA_NAMES: dict[str, str] = {
    "metadata.google.internal": "GCP metadata",
    "metadata.goog": "GCP metadata",
    "metadata": "GCP metadata (short name)",
    "instance-data": "AWS metadata",
    "instance-data.ec2.internal": "AWS metadata",
    "metadata.tencentyun.com": "Tencent Cloud metadata",
    "metadata.platformequinix.com": "Equinix Metal metadata",
    "metadata.packet.net": "Equinix Metal metadata",
}
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

# Ports of the pool learned only at run time (each browser's debugging port), for the whole process:
# every policy in it refuses them on this host's addresses. Counted, so two holders can share a port.
_run_time_ports: Counter[int] = Counter()


def hold_own_port(port: int) -> None:
    _run_time_ports[port] += 1


def release_own_port(port: int) -> None:
    _run_time_ports[port] -= 1
    if _run_time_ports[port] <= 0:
        del _run_time_ports[port]


class Checked(NamedTuple):
    """The address to connect to, or why the destination is refused (exactly one is set)."""

    address: Address | None
    refusal: str | None


async def system_resolver(host: str, port: int) -> list[Address]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]


def metadata_provider(address: Address) -> str | None:
    return next((provider for net, provider in METADATA_NETWORKS if address in net), None)


def is_this_host(address: Address) -> bool:
    """Whether the address is one of this machine's own (so a connection to it reaches our listeners)."""
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))  # only an address assigned to a local interface can be bound
        except OSError:
            return False
    return True


def url_port(url: str) -> int | None:
    """The port a URL names, or its scheme's default; None where it has none (unix sockets, bad URLs)."""
    try:
        parts = urlsplit(url)
        return parts.port or DEFAULT_PORTS.get(parts.scheme) or (6379 if parts.scheme.startswith("redis") else None)
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = True
    allow_loopback: bool = True
    own_ports: frozenset[int] = frozenset()  # the pool's, refused on this host's addresses
    own_endpoints: frozenset[tuple[str, int]] = frozenset()  # the pool's on other hosts (a remote Redis)
    resolver: Resolver = field(default=system_resolver, compare=False)

    def refuses_name(self, name: str) -> str | None:
        provider = METADATA_NAMES.get(canonical_host(name))
        return f"cloud metadata name ({provider})" if provider else None

    def refuses(self, address: Address, port: int) -> str | None:
        """Why this address and port are refused, or None if they are allowed."""
        for judged in judged_as(address):
            why = self._refuses_one(judged, port)
            if why:
                return why
        return None

    def _refuses_one(self, address: Address, port: int) -> str | None:
        provider = metadata_provider(address)
        if provider:
            return f"cloud metadata address ({provider})"
        if address.is_link_local:
            return "link-local address"
        if address.is_unspecified or address.is_multicast:
            return "unspecified or multicast address"
        if (port in self.own_ports or port in _run_time_ports) and is_this_host(address):
            return "the pool's own port"
        if address.is_loopback:
            return None if self.allow_loopback else "loopback address"
        if address.is_reserved:
            return "reserved address"
        if not address.is_global and not self.allow_private:
            return "private address"
        return None

    async def check(self, host: str, port: int) -> Checked:
        """Resolve `host` (any spelling), check every address it has, and answer the one to connect to."""
        name = canonical_host(host)
        why = "no host" if not name else "port out of range" if not 0 < port < 65536 else self.refuses_name(name)
        if why:
            return Checked(None, why)
        addresses = await self._addresses(name, port)
        if not addresses:
            return Checked(None, "name does not resolve")
        for address in addresses:  # refuse if ANY answer is forbidden: a mixed answer is an attack
            why = self.refuses(address, port)
            if why:
                return Checked(None, why)
        if await self._is_own_endpoint(addresses, port):
            return Checked(None, "the pool's own port")
        return Checked(addresses[0], None)

    async def check_url(self, url: str) -> Checked:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            return Checked(None, "not a valid URL")
        return await self.check(host, port)

    async def _addresses(self, name: str, port: int) -> list[Address]:
        literal = literal_address(name)
        if literal is not None:
            return [literal]
        try:
            return list(await self.resolver(name, port))
        except (OSError, UnicodeError, ValueError):
            return []

    async def _is_own_endpoint(self, addresses: Iterable[Address], port: int) -> bool:
        for host, own_port in self.own_endpoints:
            if own_port == port and set(addresses) & set(await self._addresses(canonical_host(host), port)):
                return True
        return False
