"""Who a request comes from, for limits per client address.

The TCP peer, unless the peer is one of BROWSERPOOL_TRUSTED_PROXIES: then X-Forwarded-For is read from
its end (the hop the trusted proxy itself added) towards its start, past every trusted proxy, and the
first address that is not one is the client. Without trusted proxies the header is ignored, so a client
cannot name itself. An IPv6 client counts by its /64 network (one host usually holds a whole /64).
"""

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> tuple[IpNetwork, ...]:
    """BROWSERPOOL_TRUSTED_PROXIES (comma-separated addresses or networks) as networks."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in setting.split(",") if item.strip())


def client_address(scope: Scope, trusted: Sequence[IpNetwork]) -> str | None:
    """The address (or IPv6 /64) a request is counted under; None when the server did not say who the peer is."""
    peer = scope.get("client")
    if not peer:
        return None
    address = _parse(str(peer[0]))
    if address is None:
        return str(peer[0])
    if _trusted(address, trusted):
        for hop in reversed(_forwarded_for(scope)):
            hop_address = _parse(hop)
            if hop_address is None:
                break  # garbage in the header: the last trustworthy hop is the client
            address = hop_address
            if not _trusted(address, trusted):
                break
    return _bucket(address)


def _forwarded_for(scope: Scope) -> list[str]:
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(part.strip() for part in value.decode("latin-1").split(","))
    return hops


def _parse(text: str) -> IpAddress | None:
    """An address, also written with a port (`1.2.3.4:80`, `[2001:db8::1]:80`)."""
    for candidate in (text, text.rsplit(":", 1)[0] if text.count(":") == 1 or text.startswith("[") else ""):
        try:
            return ipaddress.ip_address(candidate.strip("[]"))
        except ValueError:
            continue
    return None


def _trusted(address: IpAddress, trusted: Sequence[IpNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _bucket(address: IpAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
