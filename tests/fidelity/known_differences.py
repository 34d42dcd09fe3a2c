"""Scenarios where the pool deliberately answers differently from a local Chromium, and why.

Each entry names its row of README's table "What behaves differently from a browser of your own, on
purpose" (`row`, the row's first cell exactly) and quotes the row's reason (`reason`, a part of the row);
test_every_known_difference_has_its_readme_row checks both. It gives the observation the pool must give
instead, exactly, so a difference that changes shape (or stops happening) fails too. For a race the pool
may also give one of `race` (the reference's observation among them); on one long connection, a client
library that kept state from a refusal may give one of `again` from the second run on.
"""

import itertools
from dataclasses import dataclass

from tests.fidelity.harness import Json
from workers.cdp.policy import BROWSER_WIDE_TRACING, refusal


@dataclass(frozen=True)
class KnownDifference:
    row: str  # the first cell of its README row, exactly
    reason: str  # quoted from that row
    pool: Json  # the pool's observation, exactly
    race: tuple[Json, ...] = ()  # the other observations a race lets the pool give
    again: tuple[Json, ...] = ()  # what a second run on the same connection may give instead of `pool`

    def allows(self, observation: Json) -> bool:
        return observation == self.pool or observation in self.race


TRACING = "`browser.start_tracing()` / Puppeteer `page.tracing` (CDP `Tracing.*`)"
TRACING_WHY = (
    "Chromium traces the whole browser, other sessions' pages included, and cannot limit a trace to one context"
)
TRACING_REFUSED = refusal("Tracing.start", BROWSER_WIDE_TRACING)
STILL_TRACING = "Browser.start_tracing: Cannot start recording trace while already recording trace."
DOWNLOADS = (
    "`download.path()`, `save_as()`; Puppeteer's `downloadPath` (`Browser.setDownloadBehavior`, "
    "`createBrowserContext({downloadBehavior})`)"
)
DOWNLOADS_WHY = (
    "the browser runs on another host, and as another user, than your client, and never writes where a client names"
)
NOT_IN_CLIENT_DIR = "[Errno 2] No such file or directory: '<playwright's artifacts dir>/<download guid>'"
UNREACHABLE = "navigation to (or a subresource from) an unreachable host, an unknown name or a refused address"
UNREACHABLE_WHY = (
    "every request leaves through the egress guard, a forward proxy on the worker that resolves and connects"
)
PROXY_SEEN = "`response.server_addr()` / Puppeteer `response.remoteAddress()`, the request headers Chromium reports"
PROXY_SEEN_WHY = "the same proxy: the browser talks to it, not to the server"
POPUPS = "a page in a context your client created (`browser.new_context()`, `createBrowserContext()`) opens a popup"
POPUPS_WHY = (
    "the worker's own Playwright, attached to the whole browser, lets each new page of a context it does not own "
    "run as soon as it sees it, and Chromium starts a new page once any attached client lets it"
)
DIRECT_HEADERS = [
    "accept",
    "accept-encoding",
    "host",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-user",
    "upgrade-insecure-requests",
    "user-agent",
]


def _some_of(outcomes: list[str], **rest: Json) -> tuple[Json, ...]:
    """Every observation `{"popups": [...], **rest}` of a non-empty set of these outcomes."""
    picks = [sorted(pick) for size in range(1, len(outcomes) + 1) for pick in itertools.combinations(outcomes, size)]
    return tuple({"popups": pick, **rest} for pick in picks)


def _failed_load(url: str) -> Json:
    return {
        "raised": {"error": "Error", "message": f"Page.goto: net::ERR_EMPTY_RESPONSE at {url}"},
        "url_after": "about:blank",
    }


POPUP_INIT_OUTCOMES = ["ran before set-up", "set up before it ran"]
POPUP_DIALOG_OUTCOMES = [
    "never reached the client",
    "popup dialog: alert:popup says hi",
    "popup dialog: no dialog seen",
]

