"""What one CDP connection may see and do: its session's browser contexts and nothing else.

Pure protocol logic: the relay asks `command()` about every client message and `event()` about every
browser event, and does what the answers say. Every command, on the root connection, on browser-level
sessions and on page, frame and worker sessions alike, is looked up in one policy table
(workers/cdp/policy.py); the checks the table names live in workers/cdp/target_checks.py (contexts and
targets) and workers/cdp/resource_checks.py (windows, downloads, files, URLs, streams, cookies), and what
they need to know, which targets, sessions, windows, downloads and streams belong to this connection, in
workers/cdp/holdings.py. The only I/O is the realpath lookup of file paths a client names
(workers/cdp/files.py).
"""

from orchestrator.worker import CdpMode
from workers.cdp import resource_checks, target_checks
from workers.cdp.contexts import MAX_EXTRA_CONTEXTS
from workers.cdp.holdings import CheckFn, ConnectionHoldings
from workers.cdp.policy import Action, Channel, Check, TargetType, refusal, rule_for
from workers.cdp.verdicts import Caller, Command, Event, Json, chain
from workers.cdp.viewer import viewer_refusal

__all__ = ["MAX_EXTRA_CONTEXTS", "CdpScope", "Command", "Event", "Json"]


class CdpScope(ConnectionHoldings):
    """One connection's policy: every command and event through the table, on what the connection holds."""

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
            self.learn(info)
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
            self.learn({**info, "targetId": info.get("targetId", "")})
            return Event(forward=True)
        # Auto-attach reached another session's target: let go of it, unseen, WITHOUT running it. Chromium
        # starts a paused new page as soon as any attached client runs it, so running it here would start it
        # before its owner's client set it up (init scripts, bindings, dialogs). The worker's own Playwright,
        # attached to every target with waitForDebuggerOnStart since launch, runs each one itself.
        return Event(forward=False, upstream=[("Target.detachFromTarget", {"sessionId": child}, parent)])


def _no_op(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    return Command(result={})


# Each check of the policy table, by its name in the table.
_CHECKS: dict[Check, CheckFn] = {**target_checks.CHECKS, **resource_checks.CHECKS, Check.NO_OP: _no_op}
if set(_CHECKS) != set(Check):
    raise RuntimeError(f"policy checks without a function: {sorted(set(Check) - set(_CHECKS))}")
