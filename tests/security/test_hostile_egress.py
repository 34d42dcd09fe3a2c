"""Metadata canaries: a hostile page tries every spelling of every cloud metadata address, and not one byte
arrives.

The test makes a network namespace of its own (`unshare -n`, as root), puts the metadata addresses on its
loopback (169.254.169.254, 100.100.100.200, 168.63.129.16, 192.0.0.192, fd00:ec2::254), and runs a
listener on each that logs every byte it receives; a control listener on 10.20.30.40 (a private address
the policy allows) shows traffic really can arrive there. Inside the namespace it runs the real egress
guard (workers.egress.guard.EgressProxy with the most permissive settings: private ranges and loopback allowed)
and drives it two ways:

- a raw HTTP client sends proxy requests (absolute-form GET and CONNECT) for each spelling exactly as
  written, the way a page's request reaches the guard;
- a real Chromium (headless shell) with the guard as its proxy navigates to and fetch()es the spellings
  as a page would (Chromium canonicalizes them first).

The whole daemon does not run inside the namespace (its Redis and API are not needed for this): the part
under test is the guard and the address policy it asks. No traffic leaves the namespace: it has no
interface but its own loopback.
"""

import asyncio
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CANARIES_V4 = ["169.254.169.254", "100.100.100.200", "168.63.129.16", "192.0.0.192"]
CANARY_V6 = "fd00:ec2::254"
CONTROL = "10.20.30.40"
PORTS = (80, 443)


def spellings(ipv4: str) -> list[str]:
    """Hosts (as written in a URL) that all mean `ipv4`: browsers and libc accept each of these."""
    a = ipaddress.IPv4Address(ipv4)
    n, octets = int(a), [int(o) for o in ipv4.split(".")]
    hi, lo = n >> 16, n & 0xFFFF
    return [
        ipv4,
        ipv4 + ".",
        str(n),
        hex(n),
        hex(n).upper().replace("0X", "0x"),
        ".".join(f"0{o:o}" for o in octets),
        ".".join(hex(o) for o in octets),
        f"{octets[0]}.{octets[1]}.{(octets[2] << 8) + octets[3]}",
        f"{octets[0]}.{n & 0xFFFFFF}",
        "%3" + ipv4[0] + ipv4[1:],  # the first digit percent-escaped
        f"[::ffff:{ipv4}]",
        f"[::ffff:{hi:x}:{lo:x}]",
        f"[0:0:0:0:0:ffff:{hi:x}:{lo:x}]",
        f"[::ffff:0:{ipv4}]",  # IPv4-translated
        f"[64:ff9b::{ipv4}]",  # NAT64
        f"[::{ipv4}]",  # IPv4-compatible
        f"[2002:{hi:x}:{lo:x}::1]",  # 6to4
    ]


V6_SPELLINGS = ["[fd00:ec2::254]", "[fd00:ec2:0:0:0:0:0:254]", "[FD00:EC2::254]", "[fd00:0ec2::0254]"]


# --- inside the namespace -------------------------------------------------------------------------------


