"""What the numbers were measured on."""

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any


def _meminfo_mib(field: str) -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    return None


def _cpu_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def chromium_version(executable: str) -> str:
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return done.stdout.strip() or done.stderr.strip() or "unknown"


def redis_server_version() -> str:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return done.stdout.strip() or "unknown"


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_tool() -> str:
    return (
        f"httpx.AsyncClient {version_of('httpx')} (asyncio) in the benchmark process, keep-alive connections; "
        "its CPU shares the 2 cores with the daemon"
    )


def source_info(repo: Path) -> dict[str, Any]:
    """Which daemon code was measured: the commit, and whether its code differed from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "orchestrator", "api", "workers", "pyproject.toml")
    return {"repo": str(repo), "commit": git("rev-parse", "HEAD"), "daemon_code_modified": bool(changed)}


def machine_info(executable: str) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_total_mib": _meminfo_mib("MemTotal"),
        "memory_available_mib": _meminfo_mib("MemAvailable"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "chromium_executable": executable,
        "chromium_version": chromium_version(executable),
        "playwright_version": version_of("playwright"),
        "redis_server_version": redis_server_version(),
        "redis_py_version": version_of("redis"),
        "fastapi_version": version_of("fastapi"),
        "uvicorn_version": version_of("uvicorn"),
        "load_tool": load_tool(),
        "loadavg_at_start": list(os.getloadavg()),
    }
