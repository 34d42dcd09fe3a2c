"""Where a Chromium of ours serves CDP: loopback, on a port it chose itself (--remote-debugging-port=0).

Chromium writes that port and the browser endpoint's path into <user-data-dir>/DevToolsActivePort;
the user data dir is on the browser process's command line.
"""

from pathlib import Path

DEBUGGING_ARGS = ("--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1")


class DevToolsUnavailable(RuntimeError):
    pass


def user_data_dir(pid: int) -> Path:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError as exc:
        raise DevToolsUnavailable(f"browser process {pid} is gone") from exc
    for arg in args:
        if arg.startswith("--user-data-dir="):
            return Path(arg.partition("=")[2])
    raise DevToolsUnavailable(f"browser process {pid} has no --user-data-dir")


def browser_endpoint(pid: int) -> str:
    """The ws:// URL of the browser-level CDP endpoint of the Chromium with this pid."""
    marker = user_data_dir(pid) / "DevToolsActivePort"
    try:
        port, path = marker.read_text().split("\n")[:2]
    except (OSError, ValueError) as exc:
        raise DevToolsUnavailable(f"no DevToolsActivePort in {marker.parent}") from exc
    return f"ws://127.0.0.1:{int(port)}{path.strip()}"
