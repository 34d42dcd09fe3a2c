"""The daemon under test: `python -m browserpool serve` as a subprocess on loopback, and API keys for it."""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from orchestrator.accounts import AccountStore, User
from orchestrator.keys import Keys
from orchestrator.runtime import connect_redis
from workers.chromium.processes import browser_pid

from .servers import LOOPBACK, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]

# Background jobs write to Redis too; slowed right down so Redis command counts see only what we ask.
QUIET_BACKGROUND = {"BROWSERPOOL_REAP_INTERVAL": "3600", "BROWSERPOOL_WORKER_LEASE_TTL": "600"}


@dataclass(frozen=True)
class Credentials:
    user: User
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


class DaemonProcess:
    def __init__(
        self,
        redis_url: str,
        chromium: str,
        contexts_per_browser: int = 100,
        command: str = "serve",
        prefix: str | None = None,
    ) -> None:
        self.command = command
        self.port = free_port()
        self.prefix = prefix or f"bench-{uuid.uuid4().hex[:10]}"
        self.worker_id = f"bench-{uuid.uuid4().hex[:8]}"
        self.redis_url = redis_url
        self.workdir = tempfile.TemporaryDirectory(prefix="browserpool-bench-daemon-")
        self.log_path = Path(self.workdir.name) / "daemon.log"
        self.env = {
            "BROWSERPOOL_HOST": LOOPBACK,
            "BROWSERPOOL_PORT": str(self.port),
            "BROWSERPOOL_REDIS_URL": redis_url,
            "BROWSERPOOL_REDIS_PREFIX": self.prefix,
            "BROWSERPOOL_STATE_DIR": str(Path(self.workdir.name) / "state"),
            "BROWSERPOOL_WORKER_ID": self.worker_id,
            "BROWSERPOOL_BROWSERS": "1",
            "BROWSERPOOL_CONTEXTS_PER_BROWSER": str(contexts_per_browser),
            "BROWSERPOOL_CHROMIUM_PATH": chromium,
            "BROWSERPOOL_RATE_LIMIT": "0",  # the scenarios share one user; the bench measures speed, not the limiter
            **QUIET_BACKGROUND,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    def start(self, timeout: float = 60) -> "DaemonProcess":
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("BROWSERPOOL_")}, **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "browserpool", self.command], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.output()[-4000:]}")
            if self._ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daemon not ready within {timeout:g} s:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self.workdir.cleanup()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def browser_pid(self) -> int | None:
        """The main Chromium process of the daemon's only browser slot."""
        return browser_pid(f"{self.worker_id}/0")

    def client(self, credentials: Credentials, connections: int = 16) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.url, headers=credentials.headers, timeout=60, limits=limits)

    async def new_user(self, name: str) -> Credentials:
        """A user and an API key, written straight into the daemon's Redis under its prefix."""
        redis = connect_redis(self.redis_url)
        try:
            accounts = AccountStore(redis, self.keys, token_ttl=3600)
            user = await accounts.add_user(f"{name}-{uuid.uuid4().hex[:6]}", password=None)
            issued = await accounts.create_api_key(user, "bench")
            return Credentials(user, issued.secret)
        finally:
            await redis.aclose()

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def __enter__(self) -> "DaemonProcess":
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
