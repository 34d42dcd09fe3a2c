"""Redis as production runs it, on loopback: a primary, a replica and three sentinels (Debian's
redis-server and redis-sentinel), TLS with a private CA, ACL users. Each test that kills a primary gets
a set of its own."""

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis as sync_redis

from tests.support import free_port

MASTER_NAME = "pool"
DOWN_AFTER_MS = 1000  # how long a silent primary takes to be judged down (production: tens of seconds)
FAILOVER_TIMEOUT_MS = 3000


def _binary(name: str) -> list[str]:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if found:
        return [found]
    # redis-sentinel is redis-server under another name; Debian ships the name in its own package
    return [shutil.which("redis-server") or "/usr/bin/redis-server", "--sentinel"] if name == "redis-sentinel" else []


def _wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


class RedisNode:
    """One redis-server (or sentinel) on loopback with the given extra arguments or config lines."""

    def __init__(self, directory: Path, *args: str, port: int | None = None, sentinel: bool = False) -> None:
        self.port = port or free_port()
        self.dir = directory / f"node-{self.port}"
        self.dir.mkdir(parents=True)
        self.args = args
        self.sentinel = sentinel
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "RedisNode":
        if self.sentinel:
            config = self.dir / "sentinel.conf"  # a sentinel rewrites its own config: it must be a file
            config.write_text("\n".join(self.args) + "\n")
            command = [*_binary("redis-sentinel"), str(config), "--port", str(self.port), "--bind", "127.0.0.1"]
        else:
            command = [
                *_binary("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                *self.args,
            ]
        log = (self.dir / "log").open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if "--port" in self.args and self.args[self.args.index("--port") + 1] == "0":
            time.sleep(0.3)  # TLS-only: nothing to probe in plain TCP
        else:
            _wait_port(self.port, self.process, "redis")
        return self

    def kill(self) -> None:
        """kill -9: no shutdown, no last words to replicas or sentinels."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def client(self) -> sync_redis.Redis:
        return sync_redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=2)


class SentinelSet:
    """1 primary, 1 replica, 3 sentinels (quorum 2), with short timeouts so a failover takes seconds."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="browserpool-test-sentinel-"))
        self.primary = RedisNode(self.dir)
        self.replica = RedisNode(self.dir)
        self.sentinels: list[RedisNode] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def start(self) -> "SentinelSet":
        self.primary.start()
        self.replica.args = ("--replicaof", "127.0.0.1", str(self.primary.port))
        self.replica.start()
        for _ in range(3):
            config = (
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary.port} 2",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
                f"dir {self.dir}",
            )
            self.sentinels.append(RedisNode(self.dir, *config, sentinel=True).start())
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        """Until the replica is in sync and every sentinel knows the replica and the other sentinels."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._in_sync() and all(self._sees_everyone(s) for s in self.sentinels):
                return
            time.sleep(0.1)
        raise RuntimeError("the sentinel set did not come together")

    def _in_sync(self) -> bool:
        with self.replica.client() as client:
            return client.info("replication").get("master_link_status") == "up"

    def _sees_everyone(self, sentinel: RedisNode) -> bool:
        with sentinel.client() as client:
            master = client.sentinel_master(MASTER_NAME)
            return int(master["num-slaves"]) >= 1 and int(master["num-other-sentinels"]) >= 2

    def primary_port(self) -> int | None:
        """The primary's port as a sentinel names it."""
        for sentinel in self.sentinels:
            with contextlib.suppress(sync_redis.RedisError), sentinel.client() as client:
                _, port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                return int(port)
        return None

    def wait_promoted(self, timeout: float = 30) -> float:
        """Until the replica is primary by the sentinels' word and its own; returns the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.primary_port() == self.replica.port:
                with contextlib.suppress(sync_redis.RedisError), self.replica.client() as client:
                    if client.info("replication")["role"] == "master":
                        return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"no failover within {timeout}s")

    def stop(self) -> None:
        for node in [*self.sentinels, self.replica, self.primary]:
            node.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def self_signed_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browserpool test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def browserpool_cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`browserpool ARGS` with only the given BROWSERPOOL_* settings (and a state directory of its own)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BROWSERPOOL_")}
    environment.update(BROWSERPOOL_STATE_DIR=str(tmp / "state"), BROWSERPOOL_PORT=str(free_port()), **env)
    return subprocess.run(
        [sys.executable, "-m", "browserpool", *args], env=environment, text=True, capture_output=True, timeout=60
    )
