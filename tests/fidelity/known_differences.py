"""Scenarios where the pool deliberately answers differently from a local Chromium, and why.

Only isolation decisions already documented in README's Security section belong here. Each entry
gives the reason (quoting what the README promises) and the observation the pool must give instead:
the documented refusal, exactly, so a refusal that changes shape (or stops happening) fails too.
"""

from dataclasses import dataclass

from tests.fidelity.harness import Json


@dataclass(frozen=True)
class KnownDifference:
    reason: str
    pool: Json  # the pool's observation, exactly


KNOWN_DIFFERENCES: dict[str, KnownDifference] = {
    "nav_file_url": KnownDifference(
        reason=(
            "README Security: `file:`, `chrome:`, `view-source:`, `filesystem:` and other schemes are refused on "
            "`navigate` and in the CDP relay (a page of the pool must not read the worker's files)"
        ),
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
    "nav_own_debugging_port": KnownDifference(
        reason=(
            "README Security: always refused by the egress guard: ... the browsers' own debugging ports (a page "
            "reaching its Chromium's DevTools endpoint would control every session's pages)"
        ),
        pool={
            "raised": {
                "error": "Error",
                "message": "Page.goto: net::ERR_EMPTY_RESPONSE at http://127.0.0.1:<its port>/json/version",
            }
        },
    ),
}
