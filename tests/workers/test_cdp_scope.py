"""CdpScope's verdicts in the cases that need more than one message: contexts, cookies, downloads, files,
targets, windows, streams, auto-attach, browser-level sessions, the context cap, proxies and URLs.

The table itself, row by row, is tested in test_cdp_policy_table.py.
"""

import os
import time
from pathlib import Path

import pytest

from tests.workers.scope_support import (
    BROWSER_SESSION,
    CREATED,
    OURS,
    PAGE_SESSION,
    THEIRS,
    answer,
    assert_refused,
    make_scope,
)
from workers.cdp import contexts as cdp_contexts
from workers.cdp.contexts import MAX_EXTRA_CONTEXTS, PENDING_SECONDS
from workers.cdp.policy import POLICY, Action, Channel, Check, Row, rule_for
from workers.cdp.scope import CdpScope, Command

# --- explicit cases --------------------------------------------------------------------------------


def test_tracing_is_refused_on_every_channel_with_what_works_instead(files_dir: Path) -> None:
    s = make_scope(files_dir)
    for method in ("Tracing.start", "Tracing.end", "Tracing.getCategories", "Tracing.requestMemoryDump"):
        for session in (None, PAGE_SESSION, BROWSER_SESSION):
            error = s.command(method, {"categories": "-*,devtools.timeline"}, session).error
            assert error and "context.tracing.start()" in error and "Profiler" in error


def test_host_and_browser_wide_methods_are_refused_on_page_sessions_too(files_dir: Path) -> None:
    s = make_scope(files_dir)
    for method in (
        "SystemInfo.getInfo",
        "SystemInfo.getProcessInfo",
        "Memory.simulatePressureNotification",
        "Memory.getBrowserSamplingProfile",
        "Emulation.addScreen",
        "Browser.getBrowserCommandLine",
        "Browser.getHistograms",
        "Target.exposeDevToolsProtocol",
        "Target.sendMessageToTarget",
        "Extensions.loadUnpacked",
        "PWA.launchFilesInApp",
        "Tethering.bind",
        "LayerTree.loadSnapshot",
        "Page.addCompilationCache",
    ):
        assert_refused(s.command(method, {}, PAGE_SESSION), method)
    assert s.command("Memory.getDOMCounters", {}, PAGE_SESSION).params == {}
    assert s.command("Emulation.getScreenInfos", {}, PAGE_SESSION).params == {}


def test_context_defaults_to_the_callers_context_and_foreign_contexts_are_refused(files_dir: Path) -> None:
    s = make_scope(files_dir)
    assert s.command("Target.createTarget", {"url": "about:blank"}, None).params == {
        "url": "about:blank",
        "browserContextId": OURS,
    }
    assert s.command("Target.createTarget", {"url": "x", "browserContextId": THEIRS}, None).error
    assert s.command("Target.createTarget", {"url": "file:///etc/passwd"}, None).error
    assert s.command("Storage.getCookies", {}, None).params == {"browserContextId": OURS}
    assert s.command("Storage.getCookies", {"browserContextId": CREATED}, None).params == {"browserContextId": CREATED}
    assert s.command("Storage.getCookies", {"browserContextId": THEIRS}, None).error
    # on a page of a created context, a Browser call without a context means that page's context
    s.event(
        "Target.attachedToTarget",
        {"sessionId": "S2", "targetInfo": {"type": "page", "targetId": "T2", "browserContextId": CREATED}},
        None,
    )
    grant = s.command("Browser.grantPermissions", {"permissions": ["geolocation"]}, "S2")
    assert grant.params == {"permissions": ["geolocation"], "browserContextId": CREATED}


def test_cookies_on_a_page_session_are_the_pages_own(files_dir: Path) -> None:
    s = make_scope(files_dir)
    get = s.command("Storage.getCookies", {}, PAGE_SESSION)
    assert (get.method, get.params) == ("Network.getAllCookies", {})
    cookie = {"name": "a", "value": "1", "domain": "example.org"}
    put = s.command("Storage.setCookies", {"cookies": [cookie], "browserContextId": OURS}, PAGE_SESSION)
    assert (put.method, put.params) == ("Network.setCookies", {"cookies": [cookie]})
    clear = s.command("Storage.clearCookies", {}, PAGE_SESSION)
    assert (clear.method, clear.params) == ("Network.clearBrowserCookies", {})
    assert s.command("Storage.getCookies", {"browserContextId": CREATED}, PAGE_SESSION).error
    assert s.command("Storage.clearDataForOrigin", {"origin": "https://a.example"}, PAGE_SESSION).params
    assert s.command("Storage.clearDataForOrigin", {"origin": "https://a.example"}, None).error


