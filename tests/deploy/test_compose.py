"""docker-compose.yml as Docker Compose v2 itself reads it (`docker compose config`, no engine needed), with
an .env made from .env.example the way deploy/README.md says: the file is valid, the startup order holds,
every service gets the wiring its settings class asks for, and it runs on Docker Engine 24+ and on Podman
4.3+ (Compose against Podman's Docker API) alike."""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.render import COMPOSE_WIRED, SERVICE_PORT, env_prefix, setting_variables, settings_class
from shared.topology import DEFAULT_GATEWAY_PORT, SERVICES
from tests.deploy import tools
from tests.deploy.test_dockerfile import _final_stage

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


def _config(env_file: Path, tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    # A bare environment: variables of the caller's shell would win over the env file.
    return subprocess.run(
        [
            tools.compose(),
            "--project-directory",
            tools.ROOT,
            *[option for file in files for option in ("--file", file)],
            "--env-file",
            env_file,
            "config",
            "--format",
            "json",
        ],
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
    assert container["healthcheck"]["test"][:3] == ["CMD", "learncity", "probe"]
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


def test_the_gateway_and_the_mail_ui_are_the_published_ports_and_the_gateway_waits_for_every_service(
    project: dict[str, Any],
) -> None:
    published = {name: c["ports"] for name, c in project["services"].items() if c.get("ports")}
    assert sorted(published) == ["gateway", "mailpit"]
    [port] = published["gateway"]
    assert (port["target"], port["published"], port["host_ip"]) == (8000, str(DEFAULT_GATEWAY_PORT), "127.0.0.1")
    [mail_ui] = published["mailpit"]
    assert (mail_ui["target"], mail_ui["published"], mail_ui["host_ip"]) == (8025, "8025", "127.0.0.1")
    gateway = project["services"]["gateway"]
    assert gateway["image"].startswith("nginx:")
    assert {s: d["condition"] for s, d in gateway["depends_on"].items()} == dict.fromkeys(SERVICES, "service_healthy")
    [mount] = gateway["volumes"]
    assert Path(mount["source"]) == tools.ROOT / "deploy" / "nginx" and mount["read_only"]


def test_mailpit_is_a_pinned_smtp_server_that_notify_mails_to_by_default(project: dict[str, Any]) -> None:
    mailpit = project["services"]["mailpit"]
    image, _, tag = mailpit["image"].partition(":")
    assert image == "axllent/mailpit"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), "a pinned release, never latest"
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    assert project["services"]["notify"]["environment"]["NOTIFY_SMTP_URL"] == "smtp://mailpit:1025"
    # Mail that cannot go out yet is retried; with another SMTP server in .env, Mailpit need not run at all.
    assert "mailpit" not in project["services"]["notify"]["depends_on"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("NOTIFY_SMTP_URL=smtps://notices:pw@smtp.example.org:465", "smtps://notices:pw@smtp.example.org:465"),
        ("NOTIFY_SMTP_URL=", ""),  # no mail: the in-app notices only
        ("", "smtp://mailpit:1025"),  # a .env from before notify existed
    ],
)
def test_notify_takes_its_smtp_url_from_env(tmp_path: Path, line: str, expected: str) -> None:
    env_file = _env_file(tmp_path)
    lines = env_file.read_text().splitlines()
    env_file.write_text("\n".join(line if entry.startswith("NOTIFY_SMTP_URL=") else entry for entry in lines) + "\n")
    result = _config(env_file, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["services"]["notify"]["environment"]["NOTIFY_SMTP_URL"] == expected


@pytest.mark.parametrize("secret", ["POSTGRES_PASSWORD", "LEARNCITY_INTERNAL_SECRET", "ORGS_JWT_PRIVATE_KEY"])
def test_a_missing_secret_stops_compose_with_its_name(tmp_path: Path, secret: str) -> None:
    result = _config(_env_file(tmp_path, leave_out=secret), tmp_path)
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


# What needs a newer engine than Docker Engine 24, or than Podman's Docker API (which reports API 1.41 in
# Podman 4): each is refused by Compose itself on older engines (its checks in pkg/compose/create.go and
# api_versions.go of docker/compose; the messages are in the pinned binary, e.g. "can't set
# healthcheck.start_interval as feature require Docker Engine v25 or later"), except `gw_priority`, which
# Compose passes on and engines before 28 (API 1.48) ignore.
NEWER_ENGINE_OPTIONS = {
    "healthcheck.start_interval": "Docker Engine 25 (API 1.44)",
    "networks.<network>.mac_address on more than one network": "Docker Engine 25 (API 1.44)",
    "volumes.bind.recursive: readonly": "Docker Engine 25 (API 1.44)",
    "volumes.type: image": "Docker Engine 28 (API 1.48)",
    "networks.<network>.gw_priority": "Docker Engine 28 (API 1.48)",
    "networks.<network>.interface_name": "Docker Engine 28.1 (API 1.49)",
}


def newer_engine_options(project: dict[str, Any]) -> list[str]:
    """Where `project` (`compose config --format json`) uses an option of NEWER_ENGINE_OPTIONS."""
    found: list[str] = []
    for name, service in project["services"].items():
        where = f"services.{name}"
        if "start_interval" in (service.get("healthcheck") or {}):
            found.append(f"{where}.healthcheck.start_interval")
        networks = {network: config or {} for network, config in (service.get("networks") or {}).items()}
        if len([config for config in networks.values() if config.get("mac_address")]) > 1:
            found.append(f"{where}.networks.*.mac_address")
        for network, config in networks.items():
            found += [f"{where}.networks.{network}.{key}" for key in ("gw_priority", "interface_name") if key in config]
        for volume in service.get("volumes") or []:
            if volume.get("type") == "image":
                found.append(f"{where}.volumes[{volume['target']}].type")
            if (volume.get("bind") or {}).get("recursive") == "readonly":
                found.append(f"{where}.volumes[{volume['target']}].bind.recursive")
    return found


def healthcheck_arguments_with_whitespace(project: dict[str, Any]) -> list[str]:
    """Podman's Docker API joins a healthcheck's test and splits it again at every space, so an argument
    with whitespace (inline code, a CMD-SHELL command line) falls apart there. None may have any."""
    found: list[str] = []
    for name, service in project["services"].items():
        test = (service.get("healthcheck") or {}).get("test") or []
        found += [f"services.{name}.healthcheck.test: {argument!r}" for argument in test if re.search(r"\s", argument)]
    return found


def test_nothing_needs_docker_engine_25_or_later(project: dict[str, Any]) -> None:
    assert not newer_engine_options(project), f"not on Docker Engine 24 or Podman: {NEWER_ENGINE_OPTIONS}"


def test_no_healthcheck_argument_contains_whitespace(project: dict[str, Any]) -> None:
    assert not healthcheck_arguments_with_whitespace(project)
    tests = {name: c["healthcheck"]["test"] for name, c in project["services"].items() if "test" in c["healthcheck"]}
    assert {test[0] for test in tests.values()} == {"CMD"}, "exec form only"
    assert {name for name, c in project["services"].items() if c["healthcheck"].get("disable")} == {"migrate"}


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """The two checks above on a compose file that has everything they must refuse, as Compose reads it."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        """
services:
  a:
    image: busybox
    healthcheck:
      test: ["CMD", "python", "-c", "import sys; sys.exit(0)"]
      start_interval: 1s
    networks:
      one: {mac_address: "02:42:ac:11:00:03", gw_priority: 1, interface_name: eth7}
      two: {mac_address: "02:42:ac:11:00:04"}
    volumes:
      - {type: bind, source: ., target: /bind, bind: {recursive: readonly}}
      - {type: image, source: busybox, target: /image}
  b:
    image: busybox
    healthcheck:
      test: pg_isready --username=learncity
networks:
  one: {}
  two: {}
"""
    )
    result = _config(_env_file(tmp_path), tmp_path, bad)
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert newer_engine_options(parsed) == [
        "services.a.healthcheck.start_interval",
        "services.a.networks.*.mac_address",
        "services.a.networks.one.gw_priority",
        "services.a.networks.one.interface_name",
        "services.a.volumes[/bind].bind.recursive",
        "services.a.volumes[/image].type",
    ]
    assert healthcheck_arguments_with_whitespace(parsed) == [
        "services.a.healthcheck.test: 'import sys; sys.exit(0)'",
        "services.b.healthcheck.test: 'pg_isready --username=learncity'",  # a string test is CMD-SHELL
    ]


def test_the_image_checks_readiness_as_compose_does() -> None:
    """The Dockerfile's HEALTHCHECK (used by `docker run`) is the compose one, in exec form."""
    [healthcheck] = [i for i in _final_stage() if i.keyword == "HEALTHCHECK"]
    assert "--start-interval" not in healthcheck.arguments, "needs Docker Engine 25+"
    _options, _, command = healthcheck.arguments.partition(" CMD ")
    assert json.loads(command) == ["learncity", "probe", "--url", f"http://127.0.0.1:{SERVICE_PORT}/readyz"]


def test_the_gateway_takes_its_resolver_from_the_container(project: dict[str, Any]) -> None:
    """Docker's DNS and Podman's are at different addresses: the nginx image's entrypoint reads the
    container's /etc/resolv.conf and renders deploy/nginx/templates/ into /etc/nginx/conf.d/, which
    nginx.conf (in /etc/nginx/learncity/) includes as ../conf.d/."""
    gateway = project["services"]["gateway"]
    assert gateway["entrypoint"] is None, "the image's entrypoint renders the templates"
    assert gateway["command"][0] == "nginx", "the entrypoint runs its scripts only for an `nginx` command"
    environment = gateway["environment"]
    assert environment["NGINX_ENTRYPOINT_LOCAL_RESOLVERS"] == "1"
    assert environment["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx/conf.d"
    assert environment["NGINX_ENVSUBST_FILTER"] == "NGINX_LOCAL_RESOLVERS"
    [mount] = gateway["volumes"]
    templates = Path(environment["NGINX_ENVSUBST_TEMPLATE_DIR"])
    assert templates.is_relative_to(mount["target"])
    on_host = Path(mount["source"]) / templates.relative_to(mount["target"])
    assert [path.name for path in on_host.iterdir()] == ["learncity-resolver.conf.template"]
    config = Path(gateway["command"][gateway["command"].index("-c") + 1])
    assert os.path.normpath(config.parent / "../conf.d") == environment["NGINX_ENVSUBST_OUTPUT_DIR"]
    assert "include ../conf.d/learncity-resolver.conf;" in (Path(mount["source"]) / config.name).read_text()


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_gets_the_cors_origins_empty_unless_set(project: dict[str, Any], service: str) -> None:
    assert project["services"][service]["environment"]["LEARNCITY_CORS_ORIGINS"] == ""
