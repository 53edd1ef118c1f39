"""CI gates that cannot pass by accident (issue 8): which data is read, every requested check
kept and reported, and the output contract when stdout is not writable."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SAMPLE

RESULTS = (SAMPLE / "results.csv").read_text()  # id,y,yhat; MSE 0.198464625
MSE = 0.19846462500000003


def one_error_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# ------------------------------------------------------------------ stdin versus the bundled example


def test_piped_stdin_is_read_not_the_bundled_example(cli):
    r = cli("compute", "mse", "--fail-above", "0.5", "--format", "plain", input=RESULTS)
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == MSE
    assert "bundled example" not in r.stderr


def test_piped_stdin_that_fails_the_gate_exits_1(cli):
    r = cli("compute", "mse", "--fail-above", "0.1", "--format", "plain", input=RESULTS)
    assert r.exit_code == 1
    assert float(r.stdout) == MSE
    assert r.stderr.strip() == "losscli: check failed: loss 0.198464625 > --fail-above 0.1"


def test_empty_piped_stdin_is_an_error_not_the_example(cli):
    r = cli("compute", "mse", input="")
    assert r.exit_code == 2
    assert one_error_line(r) == "losscli: error: <stdin>: the file is empty"


@pytest.mark.parametrize(
    "args",
    [
        ["compute", "mse", "--fail-above", "1"],
        ["compute", "mse", "--fail-below", "0"],
        ["grad", "mse", "--strict"],
        ["grad", "bce", "--fail-on", "saturated"],
        ["grad", "mse", "--fail-above", "1"],
        ["compare", "mse,mae", "--fail-above", "1"],
    ],
    ids=lambda a: " ".join(a),
)
def test_a_check_at_a_terminal_without_data_is_refused(cli, args):
    r = cli(*args)
    assert r.exit_code == 2
    assert "needs data: give files or pipe them into stdin" in one_error_line(r)


def test_the_bundled_example_at_a_terminal_without_a_check_says_so(cli):
    r = cli("compute", "mse", "--format", "plain")
    assert r.exit_code == 0 and float(r.stdout) == MSE
    assert r.stderr.strip() == ("losscli: no files given: using the bundled example for mse (preds.csv, targets.csv)")


# ------------------------------------------------------------------ every requested check is kept


def test_fail_on_implies_strict(cli):
    r = cli("grad", "bce", SAMPLE / "explain_probs.csv", SAMPLE / "explain_labels.csv", "--fail-on", "saturated")
    assert r.exit_code == 1
    assert r.stderr.startswith("losscli: check failed: gradient health: saturated (")


def test_fail_on_a_verdict_that_is_absent_passes(cli):
    r = cli("grad", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--fail-on", "nonfinite", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["checks"] == [{"check": "gradient health", "threshold": ["nonfinite"], "passed": True}]


def test_grad_has_the_value_bounds_and_reports_them_in_json(cli):
    r = cli("grad", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--fail-above", "0.1", "--json")
    assert r.exit_code == 1
    obj = json.loads(r.stdout)
    assert obj["value"] == pytest.approx(MSE, rel=1e-15)
    message = "loss 0.198464625 > --fail-above 0.1"
    assert obj["checks"] == [{"check": "fail-above", "threshold": 0.1, "passed": False, "message": message}]
    assert r.stderr.strip() == f"losscli: check failed: {message}"


def test_compute_json_lists_passed_checks(cli):
    r = cli(
        "compute",
        "mse",
        SAMPLE / "preds.csv",
        SAMPLE / "targets.csv",
        "--fail-above",
        "1",
        "--fail-below",
        "0.1",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["checks"] == [
        {"check": "fail-above", "threshold": 1.0, "passed": True},
        {"check": "fail-below", "threshold": 0.1, "passed": True},
    ]


def test_compare_checks_each_entry(cli):
    r = cli("compare", "mse,mae,huber", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--fail-above", "0.2", "--json")
    assert r.exit_code == 1
    rows = json.loads(r.stdout)
    assert [row["checks"][0]["passed"] for row in rows] == [True, False, True]  # 0.198, 0.278, 0.087
    assert r.stderr.strip() == "losscli: check failed: mae 0.277775 > --fail-above 0.2"


def test_compare_table_has_a_checks_column(cli):
    r = cli("compare", "mse,mae", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--fail-above", "0.2")
    assert r.exit_code == 1
    assert "checks" in r.stdout and "passed" in r.stdout and "FAILED" in r.stdout


@pytest.mark.parametrize("bound", ["nan", "inf", "-inf"])
def test_a_threshold_that_can_never_fail_is_refused(cli, bound):
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--fail-above", bound)
    assert r.exit_code == 2
    assert "--fail-above must be a finite number" in one_error_line(r)


def test_a_nan_loss_fails_every_bound(cli, write):
    p = write("p.csv", np.ones(4))
    r = cli("grad", "rmse", p, p, "--fail-below", "0", "--format", "plain")  # value 0: passes
    assert r.exit_code == 0, r.stderr
    r = cli(
        "compute", "mse", p, write("t.csv", np.array([1.0, np.nan, 1.0, 1.0])), "--allow-nonfinite", "--fail-above", "1"
    )
    assert r.exit_code == 1 and "loss is NaN (--fail-above 1)" in r.stderr


# ------------------------------------------------------------------ which data went where


def test_json_says_which_file_and_columns_fed_each_input(cli):
    r = cli("compute", "mse", SAMPLE / "results.csv", "--pred-col", "yhat", "--target-col", "y", "--json")
    assert r.exit_code == 0, r.stderr
    src = str(SAMPLE / "results.csv")
    assert json.loads(r.stdout)["inputs"] == {
        "preds": {"source": src, "columns": ["yhat"], "shape": [40]},
        "targets": {"source": src, "columns": ["y"], "shape": [40]},
    }


def test_table_says_which_data_went_where(cli):
    r = cli("compute", "mse", SAMPLE / "results.csv", "--pred-col", "yhat", "--target-col", "y")
    assert r.exit_code == 0, r.stderr
    flat = " ".join(r.stdout.split())
    assert "inputs: preds ← " in flat and "column yhat (40)" in flat and "column y (40)" in flat


# ------------------------------------------------------------------ memory and stdout


def test_out_of_memory_is_an_input_error(cli, monkeypatch):
    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("losscli.app.compute", boom)
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2
    assert one_error_line(r).startswith("losscli: error: out of memory: the data does not fit")


@pytest.mark.parametrize(
    "where, error, size",
    [
        ("losscli.app.grad", "torch", " (an allocation of 74,505.8 GiB failed)"),
        ("losscli.app.compute", "numpy", " (72.8 TiB failed)"),
    ],
)
def test_out_of_memory_in_torch_or_numpy_names_the_size(cli, monkeypatch, where, error, size):
    """The allocators' own errors, raised for real (an 80 TB request), end as one line and exit 2."""
    import numpy as np
    import torch

    def allocate(*args, **kwargs):
        if error == "torch":
            torch.empty(10**13, dtype=torch.float64)
        np.empty(10**13)

    monkeypatch.setattr(where, allocate)
    command = "grad" if error == "torch" else "compute"
    r = cli(command, "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2
    assert one_error_line(r) == (
        f"losscli: error: out of memory{size}: the data does not fit in this machine's memory; "
        "read it in chunks (--chunk-rows N, for a loss whose rows are independent), --engine dask on a cluster, "
        "--dtype float32, or a machine with more memory"
    )


def test_other_runtime_errors_are_not_called_out_of_memory(cli, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("losscli.app.compute", broken)
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert isinstance(r.exception, RuntimeError) and "out of memory" not in r.stderr


def test_help_into_a_closed_pipe_exits_0():
    code = "losscli grad --help | head -c 10 > /dev/null; exit ${PIPESTATUS[0]}"
    out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr


def test_the_console_script_is_the_one_under_test():
    out = subprocess.run(["losscli", "--version"], capture_output=True, text=True, timeout=60)
    from losscli import __version__

    assert out.stdout.strip() == f"losscli {__version__}" and sys.executable


# ------------------------------------------------------------------ a convention that changed the value is said


def test_bce_clamp_is_said_on_stderr_and_in_json_notes(cli, write):
    from sklearn.metrics import log_loss

    p, y = write("p.csv", "p\n0\n1\n0.3\n0.8\n"), write("y.csv", "y\n1\n1\n0\n1\n")
    r = cli("compute", "bce", p, y, "--json")
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["extras"] == {"clamped": 1}
    note = (
        "bce: 1 probability is 0 or 1 where the label says otherwise; torch's clamp of log at -100 set their loss "
        "to 100 each (scikit-learn's log_loss clips instead: -p clip=eps; Keras: -p clip=keras)"
    )
    assert obj["notes"] == [note]
    assert r.stderr.strip() == f"losscli: {note}"
    r = cli("compute", "bce", p, y, "-p", "clip=eps", "--format", "plain")
    assert r.exit_code == 0 and r.stderr == ""
    assert float(r.stdout) == pytest.approx(log_loss([1, 1, 0, 1], [0, 1, 0.3, 0.8]), rel=1e-15)
