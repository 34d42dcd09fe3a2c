"""The CDP policy table, row by row: generated from workers/cdp_policy.POLICY itself.

Every row is exercised on both channels (the root connection and a page session), so a new row is tested
the moment it is written, and every scoping check must have an example below (a new check without one
fails test_every_check_has_an_example). Explicit cases are in test_cdp_scope.py; the real-Chromium side
is tests/security/test_hostile_cdp.py.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from tests.workers.scope_support import (
    BROWSER_SESSION,
    CREATED,
    GUIDANCE,
    PAGE_SESSION,
    THEIRS,
    assert_refused,
    make_scope,
)
from workers.cdp.policy import POLICY, Action, Channel, Check, rule_for
from workers.cdp.scope import Command

# Every domain of the protocol (browser_protocol.json and js_protocol.json, devtools-protocol at
# 5ee78b32, 2026-08). Each must have an explicit row: deny-by-default covers newer ones, but the ones
# Chromium has today were each decided on purpose.
PROTOCOL_DOMAINS = """
Accessibility Ads Animation Audits Autofill BackgroundService BluetoothEmulation Browser CSS CacheStorage
Cast Console CrashReportContext DOM DOMDebugger DOMSnapshot DOMStorage Debugger DeviceAccess
DeviceOrientation DigitalCredentials Emulation EventBreakpoints Extensions FedCm Fetch FileSystem
HeadlessExperimental HeapProfiler IO IndexedDB Input Inspector LayerTree Log Media Memory Network Overlay
PWA Page Performance PerformanceTimeline Preload Profiler Runtime Schema Security ServiceWorker
SmartCardEmulation Storage SystemInfo Target Tethering Tracing WebAudio WebAuthn WebMCP
""".split()


# For each check: parameters it accepts, and parameters it refuses (None: it refuses nothing).
def _examples(files_dir: Path) -> dict[Check, tuple[dict[str, Any], dict[str, Any] | None]]:
    inside = str(files_dir / "upload.txt")
    return {
        Check.URL: ({"url": "https://example.org/"}, {"url": "file:///etc/passwd"}),
        Check.CONTEXT: ({}, {"browserContextId": THEIRS}),
        Check.TARGET: ({"targetId": "T1"}, {"targetId": "T-FOREIGN"}),
        Check.OWN_TARGET: ({}, {"targetId": "T-FOREIGN"}),
        Check.NEW_TARGET: ({}, None),
        Check.ATTACH: ({}, None),
        Check.AUTO_ATTACH: ({"autoAttach": True, "waitForDebuggerOnStart": True}, None),
        Check.DETACH: ({"sessionId": PAGE_SESSION}, {"sessionId": "S-FOREIGN"}),
        Check.BROWSER_SESSION: ({}, None),
        Check.LIST_CONTEXTS: ({}, None),
        Check.LIST_TARGETS: ({}, None),
        Check.CREATE_CONTEXT: ({"disposeOnDetach": True}, {"proxyServer": "http://proxy.example:3128"}),
        Check.DISPOSE_CONTEXT: ({"browserContextId": CREATED}, {"browserContextId": THEIRS}),
        Check.WINDOW_OF_TARGET: ({}, None),
        Check.WINDOW: ({"windowId": 7}, {"windowId": 8}),
        Check.DOWNLOAD_PATH: ({"behavior": "allow", "downloadPath": "/etc"}, None),
        Check.DOWNLOAD: ({"guid": "G1"}, {"guid": "G-FOREIGN"}),
        Check.FILES: ({"files": [inside]}, {"files": ["/etc/passwd"]}),
        Check.DRAG_FILES: (
            {"type": "drop", "x": 1, "y": 1, "data": {"items": [], "files": [inside], "dragOperationsMask": 1}},
            {"type": "drop", "x": 1, "y": 1, "data": {"items": [], "files": ["/etc/passwd"], "dragOperationsMask": 1}},
        ),
        Check.STREAM_SOURCE: ({}, None),
        Check.STREAM: ({"handle": "5"}, {"handle": "6"}),
        Check.PAGE_COOKIES: ({}, {"browserContextId": THEIRS}),
        Check.BROWSER_TARGET: ({}, None),
        Check.NO_OP: ({}, None),
    }


def test_every_check_has_an_example(files_dir: Path) -> None:
    assert set(_examples(files_dir)) == set(Check)


def test_every_protocol_domain_has_a_row_of_its_own() -> None:
    assert sorted(set(PROTOCOL_DOMAINS) - set(POLICY)) == []
    for name in POLICY:  # and every method row belongs to a domain of the protocol
        assert name.partition(".")[0] in PROTOCOL_DOMAINS, name


def test_the_cdp_page_names_every_domain_of_the_table() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "cdp.md").read_text()
    section = page.split("### What CDP may do", 1)[1].split("\n### CDP connection limits", 1)[0]
    for domain in {name.partition(".")[0] for name in POLICY}:
        assert re.search(rf"\b{domain}\b", section), f"docs/cdp.md's 'What CDP may do' does not mention {domain}"


# --- the table, row by row, on both channels ---------------------------------------------------------

CASES = [
    pytest.param(name, channel, id=f"{name}-{channel.value}")
    for name in sorted(POLICY)
    for channel in (Channel.BROWSER, Channel.TARGET)
]


def _method(name: str) -> str:
    """The method a row is exercised with: its own, or for a domain row one its domain has no row for."""
    return name if "." in name else f"{name}.someMethodWithoutARowOfItsOwn"


def _session(channel: Channel) -> str | None:
    return None if channel is Channel.BROWSER else PAGE_SESSION


@pytest.mark.parametrize(("name", "channel"), CASES)
def test_row(name: str, channel: Channel, files_dir: Path) -> None:
    rule = POLICY[name].on(channel)
    method, session = _method(name), _session(channel)
    examples = _examples(files_dir)
    assert rule_for(method, channel) == rule
    if rule.action is Action.REFUSE:
        assert_refused(make_scope(files_dir).command(method, {"any": 1}, session), method)
        assert GUIDANCE.search(rule.reason), f"{name}: a refusal must say what to do instead"
        return
    good: dict[str, Any] = {}
    for check in rule.checks:
        good.update(examples[check][0])
    verdict = make_scope(files_dir).command(method, good, session)
    assert verdict.error is None, verdict.error
    if rule.action is Action.PASS:
        assert verdict == Command(params=good)
    for check in rule.checks:
        bad = examples[check][1]
        if bad is not None:
            assert_refused(make_scope(files_dir).command(method, {**good, **bad}, session), method)


def test_the_browser_session_follows_the_root_rules(files_dir: Path) -> None:
    root, browser_session = make_scope(files_dir), make_scope(files_dir)
    for name in sorted(POLICY):
        method = _method(name)
        on_root = root.command(method, {}, None)
        on_session = browser_session.command(method, {}, BROWSER_SESSION)
        assert (on_root.error is None) == (on_session.error is None), method


def test_unknown_domains_and_browser_methods_are_refused_everywhere(files_dir: Path) -> None:
    s = make_scope(files_dir)
    for method in ("NoSuch.domainMethod", "Browser.someFutureMethod", "Target.someFutureMethod"):
        for session in (None, PAGE_SESSION, BROWSER_SESSION):
            assert_refused(s.command(method, {}, session), method)
    assert "deny by default" in str(s.command("NoSuch.thing", {}, PAGE_SESSION).error)


def test_page_domains_pass_on_a_page_session_and_are_refused_at_browser_level(files_dir: Path) -> None:
    s = make_scope(files_dir)
    assert s.command("Runtime.evaluate", {"expression": "1"}, PAGE_SESSION).params == {"expression": "1"}
    refused = s.command("Runtime.evaluate", {"expression": "1"}, None).error
    assert refused and "Target.attachToTarget" in refused  # says how to reach a page instead


def test_an_unattached_session_is_refused_with_how_to_attach(files_dir: Path) -> None:
    error = make_scope(files_dir).command("Runtime.evaluate", {}, "S-OF-ANOTHER-CONNECTION").error
    assert error and "not attached on this connection" in error and "Target.attachToTarget" in error
