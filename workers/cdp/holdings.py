"""What belongs to one CDP connection: its mode, its session's contexts and the targets, sessions, windows,
downloads and streams it has learnt are its own.

CdpScope (workers/cdp/scope.py) is built on this record; the checks of the policy table
(workers/cdp/target_checks.py, workers/cdp/resource_checks.py) read it and add to it.
"""

from collections.abc import Callable

from orchestrator.worker import CdpMode
from workers.cdp.contexts import ContextCreations
from workers.cdp.policy import TargetType
from workers.cdp.verdicts import Caller, Command, Json


class ConnectionHoldings:
    def __init__(
        self,
        context_id: str,
        files_dir: str,
        extra_contexts: set[str] | None = None,
        on_context_created: Callable[[str], None] | None = None,
        page_refusal: Callable[[], str | None] | None = None,
        on_page_created: Callable[[str, str], None] | None = None,
        mode: CdpMode = CdpMode.FULL,
        context_proxy: str | None = None,
    ) -> None:
        self.mode = mode  # a live viewer's connection may send only what its mode allows (workers/cdp/viewer.py)
        self.primary_context = context_id
        # Sessions with an upstream proxy: their route's listener on the egress guard, which every context their
        # clients create uses as its proxy (so those contexts' traffic goes through the same upstream).
        self.context_proxy = context_proxy
        self.files_dir = files_dir  # the session's own directory: downloads land here, uploads come from here
        self.extra_contexts = extra_contexts if extra_contexts is not None else set()
        self.on_context_created = on_context_created
        self.page_refusal = page_refusal  # why the session may not open another page now (its page cap)
        # A page this connection created (target id, context), told to the page cap as soon as Chromium answers:
        # its own discovery event may come later, and the next page would be counted without this one.
        self.on_page_created = on_page_created
        self.creations = ContextCreations(context_id, self.extra_contexts)
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

    def learn(self, info: Json) -> None:
        """Remember one of our targets from its TargetInfo: its context and its type."""
        self.targets[info["targetId"]] = info["browserContextId"]
        self.target_types[info["targetId"]] = TargetType.of(info.get("type"))

    def remember_browser_session(self, result: Json) -> Json:
        """A result rewrite: the browser-level session in the answer is this connection's."""
        if "sessionId" in result:
            self.browser_sessions.add(result["sessionId"])
        return result


# One check of the policy table: its verdict on a command, given what the connection holds. Checks are
# functions, not methods bound to a scope: a scope must hold no reference to itself, so a closed
# connection's scope is freed at once and its context creations in flight stop counting.
CheckFn = Callable[[ConnectionHoldings, str, Json, Caller], Command]
