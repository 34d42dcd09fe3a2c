"""The address policies the settings make: what pages and webhooks may reach, with the pool's own ports and
endpoints (read from every `port`/`*_port` setting, the advertised URL and Redis's) refused."""

from urllib.parse import urlsplit

from .addresses import AddressPolicy, url_port
from .config import Settings
from .redis_server import DEFAULT_LOCAL_URL


def own_ports(settings: Settings) -> frozenset[int]:
    """The ports the settings say the pool listens on: every `port`/`*_port` setting, the advertised URL's,
    and Redis's (the configured one, or 6379, which the daemon tries before starting its own on a socket)."""
    ports = {
        value
        for name, value in settings
        if (name == "port" or name.endswith("_port")) and isinstance(value, int) and not isinstance(value, bool)
    }
    for url in (settings.advertise_url, settings.redis_url or DEFAULT_LOCAL_URL):
        port = url_port(url) if url else None
        if port:
            ports.add(port)
    return frozenset(p for p in ports if 0 < p < 65536)


def own_endpoints(settings: Settings) -> frozenset[tuple[str, int]]:
    """The pool's endpoints that may live on other hosts: the Redis it uses."""
    url = settings.redis_url or DEFAULT_LOCAL_URL
    try:
        host, port = urlsplit(url).hostname, url_port(url)
    except ValueError:
        return frozenset()
    return frozenset({(host, port)}) if host and port else frozenset()


def page_policy(settings: Settings) -> AddressPolicy:
    """What a session's pages may reach."""
    return AddressPolicy(
        allow_private=settings.allow_private_networks,
        allow_loopback=settings.allow_loopback,
        own_ports=own_ports(settings),
        own_endpoints=own_endpoints(settings),
    )


def webhook_policy(settings: Settings) -> AddressPolicy:
    """What webhooks may be sent to: as pages, but loopback only where an operator or a test says so."""
    return AddressPolicy(
        allow_private=settings.allow_private_networks,
        allow_loopback=settings.webhooks_allow_loopback,
        own_ports=own_ports(settings),
        own_endpoints=own_endpoints(settings),
    )
