"""WebDriver New Session capabilities, read as a browserpool create body plus what chromedriver itself honours.

What maps onto the session: `goog:chromeOptions.args` `--window-size=W,H` (the viewport) and `--user-agent=...`,
`browserpool:options` (`timeout_seconds`, `profile`, `proxy`, `record`: the create body's own fields) and the
standard `proxy` capability (a manual http/https/socks5 upstream). What chromedriver honours for the session
(timeouts, page load strategy, prompts, logging) is passed on. Anything else a Chrome user might ask for, that
a browser context shared with other tenants cannot give, is refused with the reason, never silently dropped.
"""

from typing import Any

from .errors import WebDriverError

BROWSER_NAMES = {"chrome", "chromium"}
# W3C and chromedriver capabilities passed on to chromedriver as the client sent them.
PASSED_ON = {
    "pageLoadStrategy",
    "timeouts",
    "unhandledPromptBehavior",
    "strictFileInteractability",
    "goog:loggingPrefs",
}
# Capabilities that change nothing here (the pool decides them), accepted as the client sent them.
ACCEPTED = {"browserName", "browserVersion", "platformName", "acceptInsecureCerts", "setWindowRect"}
POOL_OPTIONS = {"timeout_seconds", "profile", "proxy", "record"}
CHROME_OPTIONS = {"args", "extensions"}
ARG_REASONS = {
    "--headless": "browserpool's browsers are always headless: drop --headless",
    "--user-data-dir": "each session has its own context and directory; use browserpool:options.profile for state",
    "--disable-web-security": "the pool does not lift the same-origin policy for one tenant",
    "--proxy-server": "set the session's proxy with the standard proxy capability or browserpool:options.proxy",
    "--remote-debugging-port": "the session's CDP is its cdp_url (capability se:cdp)",
}


def merged(body: Any) -> dict[str, Any]:
    """The capabilities a New Session asks for: alwaysMatch with the first firstMatch entry."""
    if not isinstance(body, dict):
        raise WebDriverError("invalid argument", "the body must be a JSON object with a capabilities object")
    capabilities = body.get("capabilities", {})
    if not isinstance(capabilities, dict):
        raise WebDriverError("invalid argument", "capabilities must be an object")
    always = capabilities.get("alwaysMatch") or {}
    first = capabilities.get("firstMatch") or [{}]
    if not isinstance(always, dict) or not isinstance(first, list) or not all(isinstance(f, dict) for f in first):
        raise WebDriverError("invalid argument", "alwaysMatch must be an object and firstMatch a list of objects")
    overlap = set(always) & set(first[0])
    if overlap:
        raise WebDriverError("invalid argument", f"capabilities in both alwaysMatch and firstMatch: {sorted(overlap)}")
    return {**always, **first[0]}


def create_body(capabilities: dict[str, Any]) -> dict[str, Any]:
    """The POST /v1/browser/sessions/ body these capabilities ask for (validated by the caller)."""
    _check_known(capabilities)
    name = capabilities.get("browserName")
    if name is not None and name not in BROWSER_NAMES:
        raise WebDriverError("session not created", f"browserName {name!r} is not served: use 'chrome' or 'chromium'")
    if capabilities.get("webSocketUrl"):
        raise WebDriverError(
            "invalid argument",
            "webSocketUrl (WebDriver BiDi) is not served yet: leave it out (WebdriverIO: set "
            "'wdio:enforceWebDriverClassic': true), and for browser events use the session's CDP websocket "
            "(capability se:cdp)",
        )
    body: dict[str, Any] = {}
    body.update(_from_args(capabilities.get("goog:chromeOptions") or {}))
    if "proxy" in capabilities:
        body["proxy"] = _proxy(capabilities["proxy"])
    options = capabilities.get("browserpool:options") or {}
    if not isinstance(options, dict):
        raise WebDriverError("invalid argument", "browserpool:options must be an object")
    unknown = set(options) - POOL_OPTIONS
    if unknown:
        raise WebDriverError(
            "invalid argument", f"unknown browserpool:options {sorted(unknown)}; known: {sorted(POOL_OPTIONS)}"
        )
    body.update(options)
    return body


def for_chromedriver(capabilities: dict[str, Any], door: str) -> dict[str, Any]:
    """The New Session chromedriver gets: what it honours, attached to the session's door."""
    passed = {key: value for key, value in capabilities.items() if key in PASSED_ON}
    return {"capabilities": {"alwaysMatch": {**passed, "goog:chromeOptions": {"debuggerAddress": door}}}}


def _check_known(capabilities: dict[str, Any]) -> None:
    known = PASSED_ON | ACCEPTED | {"goog:chromeOptions", "browserpool:options", "proxy", "webSocketUrl"}
    # An extension capability (a name with a colon: se:, wdio:, ...) that is not ours is the client's own, as W3C
    # has it; an unknown standard one is an error.
    unknown = sorted(key for key in capabilities if key not in known and ":" not in key)
    if unknown:
        raise WebDriverError("invalid argument", f"capabilities not served by browserpool: {unknown}")


def _from_args(chrome: Any) -> dict[str, Any]:
    if not isinstance(chrome, dict):
        raise WebDriverError("invalid argument", "goog:chromeOptions must be an object")
    unknown = sorted(set(chrome) - CHROME_OPTIONS)
    if unknown:
        raise WebDriverError(
            "invalid argument",
            f"goog:chromeOptions {unknown} cannot be honoured for one context of a shared browser; "
            "what is served: args --window-size=W,H and --user-agent=...",
        )
    if chrome.get("extensions"):
        raise WebDriverError("invalid argument", "extensions cannot be loaded into one context of a shared browser")
    args = chrome.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise WebDriverError("invalid argument", "goog:chromeOptions.args must be a list of strings")
    body: dict[str, Any] = {}
    for arg in args:
        name, _, value = arg.partition("=")
        if name == "--window-size":
            body["viewport_width"], body["viewport_height"] = _size(value)
        elif name == "--user-agent":
            body["user_agent"] = value
        else:
            reason = ARG_REASONS.get(name, "only --window-size=W,H and --user-agent=... are served per session")
            raise WebDriverError("invalid argument", f"argument {arg!r} refused: {reason}")
    return body


def _size(value: str) -> tuple[int, int]:
    width, _, height = value.partition(",")
    try:
        return int(width), int(height)
    except ValueError:
        raise WebDriverError("invalid argument", f"--window-size must be W,H in pixels, not {value!r}") from None


def _proxy(proxy: Any) -> dict[str, Any] | None:
    """The standard proxy capability as the create body's proxy (None: direct)."""
    if not isinstance(proxy, dict):
        raise WebDriverError("invalid argument", "proxy must be an object")
    kind = proxy.get("proxyType")
    if kind == "direct":
        return None
    if kind != "manual":
        raise WebDriverError("invalid argument", f"proxyType {kind!r} is not served: use 'manual' or 'direct'")
    if proxy.get("socksProxy"):
        if proxy.get("socksVersion", 5) != 5:
            raise WebDriverError("invalid argument", "only SOCKS version 5 is served")
        server = f"socks5://{proxy['socksProxy']}"
    elif proxy.get("httpProxy") or proxy.get("sslProxy"):
        server = f"http://{proxy.get('httpProxy') or proxy.get('sslProxy')}"
    else:
        raise WebDriverError("invalid argument", "a manual proxy needs httpProxy, sslProxy or socksProxy")
    body: dict[str, Any] = {"server": server}
    if proxy.get("noProxy"):
        bypass = proxy["noProxy"]
        body["bypass"] = ",".join(bypass) if isinstance(bypass, list) else str(bypass)
    return body
