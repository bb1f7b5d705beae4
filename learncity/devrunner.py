"""`learncity up`: the database, every service's migrations, the services and the gateway, on one machine."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import uvicorn
from rich.console import Console, Group
from rich.table import Table

from learncity.gateway import GatewayFiles, caddy_environment, create_health_app, start_caddy
from learncity.postgres import DEFAULT_DATABASE, data_dir, ensure_database, start_embedded
from shared.migrations import upgrade_to_head
from shared.topology import SERVICES, default_ports, docs_paths

console = Console(stderr=True)

# Browser origins `learncity up` lets call the API: the usual local frontend dev servers (React/Next 3000,
# Vite 5173, Angular 4200, 8080), by name and by address. Production allows none unless configured.
DEV_CORS_ORIGINS = ",".join(
    f"http://{host}:{port}" for port in (3000, 4200, 5173, 8080) for host in ("localhost", "127.0.0.1")
)


@dataclass
class PreparedDatabase:
    url: str
    embedded: bool
    fresh: bool
    handle: Any = field(default=None, repr=False)


async def prepare_database() -> PreparedDatabase:
    """`DATABASE_URL` when set; otherwise the embedded server in `LEARNCITY_DATA_DIR`."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        url, created = await ensure_database(configured, _database_name(configured))
        return PreparedDatabase(url=url, embedded=False, fresh=created)
    pgdata = data_dir() / "pg"
    with _step("Starting embedded PostgreSQL" + ("" if (pgdata / "PG_VERSION").exists() else " (first start: initdb)")):
        handle = await asyncio.to_thread(start_embedded, pgdata)
    url, created = await ensure_database(handle.get_uri(), DEFAULT_DATABASE)
    return PreparedDatabase(url=url, embedded=True, fresh=created, handle=handle)


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or DEFAULT_DATABASE


def migrate_all(url: str) -> None:
    for service in SERVICES:
        with _step(f"Migrating {service}"):
            upgrade_to_head(service, url)


async def seed_demo_city(url: str) -> dict[str, int]:
    from learncity.demo import seed_demo

    with _step("Seeding the demo city (Hangzhou)"):
        counts = await seed_demo(url)
    console.print("  " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))
    return counts


# Whom each service calls or sends events to: its `<P>_<PEER>_URL` settings, e.g. `BOOKING_NOTIFY_URL` (compose
# and Kubernetes set the same ones; tests/test_learncity_up.py holds this table to the settings classes).
PEERS: Final[dict[str, tuple[str, ...]]] = {
    "orgs": ("orgs", "booking", "notify"),
    "catalog": ("orgs", "booking", "notify"),
    "booking": ("orgs", "catalog", "notify"),
    "notify": ("orgs", "catalog", "booking"),
}


def peer_environment(urls: Mapping[str, str]) -> dict[str, str]:
    """Every service's peer URL settings, from each service's base URL."""
    return {f"{service.upper()}_{peer.upper()}_URL": urls[peer] for service, peers in PEERS.items() for peer in peers}


def service_environment(
    service: str, database_url: str, ports: dict[str, int], *, public_base_url: str, smtp_url: str | None
) -> dict[str, str]:
    """Each service's settings, by its own env prefix; anything already in the environment wins.

    `public_base_url` is the gateway's, for the links notify puts in mails and calendar feeds; `smtp_url` is
    where notify sends mail (the dev mail sink), None to leave it to the environment."""
    prefix = service.upper() + "_"
    wanted = {
        prefix + "DATABASE_URL": database_url,
        prefix + "LOG_JSON": "false",
        # Request logs of every event delivery would bury the URL table; `<SERVICE>_LOG_LEVEL=INFO` shows them.
        prefix + "LOG_LEVEL": "WARNING",
        prefix + "TRUST_FORWARDED_FOR": "true",
        **peer_environment({name: f"http://127.0.0.1:{port}" for name, port in ports.items()}),
        "ORGS_JWT_KEY_FILE": str(data_dir() / "orgs-jwt-ed25519.pem"),
        "NOTIFY_PUBLIC_BASE_URL": public_base_url,
        # Invitation mails link to the frontend's join page on this base URL (a frontend serves `/join`).
        "NOTIFY_INVITATION_URL": public_base_url + "/join?token={token}",
        **({"NOTIFY_SMTP_URL": smtp_url} if smtp_url else {}),
        "LEARNCITY_CORS_ORIGINS": DEV_CORS_ORIGINS,
    }
    return {**wanted, **os.environ}


