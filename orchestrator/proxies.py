"""A session's upstream proxy: what a user may name, how it is checked, and what of it may be shown.

A session with a proxy sends all its pages' traffic through the worker's egress guard to that upstream
(workers/egress/routes.py). The password is write-only: it travels from the API node to the worker that
holds the session (workers/remote/wire.py) and lives in that worker's memory only. Records, responses,
events, logs and error messages carry `server` (scheme://host:port) and `username`, never the password.
"""

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .addresses import AddressPolicy
from .host_spelling import canonical_host, literal_address
from .text import has_controls

SCHEMES = ("http", "https", "socks5")
DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080}
HOST_MAX = 253
CREDENTIAL_MAX = 255  # SOCKS5 carries each in one length byte (RFC 1929)
BYPASS_MAX = 2048


class ProxyInvalid(ValueError):
    """A proxy a user named that cannot be used; the message never holds the password."""


@dataclass(frozen=True)
class UpstreamProxy:
    scheme: str  # http, https (TLS to the proxy itself) or socks5
    host: str  # as given (a name, an IPv4 address, or an IPv6 address without brackets)
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bypass: str | None = None  # hosts that go direct (still through the guard): ".example.com,localhost"

    @property
    def server(self) -> str:
        """scheme://host:port, as responses, logs and messages show the proxy."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def public(self) -> dict[str, str]:
        shown = {"server": self.server}
        if self.username is not None:
            shown["username"] = self.username
        return shown


def _no_controls(value: str, what: str) -> None:
    if has_controls(value):
        raise ProxyInvalid(f"{what} must not contain control characters")


def parse_server(server: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `scheme://host:port`; ProxyInvalid says what is wrong with it."""
    _no_controls(server, "proxy server")
    try:
        parts = urlsplit(server)
        port = parts.port
    except ValueError as exc:
        raise ProxyInvalid(f"proxy server is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ProxyInvalid(f"proxy server must start with one of {', '.join(s + '://' for s in SCHEMES)}")
    if parts.username is not None or parts.password is not None:
        raise ProxyInvalid("give the proxy's credentials as username and password, not in server")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyInvalid("proxy server is scheme://host:port, without a path, query or fragment")
    host = parts.hostname or ""
    if not host or len(host) > HOST_MAX:
        raise ProxyInvalid(f"proxy server needs a host of 1-{HOST_MAX} characters")
    if not all(c.isalnum() or c in ".-_:" for c in host) or not host.isascii():
        raise ProxyInvalid("proxy host must be a DNS name or an IP address")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ProxyInvalid("proxy host must be a DNS name or an IP address") from None
    if port == 0:
        raise ProxyInvalid("proxy port must be 1-65535 (leave it out for the scheme's default)")
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def make_proxy(
    server: str, username: str | None = None, password: str | None = None, bypass: str | None = None
) -> UpstreamProxy:
    """A checked UpstreamProxy; ProxyInvalid (without the password in it) if any part cannot be used."""
    scheme, host, port = parse_server(server)
    for value, what in ((username, "proxy username"), (password, "proxy password")):
        if value is not None:
            _no_controls(value, what)
            if not 1 <= len(value.encode()) <= CREDENTIAL_MAX:
                raise ProxyInvalid(f"{what} must be 1-{CREDENTIAL_MAX} bytes")
    if password is not None and username is None:
        raise ProxyInvalid("a proxy password needs a username")
    if bypass is not None:
        _no_controls(bypass, "proxy bypass")
        if len(bypass) > BYPASS_MAX:
            raise ProxyInvalid(f"proxy bypass must be at most {BYPASS_MAX} characters")
    return UpstreamProxy(scheme, host, port, username, password, bypass or None)


def proxy_from_url(url: str) -> UpstreamProxy:
    """BROWSERPOOL_DEFAULT_PROXY: scheme://[user:password@]host:port (user and password percent-encoded)."""
    _no_controls(url, "proxy URL")
    try:
        parts = urlsplit(url)
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError as exc:
        raise ProxyInvalid(f"proxy URL is not valid ({exc})") from None
    return make_proxy(bare, username, password)


def always_refused(proxy: UpstreamProxy, policy: AddressPolicy) -> str | None:
    """Why the proxy can never be reached, told from its spelling alone (a metadata or link-local address or
    name): refused at create. Everything else (names, loopback and private ranges) is checked when connecting."""
    host = canonical_host(proxy.host)
    why = policy.refuses_name(host)
    address = literal_address(host)
    if why is None and address is not None:
        why = AddressPolicy(allow_private=True, allow_loopback=True).refuses(address, proxy.port)
    return why