def test_downloads_go_to_the_sessions_directory_whatever_the_client_asks(files_dir: Path) -> None:
    s = make_scope(files_dir)
    verdict = s.command("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": "/etc"}, None)
    assert verdict.params == {"behavior": "allowAndName", "downloadPath": str(files_dir), "browserContextId": OURS}
    page = s.command("Page.setDownloadBehavior", {"behavior": "allowAndName", "downloadPath": "/"}, PAGE_SESSION)
    assert page.params == {"behavior": "allowAndName", "downloadPath": str(files_dir)}
    deny = s.command("Page.setDownloadBehavior", {"behavior": "deny", "downloadPath": "/"}, PAGE_SESSION)
    assert deny.params == {"behavior": "deny"}
    assert s.command("Browser.cancelDownload", {"guid": "G1"}, None).params == {"guid": "G1", "browserContextId": OURS}
    assert s.command("Browser.cancelDownload", {"guid": "G-OTHER"}, None).error
    s.event("Browser.downloadWillBegin", {"frameId": "T-FOREIGN", "guid": "G-OTHER"}, None)
    assert s.command("Browser.cancelDownload", {"guid": "G-OTHER"}, None).error  # another session's download
    s.event("Page.downloadWillBegin", {"frameId": "F9", "guid": "G2"}, PAGE_SESSION)
    assert s.command("Browser.cancelDownload", {"guid": "G2"}, PAGE_SESSION).params


