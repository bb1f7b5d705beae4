"""The Kubernetes manifests as kustomize renders them (base and the example overlay): valid against the
Kubernetes schemas, and wired together (probes, resources, selectors, autoscalers, budgets, configuration,
secrets, the migration Job, the Ingress routes)."""

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from deploy.render import COMPOSE_WIRED, env_prefix, setting_variables, settings_class
from shared.topology import SERVICES, owner_of
from tests.deploy import tools
from tests.deploy.routes import ingress_route, sample_paths

K8S = tools.ROOT / "deploy" / "k8s"
TARGETS = ["base", "overlays/example"]
# The oldest Kubernetes these manifests claim (the preStop `sleep` action needs 1.30) and the newest known.
KUBERNETES_VERSIONS = ["1.30.0", "latest"]
SECRET = "learncity-secrets"
SECRET_KEYS = {"database-url", "internal-secret", "orgs-jwt-private-key", "smtp-url"}

Resource = dict[str, Any]


def _render(target: str) -> list[Resource]:
    result = subprocess.run(
        [*tools.kustomize_command(), str(K8S / target)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope="module", params=TARGETS)
def resources(request: pytest.FixtureRequest) -> list[Resource]:
    return _render(request.param)


def _of_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def _containers(resources: list[Resource]) -> Iterator[tuple[Resource, Resource]]:
    for kind in ("Deployment", "Job"):
        for workload in _of_kind(resources, kind).values():
            for container in workload["spec"]["template"]["spec"]["containers"]:
                yield workload, container


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_resource_is_valid_for_kubernetes(resources: list[Resource], version: str) -> None:
    validator = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed (uv pip install kubernetes-validate)"
    )
    for resource in resources:
        validator.validate(resource, validator.latest_version() if version == "latest" else version, strict=True)


def test_each_service_is_a_deployment_behind_a_service_with_autoscaler_and_budget(resources: list[Resource]) -> None:
    deployments = _of_kind(resources, "Deployment")
    services = _of_kind(resources, "Service")
    autoscalers = _of_kind(resources, "HorizontalPodAutoscaler")
    budgets = _of_kind(resources, "PodDisruptionBudget")
    assert set(deployments) == set(services) == set(autoscalers) == set(budgets) == set(SERVICES)
    for name, deployment in deployments.items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        assert services[name]["spec"]["selector"].items() <= pod_labels.items()
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert [p["name"] for p in services[name]["spec"]["ports"]] == ["http"]
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert autoscalers[name]["spec"]["minReplicas"] >= 2, "a budget of one pod needs a second one"
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_container_runs_it_with_probes_and_resources(resources: list[Resource], service: str) -> None:
    deployment = _of_kind(resources, "Deployment")[service]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve", service]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]


def test_every_workload_runs_the_same_image_as_non_root(resources: list[Resource]) -> None:
    images = set()
    for workload, container in _containers(resources):
        images.add(container["image"])
        assert workload["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert len(images) == 1


def test_configuration_and_secrets_reach_every_setting_compose_wires(resources: list[Resource]) -> None:
    config_maps = _of_kind(resources, "ConfigMap")
    for workload, container in _containers(resources):
        settings: dict[str, str] = {}
        for source in container.get("envFrom", []):
            settings |= config_maps[source["configMapRef"]["name"]]["data"]  # the generated (hashed) name
        for variable in container.get("env", []):
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == SECRET and reference["key"] in SECRET_KEYS
            settings[variable["name"]] = f"secret:{reference['key']}"
        if workload["kind"] == "Job":
            assert container["args"] == ["migrate"] and settings["DATABASE_URL"] == "secret:database-url"
            continue
        service = workload["metadata"]["name"]
        prefix = env_prefix(service)
        fields = settings_class(service).model_fields
        assert {f"{prefix}{name.upper()}" for name in COMPOSE_WIRED & fields.keys()} <= settings.keys()
        assert settings[f"{prefix}ENVIRONMENT"] == "production"
        assert settings[f"{prefix}INTERNAL_SECRET"] == "secret:internal-secret"
        for name in fields:
            peer = name.removesuffix("_url")
            if name.endswith("_url") and peer in SERVICES:
                assert settings[f"{prefix}{name.upper()}"] == f"http://{peer}"
        assert ("ORGS_JWT_PRIVATE_KEY" in settings) == (service == "orgs")
        assert ("NOTIFY_SMTP_URL" in settings) == (service == "notify")


def test_notify_mails_through_the_smtp_url_of_the_secret_when_it_has_one(resources: list[Resource]) -> None:
    """The URL may hold the relay's password, so it is a Secret key; optional, since a city may start
    without mail (notify then keeps the in-app notices only)."""
    [container] = _of_kind(resources, "Deployment")["notify"]["spec"]["template"]["spec"]["containers"]
    [smtp] = [variable for variable in container["env"] if variable["name"] == "NOTIFY_SMTP_URL"]
    assert smtp["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": "smtp-url", "optional": True}


def test_the_configuration_names_only_settings_that_exist(resources: list[Resource]) -> None:
    for config_map in _of_kind(resources, "ConfigMap").values():
        assert config_map["data"].keys() <= setting_variables(), "a typo, or a setting that was renamed"


def test_the_ingress_routes_as_the_topology_does_to_existing_services(resources: list[Resource]) -> None:
    [ingress] = _of_kind(resources, "Ingress").values()
    services = _of_kind(resources, "Service")
    rule_paths = [path for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    for path in rule_paths:
        backend = path["backend"]["service"]
        assert backend["port"]["name"] in [p["name"] for p in services[backend["name"]]["spec"]["ports"]]
    wrong = [
        (p, ingress_route(rule_paths, p), owner_of(p))
        for p in sample_paths()
        if ingress_route(rule_paths, p) != owner_of(p)
    ]
    assert not wrong


def test_the_example_overlay_sets_namespace_image_host_and_tuning() -> None:
    resources = _render("overlays/example")
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {"learncity"}
    assert {c["image"] for _, c in _containers(resources)} == {"registry.example.org/learncity:0.1.0"}
    [ingress] = _of_kind(resources, "Ingress").values()
    assert ingress["spec"]["rules"][0]["host"] == "learn.example.org"
    [config] = _of_kind(resources, "ConfigMap").values()
    assert config["data"]["BOOKING_ENVIRONMENT"] == "production"  # merged, not replaced
    assert _of_kind(resources, "HorizontalPodAutoscaler")["booking"]["spec"]["maxReplicas"] == 20
    # Calendar feed URLs name the city's host, over the Ingress' TLS.
    assert config["data"]["NOTIFY_PUBLIC_BASE_URL"] == f"https://{ingress['spec']['rules'][0]['host']}"
