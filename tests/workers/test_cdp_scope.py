"""CdpScope's verdicts, message by message (the relay tests drive the same rules with real clients)."""

from workers.cdp_scope import MAX_EXTRA_CONTEXTS, CdpScope

OURS, THEIRS = "CTX-OURS", "CTX-THEIRS"


def scope() -> CdpScope:
    s = CdpScope(OURS, "/tmp/downloads-of-this-session")
    s.event("Target.targetCreated", {"targetInfo": {"targetId": "T1", "browserContextId": OURS}}, None)
    return s


def test_unlisted_browser_methods_are_refused() -> None:
    for method in (
        "Browser.close",
        "Browser.crash",
        "Target.attachToBrowserTarget",
        "Target.exposeDevToolsProtocol",
        "Target.sendMessageToTarget",
        "Tracing.start",
        "SystemInfo.getInfo",
        "Runtime.evaluate",
    ):
        assert scope().command(method, {}, None).error, method


def test_context_defaults_to_the_session_and_foreign_contexts_are_refused() -> None:
    s = scope()
    assert s.command("Target.createTarget", {"url": "about:blank"}, None).params == {
        "url": "about:blank",
        "browserContextId": OURS,
    }
    assert s.command("Target.createTarget", {"url": "x", "browserContextId": THEIRS}, None).error
    assert s.command("Storage.getCookies", {}, None).params == {"browserContextId": OURS}
    assert s.command("Storage.getCookies", {"browserContextId": THEIRS}, None).error


def test_downloads_go_to_the_sessions_directory_whatever_the_client_asks() -> None:
    verdict = scope().command("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": "/etc"}, None)
    assert verdict.params == {
        "behavior": "allow",
        "downloadPath": "/tmp/downloads-of-this-session",
        "browserContextId": OURS,
    }


def test_targets_are_ours_only() -> None:
    s = scope()
    assert s.command("Target.closeTarget", {"targetId": "T1"}, None).params == {"targetId": "T1"}
    assert s.command("Target.closeTarget", {"targetId": "T-FOREIGN"}, None).error
    assert s.command("Target.attachToTarget", {"targetId": "T-FOREIGN"}, None).error
    assert s.command("Target.attachToTarget", {"targetId": "T1", "flatten": False}, None).params == {
        "targetId": "T1",
        "flatten": True,
    }
    verdict = s.command("Target.getTargets", {}, None)
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


def test_foreign_auto_attach_is_released_unseen() -> None:
    s = scope()
    event = s.event(
        "Target.attachedToTarget",
        {"sessionId": "S9", "waitingForDebugger": True, "targetInfo": {"targetId": "T9", "browserContextId": THEIRS}},
        None,
    )
    assert not event.forward
    assert event.upstream == [
        ("Runtime.runIfWaitingForDebugger", {}, "S9"),
        ("Target.detachFromTarget", {"sessionId": "S9"}, None),
    ]
    assert s.command("Runtime.evaluate", {"expression": "1"}, "S9").error
    assert not s.event("Runtime.consoleAPICalled", {}, "S9").forward


def test_own_auto_attach_opens_the_child_session() -> None:
    s = scope()
    event = s.event(
        "Target.attachedToTarget",
        {"sessionId": "S1", "waitingForDebugger": True, "targetInfo": {"targetId": "T1", "browserContextId": OURS}},
        None,
    )
    assert event.forward and not event.upstream
    assert s.command("Runtime.evaluate", {"expression": "1"}, "S1").params == {"expression": "1"}
    assert s.command("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": "/"}, "S1").error
    assert s.event("Target.detachedFromTarget", {"sessionId": "S1"}, None).forward
    assert s.command("Runtime.evaluate", {}, "S1").error


def test_created_contexts_belong_to_the_session_up_to_a_limit() -> None:
    created: list[str] = []
    s = CdpScope(OURS, "/tmp/d", on_context_created=created.append)
    for n in range(MAX_EXTRA_CONTEXTS):
        verdict = s.command("Target.createBrowserContext", {"proxyServer": "evil:1"}, None)
        assert verdict.params == {} and verdict.after is not None
        verdict.after({"browserContextId": f"X{n}"})
    assert created == [f"X{n}" for n in range(MAX_EXTRA_CONTEXTS)]
    assert s.command("Target.createBrowserContext", {}, None).error
    assert s.command("Target.getBrowserContexts", {}, None).result == {"browserContextIds": sorted({OURS, *created})}
    assert s.command("Target.disposeBrowserContext", {"browserContextId": "X0"}, None).params
    assert s.command("Target.disposeBrowserContext", {"browserContextId": OURS}, None).error
    assert s.command("Target.disposeBrowserContext", {"browserContextId": THEIRS}, None).error
