"""What the crash census sends: well-formed parameters for every CDP method, and a page with every target type.

Parameters come from the protocol Chromium itself serves (/json/protocol): every required parameter gets the
simplest value of its declared type (an enum's first value, an object with its own required properties).
Method rows of the policy table get hand-written parameters in CENSUS_PARAMS instead: a method row is a
decision about that one method, so its census entry is written with it (a row without one fails the census).
"""

from http.server import BaseHTTPRequestHandler
from typing import Any

Json = dict[str, Any]

# One census entry per method row of workers/cdp_policy.POLICY that passes or scopes on some channel.
CENSUS_PARAMS: dict[str, Json] = {
    "DOM.setFileInputFiles": {"files": [], "nodeId": 1},
    "Fetch.continueRequest": {"requestId": "census", "url": "http://127.0.0.1/"},
    "Fetch.takeResponseBodyAsStream": {"requestId": "census"},
    "Input.dispatchDragEvent": {"type": "dragEnter", "x": 1, "y": 1, "data": {"items": [], "dragOperationsMask": 1}},
    "Network.loadNetworkResource": {
        "url": "http://127.0.0.1:9/",
        "options": {"disableCache": True, "includeCredentials": False},
    },
    "Page.navigate": {"url": "about:blank#census"},
    "Page.setDownloadBehavior": {"behavior": "deny"},
    "Page.printToPDF": {},
    "Page.startScreenRecording": {},
    "Page.stopScreenRecording": {},
    "Runtime.runIfWaitingForDebugger": {},
    "Storage.getCookies": {},
    "Storage.setCookies": {"cookies": [{"name": "census", "value": "1", "domain": "127.0.0.1", "path": "/"}]},
    "Storage.clearCookies": {},
    "IO.resolveBlob": {"objectId": "census"},
    "Browser.getVersion": {},
    "Browser.close": {},
    "Browser.setPermission": {"permission": {"name": "geolocation"}, "setting": "granted"},
    "Browser.grantPermissions": {"permissions": ["geolocation"]},
    "Browser.resetPermissions": {},
    "Browser.setDownloadBehavior": {"behavior": "deny"},
    "Browser.cancelDownload": {"guid": "census"},
    "Browser.getWindowForTarget": {},
    "Browser.getWindowBounds": {"windowId": 1},
    "Browser.setWindowBounds": {"windowId": 1, "bounds": {"width": 800, "height": 600}},
    "Browser.setContentsSize": {"windowId": 1, "width": 800, "height": 600},
    "Browser.getGlobalPrivacyControl": {},
    "Target.getBrowserContexts": {},
    "Target.createBrowserContext": {"disposeOnDetach": True},
    "Target.disposeBrowserContext": {"browserContextId": "census"},
    "Target.getTargets": {},
    "Target.getTargetInfo": {},
    "Target.createTarget": {"url": "about:blank"},
    "Target.activateTarget": {"targetId": "census"},
    "Target.closeTarget": {"targetId": "census"},
    "Target.attachToTarget": {"targetId": "census", "flatten": True},
    "Target.attachToBrowserTarget": {},
    "Target.autoAttachRelated": {"targetId": "census", "waitForDebuggerOnStart": False},
    "Target.detachFromTarget": {"sessionId": "census"},
    "Target.setAutoAttach": {"autoAttach": False, "waitForDebuggerOnStart": False, "flatten": True},
    "Target.setDiscoverTargets": {"discover": True},
}

# Generated values that would stop the census from going on (a frozen or throttled page answers nothing more).
OVERRIDES: dict[str, Json] = {
    "Page.setWebLifecycleState": {"state": "active"},
    "Emulation.setCPUThrottlingRate": {"rate": 1},
    "Emulation.setScriptExecutionDisabled": {"value": False},
    "Runtime.evaluate": {"expression": "1"},
    "Debugger.setSkipAllPauses": {"skip": True},
}

# Sent last on each target, in this order: they end the target, its session or its script.
LAST = (
    "Debugger.pause",
    "Debugger.resume",
    "Runtime.terminateExecution",
    "Page.crash",
    "Page.close",
    "Target.detachFromTarget",
    "Inspector.disable",
    "Browser.close",  # ends the session (client_closed)
)

NAMES = {"url": "http://127.0.0.1:9/", "origin": "http://127.0.0.1:9", "expression": "1", "name": "census"}


class Protocol:
    """The protocol a live Chromium serves, and well-formed parameters for its commands."""

    def __init__(self, served: Json) -> None:
        self.domains = {domain["domain"]: domain for domain in served["domains"]}
        self.types = {
            f"{name}.{kind['id']}": kind for name, domain in self.domains.items() for kind in domain.get("types", [])
        }

    def methods(self) -> list[str]:
        return [f"{name}.{c['name']}" for name, domain in self.domains.items() for c in domain.get("commands", [])]

    def params(self, method: str) -> Json:
        if method in CENSUS_PARAMS:
            return dict(CENSUS_PARAMS[method])
        if method in OVERRIDES:
            return dict(OVERRIDES[method])
        domain, _, name = method.partition(".")
        command = next(c for c in self.domains[domain].get("commands", []) if c["name"] == name)
        return self._fields(domain, command.get("parameters", []), depth=0)

    def _fields(self, domain: str, fields: list[Json], depth: int) -> Json:
        return {f["name"]: self._value(domain, f, depth) for f in fields if not f.get("optional")}

    def _value(self, domain: str, spec: Json, depth: int) -> Any:
        if "$ref" in spec:
            ref = spec["$ref"] if "." in spec["$ref"] else f"{domain}.{spec['$ref']}"
            return self._value(ref.partition(".")[0], self.types[ref], depth + 1)
        if "enum" in spec:
            return spec["enum"][0]
        kind = spec.get("type")
        if kind == "object":
            return self._fields(domain, spec.get("properties", []), depth + 1) if depth < 6 else {}
        if kind == "array":
            return []
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return 0
        if kind == "string":
            return NAMES.get(str(spec.get("name", spec.get("id", ""))), "census")
        return None


# A page whose context holds every target type a tenant can reach: the page itself, a dedicated worker, a shared
# worker and a service worker (an iframe of another site becomes a frame target where Chromium isolates sites).
PAGES = {
    "/": (
        "text/html",
        "<html><body><iframe src='http://localhost:{port}/frame'></iframe><script>"
        "window.dw = new Worker('/worker.js'); window.sw = new SharedWorker('/shared.js');"
        "navigator.serviceWorker.register('/service.js');</script></body></html>",
    ),
    "/frame": ("text/html", "<html><body>frame</body></html>"),
    "/worker.js": ("text/javascript", "setInterval(() => {}, 1000);"),
    "/shared.js": ("text/javascript", "onconnect = (e) => { e.ports[0].start(); };"),
    "/service.js": ("text/javascript", "self.addEventListener('fetch', () => {});"),
}


class CensusSite(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        kind, body = PAGES.get(self.path, ("text/html", ""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", kind)
        self.end_headers()
        port = self.server.server_address[1]  # type: ignore[index]  # an AF_INET server: (host, port)
        self.wfile.write(body.replace("{port}", str(port)).encode())

    def log_message(self, *args: object) -> None:
        pass
