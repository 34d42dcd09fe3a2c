"""What `browserpool doctor` says about Chromium's isolation here: its user, its sandbox, the state directory."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from workers.chromium.sandbox import KERNEL_FIX, SandboxMode, SandboxUnavailable, decide
from workers.chromium.user import DEFAULT_USER, ChromiumUser, ChromiumUserError, daemon_user, resolve_user, wanted_name

NOBODY = ChromiumUser("nobody", 65534, 65534)  # stands in for a user not created yet: the kernel treats both alike


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def user_finding(setting: str) -> Finding:
    """Whether Chromium will run as a user of its own, which cannot read the daemon's files and /proc."""
    try:
        user = resolve_user(setting, create=False)
    except ChromiumUserError as exc:
        if os.geteuid() == 0 and shutil.which("useradd"):
            return Finding("user", True, f"Chromium will run as {wanted_name(setting)} (created at start)")
        return Finding("user", False, str(exc), "create that user, or unset BROWSERPOOL_CHROMIUM_USER")
    if user.separate:
        if not shutil.which("setpriv"):
            return Finding(
                "user", False, "setpriv is missing: Chromium cannot be started as another user", "install util-linux"
            )
        return Finding("user", True, f"Chromium runs as {user.name} (uid {user.uid}), apart from the daemon")
    return Finding(
        "user",
        True,
        f"Chromium runs as the daemon's own user {user.name} (uid {user.uid}): users cannot be separated, so a "
        "file Chromium is tricked into reading may be the daemon's state, and the secrets in it",
        f"run the daemon as root (it then runs Chromium as {DEFAULT_USER}), or run Chromium's worker in a "
        "container of its own with a uid no other process of the pool has",
    )


def sandbox_finding(user_setting: str, mode: SandboxMode) -> Finding:
    """Whether Chromium's sandbox will be on; when it is off, which setting or kernel refusal forces that."""
    try:
        user = resolve_user(user_setting, create=False)
    except ChromiumUserError:
        user = NOBODY if os.geteuid() == 0 else daemon_user()
    try:
        verdict = decide(mode, user)
    except SandboxUnavailable as exc:
        return Finding("sandbox", False, str(exc), KERNEL_FIX)
    fix = "" if verdict.on or mode == "off" else KERNEL_FIX
    if user.uid == 0 and not verdict.on:
        fix = "unset BROWSERPOOL_CHROMIUM_USER (under root the daemon gives Chromium a user of its own)"
    return Finding("sandbox", True, verdict.why, fix)


def state_dir_finding(state_dir: Path) -> Finding:
    """The state directory (the embedded Redis's append-only file, with every secret) must be the daemon's alone."""
    if not state_dir.exists():
        return Finding("state dir", True, f"{state_dir} will be created, mode 0700")
    mode = state_dir.stat().st_mode & 0o777
    if mode & 0o077:
        return Finding(
            "state dir",
            False,
            f"{state_dir} is mode {mode:o}: other users may read the embedded Redis's files",
            f"chmod 700 {state_dir} (the daemon also does it when it starts its Redis)",
        )
    return Finding("state dir", True, f"{state_dir} is mode {mode:o}, owned by uid {state_dir.stat().st_uid}")
