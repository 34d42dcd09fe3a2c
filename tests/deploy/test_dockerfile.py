"""The image: what the Dockerfile installs and what .dockerignore lets through."""

import fnmatch
import json
import re
import tomllib

from tests.deploy.manifests import (
    BROWSERPOOL_ROLES,
    ROOT,
    render,
    role_deployment,
)


def dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def docker_ignored(path: str) -> bool:
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    parts = path.split("/")
    ignored = False
    for rule in (r for r in rules if r and not r.startswith("#")):
        pattern = rule.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts)))
        if hit:
            ignored = not rule.startswith("!")
    return ignored


def test_dockerfile() -> None:
    instructions = dockerfile()
    assert [arg for op, arg in instructions if op == "FROM"] == ["python:3.11-slim-bookworm"]

    [apt] = [arg for op, arg in instructions if op == "RUN" and "apt-get install" in arg]
    packages = set(apt.split("apt-get install", 1)[1].split("&&", 1)[0].split())
    assert {"chromium-headless-shell", "ffmpeg", "redis-tools", "-y", "--no-install-recommends"} <= packages
    assert "redis-server" not in packages
    assert "apt-get update" in apt and "rm -rf /var/lib/apt/lists" in apt, "one layer, no package lists left"
    assert any(op == "RUN" and re.search(r"\bpip install \.(\s|$)", arg) for op, arg in instructions)

    env = " ".join(arg for op, arg in instructions if op == "ENV").split()
    assert "BROWSERPOOL_HOST=0.0.0.0" in env
    assert "BROWSERPOOL_CHROMIUM_PATH=/usr/lib/chromium/chromium-headless-shell" in env

    # Non-root, by a number the kubelet can check against runAsNonRoot, the same the pods run as.
    user = [arg for op, arg in instructions if op == "USER"][-1].split(":")[0]
    assert user.isdigit() and int(user) > 0
    for role in BROWSERPOOL_ROLES:
        pod = role_deployment(render("base"), role)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == int(user)

    assert json.loads([arg for op, arg in instructions if op == "CMD"][-1]) == ["browserpool", "serve"]
    exposed = {int(p) for op, arg in instructions if op == "EXPOSE" for p in arg.split()}
    assert exposed == set(BROWSERPOOL_ROLES.values())


def test_the_image_gets_every_file_it_installs() -> None:
    sources = [arg.split()[:-1] for op, arg in dockerfile() if op == "COPY" and not arg.startswith("--")]
    copied = {src.rstrip("/") for group in sources for src in group}
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such file"
        assert not docker_ignored(src), f"COPY {src}: excluded by .dockerignore"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {package.split(".")[0] for package in project["tool"]["setuptools"]["packages"]}
    needed |= {"pyproject.toml", project["project"]["readme"]}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    assert docker_ignored(".venv") and docker_ignored("tests/node/node_modules")
