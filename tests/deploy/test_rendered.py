"""The files `deploy/render.py` writes from the code are up to date, and the route tables in them agree
with `shared.topology`, checked by each proxy's own matching rules rather than by how they were written."""

from pathlib import Path

import pytest
import yaml

from deploy.render import ROOT, SERVICE_PORT, env_variable, rendered_files, settings_class
from shared.topology import SERVICES, owner_of
from tests.deploy.routes import ingress_route, nginx_locations, nginx_route, sample_paths

NGINX = ROOT / "deploy" / "nginx"


def test_generated_files_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path, text in rendered_files().items() if _read(path) != text]
    assert not stale, f"stale: {stale}; run `uv run python -m deploy.render` and commit the result"


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


@pytest.mark.parametrize("path", sample_paths())
def test_nginx_routes_every_path_as_the_topology_does(path: str) -> None:
    locations = nginx_locations((NGINX / "routes.conf").read_text())
    assert nginx_route(locations, path) == owner_of(path)


@pytest.mark.parametrize("path", sample_paths())
def test_ingress_routes_every_path_as_the_topology_does(path: str) -> None:
    assert ingress_route(_ingress_paths(), path) == owner_of(path)


def _ingress_paths() -> list[dict[str, object]]:
    ingress = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / "ingress.yaml").read_text())
    paths: list[dict[str, object]] = ingress["spec"]["rules"][0]["http"]["paths"]
    return paths


def test_nginx_upstreams_are_exactly_the_services_on_their_port() -> None:
    upstreams = (NGINX / "upstreams.conf").read_text()
    for service in SERVICES:
        assert f"upstream {service} {{" in upstreams
        assert f"server {service}:{SERVICE_PORT} resolve;" in upstreams
    assert upstreams.count("upstream ") == len(SERVICES)


def test_no_route_names_the_internal_endpoints() -> None:
    patterns = [location.pattern for location in nginx_locations((NGINX / "routes.conf").read_text())]
    patterns += [str(path["path"]) for path in _ingress_paths()]
    assert patterns
    assert not [pattern for pattern in patterns if "internal" in pattern]


def test_env_example_lists_every_setting_of_every_service() -> None:
    listed = (ROOT / ".env.example").read_text()
    for service in SERVICES:
        for name in settings_class(service).model_fields:
            variable = f"{env_variable(service, name)}="
            assert variable in listed, f"{variable} missing from .env.example"
