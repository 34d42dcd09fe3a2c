"""A last line against a test that hangs where pytest-timeout cannot reach it.

pytest-timeout's signal interrupts a test once; if the teardown that follows then waits forever (a server
still waiting for its connections, a browser that never answers close), the test process hangs and, under
xdist, holds every test queued on it, so the run never ends. This watchdog gives each test's whole protocol
(setup, call, teardown) a wall-clock bound well beyond pytest-timeout's. Past it, it prints every thread's
stack, kills the process's own descendants (Redis servers, Chromium, daemons) and exits the process: xdist
reports the crash with the test's name, replaces the worker and runs the rest. An xdist worker's stderr
reaches no terminal, so the stacks go to a file that the controlling process prints at the end of the run.
"""

import faulthandler
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import descendants

MARGIN = 2.5  # times the test's own pytest-timeout
FLOOR = 300.0  # seconds, for tests that have no pytest-timeout
DUMPS = "BROWSERPOOL_TEST_WATCHDOG_DIR"  # set by the controlling process, inherited by xdist's workers


def _bound(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    configured = marker.args[0] if marker and marker.args else item.config.getoption("timeout", None)
    if configured is None:
        configured = item.config.getini("timeout") or 0
    return max(FLOOR, MARGIN * float(configured))


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        os.environ[DUMPS] = tempfile.mkdtemp(prefix="browserpool-watchdog-")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if hasattr(terminalreporter.config, "workerinput") or DUMPS not in os.environ:
        return
    for dump in sorted(Path(os.environ[DUMPS]).glob("*.txt")):
        terminalreporter.write_sep("=", f"watchdog: {dump.name}")
        terminalreporter.write(dump.read_text(errors="replace"))


def _give_up(config: pytest.Config, nodeid: str, seconds: float) -> None:
    folder = Path(os.environ.get(DUMPS) or tempfile.gettempdir())
    with open(folder / f"{os.getpid()}.txt", "w") as out:
        print(f"{nodeid} still running after {seconds:.0f} s; every thread's stack:", file=out, flush=True)
        faulthandler.dump_traceback(file=out, all_threads=True)
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)  # so that a run without xdist shows the stacks
    print(f"\nwatchdog: {nodeid} still running after {seconds:.0f} s", file=sys.stderr, flush=True)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
    os._exit(70)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    seconds = _bound(item)
    timer = threading.Timer(seconds, _give_up, (item.config, item.nodeid, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
