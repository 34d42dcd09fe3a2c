"""Finding a Redis: the configured URL, one on 127.0.0.1:6379, or a private embedded redis-server."""

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

from redis import Redis as SyncRedis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

DEFAULT_LOCAL_URL = "redis://127.0.0.1:6379/0"
INSTALL_HINT = (
    "no redis-server binary found: install one (Debian: apt-get install -y redis-server) or set BROWSERPOOL_REDIS_URL"
)


# What of the daemon's environment redis-server gets: never BROWSERPOOL_* (its /proc/<pid>/environ is readable
# by processes of the same user, which Chromium may be).
REDIS_ENVIRONMENT = ("PATH", "LANG", "TZ")


class RedisUnavailable(RuntimeError):
    pass


def make_private(directory: Path) -> None:
    """Create `directory` (and parents) if missing; then it and everything under it that is ours become the
    daemon user's alone: directories 0700, files 0600. The state directory holds the embedded Redis's
    append-only file, which holds every secret (token secret, internal secret, key hashes)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    uid = os.geteuid()
    for path in (directory, *directory.rglob("*")):
        with contextlib.suppress(FileNotFoundError):  # a file going away meanwhile is no longer exposed
            info = path.lstat()
            if info.st_uid != uid or stat.S_ISLNK(info.st_mode):
                continue
            wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
            if info.st_mode & 0o777 != wanted:
                path.chmod(wanted)


def answers(url: str, timeout: float = 0.3) -> bool:
    client = SyncRedis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()


def find_redis_server() -> str | None:
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server", "/usr/sbin/redis-server"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _die_with_parent() -> None:
    # Linux: the embedded Redis gets SIGTERM (and so flushes its append-only file) when the daemon dies,
    # even by kill -9, so no orphan keeps the socket.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """A private redis-server on a unix socket in the state directory, persisted with an append-only file."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "redis"
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        if self.socket.exists() and answers(self.url):
            log.info("using the embedded Redis already running at %s", self.socket)
            return self.url
        binary = find_redis_server()
        if binary is None:
            raise RedisUnavailable(INSTALL_HINT)
        make_private(self.dir.parent)  # the state directory and everything in it
        self.dir.mkdir(mode=0o700, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        args = [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        # Its own session: a Ctrl-C meant for the daemon must not kill the store before the daemon
        # has recorded its sessions as closed. It still ends with the daemon (see _die_with_parent).
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            umask=0o077,  # its append-only files and log: 0600, whatever the daemon's umask
            env={key: os.environ[key] for key in REDIS_ENVIRONMENT if key in os.environ},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisUnavailable(
                    f"embedded redis-server exited with {self.process.returncode}; see {self.dir}/redis.log"
                )
            if self.socket.exists() and answers(self.url):
                log.warning(
                    "no Redis configured and none on 127.0.0.1:6379: started a private redis-server at %s (data in %s)",
                    self.socket,
                    self.dir,
                )
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RedisUnavailable(f"embedded redis-server did not answer within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def resolve_redis_url(configured: str | None, embedded: EmbeddedRedis, start: bool = True) -> str:
    """The configured URL, else 127.0.0.1:6379 if it answers, else the embedded server.

    With `start` false (operator commands) the embedded server is used only if a daemon already runs it.
    """
    if configured:
        return configured
    if answers(DEFAULT_LOCAL_URL):
        log.info("no BROWSERPOOL_REDIS_URL set: using the Redis on 127.0.0.1:6379")
        return DEFAULT_LOCAL_URL
    if start:
        return embedded.start()
    if embedded.socket.exists() and answers(embedded.url):
        return embedded.url
    raise RedisUnavailable("no Redis: set BROWSERPOOL_REDIS_URL, or start `browserpool serve` first")