class Canary:
    """A listener that logs every byte it receives."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connections = 0
        self.received = b""

    async def start(self) -> asyncio.Server:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                while chunk := await asyncio.wait_for(reader.read(65536), 2):
                    self.received += chunk
                    if b"\r\n\r\n" in self.received:
                        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret")
                        await writer.drain()
                        break
            except (TimeoutError, ConnectionError):
                pass
            writer.close()

        return await asyncio.start_server(accept, self.host, self.port)


def bring_up_addresses() -> None:
    commands = [["ip", "link", "set", "lo", "up"]]
    commands += [["ip", "addr", "add", f"{a}/32", "dev", "lo"] for a in [*CANARIES_V4, CONTROL]]
    commands += [["ip", "-6", "addr", "add", f"{CANARY_V6}/128", "dev", "lo", "nodad"]]
    for command in commands:
        subprocess.run(command, check=True)


async def proxy_request(proxy_port: int, raw: bytes) -> bytes:
    """Send one raw request to the guard; its whole answer (a refusal closes the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(raw)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(4096), 3)
        if answer.startswith(b"HTTP/1.1 200 Connection Established"):
            writer.write(b"GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            answer += await asyncio.wait_for(reader.read(4096), 3)
    except TimeoutError:
        answer = b"<no answer>"
    writer.close()
    return answer


async def raw_client_attempts(proxy_port: int) -> dict[str, str]:
    hosts = [h for v4 in CANARIES_V4 for h in spellings(v4)] + V6_SPELLINGS
    answers: dict[str, str] = {}
    for host in hosts:
        for port in PORTS:
            get = f"GET http://{host}:{port}/latest/meta-data/ HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            connect = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
            answers[f"GET {host}:{port}"] = (await proxy_request(proxy_port, get)).decode("latin-1")[:60]
            answers[f"CONNECT {host}:{port}"] = (await proxy_request(proxy_port, connect)).decode("latin-1")[:60]
    control = f"GET http://{CONTROL}/ HTTP/1.1\r\nHost: {CONTROL}\r\n\r\n".encode()
    answers["control"] = (await proxy_request(proxy_port, control)).decode("latin-1")[:60]
    return answers


async def chromium_attempts(proxy_port: int) -> dict[str, Any]:
    """A real page, through the guard: navigations and fetches to each spelling (Chromium canonicalizes them)."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    from workers.chromium.find import ensure_chromium

    urls = [f"http://{h}/latest/meta-data/" for v4 in CANARIES_V4 for h in spellings(v4)]
    urls += [f"http://{h}/latest/meta-data/" for h in V6_SPELLINGS] + [f"https://{CANARIES_V4[0]}/"]
    proxy = [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
    outcome: dict[str, Any] = {"navigations": {}, "fetches": None}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=ensure_chromium(None), args=proxy)
        for url in urls:
            page = await browser.new_page()  # one each: a failed load's late error page cuts the next one short
            try:
                response = await page.goto(url, timeout=5000)
                outcome["navigations"][url] = f"loaded {response.status if response else None}"
            except PlaywrightError as exc:
                outcome["navigations"][url] = str(exc).splitlines()[0][:80]
            await page.close()
        page = await browser.new_page()
        await page.goto(f"http://{CONTROL}/")
        script = "urls => Promise.all(urls.map(u => fetch(u, {mode: 'no-cors'}).then(() => 'sent', () => 'failed')))"
        outcome["fetches"] = await page.evaluate(script, urls)
        await browser.close()
    return outcome


async def inside() -> dict[str, Any]:
    from orchestrator.addresses import AddressPolicy
    from workers.egress.guard import EgressProxy

    bring_up_addresses()
    canaries = [Canary(a, p) for a in [*CANARIES_V4, CANARY_V6] for p in PORTS]
    control = Canary(CONTROL, 80)
    servers = [await c.start() for c in [*canaries, control]]
    guard = EgressProxy(AddressPolicy(allow_private=True, allow_loopback=True))
    await guard.start()
    try:
        answers = await raw_client_attempts(guard.port)
        control_by_client = len(control.received)
        chromium = await chromium_attempts(guard.port)
    finally:
        await guard.stop()
        for server in servers:
            server.close()
    return {
        "canaries": {f"{c.host}:{c.port}": [c.connections, c.received.decode("latin-1")[:200]] for c in canaries},
        "control_bytes_from_client": control_by_client,
        "control_bytes": len(control.received),
        "answers": answers,
        "chromium": chromium,
    }


# --- the test -------------------------------------------------------------------------------------------


def namespaces_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root to make a network namespace"
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    return f"needs {', '.join(missing)}" if missing else None


@pytest.mark.skipif(namespaces_available() is not None, reason=str(namespaces_available()))
def test_no_spelling_of_any_metadata_address_gets_a_byte_through_the_guard() -> None:
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "tests.security.test_hostile_egress", "--inside"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    touched = {canary: seen for canary, seen in report["canaries"].items() if seen[0] or seen[1]}
    assert touched == {}, touched  # not a connection, not a byte
    assert report["control_bytes_from_client"] > 0 and report["control_bytes"] > 0  # traffic can arrive there
    assert report["answers"]["control"].startswith("HTTP/1.1 200 OK")
    for attempt, answer in report["answers"].items():
        if attempt.startswith("CONNECT"):
            assert answer.startswith("HTTP/1.1 403 Forbidden"), (attempt, answer)
        elif attempt != "control":
            assert answer in ("", "<no answer>"), (attempt, answer)  # a refused plain request: closed, no page
    navigations = report["chromium"]["navigations"]
    assert navigations and all(outcome.startswith("Page.goto: net::ERR_") for outcome in navigations.values()), (
        navigations
    )
    assert set(report["chromium"]["fetches"]) == {"failed"}


if __name__ == "__main__" and "--inside" in sys.argv:
    print(json.dumps(asyncio.run(inside())))
