"""Shared fixtures: a CliRunner wrapper and small file writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from losscli.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def cli(monkeypatch):
    """Run ``losscli ARGS`` in-process; returns the typer Result (stdout/stderr separate).

    Without ``input`` the run is a person at a terminal (stdin is a TTY: no files means the
    bundled example); with ``input`` it is a pipe into stdin."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        monkeypatch.setattr("losscli.cli._stdin_is_terminal", lambda: input is None)
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


@pytest.fixture
def write(tmp_path):
    """write(name, text_or_obj) -> path; dicts/lists become JSON, arrays become one CSV column."""

    def _write(name: str, content) -> Path:
        path = tmp_path / name
        if isinstance(content, (dict, list)):
            path.write_text(json.dumps(content))
        elif isinstance(content, np.ndarray):
            np.savetxt(path, content, delimiter=",", fmt="%.17g")
        else:
            path.write_text(content)
        return path

    return _write


class FakeTerminal:
    """A stream that says it is a terminal, keeping what is written (pager and progress tests)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True
