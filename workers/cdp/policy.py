"""What a session's CDP client may send, domain by domain and method by method, on every channel.

One table for the whole protocol (checked against ChromeDevTools/devtools-protocol's browser_protocol.json
and js_protocol.json). A row names a domain (the default for all its methods) or one method (overrides
the domain) and gives a rule for each channel:

- the browser channel: the root connection, and browser-level sessions from Target.attachToBrowserTarget;
- the target channel: page, frame, worker, shared-worker and service-worker sessions the client attached
  to its own targets.

On the target channel a session's target type narrows its row further (TARGET_DOMAINS, ON_WORKERS):
Chromium implements only some domains on worker targets, and a call it half-implements there can crash
the whole browser (Network.setCookies on a shared or service worker did), so a worker session gets only
the domains Chromium serves for its type, and never a command rewritten into one its type lacks.

A rule passes the command as it is, scopes it (CdpScope's checks, applied in order, rewrite the
parameters to the session's own context, target, window or directory, or refuse them), or refuses it with
a message that says why and what to do instead. Deny by default: a domain or browser method not in this
table is refused on every channel. Generous inside a target: domains that act on the one page, frame or
worker of the session they are sent on pass there, because Chromium keeps a context's renderers, storage
partition, caches and streams apart from every other context's. Closed for what is browser-wide (tracing,
host information, screens, memory pressure), crosses contexts (other targets, windows, downloads,
contexts) or touches the host (file paths outside the session's own directory, ports, extensions).
"""

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    BROWSER = "browser"  # the root connection and browser-level sessions
    TARGET = "target"  # page, frame, worker and service-worker sessions


class TargetType(StrEnum):
    """A target's `type` as Chromium reports it in its TargetInfo."""

    PAGE = "page"
    FRAME = "iframe"  # an out-of-process frame of one of the session's pages
    WORKER = "worker"  # a dedicated worker
    SHARED_WORKER = "shared_worker"
    SERVICE_WORKER = "service_worker"
    OTHER = "other"  # anything else (worklets, webviews, types newer than this table): the narrowest rules

    @classmethod
    def of(cls, name: object) -> "TargetType":
        try:
            return cls(str(name))
        except ValueError:
            return cls.OTHER


class Action(StrEnum):
    PASS = "pass"
    SCOPE = "scope"
    REFUSE = "refuse"


class Check(StrEnum):
    """The scoping checks CdpScope applies to a command before it is forwarded."""

    URL = "url"  # a `url` parameter must have a scheme pages may open (no file:, chrome:, ...)
    CONTEXT = "context"  # browserContextId: absent means the caller's context; otherwise one of the session's
    TARGET = "target"  # targetId required, one of the session's targets
    OWN_TARGET = "own_target"  # targetId optional (absent: the session's own target); if given, one of ours
    BROWSER_TARGET = "browser_target"  # the browser's own target: one per connection, the one the client was shown
    NEW_TARGET = "new_target"  # the created target belongs to the session
    ATTACH = "attach"  # flat session forced; the new session is this connection's
    AUTO_ATTACH = "auto_attach"  # flat sessions forced
    DETACH = "detach"  # only sessions this connection attached
    BROWSER_SESSION = "browser_session"  # the new browser-level session is filtered like the root connection
    LIST_CONTEXTS = "list_contexts"  # answered from the session's own contexts
    LIST_TARGETS = "list_targets"  # the answer lists the session's targets only
    CREATE_CONTEXT = "create_context"  # at most MAX_EXTRA_CONTEXTS, in flight included; no per-context proxies
    DISPOSE_CONTEXT = "dispose_context"  # only contexts the session created
    WINDOW_OF_TARGET = "window_of_target"  # the window in the answer becomes the session's
    WINDOW = "window"  # windowId of one of the session's windows
    DOWNLOAD_PATH = "download_path"  # downloads land in the session's directory, whatever path is named
    DOWNLOAD = "download"  # guid of one of the session's downloads
    FILES = "files"  # every path in `files` resolves inside the session's directory
    DRAG_FILES = "drag_files"  # every path in `data.files` resolves inside the session's directory
    STREAM_SOURCE = "stream_source"  # the stream handle in the answer becomes readable on this session
    STREAM = "stream"  # IO on handles returned to this connection, on the same session, only
    PAGE_COOKIES = "page_cookies"  # Storage cookie calls on a page session act on the page's context
    NO_OP = "no_op"  # answered {} at once and not forwarded: Chromium accepts it there and it changes nothing


