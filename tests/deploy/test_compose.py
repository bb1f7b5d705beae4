"""docker-compose.yml as Docker Compose v2 itself reads it (`docker compose config`, no engine needed), with
an .env made from .env.example the way deploy/README.md says: the file is valid, the startup order holds,
and every service gets the wiring its settings class asks for."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.render import COMPOSE_WIRED, SERVICE_PORT, env_prefix, setting_variables, settings_class
from shared.topology import DEFAULT_GATEWAY_PORT, SERVICES
from tests.deploy import tools

SECRETS = {"POSTGRES_PASSWORD": "db0password1", "LEARNCITY_INTERNAL_SECRET": "internal-secret-for-tests"}


def _env_file(tmp_path: Path, *, leave_out: str = "") -> Path:
    """.env.example with the secrets filled in, the signing key on one line with \\n escapes."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    values = {**SECRETS, "ORGS_JWT_PRIVATE_KEY": '"' + pem.decode().replace("\n", "\\n") + '"'}
    lines = []
    for line in (tools.ROOT / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        if name in values:
            line = "" if name == leave_out else f"{name}={values[name]}"
        lines.append(line)
    path = tmp_path / "test.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(env_file: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # A bare environment: variables of the caller's shell would win over the env file.
    return subprocess.run(
        [tools.compose(), "--project-directory", tools.ROOT, "--env-file", env_file, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("compose")
    result = _config(_env_file(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_the_database_is_postgres_18_with_a_healthcheck_and_a_named_volume(project: dict[str, Any]) -> None:
    postgres = project["services"]["postgres"]
    assert postgres["image"] == "postgres:18"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    [volume] = postgres["volumes"]
    assert volume["type"] == "volume" and volume["source"] in project["volumes"]
    assert not postgres.get("ports"), "the database is not published"


def test_migrations_run_once_after_the_database_is_healthy(project: dict[str, Any]) -> None:
    migrate = project["services"]["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    assert migrate["environment"]["DATABASE_URL"].endswith("@postgres:5432/learncity")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_starts_after_the_migrations_and_reports_readiness(project: dict[str, Any], service: str) -> None:
    container = project["services"][service]
    assert container["command"] == ["serve", service]
    assert container["image"] == project["services"]["migrate"]["image"]
    assert container["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert f"127.0.0.1:{SERVICE_PORT}/readyz" in " ".join(container["healthcheck"]["test"])
    assert container["restart"] == "unless-stopped"
    assert not container.get("ports"), "services are reached through the gateway only"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_gets_production_settings_and_its_peers(project: dict[str, Any], service: str) -> None:
    environment = project["services"][service]["environment"]
    prefix = env_prefix(service)
    fields = settings_class(service).model_fields
    assert {f"{prefix}{name.upper()}" for name in COMPOSE_WIRED & fields.keys()} <= environment.keys()
    assert environment[f"{prefix}ENVIRONMENT"] == "production"
    assert environment[f"{prefix}DATABASE_URL"] == (
        f"postgresql+asyncpg://learncity:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/learncity"
    )
    assert environment[f"{prefix}INTERNAL_SECRET"] == SECRETS["LEARNCITY_INTERNAL_SECRET"]
    assert environment[f"{prefix}TRUST_FORWARDED_FOR"] == "true"
    # Every peer URL setting (`orgs_url`, `booking_url`, ...) points at that peer's container.
    for name in fields:
        peer = name.removesuffix("_url")
        if name.endswith("_url") and peer in SERVICES:
            assert environment[f"{prefix}{name.upper()}"] == f"http://{peer}:{SERVICE_PORT}"


def test_the_environment_names_only_settings_that_exist(project: dict[str, Any]) -> None:
    for name in ("migrate", *SERVICES):
        extra = project["services"][name]["environment"].keys() - setting_variables() - {"DATABASE_URL"}
        assert not extra, f"{name}: {extra} (a typo, or a setting that was renamed)"


def test_only_orgs_holds_the_signing_key(project: dict[str, Any]) -> None:
    key = project["services"]["orgs"]["environment"]["ORGS_JWT_PRIVATE_KEY"]
    assert key.startswith("-----BEGIN PRIVATE KEY-----\n")
    serialization.load_pem_private_key(key.encode(), password=None)
    for name, container in project["services"].items():
        if name != "orgs" and "environment" in container:
            assert container["environment"].get("ORGS_JWT_PRIVATE_KEY", "") == ""


def test_the_gateway_is_the_one_published_port_and_waits_for_every_service(project: dict[str, Any]) -> None:
    published = {name: c["ports"] for name, c in project["services"].items() if c.get("ports")}
    assert list(published) == ["gateway"]
    [port] = published["gateway"]
    assert (port["target"], port["published"], port["host_ip"]) == (8000, str(DEFAULT_GATEWAY_PORT), "127.0.0.1")
    gateway = project["services"]["gateway"]
    assert gateway["image"].startswith("nginx:")
    assert {s: d["condition"] for s, d in gateway["depends_on"].items()} == dict.fromkeys(SERVICES, "service_healthy")
    [mount] = gateway["volumes"]
    assert Path(mount["source"]) == tools.ROOT / "deploy" / "nginx" and mount["read_only"]


@pytest.mark.parametrize("secret", ["POSTGRES_PASSWORD", "LEARNCITY_INTERNAL_SECRET", "ORGS_JWT_PRIVATE_KEY"])
def test_a_missing_secret_stops_compose_with_its_name(tmp_path: Path, secret: str) -> None:
    result = _config(_env_file(tmp_path, leave_out=secret), tmp_path)
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr
