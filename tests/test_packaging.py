"""``pip install losscli`` as a user gets it: the wheel and sdist build, pass ``twine check``,
hold the package data, and the wheel installed into a fresh virtual environment runs."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "deprecated" not in build.stderr + build.stdout
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_twine_check_passes(dist):
    files = [str(_one(dist, "*.whl")), str(_one(dist, "*.tar.gz"))]
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("PASSED") == 2


def test_wheel_holds_the_package_data_and_the_license(dist):
    names = set(zipfile.ZipFile(_one(dist, "*.whl")).namelist())
    for needed in (
        "losscli/data/preds.csv",
        "losscli/data/models/recommender.pt2",
        "losscli/data/models/features.csv",
        "losscli/zh_tw/classification.py",
        "losscli/io/readers.py",
        "losscli/schemas/compute.schema.json",
    ):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(_one(dist, "*.whl")).read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert "Requires-Dist: torch<3,>=2.3" in text
    assert "Provides-Extra: plot" in text and "Provides-Extra: test" in text
    with tarfile.open(_one(dist, "*.tar.gz")) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"} <= members


def test_the_installed_wheel_runs_from_a_fresh_venv(dist, tmp_path):
    """A fresh venv with only the wheel installed; its dependencies (torch, numpy, typer...) are
    lent from this environment through a .pth path entry, so nothing is downloaded.  The losscli
    that runs must be the wheel's, not this checkout."""
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    fresh_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    lent = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (fresh_site / "lent_dependencies.pth").write_text("\n".join(lent) + "\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(_one(dist, "*.whl")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run(
        [str(python), "-c", "import losscli; print(losscli.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    run = subprocess.run(
        [str(venv / "bin" / "losscli"), "compute", "mse", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    # stdin is not a terminal and no files were given: losscli must refuse, not guess
    assert run.returncode == 2, run.stderr
    data = ROOT / "sample_data"
    run = subprocess.run(
        [str(venv / "bin" / "losscli"), "compute", "mse", str(data / "preds.csv"), str(data / "targets.csv"), "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["loss"] == "mse"
    models = Path(where.stdout.strip()).parent / "data" / "models"
    run = subprocess.run(
        [str(venv / "bin" / "losscli"), "grad", "--model", "sigmoid_mlp", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["model"]["path"] == str(models / "sigmoid_mlp.pt2")
