"""Shared bench plumbing: a throwaway embedded PostgreSQL, migrations, service processes, a running
`learncity up` (`system_up`), percentiles."""

import contextlib
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from learncity.postgres import ensure_database, start_embedded
from shared.migrations import upgrade_to_head
from shared.topology import SERVICES, default_ports
from tests.live import learncity_up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def scratch_database(name: str = "learncity_bench") -> Iterator[str]:
    """A fresh embedded PostgreSQL (deleted afterwards) with every service migrated; yields its URL."""
    import asyncio

    with tempfile.TemporaryDirectory(prefix="learncity-bench-") as folder:
        handle = start_embedded(Path(folder) / "pg", cleanup_mode="delete")
        try:
            url, _ = asyncio.run(ensure_database(handle.get_uri(), name, recreate=True))
            for service in SERVICES:
                upgrade_to_head(service, url)
            yield url
        finally:
            handle.cleanup()


@contextlib.contextmanager
def service_process(service: str, environment: dict[str, str], port: int | None = None) -> Iterator[str]:
    """`learncity serve <service>` in a subprocess; yields its base URL once /readyz answers 200."""
    port = port or free_port()
    command = [sys.executable, "-m", "learncity", "serve", service, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env={**os.environ, **environment})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{service} exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} not ready")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50": statistics.median(ms) if ms else float("nan"),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
    }


# CPU accounting from /proc: utime + stime of whole processes (all their threads).
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS_PER_S


def service_pids(base_url: str) -> list[int]:
    """The process serving the base URL's port (the one started with that `--port`) and any worker children."""
    port = str(urlsplit(base_url).port)
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit():
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"--port" in argv and port.encode() in argv:
                    found.append(int(entry.name))
    parents = set(found)
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) in parents:
                found.append(int(entry.name))
    return found


async def backend_pids(dsn: str) -> list[int]:
    """PostgreSQL backends serving the bench database (the service's or the direct clients' connections)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


def driver_cpu_seconds() -> float:
    """This process's CPU plus that of finished child processes (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@dataclass
class CpuUse:
    """CPU seconds spent while measuring, by the application side (service or nothing), PostgreSQL and the
    load driver (wrk, or this process for the direct clients)."""

    app: float = 0.0
    database: float = 0.0
    driver: float = 0.0

    @classmethod
    def sample(cls, app_pids: list[int], database_pids: list[int]) -> "CpuUse":
        return cls(cpu_seconds(app_pids), cpu_seconds(database_pids), driver_cpu_seconds())

    def split(self) -> tuple[float, float, float]:
        return self.app, self.database, self.driver

    def __sub__(self, other: "CpuUse") -> "CpuUse":
        return CpuUse(self.app - other.app, self.database - other.database, self.driver - other.driver)


# ---- a running `learncity up` ------------------------------------------------------------------------------

START_TIMEOUT_S = 180.0


@dataclass
class System:
    base_url: str
    own_urls: dict[str, str]
    data_dir: Path

    def database_dsn(self) -> str:
        """The embedded server `learncity up` started, by its socket (postmaster.pid: line 4 port, 5 socket)."""
        lines = (self.data_dir / "pg" / "postmaster.pid").read_text().splitlines()
        return f"postgresql://postgres@/learncity?host={lines[4]}&port={lines[3]}"

    def process_groups(self) -> dict[str, list[int]]:
        """PIDs whose CPU is reported: the gateway (whatever listens on the base URL), each service, and
        PostgreSQL (the postmaster and every server process under it)."""
        postmaster = int((self.data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])
        return {
            "gateway": [listening_pid(self.base_url)],
            **{service: service_pids(url) for service, url in self.own_urls.items()},
            "postgres": [postmaster, *children_of(postmaster)],
        }


def listening_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    found = re.search(r"pid=(\d+)", listening.stdout)
    if found is None:
        raise RuntimeError(f"no process listens on port {port}")
    return int(found.group(1))


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def free_base_port() -> int:
    from tests.test_learncity_up import _free_base_port

    return _free_base_port()


@contextlib.contextmanager
def system_up(folder: Path, environment: dict[str, str] | None = None) -> Iterator[System]:
    """`learncity up` as shipped; only the two limits the contract names so that load tests can raise them
    (and `environment`, for the baseline without notices)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_base_port()
    limits = {"BOOKING_RATE_PER_MINUTE": "100000000", "BOOKING_MAX_ACTIVE_PER_PERSON": "1000000"}
    with learncity_up(folder, port, limits | (environment or {}), timeout_s=START_TIMEOUT_S) as base_url:
        own = {service: f"http://127.0.0.1:{p}" for service, p in default_ports(port).items()}
        yield System(base_url, own, folder / "data")
