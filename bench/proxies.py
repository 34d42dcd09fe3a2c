"""Scenario: sessions with an upstream proxy vs direct ones, same daemon, same run.

A proxied session never takes a ready context (its context is made for its route through the guard), so its
create is measured against a direct create (which does); and a page load (REST navigate to the local site)
through a local proxy.py (HTTP, Basic auth) and a local asyncio-socks-server (SOCKS5, username/password)
against the same load direct. Rounds are interleaved so drift on a shared machine hits every variant alike.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from .results import Row, ScenarioResult
from .servers import LOOPBACK, free_port, wait_for_port
from .stats import summarize
from .timing import Budget, Measured, sample, timed

NAME = "proxied sessions"
PATH = "/v1/browser/sessions/"
USER, PASSWORD = "bench", "bench-proxy-password"


@contextmanager
def upstreams() -> Iterator[dict[str, dict[str, Any]]]:
    """A proxy.py and an asyncio-socks-server on loopback, each as a session's `proxy` body."""
    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="browserpool-bench-proxy-"))
    (work / "socks.json").write_text(json.dumps({"USERS": {USER: PASSWORD}}))
    http_port, socks_port = free_port(), free_port()
    commands = {
        "http": [str(bin_dir / "proxy"), "--hostname", LOOPBACK, "--port", str(http_port),
                 "--basic-auth", f"{USER}:{PASSWORD}", "--num-acceptors", "1", "--num-workers", "1"],
        "socks5": [str(bin_dir / "asyncio_socks_server"), "-H", LOOPBACK, "-P", str(socks_port), "-A", "2",
                   "--config", str(work / "socks.json")],
    }  # fmt: skip
    processes = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for argv in commands.values()
    ]
    try:
        for port in (http_port, socks_port):
            if not wait_for_port(port, 20):
                raise RuntimeError(f"a proxy did not listen on {port}")
        yield {
            scheme: {"server": f"{scheme}://{LOOPBACK}:{port}", "username": USER, "password": PASSWORD}
            for scheme, port in (("http", http_port), ("socks5", socks_port))
        }
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


def start(client: httpx.AsyncClient, proxy: dict[str, Any] | None) -> Measured:
    body = {"proxy": proxy} if proxy else {}

    async def once() -> float:
        ms, created = await timed(client.post(PATH, json=body))
        if created.status_code != 201:
            raise RuntimeError(f"create answered {created.status_code}: {created.text[:300]}")
        await client.delete(f"{PATH}{created.json()['session_id']}")
        return ms

    return once


def load(client: httpx.AsyncClient, session_id: str, url: str) -> Measured:
    async def once() -> float:
        ms, answer = await timed(client.post(f"{PATH}{session_id}/navigate", json={"url": url}))
        if answer.status_code != 200:
            raise RuntimeError(f"navigate answered {answer.status_code}: {answer.text[:300]}")
        return ms

    return once


async def run(client: httpx.AsyncClient, site: str, budget: Budget) -> ScenarioResult:
    out = ScenarioResult(NAME)
    with upstreams() as proxies:
        variants: dict[str, dict[str, Any] | None] = {"direct": None, **proxies}
        starts: dict[str, list[float]] = {}
        loads: dict[str, list[float]] = {}
        sessions = {}
        for label, proxy in variants.items():
            created = await client.post(PATH, json={"proxy": proxy} if proxy else {})
            sessions[label] = created.json()["session_id"]
        try:
            for _ in range(2):
                for label, proxy in variants.items():
                    op = start(client, proxy)
                    starts.setdefault(label, []).extend(await sample(op, budget.count(30), budget.seconds(30), 3))
                    op = load(client, sessions[label], site + "/")
                    loads.setdefault(label, []).extend(await sample(op, budget.count(40), budget.seconds(30), 3))
        finally:
            for session_id in sessions.values():
                await client.delete(f"{PATH}{session_id}")
    for what, figures in (("create", starts), ("page load", loads)):
        summaries = {label: summarize(samples) for label, samples in figures.items()}
        base = summaries["direct"]
        for label in proxies:
            row = Row.of(NAME, f"{what} through a local {label} proxy", "ms", summaries[label], baseline_p50=base.p50)
            row.baseline_label = f"direct {what}, same run"
            row.notes = f"adds {summaries[label].p50 - base.p50:.1f} ms at p50"
            out.rows.append(row)
        out.rows.append(Row.of(NAME, f"[baseline] direct {what}", "ms", base))
        out.raw[what] = {label: s.as_dict() for label, s in summaries.items()}
    return out
