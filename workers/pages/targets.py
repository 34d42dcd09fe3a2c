"""Every target of one browser by browser context, as Target.setDiscoverTargets reports them.

Pure bookkeeping (no I/O): workers/pages/bounds.py feeds it the discovery events and asks which pages
a session's contexts hold and how a target crashed. Pages opened by script (window.open, target=_blank,
a client's Target.createTarget) all show up here, whichever connection made them.
"""

from collections.abc import Collection
from typing import Any

from workers.session import SessionPage

PAGE = "page"
MAX_CRASHES_KEPT = 256


class TargetCensus:
    def __init__(self) -> None:
        self._targets: dict[str, tuple[str, str]] = {}  # target id -> (browser context id, type), oldest first
        self.crashes: dict[str, str] = {}  # target id -> the status Target.targetCrashed gave (recent ones)

    def seen(self, info: dict[str, Any]) -> bool:
        """Record a created or changed target; True if it is a page this census did not know yet."""
        target, context = info.get("targetId"), info.get("browserContextId")
        if not isinstance(target, str) or not isinstance(context, str):
            return False
        new = target not in self._targets
        self._targets[target] = (context, str(info.get("type", "")))
        return new and info.get("type") == PAGE

    def gone(self, target: str) -> None:
        self._targets.pop(target, None)

    def crashed(self, target: str, status: str) -> None:
        if len(self.crashes) >= MAX_CRASHES_KEPT:
            self.crashes.pop(next(iter(self.crashes)))
        self.crashes[target] = status

    def context_of(self, target: str) -> str | None:
        known = self._targets.get(target)
        return known[0] if known else None

    def pages_in(self, contexts: Collection[str]) -> list[str]:
        """The page targets of these contexts, oldest first."""
        return [target for target, (context, kind) in self._targets.items() if kind == PAGE and context in contexts]


def session_contexts(held: SessionPage) -> set[str]:
    """The browser contexts a session holds: its own and those its CDP clients created."""
    return {context for context in (held.context_id, *held.extra_contexts) if context}
