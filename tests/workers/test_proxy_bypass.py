"""Which destinations skip a session's upstream proxy (decided by the egress guard, never by Chromium)."""

import pytest

from workers.egress.bypass import BypassRules


@pytest.mark.parametrize(
    ("rules", "host", "port", "bypassed"),
    [
        ("example.com", "example.com", 443, True),
        ("example.com", "www.example.com", 443, False),
        (".example.com", "example.com", 80, True),
        (".example.com", "a.b.example.com", 80, True),
        (".example.com", "badexample.com", 80, False),
        ("*.example.com", "www.EXAMPLE.com.", 80, True),
        ("localhost:8080", "localhost", 8080, True),
        ("localhost:8080", "localhost", 8081, False),
        ("10.0.0.0/8; 192.168.1.1", "10.2.3.4", 80, True),
        ("10.0.0.0/8", "0x0a000001", 80, True),  # any spelling of an address in the range
        ("10.0.0.0/8", "11.0.0.1", 80, False),
        ("[::1]/128", "[::1]", 80, True),
        ("<local>", "intranet", 80, True),
        ("<local>", "intranet.example", 80, False),
        ("<-loopback>", "127.0.0.1", 80, False),  # Chromium's own marker: nothing to bypass here
        ("http://example.com", "example.com", 80, True),
        ("", "example.com", 80, False),
        ("not a range/99", "example.com", 80, False),
    ],
)
def test_bypass_rules(rules: str, host: str, port: int, bypassed: bool) -> None:
    assert BypassRules.parse(rules).bypasses(host, port) is bypassed
