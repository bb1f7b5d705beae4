"""The specs pass an OpenAPI linter (Redocly CLI), and TypeScript types generated from them
(openapi-typescript) type-check a frontend's usage file (tsc): a contract change that would break a
frontend fails here. The npm tools are pinned in clients/package.json; CI installs them (.ci/run)."""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.topology import SERVICES

CLIENTS = Path(__file__).resolve().parents[2] / "clients"
BIN = CLIENTS / "node_modules" / ".bin"
TOOLS = ("redocly", "openapi-typescript", "tsc")

Specs = dict[str, dict[str, Any]]


def run(command: list[str], cwd: Path, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """clients/node_modules/.bin, installed from clients/package.json when missing (skipped without npm)."""
    if not all((BIN / tool).exists() for tool in TOOLS):
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("node/npm are not installed (CI installs them: .ci/run)")
        installed = run([npm, "install", "--no-audit", "--no-fund"], CLIENTS, timeout_s=600)
        assert installed.returncode == 0, installed.stdout + installed.stderr
    return BIN


@pytest.fixture(scope="session")
def make_project(tmp_path_factory: pytest.TempPathFactory, node_tools: Path) -> Callable[[Specs], Path]:
    """A copy of the clients project with the given specs in openapi/ and the types generated from them."""

    def make(specs: Specs) -> Path:
        project = tmp_path_factory.mktemp("clients")
        for name in ("tsconfig.json", "redocly.yaml"):
            shutil.copy(CLIENTS / name, project / name)
        shutil.copytree(CLIENTS / "src", project / "src")
        (project / "openapi").mkdir()
        (project / "generated").mkdir()
        generators = []
        for service, spec in specs.items():
            (project / "openapi" / f"{service}.json").write_text(json.dumps(spec, ensure_ascii=False))
            command = [
                str(node_tools / "openapi-typescript"),
                f"openapi/{service}.json",
                "-o",
                f"generated/{service}.d.ts",
            ]
            # The three run at once: each is mostly Node.js starting up.
            generators.append(subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        for generator in generators:
            output, _ = generator.communicate(timeout=180)
            assert generator.returncode == 0, output.decode()
        return project

    return make


@pytest.fixture(scope="session")
def project(make_project: Callable[[Specs], Path], specs: Specs) -> Path:
    return make_project(specs)


def type_check(project: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "tsc"), "--noEmit", "-p", "tsconfig.json"], project)


def test_the_specs_pass_the_linter_without_errors_or_warnings(project: Path) -> None:
    files = [f"openapi/{service}.json" for service in SERVICES]
    linted = run([str(BIN / "redocly"), "lint", "--config", "redocly.yaml", "--format", "stylish", *files], project)
    output = linted.stdout + linted.stderr
    assert linted.returncode == 0, output
    for service in SERVICES:
        assert f"openapi/{service}.json" in output  # every spec was linted
    assert " error " not in output and " warning " not in output, output


def test_the_generated_types_type_check_a_frontend(project: Path) -> None:
    for service in SERVICES:
        types = (project / "generated" / f"{service}.d.ts").read_text()
        assert "export interface operations" in types
    checked = type_check(project)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_breaking_contract_change_fails_the_type_check(make_project: Callable[[Specs], Path], specs: Specs) -> None:
    """Renaming a response field (booking's `checkin_code`) must break the usage file's build."""
    changed = json.loads(json.dumps(specs))
    booking = changed["booking"]["components"]["schemas"]["BookingOut"]["properties"]
    booking["door_code"] = booking.pop("checkin_code")
    checked = type_check(make_project(changed))
    assert checked.returncode != 0
    assert "checkin_code" in checked.stdout, checked.stdout
