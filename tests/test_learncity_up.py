"""`learncity up` as a user runs it: a subprocess on free ports, reached only over HTTP; and the settings the
runner hands each service."""

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

from deploy.render import settings_class
from learncity.devrunner import PEERS, public_base_url, service_environment
from shared.topology import SERVICES
from tests.live import free_port
from tests.support import PASSWORD, new_email

# The gateway's port and one for each service after it.
PORTS_USED = 1 + len(SERVICES)


def _free_base_port() -> int:
    """A port such that it and the next ones, one per service, are free."""
    return free_port(PORTS_USED)


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


@pytest.mark.system
def test_up_serves_the_gateway_and_stops_cleanly(
    running_system: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base_url, process, data_dir = running_system
    _wait_healthy(base_url, process, timeout_s=90)
    health = httpx.get(f"{base_url}/healthz").json()
    assert health["services"] == dict.fromkeys(SERVICES, True)
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
    assert "swagger" in httpx.get(f"{base_url}/docs/notify").text.lower()
    assert (data_dir / "mail").is_dir(), "the dev mail sink keeps its mails in the data folder"

    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    for port_offset in range(PORTS_USED):
        port = int(base_url.rsplit(":", 1)[1]) + port_offset
        with socket.socket() as probe:
            # Nothing listens any more (a bind check would trip over TIME_WAIT sockets of closed connections).
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert not (data_dir / "pg" / "postmaster.pid").exists()  # the embedded PostgreSQL stopped too


def test_every_peer_url_setting_is_in_the_runners_table() -> None:
    """`PEERS` names exactly the `<peer>_url` settings of each service, so `learncity up`, the live test
    systems and the deployments wire every one."""
    for service in SERVICES:
        fields = settings_class(service).model_fields
        assert set(PEERS[service]) == {
            name.removesuffix("_url") for name in fields if name.removesuffix("_url") in SERVICES
        }


def test_each_service_finds_its_peers_on_the_runners_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SMTP_URL", raising=False)
    ports = {service: 9101 + index for index, service in enumerate(SERVICES)}
    for service in SERVICES:
        environment = service_environment(
            service, "postgresql://db", ports, public_base_url="http://127.0.0.1:9100", smtp_url="smtp://127.0.0.1:2525"
        )
        prefix = service.upper()
        assert environment[f"{prefix}_DATABASE_URL"] == "postgresql://db"
        for peer in PEERS[service]:
            assert environment[f"{prefix}_{peer.upper()}_URL"] == f"http://127.0.0.1:{ports[peer]}"
    assert environment["NOTIFY_SMTP_URL"] == "smtp://127.0.0.1:2525"
    assert environment["NOTIFY_PUBLIC_BASE_URL"] == "http://127.0.0.1:9100"


def test_the_environment_wins_over_the_runners_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SMTP_URL", "smtps://relay.example.org:465")
    monkeypatch.setenv("BOOKING_NOTIFY_URL", "http://elsewhere:8004")
    ports = {service: 9101 + index for index, service in enumerate(SERVICES)}
    environment = service_environment(
        "notify", "postgresql://db", ports, public_base_url="http://127.0.0.1:9100", smtp_url=None
    )
    assert environment["NOTIFY_SMTP_URL"] == "smtps://relay.example.org:465"
    assert environment["BOOKING_NOTIFY_URL"] == "http://elsewhere:8004"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])  # noqa: S104 - the gateway's --host, not a bind here
def test_the_public_base_url_is_one_a_browser_here_reaches(host: str) -> None:
    assert public_base_url(host, 9100) == "http://127.0.0.1:9100"
