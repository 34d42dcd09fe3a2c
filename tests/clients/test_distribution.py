"""browserpool-client is a distribution of its own: it installs alone, with httpx only, and ships py.typed."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
SERVER = ("browserpool", "orchestrator", "api", "workers", "playwright", "fastapi", "starlette", "uvicorn", "redis")

# Run in the fresh venv, isolated (-I: no PYTHONPATH, no user site, not the current directory on sys.path).
PROBE = """
import importlib.metadata, importlib.resources, importlib.util, json, sys
import browserpool_client
print(json.dumps({
    "file": browserpool_client.__file__,
    "loaded": sorted({name.split(".")[0] for name in sys.modules}),
    "installable": sorted(name for name in json.loads(sys.argv[1]) if importlib.util.find_spec(name)),
    "py_typed": importlib.resources.files("browserpool_client").joinpath("py.typed").is_file(),
    "requires": importlib.metadata.requires("browserpool-client"),
    "exports": sorted(browserpool_client.__all__),
}))
"""


def run(*command: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_NO_CACHE_DIR")}
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.timeout(300)
def test_the_client_installs_alone_into_a_fresh_venv(tmp_path: Path) -> None:
    # A copy, so building it leaves no build/ or egg-info behind in the checkout.
    source = shutil.copytree(CLIENT, tmp_path / "python", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    # This interpreter's pip installs into the new venv, resolving the client's dependencies as any pip would
    # (and reusing pip's cache): whatever lands there is what `pip install ./clients/python` brings.
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", source, cwd=tmp_path)

    seen = json.loads(run(python, "-I", "-c", PROBE, json.dumps(SERVER), cwd=tmp_path))
    assert Path(seen["file"]).is_relative_to(venv), seen["file"]  # the installed copy, not the checkout's
    assert seen["installable"] == [], "the client pulled in the server's packages"
    assert not set(SERVER) & set(seen["loaded"])
    assert "httpx" in seen["loaded"]
    assert seen["py_typed"], "py.typed is not installed: type checkers would ignore the client's hints"
    assert seen["requires"] == ["httpx>=0.27"]
    assert {"AsyncClient", "Client", "Session", "BrowserpoolAPIError"} <= set(seen["exports"])

    # A type checker reads the installed client's hints (it would skip an untyped package).
    use = 'from browserpool_client import Client\nn: int = Client("http://x", token="t").get("s")\n'
    (tmp_path / "use.py").write_text(use)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", python, "--no-incremental", "use.py"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert 'expression has type "Session", variable has type "int"' in checked.stdout, checked.stdout


def test_the_server_distribution_no_longer_ships_the_client() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not [p for p in project["tool"]["setuptools"]["packages"] if p.split(".")[0] == "browserpool_client"]
    assert not (ROOT / "browserpool_client").exists()
