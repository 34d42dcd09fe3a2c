"""What one CDP connection may see and do: its session's browser contexts and nothing else.

Pure protocol logic: the relay asks `command()` about every client message and `event()` about every
browser event, and does what the answers say. Every command, on the root connection, on browser-level
sessions and on page, frame and worker sessions alike, is looked up in one policy table
(workers/cdp/policy.py); the checks the table names live here, with what they need to know: which
targets, sessions, windows, downloads and streams belong to this connection. The only I/O is the
realpath lookup of file paths a client names (workers/cdp/files.py).
"""

from collections.abc import Callable

from orchestrator.urls import scheme_refused
from orchestrator.worker import CdpMode
from workers.cdp.contexts import MAX_EXTRA_CONTEXTS, ContextCreations
from workers.cdp.files import path_outside
from workers.cdp.policy import Action, Channel, Check, TargetType, refusal, rule_for
from workers.cdp.verdicts import Caller, Command, Event, Json, chain
from workers.cdp.viewer import viewer_refusal

__all__ = ["MAX_EXTRA_CONTEXTS", "CdpScope", "Command", "Event", "Json"]

_ALLOWING = ("allow", "allowAndName")  # download behaviours that write files
_ON_BROWSER_TARGET = ("Target.getTargetInfo", "Target.attachToTarget")  # what may name the browser's own target
_PAGE_COOKIES = {  # Storage cookie calls on a page session, as the Network calls that act on the page's context
    "Storage.getCookies": "Network.getAllCookies",
    "Storage.setCookies": "Network.setCookies",
    "Storage.clearCookies": "Network.clearBrowserCookies",
}


CheckFn = Callable[["CdpScope", str, Json, Caller], Command]


