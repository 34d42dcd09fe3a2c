"""Defence in depth on the host: what Chromium could reach if a tenant found a way past the CDP relay.

Each test plays the tenant against a real daemon, real Chromium and real files. The file-read vector is
issue 17's own (an `<input type=file>` filled by `DOM.setFileInputFiles`, then read by the page's script),
sent straight to the session's page past the relay: what a method the relay missed would let through.
What must stop it is Chromium's user. Tests of user separation need a daemon running as root and skip
otherwise; the environment and WebRTC tests run as any user.
"""

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright
from redis import Redis as SyncRedis

from orchestrator.redis_server import EmbeddedRedis
from tests.conftest import Daemon, make_settings, start_daemon
from tests.support import eventually
from workers.chromium.find import ensure_chromium
from workers.chromium.isolation_report import sandbox_finding, state_dir_finding, user_finding
from workers.chromium.launcher import ChromiumLaunch
from workers.chromium.process_guard import is_dumpable
from workers.chromium.sandbox import namespaces_refused
from workers.chromium.user import ChromiumUser, reachable_by, resolve_user

ROOT = os.geteuid() == 0
PROJECT = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(
    not ROOT,
    reason=f"the tests run as uid {os.geteuid()}: only a daemon running as root can give Chromium a user of its own",
)

READ_FILE_INPUT = """async () => {
  const file = document.querySelector('input').files[0];
  if (!file) return {error: 'no file'};
  try { return {text: await file.text()}; } catch (e) { return {error: e.name}; }
}"""

# An RTCPeerConnection whose only ICE server is a STUN server on a loopback UDP port; returns its candidates.
GATHER_ICE = """async (port) => {
  const pc = new RTCPeerConnection({iceServers: [{urls: `stun:127.0.0.1:${port}`}]});
  const candidates = [];
  pc.onicecandidate = (e) => { if (e.candidate) candidates.push(e.candidate.candidate); };
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    const timer = setTimeout(done, 3000);
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); done(); }
    };
  });
  pc.close();
  return candidates;
}"""


# --- plumbing --------------------------------------------------------------------------------


