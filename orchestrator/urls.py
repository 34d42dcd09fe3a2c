"""Which URLs a session may be sent to by scheme (addresses are the worker's egress guard's business)."""

import re
from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https", "about", "data", "blob"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def scheme_of(url: str) -> str:
    """The scheme a browser reads in `url` (tabs and newlines dropped, controls and spaces trimmed), or ""."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip(_C0_AND_SPACE)
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else ""


def scheme_refused(url: str) -> str | None:
    """Why `url` may not be opened in a session (file:, chrome:, view-source:, filesystem:, ...), or None.

    Only the scheme is judged: a URL that is otherwise malformed is the browser's to reject, in its own words.
    """
    scheme = scheme_of(url)
    if scheme in ALLOWED_SCHEMES:
        return None
    return f"url scheme {scheme or '(none)'!r} is not allowed; use http or https"


def unparseable(url: str) -> str | None:
    """Why `url` cannot be read at all (the REST API refuses such input up front), or None."""
    try:
        urlsplit(url.strip())
    except ValueError:
        return "url is not valid"
    return None
