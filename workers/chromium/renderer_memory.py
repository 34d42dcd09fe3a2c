"""Renderer processes held to a memory bound: found in /proc, measured, and killed past the bound.

Chromium never shares a renderer process between browser contexts, so a renderer belongs to exactly one
session, and killing it ends nothing of anyone else's. What is measured is a renderer's private resident
memory (resident minus shared pages, from /proc/<pid>/statm): the JavaScript heap, ArrayBuffers and typed
arrays, the DOM, decoded images, all of it, whatever part of Blink or V8 holds it. A renderer past the bound
gets SIGKILL; its pages then crash with status "killed", which is how the session's end is told apart from
a crash (see `killed_recently`).

Why a kill and not a limit the kernel enforces: RLIMIT_DATA on the renderers' zygote holds unsandboxed
renderers (an ArrayBuffer allocation fails, the heap stops growing) but sandboxed renderers do not start
under any data limit below about 6 GB (measured with Chromium 156), and a daemon in a container usually
lacks CAP_SYS_RESOURCE to set limits on Chromium's user anyway. A sampler at 50 ms lets a page allocate
at most what it can fill in that time past the bound (about 100-200 MB for typed arrays, measured).

Blocking (reads /proc): `check()` runs on the bounds sampler's thread, never on the event loop.
"""

import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
RENDERER_FLAG = b"--type=renderer"
ZYGOTE_FLAG = b"--type=zygote"
RENDERER, ZYGOTE, OTHER = "renderer", "zygote", "other"
KILL_MEMORY_SECONDS = 5.0  # a crash this soon after a kill of ours is taken for that kill


@dataclass(frozen=True)
class Kill:
    at: float  # time.monotonic()
    pid: int
    private_bytes: int


def child_pids(pid: int) -> list[int]:
    """The children of a process, from /proc/<pid>/task/*/children (empty if it is gone)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", "rb") as listing:
                found.extend(int(child) for child in listing.read().split())
    except (OSError, ValueError):
        pass
    return found


def private_bytes(pid: int) -> int | None:
    """Resident memory not shared with other processes (statm: resident - shared), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            fields = statm.read().split()
        return max(0, int(fields[1]) - int(fields[2])) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def _kind(pid: int) -> str:
    """Renderer, zygote (renderers are forked from one) or other; sandboxed processes show their whole
    command line as one argument, so the flags are looked for anywhere in it."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read()
    except OSError:
        return OTHER
    return RENDERER if RENDERER_FLAG in args else ZYGOTE if ZYGOTE_FLAG in args else OTHER


class RendererMemory:
    """The renderers of one browser, each held to `limit_bytes` of private memory."""

    def __init__(self, browser_pid: int, limit_bytes: int) -> None:
        self.browser_pid = browser_pid
        self.limit_bytes = limit_bytes
        self.peak_bytes = 0  # the largest renderer seen (for tests and measurements)
        self._renderers: set[int] = set()  # known renderers (a zygote's fresh child shows the zygote's flags at first)
        self._kills: deque[Kill] = deque(maxlen=64)
        self._lock = threading.Lock()

    def renderers(self) -> list[int]:
        """Every renderer of the browser: the children of its zygotes, found by walking /proc from the browser
        process through zygotes only (renderers, GPU and utility processes have many threads and no children)."""
        found: set[int] = set()
        stack = child_pids(self.browser_pid)
        while stack:
            pid = stack.pop()
            kind = RENDERER if pid in self._renderers else _kind(pid)
            if kind == RENDERER:
                found.add(pid)
            elif kind == ZYGOTE:
                stack.extend(child_pids(pid))
        self._renderers = found  # forget processes that are gone (their pids may come back as anything)
        return list(found)

    def check(self) -> list[Kill]:
        """Kill every renderer past the bound; returns the kills (blocking: call it off the event loop)."""
        kills: list[Kill] = []
        for pid in self.renderers():
            used = private_bytes(pid)
            if used is None:
                continue
            self.peak_bytes = max(self.peak_bytes, used)
            if used > self.limit_bytes:
                kill = Kill(time.monotonic(), pid, used)
                with self._lock:
                    self._kills.append(kill)  # recorded before the signal, so its crash is always explained
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError as exc:
                    log.error("could not kill renderer %d past its memory bound: %s", pid, exc)
                    continue
                kills.append(kill)
        return kills

    def killed_recently(self, within: float = KILL_MEMORY_SECONDS) -> bool:
        """Whether a renderer was killed for memory in the last `within` seconds."""
        now = time.monotonic()
        with self._lock:
            return any(now - kill.at <= within for kill in self._kills)
