"""What one CDP connection may see and do: its session's browser contexts and nothing else.

Pure protocol logic, no I/O: the relay asks `command()` about every client message and `event()`
about every browser event, and does what the answers say. Browser-level methods pass only through
an allow-list; target ids, context ids and child session ids are checked against what this
connection owns or attached.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.urls import scheme_refused

Json = dict[str, Any]
Upstream = tuple[str, Json, str | None]  # (method, params, sessionId) the relay sends on its own behalf

MAX_EXTRA_CONTEXTS = 8

# Browser-level methods a client may call, each with how its parameters are checked.
_PASS = "pass"
_CONTEXT = "context"  # acts on a browser context: default to the session's, refuse others
_TARGET = "target"  # acts on a target: must be one of ours
_OWN_HANDLERS = "own"  # handled by a method of CdpScope


@dataclass
class Command:
    """The verdict on one client command."""

    params: Json | None = None  # forward with these parameters
    error: str | None = None  # answer the client with this error
    result: Json | None = None  # answer the client with this result, without asking the browser
    after: Callable[[Json], Json] | None = None  # rewrite the browser's result before the client sees it


@dataclass
class Event:
    """The verdict on one browser event."""

    forward: bool
    upstream: list[Upstream] = field(default_factory=list)


class CdpScope:
    def __init__(
        self,
        context_id: str,
        download_dir: str,
        extra_contexts: set[str] | None = None,
        on_context_created: Callable[[str], None] | None = None,
    ) -> None:
        self.primary_context = context_id
        self.download_dir = download_dir
        self.extra_contexts = extra_contexts if extra_contexts is not None else set()
        self._on_context_created = on_context_created
        self.attached: set[str] = set()  # child session ids this connection attached
        self.targets: set[str] = set()  # target ids known to be ours
        self.downloads: set[str] = set()  # download guids of our pages

    @property
    def contexts(self) -> set[str]:
        return {self.primary_context, *self.extra_contexts}

    # --- client -> browser -------------------------------------------------------------------

    def command(self, method: str, params: Json, session_id: str | None) -> Command:
        if session_id is not None and session_id not in self.attached:
            return Command(error=f"no session {session_id!r} attached on this connection")
        domain = method.partition(".")[0]
        refused_url = scheme_refused(str(params["url"])) if method in _URL_METHODS and "url" in params else None
        if refused_url:
            return Command(error=refused_url)
        if session_id is not None and domain not in ("Target", "Browser", "Storage"):
            if method == "Page.setDownloadBehavior":
                return Command(error=f"{method} is not allowed; use Browser.setDownloadBehavior")
            return Command(params=params)  # page-, worker- and frame-level methods act on our own target
        rule = _BROWSER_METHODS.get(method)
        if rule is None:
            return Command(error=f"{method} is not allowed on a browserpool session")
        if rule == _PASS:
            return Command(params=params)
        if rule == _CONTEXT:
            return self._in_context(params)
        if rule == _TARGET:
            return self._on_target(params)
        handler: Callable[[Json], Command] = getattr(self, "_" + method.replace(".", "_"))
        return handler(params)

    def _in_context(self, params: Json, default: bool = True) -> Command:
        context = params.get("browserContextId")
        if context is None and default:
            return Command(params={**params, "browserContextId": self.primary_context})
        if context not in self.contexts:
            return Command(error="browser context not found")
        return Command(params=params)

    def _on_target(self, params: Json) -> Command:
        if params.get("targetId") not in self.targets:
            return Command(error="no target with given id found")
        return Command(params=params)

    def _Target_getBrowserContexts(self, params: Json) -> Command:
        return Command(result={"browserContextIds": sorted(self.contexts)})

    def _Target_getTargets(self, params: Json) -> Command:
        return Command(params={}, after=self._only_our_targets)

    def _Target_getTargetInfo(self, params: Json) -> Command:
        if "targetId" in params:
            return self._on_target(params)
        return Command(params=params)  # the browser target itself: version data only

    def _Target_createTarget(self, params: Json) -> Command:
        verdict = self._in_context(params)
        if verdict.params is None:
            return verdict
        return Command(params=verdict.params, after=self._remember_target)

    def _Target_attachToTarget(self, params: Json) -> Command:
        if params.get("targetId") not in self.targets:
            return Command(error="no target with given id found")
        return Command(params={**params, "flatten": True}, after=self._remember_session)

    def _Target_setAutoAttach(self, params: Json) -> Command:
        return Command(params={**params, "flatten": True})

    def _Target_detachFromTarget(self, params: Json) -> Command:
        if params.get("sessionId") not in self.attached:
            return Command(error="no session with given id found")
        return Command(params=params)

    def _Target_createBrowserContext(self, params: Json) -> Command:
        if len(self.extra_contexts) >= MAX_EXTRA_CONTEXTS:
            return Command(error=f"a session may create at most {MAX_EXTRA_CONTEXTS} extra browser contexts")
        allowed = {k: v for k, v in params.items() if k == "disposeOnDetach"}  # no proxies or origins of theirs
        return Command(params=allowed, after=self._remember_context)

    def _Target_disposeBrowserContext(self, params: Json) -> Command:
        context = params.get("browserContextId")
        if context == self.primary_context:
            return Command(error="the session's own browser context is closed by deleting the session")
        if context not in self.extra_contexts:
            return Command(error="browser context not found")
        self.extra_contexts.discard(context)
        return Command(params=params)

    def _Browser_setDownloadBehavior(self, params: Json) -> Command:
        verdict = self._in_context(params)
        if verdict.params is None or params.get("behavior") not in ("allow", "allowAndName"):
            return verdict
        return Command(params={**verdict.params, "downloadPath": self.download_dir})  # never a path of theirs

    # --- results -----------------------------------------------------------------------------

    def _only_our_targets(self, result: Json) -> Json:
        infos = [info for info in result.get("targetInfos", []) if info.get("browserContextId") in self.contexts]
        self.targets.update(info["targetId"] for info in infos)
        return {**result, "targetInfos": infos}

    def _remember_target(self, result: Json) -> Json:
        if "targetId" in result:
            self.targets.add(result["targetId"])
        return result

    def _remember_session(self, result: Json) -> Json:
        if "sessionId" in result:
            self.attached.add(result["sessionId"])
        return result

    def _remember_context(self, result: Json) -> Json:
        context = result.get("browserContextId")
        if context:
            self.extra_contexts.add(context)
            if self._on_context_created is not None:
                self._on_context_created(context)
        return result

    # --- browser -> client -------------------------------------------------------------------

    def event(self, method: str, params: Json, session_id: str | None) -> Event:
        if session_id is not None and session_id not in self.attached:
            return Event(forward=False)
        if method == "Target.attachedToTarget":
            return self._attached(params)
        if method == "Target.detachedFromTarget":
            forward = params.get("sessionId") in self.attached
            self.attached.discard(params.get("sessionId", ""))
            return Event(forward=forward)
        if method in ("Target.targetCreated", "Target.targetInfoChanged"):
            info = params.get("targetInfo", {})
            if info.get("browserContextId") in self.contexts:
                self.targets.add(info["targetId"])
                return Event(forward=True)
            return Event(forward=False)
        if method in ("Target.targetDestroyed", "Target.targetCrashed"):
            return Event(forward=params.get("targetId") in self.targets)
        if method == "Browser.downloadWillBegin":
            if params.get("frameId") in self.targets:
                self.downloads.add(params.get("guid", ""))
                return Event(forward=True)
            return Event(forward=False)
        if method == "Browser.downloadProgress":
            return Event(forward=params.get("guid") in self.downloads)
        if session_id is not None:
            return Event(forward=True)  # events of a target we attached
        return Event(forward=False)  # any other browser-wide event

    def _attached(self, params: Json) -> Event:
        info = params.get("targetInfo", {})
        child = params.get("sessionId", "")
        if info.get("browserContextId") in self.contexts:
            self.attached.add(child)
            self.targets.add(info.get("targetId", ""))
            return Event(forward=True)
        # Auto-attach reached another session's target: let it run on, and let go of it, unseen.
        upstream: list[Upstream] = []
        if params.get("waitingForDebugger"):
            upstream.append(("Runtime.runIfWaitingForDebugger", {}, child))
        upstream.append(("Target.detachFromTarget", {"sessionId": child}, None))
        return Event(forward=False, upstream=upstream)


# Methods that take a URL to open; file:, chrome: and the like are refused (the REST navigate does the same).
_URL_METHODS = frozenset({"Page.navigate", "Target.createTarget"})

_BROWSER_METHODS: dict[str, str] = {
    "Browser.getVersion": _PASS,
    "Browser.setDownloadBehavior": _OWN_HANDLERS,
    "Browser.grantPermissions": _CONTEXT,
    "Browser.resetPermissions": _CONTEXT,
    "Storage.getCookies": _CONTEXT,
    "Storage.setCookies": _CONTEXT,
    "Storage.clearCookies": _CONTEXT,
    "Target.setDiscoverTargets": _PASS,
    "Target.setAutoAttach": _OWN_HANDLERS,
    "Target.getBrowserContexts": _OWN_HANDLERS,
    "Target.getTargets": _OWN_HANDLERS,
    "Target.getTargetInfo": _OWN_HANDLERS,
    "Target.createTarget": _OWN_HANDLERS,
    "Target.attachToTarget": _OWN_HANDLERS,
    "Target.detachFromTarget": _OWN_HANDLERS,
    "Target.activateTarget": _TARGET,
    "Target.closeTarget": _TARGET,
    "Target.createBrowserContext": _OWN_HANDLERS,
    "Target.disposeBrowserContext": _OWN_HANDLERS,
}
