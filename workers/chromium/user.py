"""The unprivileged user Chromium runs as.

A tenant who tricks Chromium into reading a file (a file input, a drag, a path in some CDP method the
relay missed) reads it as this user: not as the daemon, so not the state directory, the embedded Redis's
append-only file, the secrets or the daemon's /proc entries. Only a daemon running as root can start
Chromium as another user; otherwise Chromium runs as the daemon's own user and `doctor` says so.
"""

import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_USER = "browserpool-chromium"  # what BROWSERPOOL_CHROMIUM_USER=auto means for a daemon running as root


class ChromiumUserError(RuntimeError):
    """The configured user cannot be used (or created); the message says what to do."""


@dataclass(frozen=True)
class ChromiumUser:
    name: str
    uid: int
    gid: int

    @property
    def separate(self) -> bool:
        """Whether Chromium runs as another user than the daemon."""
        return self.uid != os.geteuid()


def daemon_user() -> ChromiumUser:
    """The user this process runs as (a uid without a passwd entry, as in some containers, is named by number)."""
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return ChromiumUser(name, uid, os.getegid())


def wanted_name(setting: str) -> str:
    """The user name BROWSERPOOL_CHROMIUM_USER asks for ("auto": our own user, or DEFAULT_USER under root)."""
    if setting != "auto":
        return setting
    return DEFAULT_USER if os.geteuid() == 0 else daemon_user().name


def resolve_user(setting: str, create: bool = True) -> ChromiumUser:
    """The user Chromium will run as; under root a missing one is created (a system user, no home, no shell)."""
    name = wanted_name(setting)
    if name == daemon_user().name:
        return daemon_user()
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if not create or os.geteuid() != 0:
            raise ChromiumUserError(
                f"user {name!r} does not exist; run the daemon as root (it creates the user) or create it: "
                f"useradd --system --user-group --no-create-home --shell /usr/sbin/nologin {name}"
            ) from None
        add_system_user(name)
        entry = pwd.getpwnam(name)
    user = ChromiumUser(name, entry.pw_uid, entry.pw_gid)
    if user.separate and os.geteuid() != 0:
        raise ChromiumUserError(
            f"BROWSERPOOL_CHROMIUM_USER={name}: only a daemon running as root can start Chromium as another user"
        )
    return user


def add_system_user(name: str) -> None:
    """useradd --system; idempotent (another daemon may create the same user at the same moment)."""
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
    command = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    try:
        done = subprocess.run([*command, "--shell", shell, name], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise ChromiumUserError(f"cannot create user {name!r} ({exc}); create it yourself") from exc
    if done.returncode == 0:
        log.warning("created the system user %s: Chromium runs as it", name)
        return
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ChromiumUserError(f"useradd {name} failed: {done.stderr.strip()}") from None


def reachable_by(path: Path, user: ChromiumUser) -> bool:
    """Whether `user` may traverse every directory from / down to `path` (its own groups: its primary only)."""
    current = Path(path).resolve()
    for directory in (current, *current.parents):
        try:
            info = directory.stat()
        except OSError:
            return False
        if info.st_uid == user.uid:
            bit = stat.S_IXUSR
        elif info.st_gid == user.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if user.uid != 0 and not info.st_mode & bit:
            return False
    return True
