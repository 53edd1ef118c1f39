"""The Python API (``import losscli``): compute, grad, compare and inspect_model over arrays,
tensors and polars columns give what the CLI gives on the same data, errors are the CLI's
messages as exceptions, and ``import losscli`` stays light."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import torch
import torch.nn.functional as F

import losscli
from tests.conftest import ROOT

MODELS = ROOT / "losscli" / "data" / "models"
PREDS = np.array([2.5, 0.0, 2.1, 7.8, -1.2, 3.3])
TARGETS = np.array([3.0, -0.5, 2.0, 7.0, 1.0, 3.0])


def _without(obj: dict, *keys: str) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


def test_compute_equals_torch_and_the_cli_json(cli, write):
    r = losscli.compute("huber", PREDS, TARGETS, delta=0.5)
    assert r.value == pytest.approx(
        F.huber_loss(torch.tensor(PREDS), torch.tensor(TARGETS), delta=0.5).item(), rel=1e-15
    )
    assert (r.loss, r.reduction, r.dtype, r.n, r.params) == ("huber", "mean", "float64", 6, {"delta": 0.5})
    out = cli("compute", "huber", write("p.csv", PREDS), write("t.csv", TARGETS), "-p", "delta=0.5", "--json")
    assert out.exit_code == 0, out.stderr
    assert r.to_dict() == _without(json.loads(out.stdout), "inputs", "notes")


def test_inputs_may_be_tensors_polars_lists_and_named():
    ref = losscli.compute("mse", PREDS, TARGETS).value
    assert losscli.compute("mse", torch.tensor(PREDS, requires_grad=True), pl.Series(TARGETS)).value == ref
    assert losscli.compute("mse", list(PREDS), targets=pl.DataFrame({"y": TARGETS})).value == ref
    assert losscli.compute("mse", targets=TARGETS, preds=PREDS).value == ref


def test_pandas_series_and_frames():
    import pandas as pd

    ref = losscli.compute("mse", PREDS, TARGETS).value
    frame = pd.DataFrame({"pred": PREDS, "target": TARGETS})
    assert losscli.compute("mse", frame["pred"], frame["target"]).value == ref
    assert losscli.compute("mse", frame[["pred"]], frame[["target"]]).value == ref  # one column: a vector
    logits = pd.DataFrame(np.random.default_rng(0).normal(size=(5, 3)))
    labels = pd.Series([0, 2, 1, 1, 0])
    g = losscli.grad("cross-entropy", logits, labels)
    assert g.gradients["preds"].shape == (5, 3)


def test_grad_equals_torch_autograd_and_the_cli_json(cli, tmp_path):
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(7, 4)), rng.integers(0, 4, size=7).astype(float)
    g = losscli.grad("cross-entropy", logits, labels, label_smoothing=0.1, weight=[1, 2, 0.5, 1])
    x = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(
        x, torch.tensor(labels).long(), weight=torch.tensor([1, 2, 0.5, 1.0], dtype=torch.float64), label_smoothing=0.1
    )
    ref.backward()
    assert g.value == pytest.approx(ref.item(), rel=1e-13)
    np.testing.assert_allclose(g.gradients["preds"], x.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert g.health.status == "ok"
    np.save(tmp_path / "logits.npy", logits)
    np.save(tmp_path / "labels.npy", labels)
    out = cli(
        "grad", "cross-entropy", tmp_path / "logits.npy", tmp_path / "labels.npy",
        "-p", "label_smoothing=0.1", "-p", "weight=1,2,0.5,1", "--json",
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert g.to_dict() == _without(json.loads(out.stdout), "inputs", "notes")


def test_expressions_and_compare():
    expr = losscli.compute("0.5*mse + mae", PREDS, TARGETS)
    mse, mae = losscli.compute("mse", PREDS, TARGETS).value, losscli.compute("mae", PREDS, TARGETS).value
    assert expr.value == pytest.approx(0.5 * mse + mae, rel=1e-15)
    rows = losscli.compare(["mse", "mae", "huber(delta=0.5)"], PREDS, TARGETS, with_grad=True)
    huber = losscli.compute("huber", PREDS, TARGETS, delta=0.5).value
    assert [r.expr for r in rows] == ["mse", "mae", "huber(delta=0.5)"]
    assert [r.value for r in rows] == pytest.approx([mse, mae, huber], rel=1e-15)  # torch sums in its own order
    assert rows[0].grad_norm == pytest.approx(np.linalg.norm(2 * (PREDS - TARGETS) / 6), rel=1e-13)
    assert rows[2].to_dict()["expr"] == "huber(delta=0.5)"


def test_errors_are_the_cli_messages():
    with pytest.raises(losscli.InputError, match=r"preds has shape 6 \(the preds array\) but targets has shape 5"):
        losscli.compute("mse", PREDS, TARGETS[:5])
    with pytest.raises(losscli.UsageError, match="needs input"):
        losscli.compute("mse", PREDS)
    with pytest.raises(losscli.UsageError, match="mse has no input or parameter .delta."):
        losscli.compute("mse", PREDS, TARGETS, delta=1.0)
    with pytest.raises(losscli.UsageError, match="delta"):
        losscli.compute("huber", PREDS, TARGETS, delta=-1.0)
    with pytest.raises(losscli.InputError, match="preds must be numbers"):
        losscli.compute("mse", ["a", "b"], [1.0, 2.0])
    with pytest.raises(losscli.UsageError, match="unknown loss 'msee'.*did you mean mse"):
        losscli.compute("msee", PREDS, TARGETS)
    assert issubclass(losscli.InputError, losscli.LossCliError)


def _csv(name: str) -> pl.DataFrame:
    return pl.read_csv(MODELS / name)


def test_inspect_model_equals_the_cli(cli):
    m = losscli.inspect_model(MODELS / "sigmoid_mlp.pt2", _csv("features.csv"), _csv("targets.csv"), loss="mse")
    out = cli(
        "grad", "mse", "--model", MODELS / "sigmoid_mlp.pt2", MODELS / "features.csv", MODELS / "targets.csv", "--json"
    )
    assert out.exit_code == 0, out.stderr
    cli_obj = json.loads(out.stdout)
    assert m.value == cli_obj["value"]
    assert m.global_norm == cli_obj["global_norm"]
    assert m.health.status == cli_obj["health"]["status"] == "vanishing"
    assert [(s.name, s.status) for s in m.layers] == [(x["name"], x["status"]) for x in cli_obj["layers"]]
    for p in cli_obj["parameters"]:
        assert float(np.linalg.norm(m.gradients[p["name"]])) == pytest.approx(p["grad_norm"], rel=1e-6)
    assert _without(m.to_dict(), "model") == _without(cli_obj, "model", "inputs", "notes")


def test_inspect_model_with_feeds_accumulates_like_the_cli(cli):
    users, liked, unliked = _csv("users.csv"), _csv("liked.csv"), _csv("unliked.csv")
    m = losscli.inspect_model(
        MODELS / "recommender.pt2", loss="bpr", feeds={"pos": (users, liked), "neg": (users, unliked)}
    )
    feeds = [
        f"pos={MODELS / 'users.csv'},{MODELS / 'liked.csv'}",
        f"neg={MODELS / 'users.csv'},{MODELS / 'unliked.csv'}",
    ]
    out = cli("grad", "bpr", "--model", MODELS / "recommender.pt2", "--feed", feeds[0], "--feed", feeds[1], "--json")
    assert out.exit_code == 0, out.stderr
    cli_obj = json.loads(out.stdout)
    assert m.value == cli_obj["value"]
    assert [p["grad_norm"] for p in cli_obj["parameters"]] == [s.grad_norm for s in m.parameters]


def test_import_losscli_and_compute_never_import_torch():
    code = (
        "import sys, losscli\n"
        "light = 'torch' not in sys.modules and 'losscli.api' not in sys.modules\n"
        "r = losscli.compute('bce', [0.9, 0.2], [1.0, 0.0])\n"
        "print(light, 'torch' in sys.modules, round(r.value, 12))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", str(round(float(-(np.log(0.9) + np.log(0.8)) / 2), 12))]


def test_readme_python_example_runs(monkeypatch, capsys, tmp_path):
    """The README's notebook-style example, run as a user would paste it, outside the checkout."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's Python API section has no python block"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    huber = F.huber_loss(torch.tensor(PREDS[:4]), torch.tensor(TARGETS[:4]), delta=0.5).item()
    assert float(lines[0]) == pytest.approx(huber, rel=1e-15) == 0.1325  # the value its comment gives
    assert lines[-1].startswith("vanishing [('layers.0', 'vanishing')")


