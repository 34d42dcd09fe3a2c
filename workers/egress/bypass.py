"""Which destinations skip a session's upstream proxy (its `bypass` list), decided by the egress guard.

Chromium is never told the list: it sends everything to the guard, which sends bypassed destinations out
directly, after the same address checks as any other. The list is comma- (or semicolon-) separated, in the
forms Chromium's own proxy bypass rules take:
  example.com          that host exactly          .example.com   it and every subdomain
  *.example.com, a*.b  shell-style wildcards      host:8080      that host on that port only
  10.0.0.0/8, [::1]/128  addresses in a range      <local>        names without a dot (intranet hosts)
"""

import fnmatch
import ipaddress
from dataclasses import dataclass

from orchestrator.host_spelling import canonical_host, literal_address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class _HostRule:
    pattern: str  # lower-case; a leading "." matches the domain and its subdomains
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.pattern.startswith("."):
            return host == self.pattern[1:] or host.endswith(self.pattern)
        return fnmatch.fnmatchcase(host, self.pattern)


@dataclass(frozen=True)
class BypassRules:
    hosts: tuple[_HostRule, ...] = ()
    networks: tuple[Network, ...] = ()
    local_names: bool = False

    @classmethod
    def parse(cls, text: str | None) -> "BypassRules":
        hosts: list[_HostRule] = []
        networks: list[Network] = []
        local_names = False
        for raw in (text or "").replace(";", ",").split(","):
            rule = raw.strip().lower()
            if "://" in rule:
                rule = rule.split("://", 1)[1]  # a scheme prefix: every scheme here goes the same way
            if not rule or rule == "<-loopback>":
                continue
            if rule == "<local>":
                local_names = True
            elif "/" in rule:
                try:
                    networks.append(ipaddress.ip_network(rule.replace("[", "").replace("]", ""), strict=False))
                except ValueError:
                    continue  # not a range: a rule Chromium would not apply either
            else:
                hosts.append(_host_rule(rule))
        return cls(tuple(hosts), tuple(networks), local_names)

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks or self.local_names)

    def bypasses(self, host: str, port: int) -> bool:
        name = canonical_host(host)
        address = literal_address(name)
        if address is not None and any(address in net for net in self.networks if net.version == address.version):
            return True
        if self.local_names and address is None and "." not in name:
            return True
        return any(rule.matches(name, port) for rule in self.hosts)


def _host_rule(rule: str) -> _HostRule:
    host, port = rule, None
    if rule.startswith("["):  # [v6]:port
        host, _, rest = rule[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif rule.count(":") == 1:
        name, _, digits = rule.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    return _HostRule(host, port)
