"""Finding (and, on a bare machine, installing) the Chromium the pool runs.

Order: BROWSERPOOL_CHROMIUM_PATH; Playwright's own headless shell if installed; Debian's
headless shell, then Debian's full Chromium; else try `playwright install chromium-headless-shell`,
then Debian's package when running as root.
"""

import glob
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

DEBIAN_BUILDS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")


class ChromiumNotFound(RuntimeError):
    pass


def playwright_headless_shell() -> str | None:
    """The newest headless shell that `playwright install` put in place, if any."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache" / "ms-playwright")
    found = glob.glob(f"{root}/chromium_headless_shell-*/chrome-*/headless_shell")
    found += glob.glob(f"{root}/chromium_headless_shell-*/chrome-*/chrome-headless-shell")
    return sorted(found)[-1] if found else None


def find_chromium(configured: str | None = None) -> str | None:
    if configured:
        if not os.access(configured, os.X_OK):
            raise ChromiumNotFound(f"BROWSERPOOL_CHROMIUM_PATH={configured} is not an executable file")
        return configured
    own = playwright_headless_shell()
    if own:
        return own
    return next((path for path in DEBIAN_BUILDS if os.access(path, os.X_OK)), None)


def ensure_chromium(configured: str | None = None) -> str:
    found = find_chromium(configured)
    if found:
        return found
    log.warning("no Chromium found: trying `playwright install chromium-headless-shell`")
    subprocess.run([sys.executable, "-m", "playwright", "install", "chromium-headless-shell"], check=False)
    found = find_chromium()
    if found is None and os.geteuid() == 0:
        log.warning("trying Debian's chromium-headless-shell package")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium-headless-shell"], check=False, env=env)
        found = find_chromium()
    if found is None:
        raise ChromiumNotFound(
            "no Chromium: set BROWSERPOOL_CHROMIUM_PATH, run `playwright install chromium-headless-shell`, "
            "or `apt-get install chromium-headless-shell`"
        )
    return found


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(ensure_chromium(os.environ.get("BROWSERPOOL_CHROMIUM_PATH") or None))
    except ChromiumNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
