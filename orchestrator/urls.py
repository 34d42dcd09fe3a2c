"""Which URLs a session may be sent to by scheme (addresses are the worker's egress guard's business)."""

from urllib.parse import urlsplit

ALLOWED_SCHEMES = frozenset({"http", "https", "about", "data", "blob"})


def scheme_refused(url: str) -> str | None:
    """Why `url` may not be opened in a session (file:, chrome:, view-source:, filesystem:, ...), or None."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return "url is not valid"
    if scheme in ALLOWED_SCHEMES:
        return None
    return f"url scheme {scheme or '(none)'!r} is not allowed; use http or https"