@dataclass(frozen=True)
class Rule:
    action: Action
    checks: tuple[Check, ...] = ()  # SCOPE: applied in order
    reason: str = ""  # REFUSE: why, and what to do instead


@dataclass(frozen=True)
class Row:
    browser: Rule  # on the root connection and browser-level sessions
    target: Rule  # on page, frame and worker sessions

    def on(self, channel: Channel) -> Rule:
        return self.browser if channel is Channel.BROWSER else self.target


def passes() -> Rule:
    return Rule(Action.PASS)


def scoped(*checks: Check) -> Rule:
    return Rule(Action.SCOPE, checks=checks)


def refused(reason: str) -> Rule:
    return Rule(Action.REFUSE, reason=reason)


def everywhere(rule: Rule) -> Row:
    return Row(browser=rule, target=rule)


def on_target(rule: Rule) -> Row:
    """A method that acts on one page, frame or worker: `rule` on its session, refused at browser level."""
    return Row(browser=refused(PAGE_ONLY), target=rule)


PAGE_ONLY = (
    "it acts on a page, frame or worker; at browser level it has no page of its own or would reach every "
    "session's pages. Send it on your target's session instead: attach with Target.attachToTarget "
    "{flatten: true} or Target.setAutoAttach (Playwright: context.new_cdp_session(page); Puppeteer: "
    "page.createCDPSession())"
)
UNKNOWN = (
    "browserpool's CDP policy has no rule for it and unknown domains and browser methods are refused "
    "(deny by default); ask for it to be reviewed if you need it"
)
PAGE = on_target(passes())

BROWSER_WIDE_TRACING = (
    "Chromium tracing records the whole browser, so a trace would show other sessions' pages (URLs, "
    "titles, timings), and it cannot be limited to one context. Instead: Playwright's "
    "context.tracing.start()/stop() and the trace viewer (recorded by your client, works over cdp_url), or "
    "Performance.getMetrics and Profiler.start/stop on your page's session for timings and CPU profiles "
    "(Puppeteer's page.tracing uses Chromium tracing and is refused too)"
)
HOST_INFO = (
    "it describes the host machine every session shares (GPU, processes, command lines). Instead: what your "
    "pages may know of the machine they see through the web platform (navigator.hardwareConcurrency, screen)"
)
SCREENS = (
    "headless screens belong to the whole browser: adding, changing or removing one changes every "
    "session's screens. Instead: Emulation.setDeviceMetricsOverride with screenWidth/screenHeight on your "
    "page's session (Playwright: new_context(screen=..., viewport=...))"
)
MEMORY_PRESSURE = (
    "it acts on every process of the browser, other sessions' included. Instead: "
    "Memory.forciblyPurgeJavaScriptMemory or HeapProfiler.collectGarbage on your page's session"
)
STORAGE_AT_BROWSER = (
    "at browser level it acts on the browser's default storage, which is nobody's session. Send it on your "
    "page's session instead, where it acts on your context's storage (cookies of any of your contexts: "
    "Storage.getCookies/setCookies/clearCookies with its browserContextId here)"
)

CRASHES_BROWSER = (
    "it crashes the browser process every session shares (the crash census found it on this Chromium); methods "
    "that do are refused until Chromium fixes them. Instead: "
)

