"""`learncity --help` and every command's `--help`: a one-line summary in the list, a fuller text on the
command, and a clear refusal of an unknown service."""

from typing import Any

import typer
from typer.testing import CliRunner

from learncity.cli import app

runner = CliRunner()


def commands() -> dict[str, Any]:
    """name -> command (typer ships its own click, so the types are typer's)."""
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def test_the_overview_lists_every_command_with_a_one_line_summary() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "learncity up" in result.output  # where to start
    for name, command in commands().items():
        summary = (command.help or "").split("\n\n")[0]
        assert summary and "\n" not in summary.strip(), f"{name}: first paragraph is not one line"
        assert " ".join(summary.split()) in " ".join(result.output.split()), f"{name}: summary not listed"


def test_every_command_has_help_that_renders() -> None:
    for name, command in commands().items():
        result = runner.invoke(app, [name, "--help"], terminal_width=120)
        assert result.exit_code == 0, f"{name}: {result.output}"
        flat = " ".join(result.output.split())
        assert f"Usage: root {name}" in flat  # CliRunner names the program "root"
        assert " ".join((command.help or "").split("\n\n")[0].split()) in flat
        assert "Traceback" not in result.output


def test_an_unknown_service_is_refused_with_the_choices() -> None:
    result = runner.invoke(app, ["serve", "library"], terminal_width=120)
    assert result.exit_code == 2
    assert "orgs" in result.output and "catalog" in result.output and "booking" in result.output


def test_seed_without_a_data_set_says_which_to_name() -> None:
    result = runner.invoke(app, ["seed"], terminal_width=120)
    assert result.exit_code == 2
    assert "--demo" in result.output
