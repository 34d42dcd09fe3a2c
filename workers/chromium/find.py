"""Finding (and, on a bare machine, installing) the Chromium the pool runs.

Order: BROWSERPOOL_CHROMIUM_PATH; Playwright's own headless shell if installed; Debian's
headless shell, then Debian's full Chromium; else try `playwright install chromium-headless-shell`,
then Debian's package when running as root.
"""

import glob
import itertools
import logging
import os
import subprocess
import sys
import threading
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


def _run_with_progress(message: str, *commands: list[str]) -> None:
    """Run slow install commands, with a spinner on a terminal and one line otherwise."""
    done = threading.Event()

    def spin() -> None:
        for frame in itertools.cycle("|/-\\"):
            if done.wait(0.2):
                break
            sys.stderr.write(f"\r{frame} {message}")
            sys.stderr.flush()
        sys.stderr.write(f"\r  {message} done\n")

    spinner = threading.Thread(target=spin, daemon=True) if sys.stderr.isatty() else None
    if spinner:
        spinner.start()
    else:
        print(f"{message} (this can take a minute)", file=sys.stderr, flush=True)
    try:
        for command in commands:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(command, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        done.set()
        if spinner:
            spinner.join()


def ensure_chromium(configured: str | None = None) -> str:
    found = find_chromium(configured)
    if found:
        return found
    _run_with_progress(
        "no Chromium found: trying `playwright install chromium-headless-shell`",
        [sys.executable, "-m", "playwright", "install", "chromium-headless-shell"],
    )
    found = find_chromium()
    if found is None and os.geteuid() == 0:
        _run_with_progress(
            "installing Debian's chromium-headless-shell package",
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium-headless-shell"],
        )
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