POLICY: dict[str, Row] = {
    # --- acting on one page, frame or worker: passed on its own session -------------------------------
    "Accessibility": PAGE,
    "Ads": PAGE,
    "Animation": PAGE,
    "Audits": PAGE,
    "Autofill": PAGE,
    "BackgroundService": PAGE,  # the page's storage partition
    "BluetoothEmulation": PAGE,  # Chromium ties the emulated adapter to the page's browser context
    "CSS": PAGE,
    "CacheStorage": PAGE,  # the page's storage partition
    "Console": PAGE,
    "CrashReportContext": PAGE,
    "DOM": PAGE,
    "DOM.setFileInputFiles": on_target(scoped(Check.FILES)),
    "DOMDebugger": PAGE,
    "DOMSnapshot": PAGE,
    "DOMStorage": PAGE,
    "Debugger": PAGE,
    "DeviceAccess": PAGE,
    "DeviceOrientation": PAGE,
    "DigitalCredentials": PAGE,
    "Emulation": PAGE,
    "Emulation.addScreen": everywhere(refused(SCREENS)),
    "Emulation.updateScreen": everywhere(refused(SCREENS)),
    "Emulation.removeScreen": everywhere(refused(SCREENS)),
    "Emulation.setPrimaryScreen": everywhere(refused(SCREENS)),
    "Emulation.setDisplayFeaturesOverride": on_target(refused(CRASHES_BROWSER + "Emulation.setDevicePostureOverride")),
    "EventBreakpoints": PAGE,
    "FedCm": PAGE,
    "Fetch": Row(
        browser=refused(
            "browser-level interception would pause every session's requests. Instead: Fetch.enable on your "
            "page's session (Playwright's page.route/context.route and Puppeteer's setRequestInterception do)"
        ),
        target=passes(),
    ),
    "Fetch.continueRequest": on_target(scoped(Check.URL)),
    "Fetch.takeResponseBodyAsStream": on_target(scoped(Check.STREAM_SOURCE)),
    "FileSystem": PAGE,  # the origin-private file system of the page's partition, not host paths
    "HeadlessExperimental": PAGE,
    "HeapProfiler": PAGE,  # a renderer never hosts two contexts' pages
    "IndexedDB": PAGE,
    "Input": PAGE,
    "Input.dispatchDragEvent": on_target(scoped(Check.DRAG_FILES)),
    "Inspector": PAGE,
    "LayerTree": PAGE,
    "LayerTree.loadSnapshot": on_target(
        refused(
            "it makes a renderer of the shared browser deserialise a Skia picture you supply, an attack "
            "surface browserpool closes. Instead: LayerTree.makeSnapshot of your own page's layers, then "
            "replaySnapshot/profileSnapshot"
        )
    ),
    "Log": PAGE,
    "Media": PAGE,
    "Memory": PAGE,  # the page's renderer
    "Memory.setPressureNotificationsSuppressed": everywhere(refused(MEMORY_PRESSURE)),
    "Memory.simulatePressureNotification": everywhere(refused(MEMORY_PRESSURE)),
    "Memory.getBrowserSamplingProfile": everywhere(
        refused(
            "it profiles the browser process every session shares. Instead: Memory.getSamplingProfile (your "
            "page's renderer) or HeapProfiler on your page's session"
        )
    ),
    "Network": PAGE,  # cookies, cache and conditions of the page's own context
    "Network.loadNetworkResource": on_target(scoped(Check.URL, Check.STREAM_SOURCE)),
    "Overlay": PAGE,
    "Page": PAGE,
    "Page.navigate": on_target(scoped(Check.URL)),
    "Page.setDownloadBehavior": on_target(scoped(Check.DOWNLOAD_PATH)),
    "Page.printToPDF": on_target(scoped(Check.STREAM_SOURCE)),
    "Page.startScreenRecording": on_target(scoped(Check.STREAM_SOURCE)),
    "Page.stopScreenRecording": on_target(scoped(Check.STREAM_SOURCE)),
    "Page.addCompilationCache": on_target(
        refused(
            "V8 trusts compilation-cache bytes, so cache data you supply could corrupt a renderer of the "
            "shared browser. Instead: Page.produceCompilationCache lets Chromium build its own"
        )
    ),
    "Performance": PAGE,
    "PerformanceTimeline": PAGE,
    "Preload": PAGE,
    "Profiler": PAGE,
    "Runtime": PAGE,
    # Playwright sends it on browser-level sessions too (CDPSession.detach), where Chromium accepts it
    "Runtime.runIfWaitingForDebugger": Row(browser=scoped(Check.NO_OP), target=passes()),
    "Schema": PAGE,
    "Security": Row(
        browser=refused(
            "at browser level it would ignore certificate errors in every session's contexts. Instead: "
            "Security.setIgnoreCertificateErrors on your page's session (Playwright: "
            "new_context(ignore_https_errors=True))"
        ),
        target=passes(),
    ),
    "ServiceWorker": PAGE,  # the page's storage partition
    "WebAudio": PAGE,
    "WebAuthn": PAGE,
    "WebMCP": PAGE,
    # --- storage: cookies per context; the rest on the page's own partition -----------------------------
    "Storage": Row(browser=refused(STORAGE_AT_BROWSER), target=passes()),
    "Storage.getCookies": Row(browser=scoped(Check.CONTEXT), target=scoped(Check.PAGE_COOKIES)),
    "Storage.setCookies": Row(browser=scoped(Check.CONTEXT), target=scoped(Check.PAGE_COOKIES)),
    "Storage.clearCookies": Row(browser=scoped(Check.CONTEXT), target=scoped(Check.PAGE_COOKIES)),
    # --- streams: only handles a command returned to this connection, read on the same session ----------
    "IO": everywhere(scoped(Check.STREAM)),
    "IO.resolveBlob": on_target(scoped(Check.STREAM_SOURCE)),
    # --- the browser: the same rules on every channel, scoped to the session's contexts and targets ------
    "Browser": everywhere(refused(UNKNOWN + ": Browser methods may act on the whole browser")),
    "Browser.getVersion": everywhere(passes()),
    "Browser.setPermission": everywhere(scoped(Check.CONTEXT)),
    "Browser.grantPermissions": everywhere(scoped(Check.CONTEXT)),
    "Browser.resetPermissions": everywhere(scoped(Check.CONTEXT)),
    "Browser.setDownloadBehavior": everywhere(scoped(Check.CONTEXT, Check.DOWNLOAD_PATH)),
    "Browser.cancelDownload": everywhere(scoped(Check.CONTEXT, Check.DOWNLOAD)),
    "Browser.getWindowForTarget": everywhere(scoped(Check.OWN_TARGET, Check.WINDOW_OF_TARGET)),
    "Browser.getWindowBounds": everywhere(scoped(Check.WINDOW)),
    "Browser.setWindowBounds": everywhere(scoped(Check.WINDOW)),
    "Browser.setContentsSize": everywhere(scoped(Check.WINDOW)),
    "Browser.getGlobalPrivacyControl": everywhere(passes()),
    "Browser.setGlobalPrivacyControl": everywhere(
        refused(
            "it applies to every context of the browser. Instead: send the Sec-GPC header with "
            "Network.setExtraHTTPHeaders and define navigator.globalPrivacyControl with "
            "Page.addScriptToEvaluateOnNewDocument on your page's session"
        )
    ),
    # Never forwarded (the browser is shared): answered {} and, from the session's own client, it ends the session
    # (`closed`, client_closed) as closing a browser of one's own would (workers/cdp/relay.py, CLOSES_SESSION).
    "Browser.close": everywhere(scoped(Check.NO_OP)),
    "Browser.crash": everywhere(
        refused("it would crash the browser every session shares. Instead: Page.crash on your page's session")
    ),
    "Browser.crashGpuProcess": everywhere(
        refused("the GPU process serves every session. Instead: Page.crash on your page's session")
    ),
    "Browser.getBrowserCommandLine": everywhere(
        refused(
            "the launch flags describe the host every session shares (ports, directories). Instead: "
            "Browser.getVersion tells you the browser's version"
        )
    ),
    "Browser.getHistograms": everywhere(
        refused(
            "histograms count the whole browser's activity, other sessions' included. Instead: "
            "Performance.getMetrics on your page's session"
        )
    ),
    "Browser.getHistogram": everywhere(
        refused(
            "histograms count the whole browser's activity, other sessions' included. Instead: "
            "Performance.getMetrics on your page's session"
        )
    ),
    "Browser.setDockTile": everywhere(
        refused(
            "the dock tile belongs to the whole browser (and a headless browser shows none); there is no "
            "per-session equivalent"
        )
    ),
    "Browser.executeBrowserCommand": everywhere(
        refused("telemetry commands act on the whole browser; there is no per-session equivalent")
    ),
    "Browser.addPrivacySandboxEnrollmentOverride": everywhere(
        refused("it applies to every context of the browser; there is no per-session equivalent")
    ),
    # --- targets: the session's own only, on every channel ------------------------------------------------
    "Target": everywhere(refused(UNKNOWN + ": Target methods may reach other sessions' targets")),
    "Target.getBrowserContexts": everywhere(scoped(Check.LIST_CONTEXTS)),
    "Target.createBrowserContext": everywhere(scoped(Check.CREATE_CONTEXT)),
    "Target.disposeBrowserContext": everywhere(scoped(Check.DISPOSE_CONTEXT)),
    "Target.getTargets": everywhere(scoped(Check.LIST_TARGETS)),
    "Target.getTargetInfo": everywhere(scoped(Check.OWN_TARGET, Check.BROWSER_TARGET)),
    "Target.createTarget": everywhere(scoped(Check.URL, Check.CONTEXT, Check.NEW_TARGET)),
    "Target.activateTarget": everywhere(scoped(Check.TARGET)),
    "Target.closeTarget": everywhere(scoped(Check.TARGET)),
    "Target.attachToTarget": everywhere(scoped(Check.TARGET, Check.ATTACH)),
    "Target.attachToBrowserTarget": everywhere(scoped(Check.BROWSER_SESSION)),
    "Target.autoAttachRelated": everywhere(scoped(Check.TARGET)),
    "Target.detachFromTarget": everywhere(scoped(Check.DETACH)),
    "Target.setAutoAttach": everywhere(scoped(Check.AUTO_ATTACH)),
    "Target.setDiscoverTargets": everywhere(passes()),  # the target events are filtered
    "Target.sendMessageToTarget": everywhere(
        refused(
            "the nested messages would bypass browserpool's filter. Instead: flat sessions, "
            "Target.attachToTarget {flatten: true} and the sessionId field (what Playwright and Puppeteer use)"
        )
    ),
    "Target.exposeDevToolsProtocol": everywhere(
        refused(
            "it hands the page's script a CDP channel browserpool cannot filter. Instead: Runtime.addBinding on "
            "your page's session to pass messages between the page and your client"
        )
    ),
    "Target.setRemoteLocations": everywhere(
        refused(
            "it makes the browser connect to other hosts for target discovery. Instead: Target.getTargets or "
            "Target.setDiscoverTargets list your own targets"
        )
    ),
    "Target.getDevToolsTarget": everywhere(
        refused("DevTools windows belong to the whole browser. Instead: inspect your pages through this connection")
    ),
    "Target.openDevTools": everywhere(
        refused("DevTools windows belong to the whole browser. Instead: inspect your pages through this connection")
    ),
    # --- browser-wide or host-touching: refused on every channel ------------------------------------------
    "Tracing": everywhere(refused(BROWSER_WIDE_TRACING)),
    "SystemInfo": everywhere(refused(HOST_INFO)),
    "Cast": everywhere(
        refused(
            "casting reaches media sinks on the host's network and mirrors a desktop every session shares; "
            "there is no per-session equivalent"
        )
    ),
    "Tethering": everywhere(
        refused(
            "it opens a listening port on the host. Instead: let pages reach your service by its URL (the "
            "egress guard decides which addresses pages may reach)"
        )
    ),
    "PWA": everywhere(
        refused(
            "installing web apps changes the whole browser profile, and launchFilesInApp opens host files. "
            "Instead: open the app's URL as a page"
        )
    ),
    "Extensions": everywhere(
        refused(
            "extensions load from host paths and run in every session's contexts. Instead: inject what an "
            "extension would with Page.addScriptToEvaluateOnNewDocument on your page's session"
        )
    ),
    "SmartCardEmulation": everywhere(
        refused(UNKNOWN + ": it emulates smart-card readers and has not been reviewed for isolation yet")
    ),
}

