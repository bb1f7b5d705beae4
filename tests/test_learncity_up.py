"""`learncity up` as a user runs it: a subprocess on free ports, reached only over HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import PASSWORD, new_email

pytestmark = pytest.mark.system


def _free_base_port() -> int:
    """A port such that it and the next three are free."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base > 65000:
            continue
        ports_free = True
        for port in range(base, base + 4):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    ports_free = False
        if ports_free:
            return base
    raise RuntimeError("no four consecutive free ports")


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        assert process.poll() is None, "learncity up exited early"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/healthz not 200 within {timeout_s}s")


@pytest.fixture
def running_system(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = _free_base_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LEARNCITY_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "learncity", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", process, tmp_path / "data"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(30)


def test_up_serves_the_gateway_and_stops_cleanly(
    running_system: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base_url, process, data_dir = running_system
    _wait_healthy(base_url, process, timeout_s=90)
    health = httpx.get(f"{base_url}/healthz").json()
    assert health["services"] == {"orgs": True, "catalog": True, "booking": True}
    email = new_email("system")
    registered = httpx.post(
        f"{base_url}/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Sys"}
    )
    assert registered.status_code == 201, registered.text
    token = httpx.post(f"{base_url}/v1/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200
    me = httpx.get(f"{base_url}/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert me.json()["email"] == email
    assert httpx.get(f"{base_url}/v1/unknown-segment").status_code == 404
    assert "swagger" in httpx.get(f"{base_url}/docs/orgs").text.lower()

    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    for port_offset in range(4):
        port = int(base_url.rsplit(":", 1)[1]) + port_offset
        with socket.socket() as probe:
            # Nothing listens any more (a bind check would trip over TIME_WAIT sockets of closed connections).
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert not (data_dir / "pg" / "postmaster.pid").exists()  # the embedded PostgreSQL stopped too
