"""Every `losscli ...` command in the README's shell blocks runs and exits 0 (or 1 where
the README shows a failing check), so the README stays true."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from losscli.cli import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    commands = []
    for block in re.findall(r"```(?:sh|console)\n(.*?)```", README, flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("losscli "):
                commands.append(line.split(";")[0].strip())
    return commands


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, monkeypatch, tmp_path):
    """Run from a scratch directory that sees the repository's data, so what a command writes
    (--junit, --out) stays out of the checkout."""
    for name in ("sample_data", "losscli", "benchmarks", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command, comments=True)[1:]
    result = CliRunner().invoke(app, args)
    expected = 1 if "--fail-above 0.1" in command else 0
    assert result.exit_code == expected, (command, result.stderr, result.exception)


def test_readme_counts_the_registered_losses():
    from losscli import losses

    assert f"computes any of {len(losses.REGISTRY)} named losses" in README
