"""`browserpool doctor`: checks what the daemon needs on this machine and says what to fix."""

import os
import re
import shutil
import subprocess
from importlib.metadata import version

from orchestrator.config import Settings
from orchestrator.redis_server import DEFAULT_LOCAL_URL, EmbeddedRedis, answers, find_redis_server
from workers.chromium.find import ChromiumNotFound, find_chromium
from workers.chromium.isolation_report import Finding, sandbox_finding, state_dir_finding, user_finding
from workers.pool.slot import CHROMIUM_ARGS
from workers.webdriver.chromedriver import INSTALL_HINT, find_chromedriver

from .doctor_redis import configured_redis_checks

MIN_SHM_MIB = 64
VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)\.(\d+)")


Check = Finding  # a doctor line: what was checked, whether it is fine, what it found, how to fix it


def _redis(settings: Settings) -> list[Check]:
    embedded = EmbeddedRedis(settings.state_dir)
    if settings.redis_url:
        return configured_redis_checks(settings)
    if answers(DEFAULT_LOCAL_URL):
        return [Check("redis", True, "a Redis answers on 127.0.0.1:6379 and will be used")]
    if embedded.socket.exists() and answers(embedded.url):
        return [Check("redis", True, f"the embedded Redis of a running daemon answers at {embedded.socket}")]
    binary = find_redis_server()
    if binary:
        return [Check("redis", True, f"none running; `browserpool serve` will start {binary} on {embedded.socket}")]
    return [
        Check(
            "redis",
            False,
            "no Redis and no redis-server binary",
            "apt-get install -y redis-server, or set BROWSERPOOL_REDIS_URL",
        )
    ]


def _chromium(settings: Settings) -> Check:
    try:
        path = find_chromium(settings.chromium_path)
    except ChromiumNotFound as exc:
        return Check("chromium", False, str(exc), "point BROWSERPOOL_CHROMIUM_PATH at an executable")
    if path is None:
        return Check(
            "chromium", False, "no Chromium found", "make setup, or apt-get install -y chromium-headless-shell"
        )
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("chromium", False, f"{path} does not run: {exc}", "reinstall it")
    return Check("chromium", True, f"{path}: {out or 'version unknown'} (Playwright {version('playwright')})")


def _version_of(path: str) -> str:
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _chromedriver(settings: Settings) -> Check:
    path = find_chromedriver(settings.chromedriver_path)
    if path is None:
        return Check("webdriver", False, "no chromedriver: WebDriver New Session fails", INSTALL_HINT)
    try:
        chromium = find_chromium(settings.chromium_path)
    except ChromiumNotFound:
        chromium = None
    return driver_check(path, _version_of(path), _version_of(chromium) if chromium else "")


def driver_check(path: str, driver_version: str, chromium_version: str) -> Check:
    """chromedriver against the Chromium it drives: the same major version, or it may refuse to attach."""
    driver, browser = VERSION.search(driver_version), VERSION.search(chromium_version)
    if driver is None:
        return Check("webdriver", False, f"{path} does not say its version", "reinstall chromium-driver")
    if browser is None:
        return Check("webdriver", True, f"{path}: ChromeDriver {driver.group(0)} (Chromium's version unknown)")
    if driver.group(1) != browser.group(1):
        return Check(
            "webdriver",
            False,
            f"{path}: ChromeDriver {driver.group(0)} does not match Chromium {browser.group(0)}",
            "install the chromedriver of the same release (Debian: chromium-driver beside chromium)",
        )
    same = "the same build" if driver.group(0) == browser.group(0) else f"Chromium {browser.group(0)}"
    return Check("webdriver", True, f"{path}: ChromeDriver {driver.group(0)} ({same})")


def _shm() -> Check:
    try:
        stats = os.statvfs("/dev/shm")
    except OSError:
        return Check("/dev/shm", True, "absent; Chromium uses /tmp (--disable-dev-shm-usage)")
    mib = stats.f_frsize * stats.f_blocks // (1024 * 1024)
    note = "Chromium runs with --disable-dev-shm-usage, so a small /dev/shm only costs speed"
    fix = "" if mib >= MIN_SHM_MIB else "give the container a larger /dev/shm (a Memory emptyDir, --shm-size)"
    return Check("/dev/shm", True, f"{mib} MiB; {note}", fix)


def _ffmpeg() -> Check:
    path = shutil.which("ffmpeg")
    if path is None:
        return Check("ffmpeg", False, "not found: sessions created with record=true fail", "apt-get install -y ffmpeg")
    return Check("ffmpeg", True, f"{path} (session recordings, WebM)")


def run_checks(settings: Settings) -> list[Check]:
    flags = Check("flags", True, " ".join(CHROMIUM_ARGS) + " (plus Playwright's own; CDP on 127.0.0.1 only)")
    disk = shutil.disk_usage(settings.state_dir if settings.state_dir.exists() else "/tmp")
    roomy = disk.free > 512 * 1024 * 1024
    space = Check("disk", roomy, f"{disk.free // (1024 * 1024)} MiB free", "" if roomy else "free some disk space")
    isolation = [
        user_finding(settings.chromium_user),
        sandbox_finding(settings.chromium_user, settings.chromium_sandbox),
        state_dir_finding(settings.state_dir),
    ]
    return [
        *_redis(settings),
        _chromium(settings),
        _chromedriver(settings),
        _ffmpeg(),
        flags,
        _shm(),
        space,
        *isolation,
    ]


def report(checks: list[Check]) -> tuple[str, bool]:
    lines = []
    for check in checks:
        lines.append(f"{'ok ' if check.ok else 'BAD'} {check.name:<9} {check.detail}")
        if check.fix:
            lines.append(f"    {'':<9} fix: {check.fix}")
    healthy = all(c.ok for c in checks)
    lines.append("all good" if healthy else "something needs fixing (see above)")
    return "\n".join(lines), healthy
