"""What a live viewer's CDP connection may send: an allow-list per mode, checked before the policy table.

A live view (the dashboard's, or a live link's page) needs few methods: list and follow the session's pages,
attach to one, run a screencast and acknowledge its frames. An interactive viewer may also switch the tab
in front and send mouse, keyboard and text input. Everything else is refused on such a connection, whatever
its page's script asks: a live link's holder gets what its mode allows and nothing the session's own
clients may do (no Runtime.evaluate, no navigation, no network or storage access). The policy table
(workers/cdp/policy.py) and the scope's checks still apply to what is allowed here (own targets only).
"""

from orchestrator.worker import CdpMode

WATCHING = frozenset(
    {
        "Browser.getVersion",
        "Target.getTargets",
        "Target.getTargetInfo",
        "Target.setDiscoverTargets",
        "Target.attachToTarget",
        "Target.detachFromTarget",
        "Page.getLayoutMetrics",
        "Page.startScreencast",
        "Page.stopScreencast",
        "Page.screencastFrameAck",
    }
)
TAKING_OVER = WATCHING | {
    "Target.activateTarget",
    "Page.bringToFront",
    "Input.dispatchMouseEvent",
    "Input.dispatchKeyEvent",
    "Input.insertText",
}
ALLOWED = {CdpMode.VIEW: WATCHING, CdpMode.INTERACTIVE: TAKING_OVER}


def viewer_refusal(mode: CdpMode, method: str) -> str | None:
    """Why a connection in `mode` may not send `method`, or None when it may (a full connection: always)."""
    allowed = ALLOWED.get(mode)
    if allowed is None or method in allowed:
        return None
    if mode is CdpMode.VIEW and method in TAKING_OVER:
        return (
            f"{method} is refused: this is a view-only live view, which cannot send input. Ask the session's "
            "owner for an interactive live link"
        )
    return (
        f"{method} is refused: a live view ({mode.value}) may only watch the session's pages"
        f"{' and send mouse and keyboard input' if mode is CdpMode.INTERACTIVE else ''}; drive the session "
        "with its own cdp_url instead"
    )
