"""Every scenario module; importing this package registers them all in harness.SCENARIOS."""

from tests.fidelity.scenarios import (
    cdp_sessions,
    dialogs,
    emulation,
    files,
    frames,
    media,
    navigation,
    network,
    pages,
    popups,
    scripting,
    storage,
    workers,
)

__all__ = [
    "cdp_sessions",
    "dialogs",
    "emulation",
    "files",
    "frames",
    "media",
    "navigation",
    "network",
    "pages",
    "popups",
    "scripting",
    "storage",
    "workers",
]
