"""The policy table's checks on browser contexts and targets: which a command may name, and what its
answer adds to the connection's own (workers/cdp/holdings.py)."""

from workers.cdp.contexts import MAX_EXTRA_CONTEXTS
from workers.cdp.holdings import CheckFn, ConnectionHoldings
from workers.cdp.policy import Channel, Check, TargetType
from workers.cdp.verdicts import Caller, Command, Json, denied

_ON_BROWSER_TARGET = ("Target.getTargetInfo", "Target.attachToTarget")  # what may name the browser's own target


def context(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    given = params.get("browserContextId")
    if given is None:
        return Command(params={**params, "browserContextId": caller.context})
    if given not in held.contexts:
        return denied(
            f"browser context {given!r} is not one of this session's (other sessions' contexts are hidden). "
            "leave browserContextId out to mean the session's own; Target.getBrowserContexts lists those you made"
        )
    return Command(params=params)


def target(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    if "targetId" not in params:
        return denied("it needs the targetId of one of this session's targets (Target.getTargets lists them)")
    return own_target(held, method, params, caller)


def own_target(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    named = params.get("targetId")
    browser = named == held.browser_target and method in _ON_BROWSER_TARGET
    if named is not None and named not in held.targets and not browser:
        return denied(
            f"target {named!r} is not one of this session's (other sessions' targets are hidden). "
            "Target.getTargets lists yours"
        )
    return Command(params=params)


def new_target(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    refused = held.page_refusal() if held.page_refusal is not None else None
    if refused:
        return denied(refused)
    context_id = str(params.get("browserContextId", caller.context))

    def remember(result: Json) -> Json:
        if "targetId" in result:
            held.targets[result["targetId"]] = context_id
            held.target_types[result["targetId"]] = TargetType.PAGE
            if held.on_page_created is not None:
                held.on_page_created(result["targetId"], context_id)
        return result

    return Command(params=params, after=remember)


def attach(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    target_id = str(params.get("targetId"))
    if target_id == held.browser_target:  # a browser-level session of its own (Puppeteer's browser.target())
        return Command(params={}, method="Target.attachToBrowserTarget", after=held.remember_browser_session)

    def remember(result: Json) -> Json:
        if "sessionId" in result:
            held.attached[result["sessionId"]] = target_id
        return result

    return Command(params={**params, "flatten": True}, after=remember)


def auto_attach(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    return Command(params={**params, "flatten": True})


def detach(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    session = params.get("sessionId")
    if session is None and params.get("targetId") in held.targets:
        return Command(params=params)
    if session not in held.attached and session not in held.browser_sessions:
        return denied(
            f"session {session!r} was not attached on this connection; detach only sessions you attached "
            "(Target.attachToTarget, Target.attachToBrowserTarget or auto-attach)"
        )
    return Command(params=params)


def browser_session(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    return Command(params=params, after=held.remember_browser_session)


def browser_target(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    """Chromium gives each connection a browser target of its own and shows others' too; the relay shows
    one, the first the client learns of, under one id (asked at browser level, about the connection's own)."""
    if caller.channel is Channel.BROWSER and params.get("targetId") == held.browser_target:
        params = {key: value for key, value in params.items() if key != "targetId"}

    def one_browser(result: Json) -> Json:
        info = result.get("targetInfo")
        if not isinstance(info, dict) or info.get("type") != "browser":
            return result
        if held.browser_target is None:
            held.browser_target = info.get("targetId")
        return {**result, "targetInfo": {**info, "targetId": held.browser_target}}

    return Command(params=params, after=one_browser)


def list_contexts(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    """The contexts the client made: the session's own plays the browser's default context, which a
    browser never lists (so Puppeteer's defaultBrowserContext() holds the session's pages, as with a
    browser of one's own; Playwright treats unlisted contexts the same way)."""
    return Command(result={"browserContextIds": sorted(held.extra_contexts)})


def list_targets(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    def ours_only(result: Json) -> Json:
        infos = [info for info in result.get("targetInfos", []) if info.get("browserContextId") in held.contexts]
        for info in infos:
            held.learn(info)
        return {**result, "targetInfos": infos}

    return Command(params=params, after=ours_only)


def create_context(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    if params.get("proxyServer") is not None or params.get("proxyBypassList") is not None:
        return denied(
            "a context's own proxy would take its traffic past the pool's egress guard; create the session "
            'with the proxy instead (POST /v1/browser/sessions/ {"proxy": {"server": ..., "username": ..., '
            '"password": ...}}): every context of that session, yours included, then goes through it. '
            "Leave proxy out of new_context"
        )
    if params.get("originsWithUniversalNetworkAccess"):
        return denied(
            "granting origins universal network access would let pages read across origins (and perhaps "
            "local files) past the pool's checks; leave originsWithUniversalNetworkAccess out"
        )
    if not held.creations.has_room():
        return denied(
            f"a session may create at most {MAX_EXTRA_CONTEXTS} extra browser contexts (creations still in "
            "flight count); dispose one with Target.disposeBrowserContext first"
        )
    held.creations.begin()
    allowed = {key: value for key, value in params.items() if key == "disposeOnDetach"}
    if held.context_proxy is not None:  # loopback too goes to the guard, as with the browser's own proxy
        allowed.update(proxyServer=held.context_proxy, proxyBypassList="<-loopback>")

    def remember(result: Json) -> Json:
        created = result.get("browserContextId")
        held.creations.finish(created)
        if created and held.on_context_created is not None:
            held.on_context_created(created)
        return result

    return Command(params=allowed, after=remember)


def dispose_context(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    named = params.get("browserContextId")
    if named == held.primary_context:
        return denied(
            "the session's own browser context ends when the session is deleted "
            "(DELETE /v1/browser/sessions/{id}); dispose only contexts this session created"
        )
    if named not in held.extra_contexts:
        return denied(
            f"browser context {named!r} was not created by this session (other sessions' contexts are "
            "hidden); Target.getBrowserContexts lists yours"
        )
    held.extra_contexts.discard(named)
    return Command(params=params)


CHECKS: dict[Check, CheckFn] = {
    Check.CONTEXT: context,
    Check.TARGET: target,
    Check.OWN_TARGET: own_target,
    Check.NEW_TARGET: new_target,
    Check.ATTACH: attach,
    Check.AUTO_ATTACH: auto_attach,
    Check.DETACH: detach,
    Check.BROWSER_SESSION: browser_session,
    Check.BROWSER_TARGET: browser_target,
    Check.LIST_CONTEXTS: list_contexts,
    Check.LIST_TARGETS: list_targets,
    Check.CREATE_CONTEXT: create_context,
    Check.DISPOSE_CONTEXT: dispose_context,
}
