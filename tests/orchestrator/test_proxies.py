"""What a proxy a user names may be, and what of it is shown: never the password."""

import pytest

from orchestrator.addresses import AddressPolicy
from orchestrator.config import Settings
from orchestrator.create_policy import CreatePolicy
from orchestrator.errors import InvalidInput
from orchestrator.models import SessionRequest
from orchestrator.proxies import ProxyInvalid, always_refused, make_proxy, proxy_from_url


def test_a_proxy_shows_its_server_and_user_never_its_password() -> None:
    proxy = make_proxy("SOCKS5://[2001:db8::1]", "u", "s3cret", ".example.com")
    assert (proxy.scheme, proxy.host, proxy.port) == ("socks5", "2001:db8::1", 1080)
    assert proxy.public() == {"server": "socks5://[2001:db8::1]:1080", "username": "u"}
    assert "s3cret" not in repr(proxy)


def test_the_default_proxy_url_carries_percent_encoded_credentials() -> None:
    proxy = proxy_from_url("http://us%40er:p%3Ass@proxy.example:3128")
    assert (proxy.server, proxy.username, proxy.password) == ("http://proxy.example:3128", "us@er", "p:ss")


@pytest.mark.parametrize(
    "server",
    ["proxy.example:80", "socks4://p:1", "http://", "http://p:0x50", "http://p:1/x", "http://p:1?q", "http://a b:1"],
)
def test_unusable_servers_are_refused(server: str) -> None:
    with pytest.raises(ProxyInvalid):
        make_proxy(server)


def test_a_bad_default_proxy_stops_the_settings_without_echoing_it() -> None:
    with pytest.raises(ValueError) as bad:
        Settings(default_proxy="ftp://u:hunter2@p:1")
    assert "hunter2" not in str(bad.value)


def test_metadata_and_link_local_proxies_are_refused_from_their_spelling() -> None:
    policy = AddressPolicy()
    assert always_refused(make_proxy("http://169.254.169.254:80"), policy)
    assert always_refused(make_proxy("http://metadata.google.internal:80"), policy)
    assert always_refused(make_proxy("http://127.0.0.1:3128"), policy) is None  # loopback: checked when connecting
    assert always_refused(make_proxy("http://proxy.example:3128"), policy) is None


def test_the_create_policy_applies_the_default_and_the_opt_out() -> None:
    default = proxy_from_url("http://u:p@proxy.example:3128")
    asked = SessionRequest(viewport_width=800, viewport_height=600)
    strict = CreatePolicy(default_proxy=default, allow_direct=False)
    assert strict.proxy_for(asked) == default
    with pytest.raises(InvalidInput):
        strict.proxy_for(SessionRequest(viewport_width=800, viewport_height=600, proxy=None))
    assert (
        CreatePolicy(default_proxy=default).proxy_for(
            SessionRequest(viewport_width=800, viewport_height=600, proxy=None)
        )
        is None
    )
    own = make_proxy("socks5://own.example:1080")
    assert strict.proxy_for(SessionRequest(viewport_width=800, viewport_height=600, proxy=own)) == own
