"""The CLI as users run it: values, formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SAMPLE


def sample_regression() -> tuple[np.ndarray, np.ndarray]:
    p = np.loadtxt(SAMPLE / "preds.csv", skiprows=1)
    t = np.loadtxt(SAMPLE / "targets.csv", skiprows=1)
    return p, t


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# ------------------------------------------------------------------ compute


def test_compute_mse_on_sample_data_plain(cli):
    p, t = sample_regression()
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--format", "plain")
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(np.mean((p - t) ** 2), rel=1e-15)


def test_compute_json_contract(cli):
    r = cli("compute", "huber", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-p", "delta=0.5", "--json")
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert set(obj) >= {"loss", "value", "reduction", "params", "n"}
    assert obj["loss"] == "huber" and obj["reduction"] == "mean" and obj["n"] == 40
    assert obj["params"] == {"delta": 0.5}
    p, t = sample_regression()
    a = np.abs(p - t)
    ref = np.mean(np.where(a < 0.5, 0.5 * a**2, 0.5 * (a - 0.25)))
    assert obj["value"] == pytest.approx(ref, rel=1e-14)


def test_compute_reports_every_default_param(cli):
    r = cli("compute", "ce", SAMPLE / "logits_3class.csv", SAMPLE / "labels_3class.csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["params"] == {
        "from_logits": True,
        "label_smoothing": 0.0,
        "ignore_index": -100,
        "weight": None,
        "normalize": False,
    }


def test_compute_reduction_none_json_is_array(cli):
    r = cli("compute", "mae", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-r", "none", "--json")
    p, t = sample_regression()
    np.testing.assert_allclose(json.loads(r.stdout)["value"], np.abs(p - t), rtol=1e-15)


def test_compute_csv_and_table(cli):
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--format", "csv")
    header, row = r.stdout.strip().splitlines()
    assert header == "loss,reduction,n,value" and row.startswith("mse,mean,40,")
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 0 and "loss (mean)" in r.stdout


def test_alias_resolves_to_canonical_name(cli):
    r = cli("compute", "l1-loss", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--json")
    assert json.loads(r.stdout)["loss"] == "mae"


def test_one_file_with_columns(cli):
    p, t = sample_regression()
    r = cli("compute", "mse", SAMPLE / "results.csv", "--pred-col", "yhat", "--target-col", "y", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(np.mean((p - t) ** 2), rel=1e-15)
    r = cli("compute", "mse", SAMPLE / "results.csv", "--pred-col", "2", "--target-col", "1", "-f", "plain")
    assert float(r.stdout) == pytest.approx(np.mean((p - t) ** 2), rel=1e-15)


def test_json_object_file_carries_both_inputs(cli):
    obj = json.loads((SAMPLE / "regression.json").read_text())
    r = cli("compute", "mse", SAMPLE / "regression.json", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    ref = np.mean((np.array(obj["preds"]) - np.array(obj["targets"])) ** 2)
    assert float(r.stdout) == pytest.approx(ref, rel=1e-15)


def test_stdin(cli):
    text = (SAMPLE / "results.csv").read_text()
    r = cli("compute", "mae", "-", "--pred-col", "yhat", "--target-col", "y", "-f", "plain", input=text)
    p, t = sample_regression()
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(np.mean(np.abs(p - t)), rel=1e-15)


def test_fail_above_and_below(cli):
    args = ["compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-f", "plain"]
    r = cli(*args, "--fail-above", "0.01")
    assert r.exit_code == 1 and float(r.stdout) > 0.01 and "fail-above" in r.stderr
    assert cli(*args, "--fail-above", "100").exit_code == 0
    assert cli(*args, "--fail-below", "100").exit_code == 1
    assert cli(*args, "--fail-below", "0.0").exit_code == 0


def test_float32(cli):
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--dtype", "float32", "--json")
    p, t = sample_regression()
    obj = json.loads(r.stdout)
    assert obj["dtype"] == "float32"
    assert obj["value"] == pytest.approx(np.mean((p - t) ** 2), rel=1e-6)


def test_nan_value_is_null_in_json(cli, write):
    f = write("p.csv", "p\n1\nnan\n")
    g = write("t.csv", "t\n1\n2\n")
    r = cli("compute", "mse", f, g, "--json", "--allow-nonfinite")
    obj = json.loads(r.stdout)
    assert obj["value"] is None and obj["notes"]


# ------------------------------------------------------------------ grad


def test_grad_json_contract_and_values(cli):
    r = cli("grad", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--json")
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    p, t = sample_regression()
    assert set(obj["gradients"]) == {"preds"}
    np.testing.assert_allclose(obj["gradients"]["preds"], 2 * (p - t) / len(p), rtol=1e-14)
    h = obj["health"]
    assert h["status"] == "ok"
    assert h["norm"] == pytest.approx(np.linalg.norm(2 * (p - t) / len(p)), rel=1e-12)
    for key in ("max_abs", "min_abs", "mean_abs", "nonfinite", "per_sample_rms"):
        assert key in h


def test_grad_matrix_shape_in_json(cli):
    r = cli("grad", "ce", SAMPLE / "logits_3class.csv", SAMPLE / "labels_3class.csv", "--json")
    g = np.array(json.loads(r.stdout)["gradients"]["preds"])
    assert g.shape == (24, 3)
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-15)  # softmax - onehot rows sum to 0


def test_grad_table_shows_few_rows(cli, write):
    n = 5000
    rng = np.random.default_rng(0)
    p = write("p.csv", rng.normal(size=n))
    t = write("t.csv", rng.normal(size=n))
    r = cli("grad", "mse", p, t)
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout.splitlines()) < 100  # a fixed-size summary, not 5000 rows
    assert "status: ok" in r.stdout


def exploding(write):
    rng = np.random.default_rng(0)
    t = rng.normal(size=50)
    return write("p.csv", t + 1e6 * rng.choice([-1, 1], size=50)), write("t.csv", t)


def test_grad_exploding_strict_exits_1(cli, write):
    p, t = exploding(write)
    r = cli("grad", "mse", p, t, "--json", "--strict")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["health"]["status"] == "exploding"
    assert cli("grad", "mse", p, t, "--json").exit_code == 0


def test_grad_vanishing_bce_confident_logits(cli, write):
    y = np.array([1, 0, 1, 0, 1, 1, 0, 0], float)
    p = write("p.csv", np.where(y == 1, 40.0, -40.0))
    t = write("t.csv", y)
    r = cli("grad", "bce", p, t, "-p", "from_logits=true", "--json")
    assert json.loads(r.stdout)["health"]["status"] == "vanishing"


def test_grad_nonfinite_rmse_zero_residuals(cli, write):
    p = write("p.csv", np.ones(6))
    r = cli("grad", "rmse", p, p, "--json")
    obj = json.loads(r.stdout)
    assert obj["health"]["status"] == "nonfinite"
    assert obj["gradients"]["preds"] == [None] * 6 and obj["notes"]


@pytest.mark.parametrize("repeat", [10, 20000])
def test_verdict_does_not_depend_on_row_count(cli, write, repeat):
    base_p = np.array([0.3, -1.2, 2.0, 0.7])
    base_t = np.array([0.1, -1.0, 1.0, 0.5])
    p = write("p.csv", np.tile(base_p, repeat))
    t = write("t.csv", np.tile(base_t, repeat))
    obj = json.loads(cli("grad", "mse", p, t, "--json").stdout)
    assert obj["health"]["status"] == "ok"
    assert obj["health"]["per_sample_rms"] == pytest.approx(np.sqrt(np.mean((2 * (base_p - base_t)) ** 2)), rel=1e-9)


@pytest.mark.parametrize("ext", ["csv", "npy", "json"])
def test_grad_out_file(cli, tmp_path, ext):
    out = tmp_path / f"g.{ext}"
    r = cli("grad", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--out", out, "-f", "plain")
    assert r.exit_code == 0, r.stderr
    p, t = sample_regression()
    expected = 2 * (p - t) / len(p)
    if ext == "npy":
        got = np.load(out)
    elif ext == "json":
        got = np.array(json.loads(out.read_text())["preds"])
    else:
        import polars as pl

        got = pl.read_csv(out)["grad"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_grad_csv_stdout_one_row_per_element(cli):
    r = cli("grad", "ce", SAMPLE / "logits_3class.csv", SAMPLE / "labels_3class.csv", "-f", "csv")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 + 24 * 3
    assert lines[0] == "row,input,column,grad"


# ------------------------------------------------------------------ list / explain / version


def test_list_json_has_every_loss(cli):
    from losscli import losses

    obj = json.loads(cli("list", "--format", "json").stdout)
    assert {d["name"] for d in obj["losses"]} == set(losses.REGISTRY)


def test_list_table_one_line_each(cli):
    from losscli import losses

    r = cli("list")
    for name in losses.REGISTRY:
        assert sum(line.split()[0] == name for line in r.stdout.splitlines() if line.strip()) == 1


@pytest.mark.parametrize("name", ["mse", "bce", "cross-entropy", "kl-div"])
def test_explain(cli, name):
    r = cli("explain", name, "-f", "plain")
    assert r.exit_code == 0
    for word in ("formula:", "derivative:", "inputs", "convention:", "others:"):
        assert word in r.stdout


def test_version(cli):
    from losscli import __version__

    r = cli("--version")
    assert r.exit_code == 0 and __version__ in r.stdout


# ------------------------------------------------------------------ bad input: one line, exit 2


@pytest.mark.parametrize(
    "args, expected",
    [
        (["compute", "msee", "a", "b"], "did you mean mse"),
        (["compute", "huber", "{p}", "{t}", "-p", "dleta=2"], "valid: delta"),
        (["compute", "huber", "{p}", "{t}", "-p", "delta=abc"], "must be a number"),
        (["compute", "huber", "{p}", "{t}", "-p", "delta=-1"], "must be > 0"),
        (["compute", "mse", "{p}", "{t}", "-p", "delta=1"], "takes no parameters"),
        (["compute", "mse", "{p}", "{t}", "--reduction", "avg"], "--reduction"),
        (["compute", "mse", "{p}", "{t}", "--dtype", "float16"], "--dtype"),
        (["compute", "mse", "{p}", "{t}", "--format", "xml"], "--format"),
        (["compute", "mse", "{p}", "{t}", "{t}"], "3 files"),
        (["compute", "mse", "{p}", "--pred-col", "nope", "--target-col", "y"], "nope"),
        (["compute", "mse", "nonexistent.csv", "{t}"], "nonexistent.csv"),
    ],
)
def test_usage_errors(cli, args, expected):
    p, t = str(SAMPLE / "preds.csv"), str(SAMPLE / "targets.csv")
    r = cli(*[a.format(p=p, t=t) for a in args])
    assert r.exit_code == 2
    assert expected in one_error_line(r)


def test_bad_files(cli, write, tmp_path):
    good = write("good.csv", "y\n1\n2\n3\n")
    cases = {
        "directory": (tmp_path, str(tmp_path)),
        "empty": (write("empty.csv", ""), "empty"),
        "non-numeric": (write("bad.csv", "y\n1\nabc\n3\n"), "line 3"),
        "ragged": (write("ragged.csv", "a,b\n1,2\n3\n4,5\n"), "line 3"),
        "length": (write("short.csv", "y\n1\n2\n"), "shape"),
        "nan": (write("nan.csv", "y\n1\nnan\n3\n"), "allow-nonfinite"),
    }
    for name, (path, expected) in cases.items():
        r = cli("compute", "mse", path, good)
        assert r.exit_code == 2, name
        line = one_error_line(r)
        assert expected in line, (name, line)


def test_nan_accepted_with_flag(cli, write):
    good = write("good.csv", "y\n1\n2\n3\n")
    nan = write("nan.csv", "y\n1\nnan\n3\n")
    r = cli("compute", "mse", nan, good, "--allow-nonfinite", "-f", "plain")
    assert r.exit_code == 0 and r.stdout.strip() == "nan"


def test_loss_shape_and_range_errors(cli, write):
    probs = write("probs.csv", "p\n0.2\n1.3\n0.5\n")
    labels = write("labels.csv", "y\n0\n1\n1\n")
    r = cli("compute", "bce", probs, labels)
    assert r.exit_code == 2 and "data row 2" in one_error_line(r) and "[0, 1]" in r.stderr
    one_col = write("one.csv", "z\n0.2\n1.3\n0.5\n")
    r = cli("compute", "ce", one_col, labels)
    assert r.exit_code == 2 and "N x C" in one_error_line(r)
    logits = write("logits.csv", "a,b\n1,2\n3,4\n5,6\n")
    bad_labels = write("badlabels.csv", "y\n0\n2\n1\n")
    r = cli("compute", "ce", logits, bad_labels)
    assert r.exit_code == 2 and "class index in [0, 1]" in one_error_line(r)
    ignored = write("ignored.csv", "y\n-100\n-100\n-100\n")
    r = cli("compute", "ce", logits, ignored)
    assert r.exit_code == 2 and "ignore_index" in one_error_line(r)
    r = cli("compute", "hinge", logits.parent / "labels.csv", write("h.csv", "y\n2\n1\n0\n"))
    assert r.exit_code == 2 and "-1 or 1" in one_error_line(r)


# ------------------------------------------------------------------ real processes


def run_losscli(*args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "losscli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def imported_modules(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["list"],
        ["explain", "bce"],
        ["compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv"],
        ["compute", "ce", SAMPLE / "logits_3class.csv", SAMPLE / "labels_3class.csv", "--json"],
    ],
    ids=["help", "list", "explain", "compute", "compute-ce"],
)
def test_torch_is_never_imported(args):
    r = run_losscli(*args, importtime=True)
    assert r.returncode == 0, r.stderr[-2000:]
    mods = imported_modules(r.stderr)
    assert "losscli" in mods
    assert not {m for m in mods if m == "torch" or m.startswith(("torch.", "array_api_compat.torch"))}


def test_grad_does_import_torch():
    r = run_losscli("grad", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", importtime=True)
    assert any(m == "torch" or m.startswith("torch.") for m in imported_modules(r.stderr))


def test_installed_entry_point():
    import shutil

    exe = shutil.which("losscli")
    assert exe, "losscli is not installed on PATH (pip install -e .)"
    r = subprocess.run(
        [exe, "compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["loss"] == "mse"
    r = subprocess.run([exe, "compute", "nope", "x"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    for args in (["compute", "mse", "--bogus"], ["compute"], ["grad", "mse", "a", "--top", "x"], ["nope"]):
        r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stdout == "", args
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("losscli: error: "), (args, r.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["grad", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-f", "csv"],
        ["compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-r", "none", "-f", "plain"],
    ],
    ids=["grad-csv-polars", "compute-plain"],
)
def test_closed_pipe_exits_0_quietly(args, tmp_path):
    """`losscli ... | head -1` on 100,000 rows (megabytes, more than a pipe buffers): no
    traceback, exit 0 (1 is kept for failed checks)."""
    big = tmp_path / "p.csv"
    np.savetxt(big, np.random.default_rng(0).normal(size=100_000))
    args = [big if a == SAMPLE / "preds.csv" else a for a in args]
    args = [big if a == SAMPLE / "targets.csv" else a for a in args]
    proc = subprocess.Popen(
        [sys.executable, "-m", "losscli", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr


def test_help_shows_the_arguments_as_written(cli):
    """typer's and click's versions have changed how arguments print (dropped help, an escaped
    \\[required]): the help a person reads is checked as such."""
    out = cli("compute", "--help").stdout
    assert "compute [OPTIONS] LOSS [FILE]...\n" in out
    assert "Loss name or alias (see 'losscli list')" in out and "[required]" in out
    assert "\\[" not in out
