"""The services as real processes (`learncity serve`), reached over real HTTP on loopback."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from learncity.devrunner import peer_environment
from learncity.mailsink import StoredMail, mail_files, read_mail, running_sink
from shared.topology import SERVICES, owner_of

# Ports the tests' servers listen on come from below the kernel's ephemeral range (32768 and up here), where
# no outgoing connection can take one between the check and the server's bind (a port the kernel hands out
# with bind(0) is an ephemeral one, and a client's connection took such a port from `learncity up` once).
_LISTEN_PORTS = range(20000, 32700)


def free_port(count: int = 1) -> int:
    """The first of `count` consecutive ports that are free now, chosen at random (two tests asking at the
    same moment get different ones)."""
    for _ in range(200):
        first = random.choice(_LISTEN_PORTS)
        if all(_is_free(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_healthy(
    base_url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    """Until `base_url/healthz` answers 200; fails at once (with the log's tail) if `process` exits."""
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


@contextlib.contextmanager
def learncity_up(
    folder: Path,
    port: int,
    environment: Mapping[str, str] | None = None,
    *,
    arguments: tuple[str, ...] = (),
    timeout_s: float = 120.0,
) -> Iterator[str]:
    """`learncity up --port <port> [arguments]` as a user runs it, on the embedded database (DATABASE_URL ignored), with
    its data and its output (`up.log`) in `folder`; yields the base URL once healthy, then stops it with
    Ctrl-C as a person would. The mails notify sends land in `up_mail_dir(folder)`."""
    log = folder / "up.log"
    # Its own embedded database and its own mail sink, whatever the caller's shell says.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NOTIFY_SMTP_URL")}
    env |= {"LEARNCITY_DATA_DIR": str(folder / "data"), **(environment or {})}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "learncity", "up", "--port", str(port), *arguments],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, timeout_s, process, log)
        yield base_url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def up_mail_dir(folder: Path) -> Path:
    """Where the dev mail sink of `learncity_up(folder, ...)` keeps the mails (`<LEARNCITY_DATA_DIR>/mail`)."""
    return folder / "data" / "mail"


def wait_for_mail(mail_dir: Path, *, to: str, subject: str = "", timeout_s: float = 5.0) -> StoredMail:
    """The first mail in `mail_dir` to `to` (anywhere in its To header) whose subject contains `subject`,
    waiting for it up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        for path in mail_files(mail_dir):
            mail = read_mail(path)
            if to.lower() in mail.to.lower() and subject in mail.subject:
                return mail
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail to {to} with {subject!r} in its subject within {timeout_s} s in {mail_dir}")
        time.sleep(0.05)


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request over real HTTP to the service that owns its path (what the gateway does)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._urls = urls
        self._http = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        service = owner_of(request.url.path)
        if service is None:
            return httpx.Response(404)
        target = httpx.URL(self._urls[service])
        request.url = request.url.copy_with(scheme=target.scheme, host=target.host, port=target.port)
        request.headers["host"] = f"{target.host}:{target.port}"
        return await self._http.handle_async_request(request)

    async def aclose(self) -> None:
        await self._http.aclose()


@dataclass
class LiveSystem:
    urls: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    # Where notify's mails land (a dev mail sink), when the system was started with one.
    mail_dir: Path | None = None

    def client(self, timeout_s: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=RoutingTransport(self.urls), base_url="http://live.test", timeout=timeout_s)

    def start_service(self, service: str) -> None:
        port = httpx.URL(self.urls[service]).port
        command = [sys.executable, "-m", "learncity", "serve", service, "--host", "127.0.0.1", "--port", str(port)]
        self.processes[service] = subprocess.Popen(command, env=self.environment)

    def stop_service(self, service: str, sig: signal.Signals = signal.SIGTERM) -> None:
        process = self.processes.pop(service)
        process.send_signal(sig)
        process.wait(20)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        for service in self.processes:
            while True:
                assert self.processes[service].poll() is None, f"{service} exited"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(self.urls[service] + "/readyz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{service} not ready"
                time.sleep(0.1)

    @classmethod
    @contextlib.contextmanager
    def start(cls, database_url: str, jwt_key_file: Path, *, mail_dir: Path | None = None) -> Iterator["LiveSystem"]:
        """Every service on free ports; with `mail_dir`, notify mails to a dev mail sink writing there
        (`wait_for_mail`), otherwise it sends no mail."""
        urls = {service: f"http://127.0.0.1:{free_port()}" for service in SERVICES}
        environment = dict(os.environ)
        for service in SERVICES:
            prefix = service.upper() + "_"
            environment |= {
                prefix + "ENVIRONMENT": "test",
                prefix + "DATABASE_URL": database_url,
                prefix + "LOG_LEVEL": "WARNING",
                prefix + "RELAY_POLL_INTERVAL_S": "0.5",
            }
        environment |= {
            **peer_environment(urls),
            "ORGS_JWT_KEY_FILE": str(jwt_key_file),
            "NOTIFY_SMTP_URL": "",
            # Load tests race hundreds of people; the abuse limits are raised as the contract allows.
            "BOOKING_RATE_PER_MINUTE": "100000",
            "BOOKING_MAX_ACTIVE_PER_PERSON": "1000",
            # The suite empties the tables between tests while these processes run: a no-show sweep reading
            # bookings, check-ins and sessions in the middle of that TRUNCATE would deadlock with it.
            "BOOKING_NO_SHOW_SWEEP_INTERVAL_S": "0",
        }
        with contextlib.ExitStack() as stack:
            if mail_dir is not None:
                environment["NOTIFY_SMTP_URL"] = stack.enter_context(running_sink(mail_dir, port=free_port())).smtp_url
            system = cls(urls=urls, environment=environment, mail_dir=mail_dir)
            try:
                for service in SERVICES:
                    system.start_service(service)
                system.wait_ready()
                yield system
            finally:
                for service in list(system.processes):
                    system.stop_service(service)