def test_file_paths_must_resolve_inside_the_sessions_directory(files_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "canary.txt"
    outside.write_text("secret")
    os.symlink(outside, files_dir / "link-out")
    (files_dir / "sub").mkdir()
    os.symlink(files_dir / "upload.txt", files_dir / "sub" / "link-in")
    s = make_scope(files_dir)

    def verdict(path: object) -> Command:
        return s.command("DOM.setFileInputFiles", {"files": [path], "nodeId": 3}, PAGE_SESSION)

    assert verdict(str(files_dir / "upload.txt")).params
    assert verdict(str(files_dir / "sub" / "link-in")).params  # a symlink that stays inside is fine
    for path in (
        "/etc/passwd",
        str(outside),
        str(files_dir / "link-out"),  # a symlink inside pointing outside
        str(files_dir / ".." / "canary.txt"),
        str(files_dir),
        "upload.txt",  # relative: resolved against the browser's working directory
        "",
        "a\0b",
        7,
    ):
        error = verdict(path).error
        assert error and ("session's own directory" in error or "not a path" in error), path
    assert s.command("DOM.setFileInputFiles", {"files": "/etc/passwd"}, PAGE_SESSION).error
    error = verdict("/etc/passwd").error
    assert error and "Upload it into the session first" in error and str(files_dir) not in error
    drag = {"type": "dragEnter", "x": 0, "y": 0, "data": {"items": [], "files": [str(files_dir / "link-out")]}}
    assert s.command("Input.dispatchDragEvent", drag, PAGE_SESSION).error
    drag["data"] = {"items": [{"mimeType": "text/plain", "data": "hi"}], "dragOperationsMask": 1}
    assert s.command("Input.dispatchDragEvent", drag, PAGE_SESSION).params == drag


def test_targets_are_ours_only_on_every_channel(files_dir: Path) -> None:
    s = make_scope(files_dir)
    for session in (None, PAGE_SESSION, BROWSER_SESSION):
        assert s.command("Target.closeTarget", {"targetId": "T1"}, session).params == {"targetId": "T1"}
        assert s.command("Target.closeTarget", {"targetId": "T-FOREIGN"}, session).error
        assert s.command("Target.attachToTarget", {"targetId": "T-FOREIGN"}, session).error
        assert s.command("Target.createTarget", {"url": "about:blank", "browserContextId": THEIRS}, session).error
        assert s.command("Target.attachToTarget", {"targetId": "T1", "flatten": False}, session).params == {
            "targetId": "T1",
            "flatten": True,
        }
        verdict = s.command("Target.getTargets", {}, session)
        assert verdict.after is not None
        listed = verdict.after(
            {
                "targetInfos": [
                    {"targetId": "T1", "browserContextId": OURS},
                    {"targetId": "T2", "browserContextId": THEIRS},
                    {"targetId": "B", "type": "browser"},
                ]
            }
        )
        assert listed == {"targetInfos": [{"targetId": "T1", "browserContextId": OURS}]}
    assert s.command("Target.getTargetInfo", {}, PAGE_SESSION).params == {}  # the page's own target
    assert s.command("Target.getTargetInfo", {"targetId": "T-FOREIGN"}, PAGE_SESSION).error


def test_windows_of_our_targets_only(files_dir: Path) -> None:
    s = make_scope(files_dir)
    own = s.command("Browser.getWindowForTarget", {}, PAGE_SESSION)  # what Playwright sends, on the page
    assert own.params == {} and own.after is not None
    own.after({"windowId": 9, "bounds": {}})
    assert s.command("Browser.setWindowBounds", {"windowId": 9, "bounds": {"width": 500}}, None).params
    assert s.command("Browser.getWindowBounds", {"windowId": 9}, PAGE_SESSION).params
    error = s.command("Browser.getWindowForTarget", {"targetId": "T-FOREIGN"}, None).error
    assert error and "not one of this session's" in error
    assert s.command("Browser.setWindowBounds", {"windowId": 10, "bounds": {"width": 1}}, None).error


def test_streams_are_read_only_on_the_session_they_were_returned_on(files_dir: Path) -> None:
    s = make_scope(files_dir)
    assert s.command("IO.read", {"handle": "5", "size": 10}, PAGE_SESSION).params
    assert s.command("IO.read", {"handle": "5"}, BROWSER_SESSION).error
    s.event(
        "Target.attachedToTarget",
        {"sessionId": "S3", "targetInfo": {"type": "page", "targetId": "T3", "browserContextId": OURS}},
        None,
    )
    assert s.command("IO.read", {"handle": "5"}, "S3").error
    assert s.command("IO.read", {"handle": "1"}, PAGE_SESSION).error  # a guessed handle
    resource = s.command("Network.loadNetworkResource", {"url": "https://a.example/x", "frameId": "F"}, "S3")
    assert resource.after is not None
    resource.after({"resource": {"success": True, "stream": "2"}})
    assert s.command("IO.read", {"handle": "2"}, "S3").params
    blob = s.command("IO.resolveBlob", {"objectId": "1.2"}, "S3")
    assert blob.after is not None
    blob.after({"uuid": "abc"})
    assert s.command("IO.read", {"handle": "blob:abc"}, "S3").params
    assert s.command("IO.read", {"handle": "blob:other"}, "S3").error
    assert s.command("IO.close", {"handle": "2"}, "S3").params
    assert s.command("IO.read", {"handle": "2"}, "S3").error  # closed: forgotten
    file_url = s.command("Network.loadNetworkResource", {"url": "file:///etc/passwd", "frameId": "F"}, "S3")
    assert file_url.error and "file" in file_url.error
    fetch = s.command("Fetch.continueRequest", {"requestId": "r", "url": "file:///etc/passwd"}, "S3")
    assert fetch.error
    assert s.command("Fetch.continueRequest", {"requestId": "r"}, "S3").params == {"requestId": "r"}


def test_foreign_auto_attach_is_let_go_unseen_and_never_started_early(files_dir: Path) -> None:
    s = make_scope(files_dir)
    foreign = {
        "sessionId": "S9",
        "waitingForDebugger": True,
        "targetInfo": {"type": "page", "targetId": "T9", "browserContextId": THEIRS},
    }
    for parent in (None, BROWSER_SESSION):
        event = s.event("Target.attachedToTarget", foreign, parent)
        assert not event.forward
        # Detached only: running it would start another session's new page before its own client set it up.
        assert event.upstream == [("Target.detachFromTarget", {"sessionId": "S9"}, parent)]
    assert s.command("Runtime.evaluate", {"expression": "1"}, "S9").error
    assert not s.event("Runtime.consoleAPICalled", {}, "S9").forward


def test_own_auto_attach_opens_the_child_session_and_detach_closes_it(files_dir: Path) -> None:
    s = make_scope(files_dir)
    event = s.event(
        "Target.attachedToTarget",
        {
            "sessionId": "S4",
            "waitingForDebugger": True,
            "targetInfo": {"type": "page", "targetId": "T4", "browserContextId": OURS},
        },
        PAGE_SESSION,  # e.g. an out-of-process iframe of our page
    )
    assert event.forward and not event.upstream
    assert s.command("Runtime.evaluate", {"expression": "1"}, "S4").params == {"expression": "1"}
    assert s.event("Runtime.consoleAPICalled", {}, "S4").forward
    assert s.event("Target.detachedFromTarget", {"sessionId": "S4"}, PAGE_SESSION).forward
    assert s.command("Runtime.evaluate", {}, "S4").error


def test_a_browser_level_session_is_filtered_like_the_root(files_dir: Path) -> None:
    s = make_scope(files_dir)
    assert s.command("Runtime.evaluate", {"expression": "1"}, BROWSER_SESSION).error
    # The session's own context plays the browser's default one, which a browser never lists.
    assert s.command("Target.getBrowserContexts", {}, BROWSER_SESSION).result == {"browserContextIds": [CREATED]}
    theirs = {"targetInfo": {"type": "page", "targetId": "T8", "browserContextId": THEIRS}}
    assert not s.event("Target.targetCreated", theirs, BROWSER_SESSION).forward
    assert not s.event("Browser.downloadProgress", {"guid": "G-OTHER"}, BROWSER_SESSION).forward
    assert not s.event("Tracing.dataCollected", {"value": []}, BROWSER_SESSION).forward
    assert s.event(
        "Target.targetCreated", {"targetInfo": {"type": "page", "targetId": "T7", "browserContextId": OURS}}, None
    ).forward
    # a page attached through the browser session is a page session like any other
    attach = s.command("Target.attachToTarget", {"targetId": "T7", "flatten": True}, BROWSER_SESSION)
    assert attach.after is not None
    attach.after({"sessionId": "S7"})
    assert s.command("Runtime.evaluate", {"expression": "1"}, "S7").params
    assert s.command("Target.detachFromTarget", {"sessionId": BROWSER_SESSION}, None).params
    assert s.event("Target.detachedFromTarget", {"sessionId": BROWSER_SESSION}, None).forward
    assert s.command("Target.getTargets", {}, BROWSER_SESSION).error  # detached: no longer ours


def test_one_browser_target_is_shown_and_attaching_to_it_opens_a_browser_level_session(files_dir: Path) -> None:
    s = make_scope(files_dir)
    left = {"targetInfo": {"targetId": "BT0", "type": "browser", "attached": False}}
    ours = {"targetInfo": {"targetId": "BT1", "type": "browser", "attached": True}}
    theirs = {"targetInfo": {"targetId": "BT2", "type": "browser", "attached": True}}  # another connection's
    assert not s.event("Target.targetCreated", left, None).forward  # Puppeteer needs an attached one
    assert s.event("Target.targetCreated", ours, None).forward  # Puppeteer's browser.target()
    assert not s.event("Target.targetCreated", theirs, None).forward  # how many others connect stays unseen
    assert not s.event("Target.targetInfoChanged", ours, None).forward  # shown once, as it was
    assert not s.event("Target.targetDestroyed", {"targetId": "BT2"}, None).forward
    attach = s.command("Target.attachToTarget", {"targetId": "BT1", "flatten": True}, None)
    assert (attach.method, attach.params) == ("Target.attachToBrowserTarget", {})
    answer(attach, {"sessionId": "B3"})
    assert s.command("Target.getTargets", {}, "B3").after is not None  # filtered like the root connection
    assert s.command("Runtime.evaluate", {}, "B3").error
    for method in ("Target.closeTarget", "Target.activateTarget", "Target.autoAttachRelated"):
        assert s.command(method, {"targetId": "BT1"}, None).error, method  # the browser is no target to act on
    assert s.command("Target.attachToTarget", {"targetId": "BT2"}, None).error
    info = s.command("Target.getTargetInfo", {"targetId": "BT1"}, None)
    assert info.params == {}  # asked about the connection's own browser target
    own = {"targetInfo": {"targetId": "BT-OWN", "type": "browser"}}
    assert answer(info, own) == {"targetInfo": {"targetId": "BT1", "type": "browser"}}  # under the one id shown


def test_the_browser_target_is_learned_from_target_info_too(files_dir: Path) -> None:
    s = make_scope(files_dir)
    answer(s.command("Target.getTargetInfo", {}, None), {"targetInfo": {"targetId": "BT-OWN", "type": "browser"}})
    assert s.browser_target == "BT-OWN"
    theirs = {"targetInfo": {"targetId": "BT2", "type": "browser", "attached": True}}
    assert not s.event("Target.targetCreated", theirs, None).forward
    own = {"targetInfo": {"targetId": "BT-OWN", "type": "browser", "attached": True}}
    assert s.event("Target.targetCreated", own, None).forward
    page = {"targetInfo": {"targetId": "T1", "type": "page", "browserContextId": OURS}}
    assert answer(s.command("Target.getTargetInfo", {}, PAGE_SESSION), page) == page


def test_run_if_waiting_at_browser_level_is_a_harmless_no_op(files_dir: Path) -> None:
    s = make_scope(files_dir)
    for session in (None, BROWSER_SESSION):  # Playwright's CDPSession.detach() sends it on browser sessions
        assert s.command("Runtime.runIfWaitingForDebugger", {}, session) == Command(result={})
    assert s.command("Runtime.runIfWaitingForDebugger", {}, PAGE_SESSION) == Command(params={})


def test_our_own_browser_level_attach_is_recognised_by_its_event(files_dir: Path) -> None:
    s = make_scope(files_dir)
    # Chromium announces the browser session before it answers Target.attachToBrowserTarget
    event = s.event(
        "Target.attachedToTarget", {"sessionId": "B2", "targetInfo": {"targetId": "BR", "type": "browser"}}, None
    )
    assert event.forward and not event.upstream
    assert s.command("Target.getTargets", {}, "B2").after is not None
    assert s.command("Runtime.evaluate", {}, "B2").error  # root rules on it


def test_created_contexts_belong_to_the_session_up_to_a_limit(tmp_path: Path) -> None:
    created: list[str] = []
    s = CdpScope("CTX-LIMIT", str(tmp_path), on_context_created=created.append)
    for n in range(MAX_EXTRA_CONTEXTS):
        verdict = s.command("Target.createBrowserContext", {"disposeOnDetach": True, "unknown": 1}, None)
        assert verdict.params == {"disposeOnDetach": True} and verdict.after is not None
        verdict.after({"browserContextId": f"X{n}"})
    assert created == [f"X{n}" for n in range(MAX_EXTRA_CONTEXTS)]
    error = s.command("Target.createBrowserContext", {}, None).error
    assert error and f"at most {MAX_EXTRA_CONTEXTS}" in error
    listed = s.command("Target.getBrowserContexts", {}, None).result
    assert listed == {"browserContextIds": sorted(created)}
    assert s.command("Target.disposeBrowserContext", {"browserContextId": "X0"}, None).params
    assert s.command("Target.disposeBrowserContext", {"browserContextId": "CTX-LIMIT"}, None).error
    assert s.command("Target.disposeBrowserContext", {"browserContextId": THEIRS}, None).error
    assert s.command("Target.createBrowserContext", {}, None).params == {}  # room again after a disposal


def test_a_created_page_is_told_to_the_page_cap_as_soon_as_it_is_answered(tmp_path: Path) -> None:
    """The page cap counts pages from Chromium's discovery events, which may come after the answer: a client
    that waits for each new page before asking for the next must still meet the cap on the next."""
    opened: list[tuple[str, str]] = []
    s = CdpScope("CTX-PAGES", str(tmp_path), on_page_created=lambda *page: opened.append(page))
    verdict = s.command("Target.createTarget", {"url": "about:blank"}, None)
    assert verdict.after is not None and not opened  # told on the answer, not on the ask
    verdict.after({"targetId": "T1"})
    assert opened == [("T1", "CTX-PAGES")]
    verdict = s.command("Target.createTarget", {"url": "about:blank"}, None)
    assert verdict.after is not None
    verdict.after({})  # an answer without a page (never a crash of the scope)
    assert opened == [("T1", "CTX-PAGES")]


def test_the_context_cap_counts_creations_in_flight_across_connections(tmp_path: Path) -> None:
    shared: set[str] = set()  # the session's created contexts, shared by its connections
    first, second = CdpScope("CTX-P", str(tmp_path), shared), CdpScope("CTX-P", str(tmp_path), shared)
    pipelined = [first.command("Target.createBrowserContext", {}, None) for _ in range(30)]
    pipelined += [second.command("Target.createBrowserContext", {}, None) for _ in range(30)]
    passed = [verdict for verdict in pipelined if verdict.error is None]
    assert len(passed) == MAX_EXTRA_CONTEXTS
    for n, verdict in enumerate(passed):
        assert verdict.after is not None
        verdict.after({"browserContextId": f"P{n}"})
    assert len(shared) == MAX_EXTRA_CONTEXTS
    assert first.command("Target.createBrowserContext", {}, None).error


def test_creations_never_answered_stop_counting_when_their_connection_ends(tmp_path: Path) -> None:
    shared: set[str] = set()
    lost = CdpScope("CTX-Q", str(tmp_path), shared)
    for _ in range(MAX_EXTRA_CONTEXTS):
        assert lost.command("Target.createBrowserContext", {}, None).error is None
    later = CdpScope("CTX-Q", str(tmp_path), shared)
    assert later.command("Target.createBrowserContext", {}, None).error
    del lost  # freed at once (no reference cycle, no garbage collection needed)
    assert later.command("Target.createBrowserContext", {}, None).error is None


def test_creations_never_answered_stop_counting_after_a_while(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = CdpScope("CTX-R", str(tmp_path))
    for _ in range(MAX_EXTRA_CONTEXTS):
        assert s.command("Target.createBrowserContext", {}, None).error is None  # answers never come
    assert s.command("Target.createBrowserContext", {}, None).error
    later = time.monotonic() + PENDING_SECONDS + 1
    monkeypatch.setattr(cdp_contexts.time, "monotonic", lambda: later)
    assert s.command("Target.createBrowserContext", {}, None).error is None


def test_per_context_proxies_are_refused_with_a_reason_not_dropped(tmp_path: Path) -> None:
    s = CdpScope(OURS, str(tmp_path))
    for params in (
        {"proxyServer": "http://proxy.example:3128"},
        {"proxyServer": "socks5://p:1", "proxyBypassList": "<-loopback>"},
        {"proxyBypassList": "*.example"},
    ):
        error = s.command("Target.createBrowserContext", {"disposeOnDetach": True, **params}, None).error
        assert error and "create the session with the proxy instead" in error
        assert "Leave proxy out of new_context" in error
    universal = s.command("Target.createBrowserContext", {"originsWithUniversalNetworkAccess": ["https://a"]}, None)
    assert universal.error
    assert s.command("Target.createBrowserContext", {"proxyServer": None}, None).params == {}


def test_contexts_created_in_a_proxied_session_use_its_route_through_the_guard(tmp_path: Path) -> None:
    s = CdpScope(OURS, str(tmp_path), context_proxy="http://127.0.0.1:4711")
    created = s.command("Target.createBrowserContext", {"disposeOnDetach": True}, None)
    assert created.params == {
        "disposeOnDetach": True,
        "proxyServer": "http://127.0.0.1:4711",
        "proxyBypassList": "<-loopback>",
    }
    assert s.command("Target.createBrowserContext", {"proxyServer": "http://elsewhere:1"}, None).error


def test_url_schemes_pages_may_not_open_are_refused(files_dir: Path) -> None:
    s = make_scope(files_dir)
    for url in ("file:///etc/passwd", "chrome://settings", "view-source:https://a.example", "javascript:1"):
        assert s.command("Page.navigate", {"url": url}, PAGE_SESSION).error, url
    assert s.command("Page.navigate", {"url": "https://a.example/"}, PAGE_SESSION).params


def test_row_lookup_prefers_the_method_over_its_domain() -> None:
    assert rule_for("DOM.setFileInputFiles", Channel.TARGET).checks == (Check.FILES,)
    assert rule_for("DOM.getDocument", Channel.TARGET).action is Action.PASS
    assert rule_for("DOM.getDocument", Channel.BROWSER).action is Action.REFUSE
    assert isinstance(POLICY["Tracing"], Row)