def test_keyword_arguments_that_are_neither_input_nor_parameter_are_refused():
    w = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    weighted = [r.value for r in losscli.compare("mse,mae", PREDS, TARGETS, sample_weights=w)]
    assert weighted == [0.25, 0.5]
    for kwargs, message in (
        ({"sample_weight": w}, "compare has no input or option 'sample_weight'; its inputs are preds, targets"),
        ({"reductoin": "sum"}, "compare has no input or option 'reductoin'"),
        ({"delta": 5}, "parameters go inside each entry"),
    ):
        with pytest.raises(losscli.UsageError, match=re.escape(message)):
            losscli.compare("mse,huber", PREDS, TARGETS, **kwargs)
    with pytest.raises(
        losscli.UsageError, match="mse has no input or parameter 'targetz'; its inputs are preds, targets"
    ):
        losscli.compute("mse", PREDS, targetz=TARGETS)
    with pytest.raises(losscli.UsageError, match="thresholds: no threshold 'foo'"):
        losscli.inspect_model("sigmoid_mlp", np.zeros((3, 8)), np.zeros(3), loss="mse", thresholds={"foo": 1})


def test_non_finite_empty_and_missing_data_are_refused_as_the_cli_does():
    with pytest.raises(losscli.InputError, match=r"preds has a non-finite value nan at index 1 \(1 in all"):
        losscli.compute("mse", [1.0, float("nan")], [1.0, 1.0])
    with pytest.raises(losscli.InputError, match="targets has a non-finite value nan at index 0"):
        losscli.compute("mse", [1.0, 2.0], pl.Series([None, 1.0]))  # a polars null
    assert np.isnan(losscli.compute("mse", [1.0, float("nan")], [1.0, 1.0], allow_nonfinite=True).value)
    with pytest.raises(losscli.InputError, match="preds is empty"):
        losscli.compute("mse", [], [])
    with pytest.raises(losscli.InputError, match="preds must be numbers .* got None"):
        losscli.compute("mse", None, [1.0])


def test_inspect_model_takes_a_bundled_network_by_name(cli):
    m = losscli.inspect_model("sigmoid_mlp", _csv("features.csv"), _csv("targets.csv"), loss="mse")
    assert (
        m.value
        == losscli.inspect_model(
            MODELS / "sigmoid_mlp.pt2", _csv("features.csv"), _csv("targets.csv"), loss="mse"
        ).value
    )
    assert "compute" in dir(losscli) and "inspect_model" in dir(losscli)
