"""How Playwright starts Chromium here: as Chromium's own user, with a scrubbed environment, its sandbox
where the kernel allows it, and every file it writes inside its ChromiumHome.

Playwright only takes an executable path, so when the daemon runs as root that path is a small launcher
script, written at start into a directory only the daemon can write: it hands Playwright's fresh profile
directory to Chromium's user, then execs Chromium through `setpriv` as that user (no groups, no new
privileges). Playwright's pipe (fds 3 and 4) and the process id pass through unchanged.
"""

import dataclasses
import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.chromium.home import PROFILE_PREFIX, ChromiumHome, node_tmpdir, profile_parent
from workers.chromium.sandbox import SandboxMode, SandboxVerdict, decide
from workers.chromium.user import ChromiumUser, ChromiumUserError, reachable_by

# What of the daemon's environment Chromium gets: locale, time zone, fonts. Never BROWSERPOOL_*.
PASSED_VARIABLES = frozenset(
    {"PATH", "LANG", "LANGUAGE", "TZ", "FONTCONFIG_FILE", "FONTCONFIG_PATH", "XDG_DATA_DIRS", "XDG_CONFIG_DIRS"}
)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class ChromiumLaunch:
    executable: str  # Chromium itself, or the launcher that starts it as its own user
    env: dict[str, str]
    sandbox: SandboxVerdict
    sandbox_mode: SandboxMode
    home: ChromiumHome
    driver_tmpdir: str | None  # TMPDIR for the Playwright driver, when its own is out of Chromium's reach

    def options(self) -> dict[str, Any]:
        """Keyword arguments for playwright.chromium.launch()."""
        return {
            "executable_path": self.executable,
            "env": self.env,
            "chromium_sandbox": self.sandbox.on,
            "downloads_path": str(self.home.downloads_dir),
            "traces_dir": str(self.home.traces_dir),
            "artifacts_dir": str(self.home.artifacts_dir),
        }

    def without_sandbox(self, why: str) -> "ChromiumLaunch":
        return dataclasses.replace(self, sandbox=SandboxVerdict(False, f"off, forced: {why}"))


def prepare_launch(chromium: str, user: ChromiumUser, sandbox_mode: SandboxMode) -> ChromiumLaunch:
    """Directories, launcher and environment for a worker's browsers (blocking: run it in a thread)."""
    if user.separate and not reachable_by(Path(chromium).parent, user):
        raise ChromiumUserError(
            f"{user.name} cannot reach {chromium}: put Chromium where other users may read it "
            "(apt-get install chromium-headless-shell) and set BROWSERPOOL_CHROMIUM_PATH"
        )
    sandbox = decide(sandbox_mode, user)
    home = ChromiumHome.create(user)
    try:
        driver_tmpdir = profile_parent(user) if user.separate else None
        executable = chromium
        if user.separate:
            executable = write_launcher(home.bin_dir / "chromium", chromium, user, driver_tmpdir or node_tmpdir())
        return ChromiumLaunch(
            executable, chromium_environment(os.environ, home), sandbox, sandbox_mode, home, driver_tmpdir
        )
    except BaseException:
        home.remove()
        raise


def chromium_environment(source: Mapping[str, str], home: ChromiumHome) -> dict[str, str]:
    """The environment Chromium starts with: the allowed variables of `source`, and its own HOME and TMPDIR."""
    env = {key: value for key, value in source.items() if key in PASSED_VARIABLES or key.startswith("LC_")}
    env.setdefault("PATH", DEFAULT_PATH)
    env["HOME"] = str(home.home_dir)
    env["TMPDIR"] = str(home.tmp_dir)
    env["XDG_CONFIG_HOME"] = str(home.home_dir / ".config")
    env["XDG_CACHE_HOME"] = str(home.home_dir / ".cache")
    env["XDG_DATA_HOME"] = str(home.home_dir / ".local" / "share")
    return env


def write_launcher(path: Path, chromium: str, user: ChromiumUser, profiles_in: str) -> str:
    """Write the launcher script (mode 0700, the daemon's) that starts `chromium` as `user`."""
    if os.statvfs(path.parent).f_flag & os.ST_NOEXEC:
        raise ChromiumUserError(f"{path.parent} is mounted noexec: point TMPDIR at a directory programs may run from")
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    chown = shutil.which("chown") or "/bin/chown"
    for tool in (setpriv, chown):
        if not os.access(tool, os.X_OK):
            raise ChromiumUserError(f"{tool} not found: install util-linux/coreutils, or run the daemon as non-root")
    profile = shlex.quote(f"--user-data-dir={profiles_in.rstrip('/')}/{PROFILE_PREFIX}")
    owner = f"{user.uid}:{user.gid}"
    script = f"""#!/bin/sh
# Written by browserpool at start: runs Chromium as {user.name} (uid {user.uid}).
# Playwright makes a fresh profile directory for each browser as the daemon's user: hand it over first.
for arg do
  case "$arg" in
    {profile}*/*) ;;
    {profile}*) {shlex.quote(chown)} -R -- {owner} "${{arg#--user-data-dir=}}" || exit 1 ;;
  esac
done
exec {shlex.quote(setpriv)} --reuid={user.uid} --regid={user.gid} --clear-groups --nnp --inh-caps=-all \\
  -- {shlex.quote(chromium)} "$@"
"""
    staged = path.with_suffix(".new")
    staged.write_text(script)
    staged.chmod(0o700)
    staged.replace(path)
    return str(path)
