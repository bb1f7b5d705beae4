"""Which service owns which public path: the one route table for the dev gateway, nginx and Kubernetes."""

from typing import Final

SERVICES: Final = ("orgs", "catalog", "booking", "notify")

# First path segment after /v1/ -> owning service (api-contract.md, "Topology").
ROUTE_SEGMENTS: Final[dict[str, tuple[str, ...]]] = {
    "orgs": ("auth", "me", "organizations", "people"),
    "catalog": ("sites", "activities", "sessions", "series", "search", "coverage"),
    "booking": ("bookings", "availability", "checkins", "learning-records"),
    "notify": ("notifications", "calendar"),
}
# Exact paths outside /v1/ that the gateway also routes.
EXTRA_PATHS: Final[dict[str, tuple[str, ...]]] = {"orgs": ("/.well-known/jwks.json",)}

DEFAULT_GATEWAY_PORT: Final = 8000


def default_ports(gateway_port: int = DEFAULT_GATEWAY_PORT) -> dict[str, int]:
    """The services take the ports after the gateway's, in `SERVICES` order."""
    return {service: gateway_port + 1 + index for index, service in enumerate(SERVICES)}


def docs_paths(service: str) -> tuple[str, str]:
    """Where a service serves its docs and spec under a name of its own, so one gateway can route both."""
    return f"/docs/{service}", f"/openapi/{service}.json"


def owner_of(path: str) -> str | None:
    """The service that serves `path`, or None when no service does."""
    if path.startswith("/v1/"):
        segment = path[4:].split("/", 1)[0]
        for service, segments in ROUTE_SEGMENTS.items():
            if segment in segments:
                return service
        return None
    for service in SERVICES:
        docs, spec = docs_paths(service)
        if path in (docs, spec) or path.startswith(docs + "/") or path in EXTRA_PATHS.get(service, ()):
            return service
    return None
