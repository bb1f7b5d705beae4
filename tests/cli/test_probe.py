"""`learncity probe`, the containers' healthcheck: 0 only for a 200, 1 for anything else, and quick to start."""

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from learncity.cli import app
from tests.live import free_port

runner = CliRunner()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`/status/<code>` answers with that status; `/slow` answers after the client gave up."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":
                release.wait(5)
            status = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/status/") else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()


def test_200_is_healthy_and_quiet(server: str) -> None:
    result = runner.invoke(app, ["probe", "--url", f"{server}/status/200"])
    assert result.exit_code == 0, result.output
    assert result.output == ""


@pytest.mark.parametrize("status", [204, 404, 500, 503])
def test_any_other_status_is_unhealthy_with_the_reason(server: str, status: int) -> None:
    result = runner.invoke(app, ["probe", "--url", f"{server}/status/{status}"])
    assert result.exit_code == 1
    assert f"HTTP {status}" in result.output


def test_nothing_listening_is_unhealthy() -> None:
    result = runner.invoke(app, ["probe", "--url", f"http://127.0.0.1:{free_port()}/readyz"])
    assert result.exit_code == 1
    assert "refused" in result.output.lower()


def test_a_slow_answer_is_unhealthy_after_the_timeout(server: str) -> None:
    result = runner.invoke(app, ["probe", "--url", f"{server}/slow", "--timeout", "0.2"])
    assert result.exit_code == 1
    assert "timed out" in result.output.lower()


def test_a_url_that_is_not_http_is_refused() -> None:
    assert runner.invoke(app, ["probe", "--url", "file:///etc/passwd"]).exit_code == 2


def test_the_default_is_this_containers_readiness() -> None:
    result = runner.invoke(app, ["probe", "--help"], terminal_width=200)
    assert "http://127.0.0.1:8000/readyz" in result.output


def test_the_command_line_imports_no_service_database_or_server_code() -> None:
    """The healthcheck starts `learncity` every few seconds in every container."""
    code = "import sys, learncity.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    heavy = {"sqlalchemy", "uvicorn", "fastapi", "asyncpg", "pydantic", "services", "httpx"}
    assert not loaded & heavy
