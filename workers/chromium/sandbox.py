"""Whether Chromium's own sandbox can run here, and whether it will.

Chromium's sandbox puts each renderer in new user, PID and network namespaces under a seccomp filter;
without it, a renderer exploit runs with everything Chromium's user may do. It needs a kernel (and a
container runtime) that lets an unprivileged user create user namespaces, and it refuses to run as root.
Playwright turns it off unless asked (`chromiumSandbox`); the pool turns it on wherever it can.
"""

import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from workers.chromium.user import ChromiumUser

SandboxMode = Literal["auto", "on", "off"]

KERNEL_FIX = (
    "allow unprivileged user namespaces (sysctl user.max_user_namespaces>0, kernel.unprivileged_userns_clone=1, "
    "kernel.apparmor_restrict_unprivileged_userns=0; in Docker/Kubernetes a seccomp profile that permits "
    "clone/unshare of user namespaces)"
)


class SandboxUnavailable(RuntimeError):
    """BROWSERPOOL_CHROMIUM_SANDBOX=on, but the sandbox cannot run here."""


@dataclass(frozen=True)
class SandboxVerdict:
    on: bool
    why: str  # one line for logs and `doctor`


def namespaces_refused(user: ChromiumUser) -> str | None:
    """None when `user` may create the namespaces Chromium's sandbox uses; otherwise what refused them."""
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    true = shutil.which("true") or "/bin/true"
    separate = user.separate
    try:
        done = subprocess.run(
            [unshare, "--user", "--pid", "--net", "--fork", "--", true],
            capture_output=True,
            text=True,
            timeout=10,
            user=user.uid if separate else None,
            group=user.gid if separate else None,
            extra_groups=[] if separate else None,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot test for user namespaces ({exc})"
    if done.returncode != 0:
        return f"the kernel refuses user namespaces to {user.name}: {done.stderr.strip() or done.returncode}"
    return None


def decide(mode: SandboxMode, user: ChromiumUser) -> SandboxVerdict:
    """On when asked or possible; raises SandboxUnavailable when "on" was asked and it cannot be."""
    if mode == "off":
        return SandboxVerdict(False, "off: BROWSERPOOL_CHROMIUM_SANDBOX=off")
    refused = "Chromium runs as root, and its sandbox refuses root" if user.uid == 0 else namespaces_refused(user)
    if refused is None:
        return SandboxVerdict(True, f"on: renderers in their own namespaces under seccomp, as {user.name}")
    if mode == "on":
        raise SandboxUnavailable(f"BROWSERPOOL_CHROMIUM_SANDBOX=on, but {refused}")
    return SandboxVerdict(False, f"off, forced: {refused}")
