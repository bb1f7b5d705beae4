"""The docker-compose gateway's nginx configuration, run for real (Debian's nginx and njs module) in front of
stub services: what each path reaches, the 404 and 503 problems, /healthz and the forwarded headers.

Only upstreams.conf (Docker's DNS names) and the listen port differ from what the container runs."""

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from shared.topology import SERVICES, docs_paths, owner_of
from tests.deploy import tools
from tests.deploy.routes import sample_paths
from tests.live import free_port
from tests.support import assert_problem


@dataclass
class StubService:
    """Answers every request with what it received; /readyz answers 200 or 503 as `ready` says."""

    name: str
    ready: bool = True
    server: ThreadingHTTPServer = field(init=False)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body: dict[str, object]
                if self.path == "/readyz":
                    status, body = (200, {"status": "ready"}) if stub.ready else (503, {"status": "not ready"})
                else:
                    status, body = 200, {"service": stub.name, "path": self.path, "headers": dict(self.headers)}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Gateway:
    url: str
    stubs: dict[str, StubService]


def _start_nginx(prefix: Path, upstream_ports: dict[str, int]) -> tuple[subprocess.Popen[bytes], str]:
    """The gateway's files as the container mounts them (`<prefix>/learncity/`), upstreams on loopback."""
    nginx = tools.nginx()
    conf_dir = prefix / "learncity"
    shutil.copytree(tools.ROOT / "deploy" / "nginx", conf_dir)
    (prefix / "modules").symlink_to(tools.NJS_MODULE.parent)
    (conf_dir / "upstreams.conf").write_text(
        "".join(f"upstream {s} {{ server 127.0.0.1:{p}; keepalive 4; }}\n" for s, p in upstream_ports.items())
    )
    port = free_port()
    conf = conf_dir / "nginx.conf"
    original = conf.read_text()
    assert original.count("listen 8000;") == 1
    conf.write_text(original.replace("listen 8000;", f"listen 127.0.0.1:{port};"))
    # As root, workers would run as `nobody`, which cannot read the test's private temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    process = subprocess.Popen(
        [nginx, "-p", f"{prefix}/", "-c", str(conf), "-g", f"daemon off; pid {prefix}/nginx.pid; {user}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        assert time.monotonic() < deadline, "nginx did not listen within 10 s"
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    stubs = {service: StubService(service) for service in SERVICES}
    process, url = _start_nginx(tmp_path_factory.mktemp("nginx"), {s: stub.port for s, stub in stubs.items()})
    try:
        yield Gateway(url, stubs)
    finally:
        _stop(process)
        for stub in stubs.values():
            stub.stop()


def test_the_configuration_is_valid_nginx(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").status_code == 200  # it started, so it parsed


@pytest.mark.parametrize("path", [path for path in sample_paths() if owner_of(path)])
def test_each_route_reaches_its_service_with_the_path_unchanged(gateway: Gateway, path: str) -> None:
    response = httpx.get(gateway.url + path + "?limit=5")
    assert response.status_code == 200, response.text
    assert response.json()["service"] == owner_of(path)
    assert response.json()["path"] == path + "?limit=5"


@pytest.mark.parametrize("path", [path for path in sample_paths() if not owner_of(path) and path != "/readyz"])
def test_paths_no_service_serves_get_the_404_problem(gateway: Gateway, path: str) -> None:
    problem = assert_problem(httpx.post(gateway.url + path), 404)
    assert problem["detail"] == "No service serves this path"


def test_internal_checks_behind_healthz_are_not_reachable(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/_ready/orgs").status_code == 404
    assert_problem(httpx.get(gateway.url + "/readyz"), 404)


def test_healthz_is_ok_only_while_every_service_is_ready(gateway: Gateway) -> None:
    healthy = httpx.get(gateway.url + "/healthz")
    assert healthy.status_code == 200
    assert healthy.json() == {"status": "ok", "services": dict.fromkeys(SERVICES, True)}
    gateway.stubs["catalog"].ready = False
    try:
        degraded = httpx.get(gateway.url + "/healthz")
    finally:
        gateway.stubs["catalog"].ready = True
    assert degraded.status_code == 503
    assert degraded.json() == {"status": "degraded", "services": {**dict.fromkeys(SERVICES, True), "catalog": False}}


def test_docs_index_links_every_service(gateway: Gateway) -> None:
    page = httpx.get(gateway.url + "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for service in SERVICES:
        docs, spec = docs_paths(service)
        assert docs in page.text and spec in page.text


def test_client_address_replaces_a_claimed_one_and_request_ids_pass_through(gateway: Gateway) -> None:
    claimed = httpx.get(gateway.url + "/v1/me", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "r-1"})
    headers = {k.lower(): v for k, v in claimed.json()["headers"].items()}
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-request-id"] == "r-1"
    generated = httpx.get(gateway.url + "/v1/me").json()["headers"]
    assert len({k.lower(): v for k, v in generated.items()}["x-request-id"]) == 32


def test_bodies_beyond_the_gateway_limit_get_a_413_problem(gateway: Gateway) -> None:
    assert_problem(httpx.post(gateway.url + "/v1/bookings", content=b"x" * (3 * 1024 * 1024)), 413)


def test_a_service_that_is_down_gives_503_with_retry_after(tmp_path: Path) -> None:
    up = StubService("orgs")
    ports = {"orgs": up.port, "catalog": free_port(), "booking": free_port()}  # nothing listens there
    process, url = _start_nginx(tmp_path, ports)
    try:
        down = httpx.get(url + "/v1/sessions/1")
        health = httpx.get(url + "/healthz")
    finally:
        _stop(process)
        up.stop()
    assert_problem(down, 503)
    assert down.headers["retry-after"] == "2"
    assert health.status_code == 503
    assert health.json()["services"] == {"orgs": True, "catalog": False, "booking": False}