_DEFAULT = everywhere(refused(UNKNOWN))


# --- target types: what Chromium serves on each kind of target session ------------------------------------
# Pages and frames are served every domain of the table. Workers only these (probed on Chromium 156: the
# domains whose methods Chromium answers on a session of that type rather than with "wasn't found");
# anything else sent on a worker session is refused before it reaches Chromium.
_ON_EVERY_WORKER = frozenset({"Runtime", "Debugger", "Profiler", "HeapProfiler", "Schema", "Inspector", "Target"})
_NETWORKED_WORKER = _ON_EVERY_WORKER | {"Network", "Fetch", "IO", "Log", "Audits", "EventBreakpoints", "Media"}
TARGET_DOMAINS: dict[TargetType, frozenset[str] | None] = {
    TargetType.PAGE: None,  # None: every domain the table passes or scopes on the target channel
    TargetType.FRAME: None,
    TargetType.WORKER: _NETWORKED_WORKER,
    TargetType.SHARED_WORKER: _NETWORKED_WORKER,
    TargetType.SERVICE_WORKER: _NETWORKED_WORKER | {"Storage", "CacheStorage", "ServiceWorker"},
    TargetType.OTHER: _ON_EVERY_WORKER,
}
COOKIES_ON_WORKERS = (
    "a worker session has no cookie jar of its own in Chromium, and cookie calls on worker sessions can crash the "
    "browser every session shares. Instead: send it on your page's session (Playwright: context.cookies() / "
    "context.add_cookies(); Puppeteer: page.cookies() / page.setCookie()), where it acts on your context's cookies"
)
# Methods of a worker's domains that are refused on worker sessions all the same (whatever the row says).
ON_WORKERS: dict[str, Rule] = {
    **{
        method: refused(COOKIES_ON_WORKERS)
        for method in (
            "Network.getCookies",
            "Network.getAllCookies",
            "Network.setCookie",
            "Network.setCookies",
            "Network.deleteCookies",
            "Network.clearBrowserCookies",
            "Storage.getCookies",
            "Storage.setCookies",
            "Storage.clearCookies",
        )
    },
}


def rule_for(method: str, channel: Channel, target: TargetType = TargetType.PAGE) -> Rule:
    """The rule for `method` on `channel` (and, on the target channel, on a target of type `target`): its own
    row, else its domain's, else deny; narrowed to what Chromium serves on that target type."""
    domain = method.partition(".")[0]
    row = POLICY.get(method) or POLICY.get(domain, _DEFAULT)
    rule = row.on(channel)
    if channel is Channel.BROWSER or rule.action is Action.REFUSE:
        return rule
    served = TARGET_DOMAINS[target]
    if served is None:
        return rule
    if domain not in served:
        return refused(not_served(target, served))
    return ON_WORKERS.get(method, rule)


def not_served(target: TargetType, served: frozenset[str]) -> str:
    return (
        f"Chromium does not serve this domain on {target.value} targets (only {', '.join(sorted(served))}), and "
        "sending a target a command its type lacks can crash the browser every session shares. Instead: send it "
        "on your page's session"
    )


def refusal(method: str, why: str) -> str:
    """The error text of every refusal: which method, that isolation is the reason, why, and what to do."""
    return f"{method} is refused by browserpool for isolation: {why}"