class CdpScope:
    def __init__(
        self,
        context_id: str,
        files_dir: str,
        extra_contexts: set[str] | None = None,
        on_context_created: Callable[[str], None] | None = None,
        page_refusal: Callable[[], str | None] | None = None,
        mode: CdpMode = CdpMode.FULL,
        context_proxy: str | None = None,
    ) -> None:
        self.primary_context = context_id
        # Sessions with an upstream proxy: their route's listener on the egress guard, which every context their
        # clients create uses as its proxy (so those contexts' traffic goes through the same upstream).
        self.context_proxy = context_proxy
        self.mode = mode  # a live viewer's connection may send only what its mode allows (workers/cdp/viewer.py)
        self.files_dir = files_dir  # the session's own directory: downloads land here, uploads come from here
        self.extra_contexts = extra_contexts if extra_contexts is not None else set()
        self._on_context_created = on_context_created
        self._page_refusal = page_refusal  # why the session may not open another page now (its page cap)
        self._creations = ContextCreations(context_id, self.extra_contexts)
        self.attached: dict[str, str] = {}  # child session id -> its target id, sessions this connection attached
        self.browser_sessions: set[str] = set()  # browser-level sessions from Target.attachToBrowserTarget
        self.targets: dict[str, str] = {}  # target id -> its browser context, targets known to be ours
        self.target_types: dict[str, TargetType] = {}  # target id -> its type (page, worker, ...), as Chromium said
        self.browser_target: str | None = None  # the browser's own target, as this connection shows it
        self.windows: set[int] = set()  # window ids of our targets
        self.downloads: set[str] = set()  # download guids of our pages
        self.streams: set[tuple[str | None, str]] = set()  # (session id, handle) of streams returned to us

    @property
    def contexts(self) -> set[str]:
        return {self.primary_context, *self.extra_contexts}

    # --- client -> browser -------------------------------------------------------------------

    def command(self, method: str, params: Json, session_id: str | None) -> Command:
        channel = self._channel(session_id)
        if channel is None:
            why = (
                f"session {session_id!r} was not attached on this connection (other connections' sessions are not "
                "yours). Attach first: Target.attachToTarget {flatten: true} or Target.setAutoAttach"
            )
            return Command(error=refusal(method, why))
        if self.mode is not CdpMode.FULL and (narrower := viewer_refusal(self.mode, method)) is not None:
            return Command(error=narrower)
        rule = rule_for(method, channel, self._target_type(session_id))
        if rule.action is Action.PASS:  # the common case: decided without building anything
            return Command(params=params)
        if rule.action is Action.REFUSE:
            return Command(error=refusal(method, rule.reason))
        return self._scoped(method, params, self._caller(session_id, channel), rule.checks)

    def _channel(self, session_id: str | None) -> Channel | None:
        """Which rules apply to a session: the root's, a target's, or none (not this connection's)."""
        if session_id is None or session_id in self.browser_sessions:
            return Channel.BROWSER
        return Channel.TARGET if session_id in self.attached else None

    def _target_type(self, session_id: str | None) -> TargetType:
        """The type of the target a target session is attached to (unknown: the narrowest rules)."""
        target = self.attached.get(session_id or "")
        return TargetType.PAGE if target is None else self.target_types.get(target, TargetType.OTHER)

    def _learn(self, info: Json) -> None:
        """Remember one of our targets from its TargetInfo: its context and its type."""
        self.targets[info["targetId"]] = info["browserContextId"]
        self.target_types[info["targetId"]] = TargetType.of(info.get("type"))

    def _caller(self, session_id: str | None, channel: Channel) -> Caller:
        if channel is Channel.BROWSER or session_id is None:
            return Caller(session_id, Channel.BROWSER, self.primary_context)
        return Caller(session_id, channel, self.targets.get(self.attached[session_id], self.primary_context))

    def _scoped(self, method: str, params: Json, caller: Caller, checks: tuple[Check, ...]) -> Command:
        """Apply the checks in order: each may rewrite the parameters, add a result rewrite, or refuse."""
        verdict = Command(params=params)
        for check in checks:
            step = _CHECKS[check](self, method, verdict.params if verdict.params is not None else {}, caller)
            if step.error is not None:
                return Command(error=refusal(method, step.error))
            if step.result is not None:
                return step
            verdict = Command(
                params=step.params, method=step.method or verdict.method, after=chain(verdict.after, step.after)
            )
        return verdict

    # --- checks: contexts and targets --------------------------------------------------------

    def _context(self, method: str, params: Json, caller: Caller) -> Command:
        context = params.get("browserContextId")
        if context is None:
            return Command(params={**params, "browserContextId": caller.context})
        if context not in self.contexts:
            return _no(
                f"browser context {context!r} is not one of this session's (other sessions' contexts are hidden). "
                "leave browserContextId out to mean the session's own; Target.getBrowserContexts lists those you made"
            )
        return Command(params=params)

    def _target(self, method: str, params: Json, caller: Caller) -> Command:
        if "targetId" not in params:
            return _no("it needs the targetId of one of this session's targets (Target.getTargets lists them)")
        return self._own_target(method, params, caller)

    def _own_target(self, method: str, params: Json, caller: Caller) -> Command:
        target = params.get("targetId")
        browser = target == self.browser_target and method in _ON_BROWSER_TARGET
        if target is not None and target not in self.targets and not browser:
            return _no(
                f"target {target!r} is not one of this session's (other sessions' targets are hidden). "
                "Target.getTargets lists yours"
            )
        return Command(params=params)

    def _new_target(self, method: str, params: Json, caller: Caller) -> Command:
        refused = self._page_refusal() if self._page_refusal is not None else None
        if refused:
            return _no(refused)
        context = str(params.get("browserContextId", caller.context))

        def remember(result: Json) -> Json:
            if "targetId" in result:
                self.targets[result["targetId"]] = context
                self.target_types[result["targetId"]] = TargetType.PAGE
            return result

        return Command(params=params, after=remember)

    def _attach(self, method: str, params: Json, caller: Caller) -> Command:
        target = str(params.get("targetId"))
        if target == self.browser_target:  # a browser-level session of its own (Puppeteer's browser.target())
            return Command(params={}, method="Target.attachToBrowserTarget", after=self._remember_browser_session)

        def remember(result: Json) -> Json:
            if "sessionId" in result:
                self.attached[result["sessionId"]] = target
            return result

        return Command(params={**params, "flatten": True}, after=remember)

    def _auto_attach(self, method: str, params: Json, caller: Caller) -> Command:
        return Command(params={**params, "flatten": True})

    def _detach(self, method: str, params: Json, caller: Caller) -> Command:
        session = params.get("sessionId")
        if session is None and params.get("targetId") in self.targets:
            return Command(params=params)
        if session not in self.attached and session not in self.browser_sessions:
            return _no(
                f"session {session!r} was not attached on this connection; detach only sessions you attached "
                "(Target.attachToTarget, Target.attachToBrowserTarget or auto-attach)"
            )
        return Command(params=params)

    def _browser_session(self, method: str, params: Json, caller: Caller) -> Command:
        return Command(params=params, after=self._remember_browser_session)

    def _remember_browser_session(self, result: Json) -> Json:
        if "sessionId" in result:
            self.browser_sessions.add(result["sessionId"])
        return result

    def _browser_target(self, method: str, params: Json, caller: Caller) -> Command:
        """Chromium gives each connection a browser target of its own and shows others' too; the relay shows
        one, the first the client learns of, under one id (asked at browser level, about the connection's own)."""
        if caller.channel is Channel.BROWSER and params.get("targetId") == self.browser_target:
            params = {key: value for key, value in params.items() if key != "targetId"}

        def one_browser(result: Json) -> Json:
            info = result.get("targetInfo")
            if not isinstance(info, dict) or info.get("type") != "browser":
                return result
            if self.browser_target is None:
                self.browser_target = info.get("targetId")
            return {**result, "targetInfo": {**info, "targetId": self.browser_target}}

        return Command(params=params, after=one_browser)

    def _no_op(self, method: str, params: Json, caller: Caller) -> Command:
        return Command(result={})

    def _list_contexts(self, method: str, params: Json, caller: Caller) -> Command:
        """The contexts the client made: the session's own plays the browser's default context, which a
        browser never lists (so Puppeteer's defaultBrowserContext() holds the session's pages, as with a
        browser of one's own; Playwright treats unlisted contexts the same way)."""
        return Command(result={"browserContextIds": sorted(self.extra_contexts)})

    def _list_targets(self, method: str, params: Json, caller: Caller) -> Command:
        def ours_only(result: Json) -> Json:
            infos = [info for info in result.get("targetInfos", []) if info.get("browserContextId") in self.contexts]
            for info in infos:
                self._learn(info)
            return {**result, "targetInfos": infos}

        return Command(params=params, after=ours_only)

    def _create_context(self, method: str, params: Json, caller: Caller) -> Command:
        if params.get("proxyServer") is not None or params.get("proxyBypassList") is not None:
            return _no(
                "a context's own proxy would take its traffic past the pool's egress guard; create the session "
                'with the proxy instead (POST /v1/browser/sessions/ {"proxy": {"server": ..., "username": ..., '
                '"password": ...}}): every context of that session, yours included, then goes through it. '
                "Leave proxy out of new_context"
            )
        if params.get("originsWithUniversalNetworkAccess"):
            return _no(
                "granting origins universal network access would let pages read across origins (and perhaps "
                "local files) past the pool's checks; leave originsWithUniversalNetworkAccess out"
            )
        if not self._creations.has_room():
            return _no(
                f"a session may create at most {MAX_EXTRA_CONTEXTS} extra browser contexts (creations still in "
                "flight count); dispose one with Target.disposeBrowserContext first"
            )
        self._creations.begin()
        allowed = {key: value for key, value in params.items() if key == "disposeOnDetach"}
        if self.context_proxy is not None:  # loopback too goes to the guard, as with the browser's own proxy
            allowed.update(proxyServer=self.context_proxy, proxyBypassList="<-loopback>")
        return Command(params=allowed, after=self._remember_context)

    def _remember_context(self, result: Json) -> Json:
        context = result.get("browserContextId")
        self._creations.finish(context)
        if context and self._on_context_created is not None:
            self._on_context_created(context)
        return result

    def _dispose_context(self, method: str, params: Json, caller: Caller) -> Command:
        context = params.get("browserContextId")
        if context == self.primary_context:
            return _no(
                "the session's own browser context ends when the session is deleted "
                "(DELETE /v1/browser/sessions/{id}); dispose only contexts this session created"
            )
        if context not in self.extra_contexts:
            return _no(
                f"browser context {context!r} was not created by this session (other sessions' contexts are "
                "hidden); Target.getBrowserContexts lists yours"
            )
        self.extra_contexts.discard(context)
        return Command(params=params)

    # --- checks: windows, downloads, files, streams, cookies ----------------------------------

    def _window_of_target(self, method: str, params: Json, caller: Caller) -> Command:
        def remember(result: Json) -> Json:
            if isinstance(result.get("windowId"), int):
                self.windows.add(result["windowId"])
            return result

        return Command(params=params, after=remember)

    def _window(self, method: str, params: Json, caller: Caller) -> Command:
        if params.get("windowId") not in self.windows:
            return _no(
                f"window {params.get('windowId')!r} is not a window of this session's targets; ask "
                "Browser.getWindowForTarget for your target's window first"
            )
        return Command(params=params)

    def _download_path(self, method: str, params: Json, caller: Caller) -> Command:
        rewritten = {key: value for key, value in params.items() if key != "downloadPath"}
        if method == "Browser.setDownloadBehavior" and params.get("behavior") in (*_ALLOWING, "default"):
            # Named by guid, as the worker sets it: the session's list of downloads finds each file by its guid.
            rewritten["behavior"] = "allowAndName"
        if rewritten.get("behavior") in _ALLOWING:
            rewritten["downloadPath"] = self.files_dir  # never a path of the client's
        return Command(params=rewritten)

    def _download(self, method: str, params: Json, caller: Caller) -> Command:
        if params.get("guid") not in self.downloads:
            return _no(
                f"download {params.get('guid')!r} is not one of this session's downloads "
                "(Browser.downloadWillBegin names yours)"
            )
        return Command(params=params)

    def _files(self, method: str, params: Json, caller: Caller) -> Command:
        outside = path_outside(params.get("files"), self.files_dir)
        return _no(outside) if outside else Command(params=params)

    def _drag_files(self, method: str, params: Json, caller: Caller) -> Command:
        data = params.get("data")
        if not isinstance(data, dict) or "files" not in data:
            return Command(params=params)
        outside = path_outside(data["files"], self.files_dir)
        return _no(outside) if outside else Command(params=params)

    def _url(self, method: str, params: Json, caller: Caller) -> Command:
        if "url" not in params:
            return Command(params=params)
        refused = scheme_refused(str(params["url"]))
        if refused:
            return _no(f"{refused} (pages may not open local files or the browser's own pages)")
        return Command(params=params)

    def _stream_source(self, method: str, params: Json, caller: Caller) -> Command:
        def remember(result: Json) -> Json:
            for handle in _stream_handles(method, result):
                self.streams.add((caller.session_id, handle))
            return result

        return Command(params=params, after=remember)

    def _stream(self, method: str, params: Json, caller: Caller) -> Command:
        key = (caller.session_id, str(params.get("handle")))
        if key not in self.streams:
            return _no(
                f"stream {params.get('handle')!r} was not returned to this connection on this session; read only "
                "streams a command returned to you (Page.printToPDF, Fetch.takeResponseBodyAsStream, "
                "Network.loadNetworkResource, IO.resolveBlob), on the session that returned them"
            )
        if method == "IO.close":
            self.streams.discard(key)
        return Command(params=params)

    def _page_cookies(self, method: str, params: Json, caller: Caller) -> Command:
        context = params.get("browserContextId")
        if context is not None and context != caller.context:
            return _no(
                "on a page session cookie calls act on the page's own context; for another of your contexts send "
                "it on the browser connection with that browserContextId"
            )
        forwarded = {"cookies": params["cookies"]} if "cookies" in params else {}
        return Command(params=forwarded, method=_PAGE_COOKIES[method])

    # --- browser -> client -------------------------------------------------------------------

    def event(self, method: str, params: Json, session_id: str | None) -> Event:
        channel = self._channel(session_id)
        if channel is None:
            return Event(forward=False)  # a session of another connection, or one we let go of
        if method == "Target.attachedToTarget":
            return self._attached(params, session_id)
        if method == "Target.detachedFromTarget":
            child = params.get("sessionId", "")
            forward = child in self.attached or child in self.browser_sessions
            self.attached.pop(child, None)
            self.browser_sessions.discard(child)
            return Event(forward=forward)
        if method in ("Target.targetCreated", "Target.targetInfoChanged"):
            return self._target_info(params.get("targetInfo", {}), created=method == "Target.targetCreated")
        if method in ("Target.targetDestroyed", "Target.targetCrashed"):
            forward = params.get("targetId") in self.targets
            if method == "Target.targetDestroyed":
                self.targets.pop(params.get("targetId", ""), None)
                self.target_types.pop(params.get("targetId", ""), None)
            return Event(forward=forward)
        if method in ("Browser.downloadWillBegin", "Page.downloadWillBegin"):
            return self._download_began(params, channel)
        if method == "Browser.downloadProgress":
            return Event(forward=params.get("guid") in self.downloads)
        return Event(forward=channel is Channel.TARGET)  # a target's own events; nothing browser-wide

    def _target_info(self, info: Json, created: bool) -> Event:
        if info.get("type") == "browser":
            return Event(forward=created and self._shows_browser_target(info))
        context = info.get("browserContextId")
        if context in self.contexts:
            self._learn(info)
            return Event(forward=True)
        return Event(forward=False)

    def _shows_browser_target(self, info: Json) -> bool:
        """One browser target, once: the first attached one announced (Puppeteer's browser.target() needs one
        attached). Chromium announces every connection's; how many others connect, and when, stays unseen."""
        if self.browser_target is None and info.get("attached"):
            self.browser_target = info.get("targetId")
        return self.browser_target is not None and info.get("targetId") == self.browser_target

    def _download_began(self, params: Json, channel: Channel) -> Event:
        ours = channel is Channel.TARGET or params.get("frameId") in self.targets
        if ours:
            self.downloads.add(params.get("guid", ""))
        return Event(forward=ours)

    def _attached(self, params: Json, parent: str | None) -> Event:
        info = params.get("targetInfo", {})
        child = params.get("sessionId", "")
        if info.get("type") == "browser":  # our own Target.attachToBrowserTarget (auto-attach never reaches it)
            self.browser_sessions.add(child)
            return Event(forward=True)
        if info.get("browserContextId") in self.contexts:
            self.attached[child] = info.get("targetId", "")
            self._learn({**info, "targetId": info.get("targetId", "")})
            return Event(forward=True)
        # Auto-attach reached another session's target: let go of it, unseen, WITHOUT running it. Chromium
        # starts a paused new page as soon as any attached client runs it, so running it here would start it
        # before its owner's client set it up (init scripts, bindings, dialogs). The worker's own Playwright,
        # attached to every target with waitForDebuggerOnStart since launch, runs each one itself.
        return Event(forward=False, upstream=[("Target.detachFromTarget", {"sessionId": child}, parent)])


# Each check of the policy table is the CdpScope method of its name (held by the class, not by each
# scope: a scope must hold no reference to itself, so a closed connection's scope is freed at once and
# its context creations in flight stop counting).
_CHECKS: dict[Check, CheckFn] = {check: getattr(CdpScope, "_" + check.value) for check in Check}


def _no(why: str) -> Command:
    return Command(error=why)


def _stream_handles(method: str, result: Json) -> list[str]:
    """The stream handles a result hands the client (IO.resolveBlob's uuid reads as `blob:<uuid>`)."""
    handles = [result.get("stream"), (result.get("resource") or {}).get("stream")]
    if method == "IO.resolveBlob" and result.get("uuid"):
        handles.append(f"blob:{result['uuid']}")
    return [handle for handle in handles if isinstance(handle, str) and handle]
