"""Shared bench plumbing: a throwaway embedded PostgreSQL, migrations, service processes, percentiles."""

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from learncity.postgres import ensure_database, start_embedded
from shared.migrations import upgrade_to_head
from shared.topology import SERVICES


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
