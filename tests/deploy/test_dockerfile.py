"""The image: linted by hadolint, and built the way the issue asks (read from the Dockerfile itself)."""

import re
import subprocess
from dataclasses import dataclass

import pytest

from tests.deploy import tools

DOCKERFILE = tools.ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    arguments: str


def _instructions() -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, each with its stage number."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE.read_text())
    found: list[Instruction] = []
    stage = -1
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(stage, keyword.upper(), arguments.strip()))
    return found


def _final_stage() -> list[Instruction]:
    instructions = _instructions()
    last = max(instruction.stage for instruction in instructions)
    return [instruction for instruction in instructions if instruction.stage == last]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [tools.hadolint(), "--failure-threshold", "info", DOCKERFILE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependencies_install_from_the_lock_before_the_sources_arrive() -> None:
    instructions = _instructions()
    copies = [i for i in instructions if i.keyword == "COPY" and "--from" not in i.arguments]
    lock_copy = next(n for n, i in enumerate(instructions) if i in copies and "requirements.lock" in i.arguments)
    install = next(
        n for n, i in enumerate(instructions) if i.keyword == "RUN" and "--constraint requirements.lock" in i.arguments
    )
    first_source = next(n for n, i in enumerate(instructions) if i in copies and "shared" in i.arguments)
    assert lock_copy < install < first_source


def test_no_package_index_and_no_secret_is_written_into_the_image() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"--(extra-)?index-url|\s-i\s|PIP_INDEX|UV_INDEX", text)
    for instruction in _instructions():
        if instruction.keyword in {"ENV", "ARG"}:
            assert not re.search(r"SECRET|PASSWORD|PRIVATE_KEY|DATABASE_URL", instruction.arguments)


def test_the_runtime_stage_is_lean_non_root_and_checks_readiness() -> None:
    final = _final_stage()
    assert max(instruction.stage for instruction in _instructions()) >= 1, "multi-stage"
    assert not [i for i in final if i.keyword == "RUN" and re.search(r"apt-get|pip install|gcc|build", i.arguments)]
    [copy] = [i for i in final if i.keyword == "COPY"]
    assert copy.arguments.startswith("--from=build ")
    [user] = [i for i in final if i.keyword == "USER"]
    assert user.arguments.split(":")[0] not in {"0", "root"}
    [healthcheck] = [i for i in final if i.keyword == "HEALTHCHECK"]
    assert "/readyz" in healthcheck.arguments
    [entrypoint] = [i for i in final if i.keyword == "ENTRYPOINT"]
    assert entrypoint.arguments == '["learncity"]'


@pytest.mark.parametrize("excluded", [".env", ".learncity", ".venv", "tests", ".git"])
def test_the_build_context_leaves_out_secrets_and_local_state(excluded: str) -> None:
    rules = [line.strip() for line in (tools.ROOT / ".dockerignore").read_text().splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    assert rules[0] == "*", "everything is excluded unless allowed"
    allowed = [rule[1:].rstrip("/") for rule in rules if rule.startswith("!")]
    assert excluded not in allowed and not any(excluded.startswith(rule + "/") for rule in allowed)
