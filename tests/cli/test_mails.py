"""`learncity mails`: the newest dev mails of `learncity up`, newest first."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from learncity.cli import app
from learncity.mailsink import store

runner = CliRunner()


def test_it_lists_the_newest_mails_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEARNCITY_DATA_DIR", str(tmp_path))
    names = [
        store(tmp_path / "mail", f"To: p{n}@example.org\r\nSubject: notice {n}\r\n\r\nbody".encode()).name
        for n in range(3)
    ]
    result = runner.invoke(app, ["mails", "--limit", "2"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert result.output.index("notice 2") < result.output.index("notice 1")
    assert "notice 0" not in result.output
    assert names[2] in result.output and "p2@example.org" in result.output


def test_it_says_where_it_looked_when_there_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEARNCITY_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["mails"], terminal_width=200)
    assert result.exit_code == 0
    assert f"No dev mails in {tmp_path / 'mail'} yet." in " ".join(result.output.split())
