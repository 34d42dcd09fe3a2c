"""`browserpool serve` as a real subprocess, for tests that kill, signal or restart it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port
from workers.chromium.processes import SLOT_FLAG


class DaemonProcess:
    def __init__(
        self, tmp: Path, redis_url: str | None, prefix: str, worker_id: str, command: str = "serve", **env: str
    ) -> None:
        self.command = command
        self.port = free_port()
        self.log = tmp / f"daemon-{self.port}.log"
        self.worker_id = worker_id
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BROWSERPOOL_")},
            "BROWSERPOOL_PORT": str(self.port),
            "BROWSERPOOL_REDIS_PREFIX": prefix,
            "BROWSERPOOL_WORKER_ID": worker_id,
            "BROWSERPOOL_STATE_DIR": str(tmp / "state"),
            "BROWSERPOOL_REAP_INTERVAL": "0.5",
            **env,
        }
        if redis_url:
            self.env["BROWSERPOOL_REDIS_URL"] = redis_url
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "DaemonProcess":
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "browserpool", self.command], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"daemon not ready within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def chromium_pids(self) -> list[int]:
        """Every process launched for this worker's browsers (main and children carry no flag: main only)."""
        flag = f"{SLOT_FLAG}{self.worker_id}/"
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = entry.joinpath("cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if flag in cmdline:
                pids.append(int(entry.name))
        return pids