KNOWN_DIFFERENCES: dict[str, KnownDifference] = {
    # --- tracing ------------------------------------------------------------------------------------------------
    "tracing_browser_chromium": KnownDifference(
        TRACING,
        TRACING_WHY,
        pool={"error": "Error", "message": f"Browser.start_tracing: Protocol error (Tracing.start): {TRACING_REFUSED}"},
        again=({"error": "Error", "message": STILL_TRACING},),
    ),
    "tracing_browser_twice": KnownDifference(
        TRACING,
        TRACING_WHY,
        pool={
            "outcomes": [
                f"Browser.start_tracing: Protocol error (Tracing.start): {TRACING_REFUSED}"[:160],
                STILL_TRACING,
            ]
        },
    ),
    "pp_page_tracing": KnownDifference(
        TRACING,
        TRACING_WHY,
        pool={"error": "ProtocolError", "message": f"Protocol error (Tracing.start): {TRACING_REFUSED}"},
    ),
    # --- per-context proxies ------------------------------------------------------------------------------------
    "context_proxy": KnownDifference(
        "`new_context(proxy=...)`, client certificates (Playwright implements them with a per-context proxy)",
        "a per-context proxy would take the context's traffic past the egress guard",
        pool={
            "error": "Error",
            "message": (
                "Browser.new_context: Protocol error (Target.createBrowserContext): Target.createBrowserContext is "
                "refused by browserpool for isolation: a context's own proxy would take its traffic past the pool's "
                'egress guard; create the session with the proxy instead (POST /v1/browser/sessions/ {"proxy": '
                '{"server": ..., "username": ..., "password": ...}}): every context of that session, yours included, '
                "then goes through it. Leave proxy out of new_context"
            ),
        },
    ),
    # --- downloads ------------------------------------------------------------------------------------------------
    "download_path_bytes": KnownDifference(
        DOWNLOADS, DOWNLOADS_WHY, pool={"error": "FileNotFoundError", "message": NOT_IN_CLIENT_DIR}
    ),
    "download_in_home_context": KnownDifference(
        DOWNLOADS, DOWNLOADS_WHY, pool={"error": "FileNotFoundError", "message": NOT_IN_CLIENT_DIR}
    ),
    "download_save_as": KnownDifference(
        DOWNLOADS,
        DOWNLOADS_WHY,
        pool={
            "error": "Error",
            "message": (
                "Download.save_as: ENOENT: no such file or directory, copyfile "
                "'<playwright's artifacts dir>/<download guid>' -> '<client dir>/saved.csv'"
            ),
        },
    ),
    "pp_download_behavior": KnownDifference(
        DOWNLOADS, DOWNLOADS_WHY, pool={"name": "report.csv", "state": "completed", "files": [], "sizes": []}
    ),
    "pp_download_file_bytes": KnownDifference(DOWNLOADS, DOWNLOADS_WHY, pool={"files": [], "sha": []}),
    # --- host files -----------------------------------------------------------------------------------------------
    "pp_upload_file": KnownDifference(
        "Puppeteer's `uploadFile(path)` (CDP `DOM.setFileInputFiles` with your host's paths)",
        "the browser reads no file of your host",
        pool={
            "error": "ProtocolError",
            "message": (
                "Protocol error (DOM.setFileInputFiles): DOM.setFileInputFiles is refused by browserpool for "
                "isolation: '<client dir>/pp-upload.txt' is not a file inside this session's own directory (the "
                "browser runs on the pool's host, not yours, and reads no other host file). Upload it into the "
                "session first (POST /v1/browser/sessions/{id}/files) and pass the path that answers, or send the "
                "file's contents instead of a path: Playwright's set_input_files with a path does so by itself over "
                "connect_over_cdp (without is_local), or pass {name, mimeType, buffer} payloads"
            ),
        },
    ),
    # --- URLs pages may not open ----------------------------------------------------------------------------------
    "nav_file_url": KnownDifference(
        "navigation to `file:`, `chrome:`, `view-source:`, ...",
        "pages may not open local files or the browser's own pages",
        pool={
            "raised": {
                "error": "Error",
                "message": (
                    "Page.goto: Protocol error (Page.navigate): Page.navigate is refused by browserpool for isolation: "
                    "url scheme 'file' is not allowed; use http or https (pages may not open local files or the "
                    "browser's own pages)"
                ),
            },
            "url_after": "about:blank",
        },
    ),
    # --- the egress guard -----------------------------------------------------------------------------------------
    "nav_own_debugging_port": KnownDifference(
        UNREACHABLE,
        UNREACHABLE_WHY,
        pool={
            "raised": {
                "error": "Error",
                "message": "Page.goto: net::ERR_EMPTY_RESPONSE at http://127.0.0.1:<its port>/json/version",
            }
        },
    ),
    "nav_connection_refused": KnownDifference(UNREACHABLE, UNREACHABLE_WHY, pool=_failed_load("<closed>/")),
    "nav_bad_host_name": KnownDifference(
        UNREACHABLE, UNREACHABLE_WHY, pool=_failed_load("http://" + "x" * 64 + ".example/")
    ),
    "subresource_failure_event": KnownDifference(
        UNREACHABLE, UNREACHABLE_WHY, pool={"failed": [["<closed>/x", "net::ERR_EMPTY_RESPONSE"]]}
    ),
    "pp_goto_errors": KnownDifference(
        UNREACHABLE,
        UNREACHABLE_WHY,
        pool=["net::ERR_EMPTY_RESPONSE at <closed>/", f"net::ERR_EMPTY_RESPONSE at http://{'x' * 64}.example/", 500],
    ),
    "response_server_addr": KnownDifference(
        PROXY_SEEN, PROXY_SEEN_WHY, pool={"server_addr": {"ipAddress": "127.0.0.1", "port": "another"}}
    ),
    "request_headers_seen_by_client": KnownDifference(
        PROXY_SEEN, PROXY_SEEN_WHY, pool={"names": sorted([*DIRECT_HEADERS, "proxy-connection"])}
    ),
    "pp_goto_status_and_redirects": KnownDifference(
        PROXY_SEEN,
        PROXY_SEEN_WHY,
        pool={
            "missing": 404,
            "final": "<site>/page/landed",
            "chain": ["<site>/redirect/2", "<site>/redirect/1", "<site>/redirect/0"],
            "remote": {"ip": "127.0.0.1", "port": "another"},
        },
    ),
    # --- page sessions and the default context ------------------------------------------------------------------
    "cdp_page_session_get_cookies": KnownDifference(
        "on a page's CDP session in a context you created: `Storage.getCookies`/`setCookies`/`clearCookies`, or "
        "`Browser.*` permission and download calls and `Target.createTarget` without `browserContextId`",
        "the relay answers each command on the session it came on",
        pool={"names": ["in_page_context"]},
    ),
    # --- popups of client-made contexts: a race -----------------------------------------------------------------
    "popup_init_script_client_context": KnownDifference(
        POPUPS,
        POPUPS_WHY,
        pool={"popups": ["ran before set-up"], "call": "exposed"},
        race=_some_of(POPUP_INIT_OUTCOMES, call="exposed"),
    ),
    "popup_dialog_on_load": KnownDifference(
        POPUPS,
        POPUPS_WHY,
        pool={"popups": ["popup dialog: no dialog seen"]},
        race=_some_of(POPUP_DIALOG_OUTCOMES),
    ),
}
