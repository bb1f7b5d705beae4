"""The paths the route tables are checked on, and the matching rules of nginx and of a Kubernetes Ingress,
so both files can be held against `shared.topology.owner_of`, the one route table."""

import re
from dataclasses import dataclass

from shared.topology import EXTRA_PATHS, ROUTE_SEGMENTS, SERVICES, docs_paths


def sample_paths() -> list[str]:
    """Every public route (at, below and beside it) and paths that no service must get through a gateway."""
    paths: list[str] = []
    for service in SERVICES:
        for segment in ROUTE_SEGMENTS[service]:
            paths += [f"/v1/{segment}", f"/v1/{segment}/", f"/v1/{segment}/0190c0de/x", f"/v1/{segment}x"]
        docs, spec = docs_paths(service)
        paths += [docs, f"{docs}/static/swagger-ui.css", f"{docs}x", spec, f"{spec}/x"]
        paths += list(EXTRA_PATHS.get(service, ()))
        paths += [f"/internal/v1/{segment}" for segment in ROUTE_SEGMENTS[service]]
    paths += ["/", "/v1", "/v1/", "/v1/unknown", "/internal/", "/metrics", "/readyz", "/openapi.json", "/favicon.ico"]
    return paths


@dataclass(frozen=True)
class NginxLocation:
    modifier: str  # "=" exact, "~" regex (the only kinds routes.conf uses)
    pattern: str
    service: str


_LOCATION = re.compile(r"^location\s+(=|~)\s+(\S+)\s*\{\s*proxy_pass\s+http://([a-z]+);\s*\}$")


def nginx_locations(routes_conf: str) -> list[NginxLocation]:
    """The one-line `location ... { proxy_pass http://<service>; }` blocks of routes.conf."""
    found = []
    for line in routes_conf.splitlines():
        match = _LOCATION.match(line.strip())
        if match:
            found.append(NginxLocation(*match.groups()))
    return found


def nginx_route(locations: list[NginxLocation], path: str) -> str | None:
    """nginx's choice: an exact match wins, then the first matching regex in order of appearance."""
    for location in locations:
        if location.modifier == "=" and location.pattern == path:
            return location.service
    for location in locations:
        if location.modifier == "~" and re.search(location.pattern, path):
            return location.service
    return None


def ingress_route(paths: list[dict[str, object]], path: str) -> str | None:
    """The Ingress' choice (networking.k8s.io/v1): Exact matches only itself; Prefix matches by whole path
    elements; the longest match wins, Exact before Prefix at equal length."""
    elements = [part for part in path.split("/") if part]
    best: tuple[int, int, str] | None = None
    for rule in paths:
        rule_path = str(rule["path"])
        backend = rule["backend"]
        assert isinstance(backend, dict)
        service = str(backend["service"]["name"])
        if rule["pathType"] == "Exact":
            matched = rule_path == path
        else:
            prefix = [part for part in rule_path.split("/") if part]
            matched = elements[: len(prefix)] == prefix
        if matched:
            rank = (len(rule_path), 1 if rule["pathType"] == "Exact" else 0, service)
            best = rank if best is None or rank[:2] > best[:2] else best
    return best[2] if best else None
