"""The policy table's checks on what a session's targets reach besides contexts and targets: windows,
downloads, files, URLs, streams and cookies (what the connection holds: workers/cdp/holdings.py). The
only I/O is the realpath lookup of file paths a client names (workers/cdp/files.py)."""

from orchestrator.urls import scheme_refused
from workers.cdp.files import path_outside
from workers.cdp.holdings import CheckFn, ConnectionHoldings
from workers.cdp.policy import Check
from workers.cdp.verdicts import Caller, Command, Json, denied

_ALLOWING = ("allow", "allowAndName")  # download behaviours that write files
_PAGE_COOKIES = {  # Storage cookie calls on a page session, as the Network calls that act on the page's context
    "Storage.getCookies": "Network.getAllCookies",
    "Storage.setCookies": "Network.setCookies",
    "Storage.clearCookies": "Network.clearBrowserCookies",
}


def window_of_target(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    def remember(result: Json) -> Json:
        if isinstance(result.get("windowId"), int):
            held.windows.add(result["windowId"])
        return result

    return Command(params=params, after=remember)


def window(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    if params.get("windowId") not in held.windows:
        return denied(
            f"window {params.get('windowId')!r} is not a window of this session's targets; ask "
            "Browser.getWindowForTarget for your target's window first"
        )
    return Command(params=params)


def download_path(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    rewritten = {key: value for key, value in params.items() if key != "downloadPath"}
    if method == "Browser.setDownloadBehavior" and params.get("behavior") in (*_ALLOWING, "default"):
        # Named by guid, as the worker sets it: the session's list of downloads finds each file by its guid.
        rewritten["behavior"] = "allowAndName"
    if rewritten.get("behavior") in _ALLOWING:
        rewritten["downloadPath"] = held.files_dir  # never a path of the client's
    return Command(params=rewritten)


def download(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    if params.get("guid") not in held.downloads:
        return denied(
            f"download {params.get('guid')!r} is not one of this session's downloads "
            "(Browser.downloadWillBegin names yours)"
        )
    return Command(params=params)


def files(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    outside = path_outside(params.get("files"), held.files_dir)
    return denied(outside) if outside else Command(params=params)


def drag_files(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    data = params.get("data")
    if not isinstance(data, dict) or "files" not in data:
        return Command(params=params)
    outside = path_outside(data["files"], held.files_dir)
    return denied(outside) if outside else Command(params=params)


def url(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    if "url" not in params:
        return Command(params=params)
    refused = scheme_refused(str(params["url"]))
    if refused:
        return denied(f"{refused} (pages may not open local files or the browser's own pages)")
    return Command(params=params)


def stream_source(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    def remember(result: Json) -> Json:
        for handle in _stream_handles(method, result):
            held.streams.add((caller.session_id, handle))
        return result

    return Command(params=params, after=remember)


def stream(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    key = (caller.session_id, str(params.get("handle")))
    if key not in held.streams:
        return denied(
            f"stream {params.get('handle')!r} was not returned to this connection on this session; read only "
            "streams a command returned to you (Page.printToPDF, Fetch.takeResponseBodyAsStream, "
            "Network.loadNetworkResource, IO.resolveBlob), on the session that returned them"
        )
    if method == "IO.close":
        held.streams.discard(key)
    return Command(params=params)


def page_cookies(held: ConnectionHoldings, method: str, params: Json, caller: Caller) -> Command:
    context = params.get("browserContextId")
    if context is not None and context != caller.context:
        return denied(
            "on a page session cookie calls act on the page's own context; for another of your contexts send "
            "it on the browser connection with that browserContextId"
        )
    forwarded = {"cookies": params["cookies"]} if "cookies" in params else {}
    return Command(params=forwarded, method=_PAGE_COOKIES[method])


def _stream_handles(method: str, result: Json) -> list[str]:
    """The stream handles a result hands the client (IO.resolveBlob's uuid reads as `blob:<uuid>`)."""
    handles = [result.get("stream"), (result.get("resource") or {}).get("stream")]
    if method == "IO.resolveBlob" and result.get("uuid"):
        handles.append(f"blob:{result['uuid']}")
    return [handle for handle in handles if isinstance(handle, str) and handle]


CHECKS: dict[Check, CheckFn] = {
    Check.WINDOW_OF_TARGET: window_of_target,
    Check.WINDOW: window,
    Check.DOWNLOAD_PATH: download_path,
    Check.DOWNLOAD: download,
    Check.FILES: files,
    Check.DRAG_FILES: drag_files,
    Check.URL: url,
    Check.STREAM_SOURCE: stream_source,
    Check.STREAM: stream,
    Check.PAGE_COOKIES: page_cookies,
}