def public_base_url(host: str, port: int) -> str:
    """The gateway's base URL as a browser on this machine reaches it (a wildcard address by loopback)."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # noqa: S104 - not binding


@contextlib.contextmanager
def _step(label: str) -> Iterator[None]:
    started = time.perf_counter()
    with console.status(label + "..."):
        yield
    console.print(f"[green]✓[/green] {label} ({time.perf_counter() - started:.1f}s)")


class _HealthServer(uvicorn.Server):
    # The runner owns signal handling, so Ctrl-C stops the services before the process exits.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _spawn(service: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "learncity", "serve", service, "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env)


async def _wait_ready(ports: dict[str, int], processes: dict[str, subprocess.Popen[bytes]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(ports)
    async with httpx.AsyncClient(timeout=1.0) as client:
        while pending:
            for service in sorted(pending):
                if processes[service].poll() is not None:
                    raise RuntimeError(f"the {service} service exited with code {processes[service].returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{ports[service]}/readyz")).status_code == 200:
                        pending.discard(service)
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout_s:.0f}s: {', '.join(sorted(pending))}")
            if pending:
                await asyncio.sleep(0.1)


def _stop(processes: dict[str, subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes.values():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _summary(
    base: str,
    ports: dict[str, int],
    database: PreparedDatabase,
    files: GatewayFiles,
    *,
    mail: Path | None,
    demo: bool,
) -> Group:
    urls = Table(title="Learning City is up", show_header=True)
    urls.add_column("what")
    urls.add_column("where")
    urls.add_row("API (gateway)", f"{base}/v1/...")
    urls.add_row("docs (all services)", f"{base}/docs")
    urls.add_row("health", f"{base}/healthz")
    urls.add_row("database", "embedded PostgreSQL" if database.embedded else "DATABASE_URL")
    urls.add_row("gateway access log", str(files.access_log))
    urls.add_row("dev mail", f"{mail} (`learncity mails` lists them)" if mail else "sent to NOTIFY_SMTP_URL")
    if demo:
        from learncity.demo import CITIZENS, DEMO_EMAIL, DEMO_PASSWORD, citizen_email

        urls.add_row("demo sign-in", f"{DEMO_EMAIL} / {DEMO_PASSWORD}")
        urls.add_row("a demo citizen", f"{citizen_email(1)} (to {citizen_email(CITIZENS)}) / {DEMO_PASSWORD}")
    services = Table(show_header=True, caption="Each service's own port also answers /docs, /readyz and /metrics.")
    for column in ("service", "docs (gateway)", "own port"):
        services.add_column(column)
    for service in SERVICES:
        services.add_row(service, f"{base}{docs_paths(service)[0]}", f"http://127.0.0.1:{ports[service]}")
    return Group(urls, services)


async def up(*, host: str, port: int, seed: bool, service_ports: dict[str, int] | None = None) -> None:
    from learncity.mailsink import mail_folder, running_sink

    started = time.perf_counter()
    ports = service_ports or default_ports(port)
    base = public_base_url(host, port)
    database = await prepare_database()
    await asyncio.to_thread(migrate_all, database.url)
    seeded = seed and database.embedded and database.fresh
    if seeded:
        await seed_demo_city(database.url)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    health_port = _free_loopback_port()
    health = _HealthServer(
        uvicorn.Config(
            create_health_app({s: f"http://127.0.0.1:{p}" for s, p in ports.items()}),
            host="127.0.0.1",
            port=health_port,
            log_level="warning",
            lifespan="on",
        )
    )
    files = GatewayFiles(data_dir() / "gateway")
    # Stopped after the services, so notify never finds it gone while it still sends.
    mail_sink = contextlib.ExitStack()
    try:
        # notify mails to the sink unless NOTIFY_SMTP_URL names a server.
        smtp_url = None
        if "NOTIFY_SMTP_URL" not in os.environ:
            smtp_url = mail_sink.enter_context(running_sink(mail_folder(), port=_free_loopback_port())).smtp_url
        with _step("Starting services"):
            for service in SERVICES:
                environment = service_environment(service, database.url, ports, public_base_url=base, smtp_url=smtp_url)
                processes[service] = _spawn(service, ports[service], environment)
            await _wait_ready(ports, processes, timeout_s=60)
        health_task = asyncio.create_task(health.serve())
        while not health.started:
            if health_task.done():
                health_task.result()
                raise RuntimeError("the health endpoint stopped while starting")
            await asyncio.sleep(0.02)
        with _step("Starting the gateway (Caddy)"):
            files.prepare()
            gateway_environment = caddy_environment(
                host=host,
                port=port,
                upstreams={s: f"127.0.0.1:{p}" for s, p in ports.items()},
                health=f"127.0.0.1:{health_port}",
                files=files,
            )
            processes["gateway"] = await asyncio.to_thread(
                start_caddy, gateway_environment, files, host=host, port=port
            )
        console.print(_summary(base, ports, database, files, mail=mail_folder() if smtp_url else None, demo=seeded))
        console.print(f"Ready in {time.perf_counter() - started:.1f}s. Press Ctrl-C to stop.")
        await _until_stopped(stop, processes)
        health.should_exit = True
        await health_task
    finally:
        _stop(processes)
        mail_sink.close()
        if database.handle is not None:
            database.handle.cleanup()
        console.print("Stopped.")


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _until_stopped(stop: asyncio.Event, processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """Wait for Ctrl-C or SIGTERM; a service dying on its own also stops everything (fail loudly)."""
    while not stop.is_set():
        for service, process in processes.items():
            if process.poll() is not None:
                console.print(f"[red]{service} exited with code {process.returncode}; stopping.[/red]")
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
