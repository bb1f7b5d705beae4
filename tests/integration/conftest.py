"""The system as a client sees it: HTTP to one base URL and nothing else (no database, no imports of the
services). `LEARNCITY_BASE_URL` names a running system (e.g. `docker compose up`); without it, the session
starts `learncity up` on free ports with a temporary data folder and stops it at the end."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_learncity_up import _free_base_port

START_TIMEOUT_S = 120.0


@pytest.fixture(autouse=True)
def _empty_tables() -> None:
    """Replaces the suite-wide table cleanup: these tests never touch a database directly."""


def _wait_healthy(base_url: str, timeout_s: float, process: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log else ""
            raise AssertionError(f"learncity up exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{base_url}/healthz was not 200 within {timeout_s:.0f} s")


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("LEARNCITY_BASE_URL")
    if configured:
        _wait_healthy(configured.rstrip("/"), START_TIMEOUT_S, None, None)
        yield configured.rstrip("/")
        return
    folder = tmp_path_factory.mktemp("learncity-up")
    log = folder / "up.log"
    port = _free_base_port()
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["LEARNCITY_DATA_DIR"] = str(folder / "data")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "learncity", "up", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, START_TIMEOUT_S, process, log)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
