"""What the CDP scope tests share: a scope that already knows a page, a context, a window, a download and streams."""

import re
from pathlib import Path
from typing import Any

from workers.cdp.scope import CdpScope, Command

OURS, THEIRS, CREATED = "CTX-OURS", "CTX-THEIRS", "CTX-CREATED"
PAGE_SESSION, BROWSER_SESSION = "S1", "B1"
GUIDANCE = re.compile(r"Instead|instead|no per-session equivalent|ask for it to be reviewed")


def make_scope(files_dir: Path) -> CdpScope:
    """A scope that knows one page (T1, attached as S1), one created context, a window, a download and streams."""
    s = CdpScope(OURS, str(files_dir))
    s.event(
        "Target.attachedToTarget",
        {"sessionId": PAGE_SESSION, "targetInfo": {"targetId": "T1", "type": "page", "browserContextId": OURS}},
        None,
    )
    answer(s.command("Target.createBrowserContext", {}, None), {"browserContextId": CREATED})
    answer(s.command("Browser.getWindowForTarget", {"targetId": "T1"}, None), {"windowId": 7})
    s.event("Browser.downloadWillBegin", {"frameId": "T1", "guid": "G1"}, None)
    answer(s.command("Page.printToPDF", {"transferMode": "ReturnAsStream"}, PAGE_SESSION), {"stream": "5"})
    answer(s.command("Target.attachToBrowserTarget", {}, None), {"sessionId": BROWSER_SESSION})
    s.streams.add((None, "5"))  # as if a browser-level command had returned stream 5 on the root connection
    return s


def answer(verdict: Command, result: dict[str, Any]) -> dict[str, Any]:
    assert verdict.error is None, verdict.error
    return verdict.after(result) if verdict.after else result


def assert_refused(verdict: Command, method: str) -> None:
    assert verdict.error is not None and verdict.params is None and verdict.result is None
    assert verdict.error.startswith(f"{method} is refused by browserpool for isolation: "), verdict.error
