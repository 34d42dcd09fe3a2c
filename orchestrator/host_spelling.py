"""How a host's spelling reduces to the addresses the address policy (orchestrator/addresses.py) judges.

A host is looked up as a browser looks it up (escapes, brackets, zone id, letter case, full-width dots and
a trailing dot do not matter); a literal address may be spelled in any form a browser accepts (decimal,
hex or octal IPv4 parts, fewer than four parts); and an IPv6 address that carries an IPv4 one where the
traffic really ends up is judged as that IPv4 address too.
"""

import ipaddress
import unicodedata
from urllib.parse import unquote

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
TRANSLATED_PREFIX = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT "IPv4-translated" addresses


def canonical_host(host: str) -> str:
    """The host as a browser looks it up: escapes, brackets and zone id gone, letters folded, no trailing dot."""
    name = unquote(host).strip().strip("[]").partition("%")[0]
    name = unicodedata.normalize("NFKC", name).replace("\u3002", ".").lower()
    return name.rstrip(".")


def _ipv4_part(part: str) -> int | None:
    """One part of an IPv4 spelling as browsers and inet_aton read it: 0x.. hex, 0.. octal, else decimal."""
    if part.startswith("0x"):
        digits, base, allowed = part[2:], 16, "0123456789abcdef"
    elif len(part) > 1 and part.startswith("0"):
        digits, base, allowed = part[1:], 8, "01234567"
    else:
        digits, base, allowed = part, 10, "0123456789"
    if not part or any(c not in allowed for c in digits):
        return None
    return int(digits, base) if digits else 0


def literal_address(host: str) -> Address | None:
    """The address a (canonical) host spells literally, in any form a browser accepts; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    numbers = [_ipv4_part(p) for p in parts]
    if not 1 <= len(parts) <= 4 or any(n is None for n in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    return ipaddress.IPv4Address(sum(n << (8 * (3 - i)) for i, n in enumerate(head)) + last)


def judged_as(address: Address) -> list[Address]:
    """The addresses a destination is judged as: an IPv6 address carrying an IPv4 one where traffic really ends
    up at the IPv4 address (mapped, translated, compatible, NAT64) is judged as it; 6to4 and Teredo as both."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in TRANSLATED_PREFIX or any(address in prefix for prefix in NAT64_PREFIXES):
        return [low32]
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (not :: or ::1)
        return [low32]
    embedded = [address.sixtofour] if address.sixtofour else []
    embedded += [address.teredo[1]] if address.teredo else []
    return [address, *embedded]
