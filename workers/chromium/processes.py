"""Finding our Chromium processes in /proc (for crash tests and memory measurement)."""

from pathlib import Path

SLOT_FLAG = "--browserpool-slot="


def _cmdline(pid_dir: Path) -> list[str]:
    try:
        return pid_dir.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def browser_pid(tag: str) -> int | None:
    """The main Chromium process launched with `--browserpool-slot=<tag>`."""
    flag = f"{SLOT_FLAG}{tag}"
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        args = _cmdline(pid_dir)
        if flag in args and not any(a.startswith("--type=") for a in args):
            return int(pid_dir.name)
    return None