@pytest.fixture
def open_base() -> Iterator[Path]:
    """A directory every user may traverse (pytest's tmp_path is 0700 under root and would hide everything):
    inside it, only the modes the daemon sets protect its files."""
    base = Path(tempfile.mkdtemp(prefix="browserpool-test-host-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def embedded_redis(state_dir: Path) -> Iterator[EmbeddedRedis]:
    """The embedded Redis the `serve` role starts, its append-only file in the state directory."""
    redis = EmbeddedRedis(state_dir)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def embedded(open_base: Path) -> Iterator[EmbeddedRedis]:
    with embedded_redis(open_base / "state") as redis:
        yield redis


@contextlib.asynccontextmanager
async def daemon_on(embedded: EmbeddedRedis, **overrides: Any) -> AsyncIterator[Daemon]:
    """A whole daemon whose store is the embedded Redis and whose state directory is the Redis's."""
    prefix = f"test-host-{uuid.uuid4().hex[:8]}"
    settings = make_settings(embedded.url, prefix, embedded.dir.parent, warm_contexts=0, **overrides)
    async with start_daemon(settings) as daemon:
        yield daemon


def plan_of(daemon: Daemon) -> ChromiumLaunch:
    plan = daemon.worker.launch_plan
    assert plan is not None
    return plan


async def session_page(daemon: Daemon) -> Page:
    session_id = (await daemon.create(await daemon.user()))["session_id"]
    return daemon.worker.held(session_id).page


async def read_through_file_input(page: Page, path: Path) -> dict[str, str]:
    """Issue 17's vector: put a host path into a file input over CDP, then read the file from the page."""
    await page.set_content("<input type=file>")
    cdp = await page.context.new_cdp_session(page)
    try:
        document = await cdp.send("DOM.getDocument")
        node = await cdp.send("DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "input"})
        await cdp.send("DOM.setFileInputFiles", {"nodeId": node["nodeId"], "files": [str(path)]})
    finally:
        await cdp.detach()
    result: dict[str, str] = await page.evaluate(READ_FILE_INPUT)
    return result


def run_as(user: ChromiumUser, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a command as `user` exactly as the launcher starts Chromium (setpriv, no groups)."""
    switch = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--"]
    return subprocess.run([*switch, *command], capture_output=True, text=True, timeout=30)


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def descendants(pid: int) -> list[int]:
    """Every living process below `pid` (Chromium's zygotes, renderers, utility processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, KeyError, ValueError):
                parents[int(entry.name)] = int(status(int(entry.name))["PPid"])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


async def aof_holding(embedded: EmbeddedRedis, marker: str) -> Path:
    """The append-only file that holds `marker` (written as a value), read as the daemon may."""

    async def holder() -> Path | None:
        files = [p for p in embedded.dir.rglob("*.aof") if p.is_file()]
        return next((p for p in files if marker.encode() in p.read_bytes()), None)

    found = await eventually(holder, timeout=5)
    assert found is not None
    return found


def write_canary(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# --- Chromium's user -------------------------------------------------------------------------


@needs_root
async def test_every_chromium_process_runs_as_a_user_of_its_own(embedded: EmbeddedRedis) -> None:
    async with daemon_on(embedded) as daemon:
        await session_page(daemon)
        plan, slot = plan_of(daemon), daemon.worker.browsers()[0]
        user = plan.home.user
        assert user.uid not in (0, os.geteuid())
        main = slot.pid
        assert main is not None
        processes = [main, *descendants(main)]
        assert len(processes) >= 3  # browser, zygote, renderer at least
        for pid in processes:
            with contextlib.suppress(FileNotFoundError):  # a helper that exited meanwhile
                assert status(pid)["Uid"].split() == [str(user.uid)] * 4, pid
                assert status(pid)["Groups"] == "", pid
        # What Chromium writes is its user's; what the daemon runs (the launcher) is not.
        assert slot.profile_dir is not None
        for mine in (Path(slot.profile_dir), plan.home.downloads_dir, plan.home.tmp_dir):
            info = mine.stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (user.uid, 0o700), mine
        for daemons in (Path(plan.executable), plan.home.bin_dir, plan.home.artifacts_dir):
            info = daemons.stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o700), daemons


@needs_root
async def test_a_page_cannot_read_the_state_dir_the_redis_file_or_root_only_files(
    embedded: EmbeddedRedis, open_base: Path
) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    SyncRedis.from_url(embedded.url).set("canary", marker)
    aof = await aof_holding(embedded, marker)
    in_state_dir = write_canary(embedded.dir.parent / "canary.txt", marker, 0o644)  # only the directory guards it
    root_only = write_canary(open_base / "root-only.txt", marker, 0o600)
    public = write_canary(open_base / "public.txt", f"public {marker}", 0o644)
    async with daemon_on(embedded) as daemon:
        page = await session_page(daemon)
        assert await read_through_file_input(page, public) == {"text": f"public {marker}"}  # the vector works
        for canary in (aof, in_state_dir, root_only, Path("/etc/shadow")):
            result = await read_through_file_input(page, canary)
            assert "text" not in result and marker not in str(result), (canary, result)
            assert result["error"] in ("NotReadableError", "NotFoundError"), (canary, result)


@needs_root
async def test_without_a_user_of_its_own_the_same_page_reads_the_secrets(embedded: EmbeddedRedis) -> None:
    """The control for the test above: with separation off, the same vector reads the append-only file."""
    marker = f"secret-{uuid.uuid4().hex}"
    SyncRedis.from_url(embedded.url).set("canary", marker)
    aof = await aof_holding(embedded, marker)
    async with daemon_on(embedded, chromium_user="root") as daemon:
        assert not plan_of(daemon).home.user.separate
        page = await session_page(daemon)
        for _ in range(5):  # the daemon appends to the file all along: a read that raced an append is retried
            result = await read_through_file_input(page, aof)
            if result.get("error") != "NotReadableError":
                break
        assert marker in result.get("text", ""), result


async def test_the_embedded_redis_files_are_the_daemons_alone(open_base: Path) -> None:
    state = open_base / "state"
    (state / "redis").mkdir(parents=True)
    state.chmod(0o755)  # as an older version, or a careless operator, left it
    loose = write_canary(state / "redis" / "left-over.aof", "old secret", 0o644)
    marker = f"secret-{uuid.uuid4().hex}"
    with embedded_redis(state) as redis:
        SyncRedis.from_url(redis.url).set("canary", marker)
        aof = await aof_holding(redis, marker)
        for path in (state, *state.rglob("*")):
            info = path.lstat()
            assert info.st_uid == os.geteuid(), path
            assert stat.S_IMODE(info.st_mode) & 0o077 == 0, f"{path} is mode {stat.S_IMODE(info.st_mode):o}"
        assert stat.S_IMODE(loose.stat().st_mode) == 0o600
        if ROOT:
            chromium = resolve_user("auto")
            for secret in (aof, loose):
                read = run_as(chromium, "cat", str(secret))
                assert read.returncode != 0 and "Permission denied" in read.stderr, read
                assert marker not in read.stdout


# --- secrets in /proc ------------------------------------------------------------------------


@needs_root
async def test_chromiums_user_cannot_read_the_environment_of_the_daemon_its_driver_or_redis(
    embedded: EmbeddedRedis,
) -> None:
    assert embedded.process is not None
    async with daemon_on(embedded) as daemon:
        await session_page(daemon)
        user = plan_of(daemon).home.user
        main = daemon.worker.browsers()[0].pid
        assert main is not None
        driver = int(status(main)["PPid"])  # Chromium's parent: the Playwright driver
        assert not is_dumpable()
        for pid in (os.getpid(), driver, embedded.process.pid):
            assert Path(f"/proc/{pid}/environ").read_bytes()  # there is something to read, for the daemon
            read = run_as(user, "cat", f"/proc/{pid}/environ")
            assert read.returncode != 0 and "Permission denied" in read.stderr, (pid, read)


async def test_no_browserpool_variable_reaches_chromium_the_driver_or_redis(
    open_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("BROWSERPOOL_TEST_SECRET", canary)  # as BROWSERPOOL_REDIS_URL=redis://:password@... would be
    with embedded_redis(open_base / "state") as redis:
        assert redis.process is not None
        async with daemon_on(redis) as daemon:
            await session_page(daemon)
            home = plan_of(daemon).home
            main = daemon.worker.browsers()[0].pid
            assert main is not None
            driver = int(status(main)["PPid"])
            checked = [redis.process.pid, driver, main, *descendants(main)]
            for pid in checked:
                with contextlib.suppress(FileNotFoundError):
                    environ = Path(f"/proc/{pid}/environ").read_bytes()
                    assert b"BROWSERPOOL_" not in environ and canary.encode() not in environ, pid
            chromium_env = dict(
                v.partition("=")[::2] for v in Path(f"/proc/{main}/environ").read_text().split("\0") if v
            )
            assert chromium_env["HOME"] == str(home.home_dir) and chromium_env["TMPDIR"] == str(home.tmp_dir)
            assert os.environ["BROWSERPOOL_TEST_SECRET"] == canary  # the daemon's own settings stay as they were


@needs_root
def test_an_undumpable_process_hides_its_environment_from_its_own_user() -> None:
    """The containers case: Chromium and daemon share a uid, and only PR_SET_DUMPABLE stands between them."""
    user = resolve_user("auto")
    python = next(
        (p for p in (sys.executable, "/usr/bin/python3") if reachable_by(Path(p).resolve().parent, user)), None
    )
    if python is None or not reachable_by(PROJECT, user):
        pytest.skip(f"no Python and project directory that {user.name} may run")
    program = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); "
        "from workers.chromium.process_guard import make_undumpable; "
        "guarded = sys.argv[2] == 'guarded' and make_undumpable(); print('ready', flush=True); time.sleep(30)"
    )
    seen = {}
    for mode in ("guarded", "plain"):
        canary = f"canary-{mode}-{uuid.uuid4().hex}"
        switch = ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--clear-groups", "--"]
        holder = subprocess.Popen(
            [*switch, python, "-c", program, str(PROJECT), mode],
            stdout=subprocess.PIPE,
            text=True,
            env={"SECRET_OF_THE_HOLDER": canary, "PATH": "/usr/bin:/bin"},
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
            read = run_as(user, "cat", f"/proc/{holder.pid}/environ")
            seen[mode] = canary in read.stdout
        finally:
            holder.kill()
            holder.wait()
    assert seen == {"guarded": False, "plain": True}


# --- Chromium's sandbox and WebRTC -----------------------------------------------------------


async def test_the_sandbox_is_on_wherever_the_kernel_allows_it(embedded: EmbeddedRedis) -> None:
    async with daemon_on(embedded) as daemon:
        await session_page(daemon)
        plan = plan_of(daemon)
        user = plan.home.user
        refused = "Chromium runs as root" if user.uid == 0 else namespaces_refused(user)
        if refused:
            assert not plan.sandbox.on and "forced" in plan.sandbox.why
            pytest.skip(f"the sandbox cannot run here: {refused}")
        assert plan.sandbox.on, plan.sandbox.why
        main = daemon.worker.browsers()[0].pid
        assert main is not None
        renderers = [
            pid for pid in descendants(main) if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert renderers
        for pid in renderers:
            assert status(pid)["Seccomp"] == "2", pid  # filtered system calls
            assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user"), pid


def received(listener: socket.socket) -> int:
    count = 0
    with contextlib.suppress(BlockingIOError):
        while listener.recv(2048):
            count += 1
    return count


async def test_no_stun_packet_leaves_a_page(embedded: EmbeddedRedis) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.setblocking(False)
        port = listener.getsockname()[1]
        async with daemon_on(embedded) as daemon:
            candidates = await (await session_page(daemon)).evaluate(GATHER_ICE, port)
        assert received(listener) == 0
        assert candidates == []  # no host candidate, no server-reflexive one: nothing names this host
        # The control: the same script in a Chromium without the pool's flags does reach the listener.
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=ensure_chromium(None))
            page = await browser.new_page()
            assert await page.evaluate(GATHER_ICE, port)
            await browser.close()
        assert received(listener) > 0


def test_doctor_says_what_isolation_this_host_gives(open_base: Path) -> None:
    state = open_base / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    assert not state_dir_finding(state).ok  # readable by others: BAD, with the fix
    state.chmod(0o700)
    assert state_dir_finding(state).ok
    user = user_finding("auto")
    assert user.ok
    assert ("apart from the daemon" in user.detail) == ROOT  # not root: says users cannot be separated
    assert ROOT or ("cannot be separated" in user.detail and bool(user.fix))
    sandbox = sandbox_finding("auto", "auto")
    assert sandbox.detail.startswith("on:") or "forced" in sandbox.detail
    assert not sandbox_finding("root", "on").ok  # root Chromium cannot have its sandbox: "on" is refused
