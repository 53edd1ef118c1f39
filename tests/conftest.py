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
def cli():
    """Run ``losscli ARGS`` in-process; returns the typer Result (stdout/stderr separate)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
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
