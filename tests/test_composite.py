"""Evaluating loss expressions: values against the individual core evaluations, gradients
against torch autograd of the same weighted sum built by hand, shares, multi-task bindings,
the regularisation penalties, and ``compare`` on data with outliers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.composite import compare, evaluate_expression, outlier_rows, outlier_share
from losscli.core import Evaluation, evaluate
from losscli.errors import InputError, UsageError
from losscli.expr import parse
from losscli.params import parse_params
from losscli.render import compare_dicts, composite_dict
from tests.cases_reg import FAMILY_CASES

RTOL = 1e-12


def t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def single(name: str, inputs: dict, params: list[str] = (), **kw) -> Evaluation:
    spec = losses.get(name)
    return evaluate(spec, inputs, parse_params(spec, list(params)), **kw)


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    return {"preds": rng.uniform(0.05, 0.95, size=20), "targets": rng.integers(0, 2, size=20).astype(float)}


@pytest.fixture
def regression():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(10, 3))
    return {"preds": y + rng.normal(0, 0.7, size=(10, 3)), "targets": y}


# ------------------------------------------------------------------------------ values


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_value_is_the_weighted_sum_of_the_individual_evaluations(binary, backend, reduction):
    cev = evaluate_expression(parse("0.7*bce + 0.3*mse"), binary, reduction=reduction, backend=backend)
    bce = single("bce", binary, reduction=reduction).value
    mse = single("mse", binary, reduction=reduction).value
    assert cev.value == pytest.approx(0.7 * bce + 0.3 * mse, rel=RTOL)
    assert cev.terms == [
        {"expr": "bce", "weight": 0.7, "value": pytest.approx(bce, rel=RTOL)},
        {"expr": "mse", "weight": 0.3, "value": pytest.approx(mse, rel=RTOL)},
    ]
    assert cev.n == 20 and cev.scale == (20.0 if reduction == "mean" else 1.0)


def test_the_issue_example_bce_plus_dice():
    rng = np.random.default_rng(7)
    data = {
        "preds": rng.uniform(0.05, 0.95, size=(2, 1, 4, 4)),
        "targets": rng.integers(0, 2, size=(2, 1, 4, 4)).astype(float),
    }
    for backend in ("numpy", "torch"):
        cev = evaluate_expression(parse("0.7*bce + 0.3*dice"), data, backend=backend)
        ref = 0.7 * single("bce", data).value + 0.3 * single("dice", data).value
        assert cev.value == pytest.approx(ref, rel=RTOL)
    g = (
        0.7 * single("bce", data, backend="torch").gradients["preds"]
        + 0.3 * single("dice", data, backend="torch").gradients["preds"]
    )
    np.testing.assert_allclose(cev.gradients["preds"], g, rtol=1e-12)


def test_per_term_params_and_folded_weights(regression):
    cev = evaluate_expression(parse("2*(huber(delta=0.5) - 0.25*huber(delta=2)) + log-cosh"), regression)
    h05 = single("huber", regression, ["delta=0.5"]).value
    h2 = single("huber", regression, ["delta=2"]).value
    lc = single("log-cosh", regression).value
    assert cev.value == pytest.approx(2 * h05 - 0.5 * h2 + lc, rel=RTOL)
    assert [(d["expr"], d["weight"]) for d in cev.terms] == [
        ("huber(delta=0.5)", 2.0),
        ("huber(delta=2)", -0.5),
        ("log-cosh", 1.0),
    ]


def test_reduction_none_adds_elements_of_the_same_shape(regression):
    cev = evaluate_expression(parse("mse + 0.5*mae"), regression, reduction="none")
    r = regression["preds"] - regression["targets"]
    np.testing.assert_allclose(cev.value, r**2 + 0.5 * np.abs(r), rtol=RTOL)


def test_reduction_none_refuses_terms_of_different_shapes(regression):
    data = {**regression, "weights": np.ones(4)}
    with pytest.raises(
        UsageError,
        match=r"--reduction none needs every term to have the same element shape: "
        r"mse gives 10 x 3, l2 gives 4",
    ):
        evaluate_expression(parse("mse + l2"), data, reduction="none")


# --------------------------------------------------------------------------- gradients


def test_gradient_equals_autograd_of_the_hand_built_sum(binary):
    cev = evaluate_expression(parse("0.7*bce + 0.3*mse"), binary, backend="torch")
    x = t(binary["preds"], grad=True)
    y = t(binary["targets"])
    bce = F.binary_cross_entropy(x, y)
    mse = F.mse_loss(x, y)
    total = 0.7 * bce + 0.3 * mse
    total.backward()
    assert cev.value == pytest.approx(total.item(), rel=RTOL)
    assert set(cev.gradients) == {"preds"}
    np.testing.assert_allclose(cev.gradients["preds"], x.grad.numpy(), rtol=1e-11, atol=1e-15)

    # each term's share, from its own autograd gradient
    x1 = t(binary["preds"], grad=True)
    (0.7 * F.binary_cross_entropy(x1, y)).backward()
    x2 = t(binary["preds"], grad=True)
    (0.3 * F.mse_loss(x2, y)).backward()
    norms = [float(x1.grad.norm()), float(x2.grad.norm())]
    assert [s["expr"] for s in cev.shares] == ["bce", "mse"]
    assert [s["grad_norm"] for s in cev.shares] == pytest.approx(norms, rel=1e-11)
    assert [s["fraction"] for s in cev.shares] == pytest.approx([n / sum(norms) for n in norms], rel=1e-11)
    assert sum(s["fraction"] for s in cev.shares) == pytest.approx(1.0, rel=1e-14)


def test_negative_weights_and_shares_still_sum_to_one(regression):
    cev = evaluate_expression(parse("mse - 0.5*mae + 0.1*huber(delta=0.3)"), regression, backend="torch")
    x = t(regression["preds"], grad=True)
    y = t(regression["targets"])
    total = F.mse_loss(x, y) - 0.5 * F.l1_loss(x, y) + 0.1 * F.huber_loss(x, y, delta=0.3)
    total.backward()
    np.testing.assert_allclose(cev.gradients["preds"], x.grad.numpy(), rtol=1e-11, atol=1e-15)
    # each term's share is the norm of its own weighted gradient, negative weight or not
    norms = []
    for term in (
        lambda x: F.mse_loss(x, y),
        lambda x: -0.5 * F.l1_loss(x, y),
        lambda x: 0.1 * F.huber_loss(x, y, delta=0.3),
    ):
        xi = t(regression["preds"], grad=True)
        term(xi).backward()
        norms.append(float(xi.grad.norm()))
    assert [s["expr"] for s in cev.shares] == ["mse", "mae", "huber(delta=0.3)"]
    assert [s["grad_norm"] for s in cev.shares] == pytest.approx(norms, rel=1e-11)
    assert [s["fraction"] for s in cev.shares] == pytest.approx([n / sum(norms) for n in norms], rel=1e-11)
    assert sum(s["fraction"] for s in cev.shares) == pytest.approx(1.0, rel=1e-14)


def test_a_data_name_read_by_two_terms_gets_both_gradients(regression):
    data = {"a": regression["preds"], "b": regression["targets"], "c": regression["targets"] + 0.3}
    cev = evaluate_expression(parse("mse(preds=a, targets=b) + 2*mae(preds=a, targets=c)"), data, backend="torch")
    x = t(data["a"], grad=True)
    (F.mse_loss(x, t(data["b"])) + 2 * F.l1_loss(x, t(data["c"]))).backward()
    assert set(cev.gradients) == {"a"}
    np.testing.assert_allclose(cev.gradients["a"], x.grad.numpy(), rtol=1e-11, atol=1e-15)


def test_float32_gradients_stay_float32(binary):
    cev = evaluate_expression(parse("0.7*bce + 0.3*mse"), binary, backend="torch", dtype="float32")
    assert cev.gradients["preds"].dtype == np.float32
    ref = evaluate_expression(parse("0.7*bce + 0.3*mse"), binary, backend="torch")
    np.testing.assert_allclose(cev.gradients["preds"], ref.gradients["preds"], rtol=1e-5, atol=1e-7)


def test_numpy_backend_has_no_gradients_or_shares(binary):
    cev = evaluate_expression(parse("0.7*bce + 0.3*mse"), binary)
    assert cev.gradients == {} and cev.shares == []
    assert "gradients" not in composite_dict(cev) and "shares" not in composite_dict(cev)


# -------------------------------------------------------------------------- multi-task

MULTI = "ce(preds=cls_logits, targets=cls_labels) + 0.5*mse(preds=box_pred, targets=box_true)"


@pytest.fixture
def multitask():
    rng = np.random.default_rng(2)
    return {
        "cls_logits": rng.normal(0, 1.5, size=(8, 4)),
        "cls_labels": rng.integers(0, 4, size=8).astype(float),
        "box_pred": rng.normal(size=(5, 4)),
        "box_true": rng.normal(size=(5, 4)),
    }


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_multi_task_terms_read_their_own_inputs(multitask, backend):
    cev = evaluate_expression(parse(MULTI), multitask, backend=backend)
    z = t(multitask["cls_logits"], grad=True)
    b = t(multitask["box_pred"], grad=True)
    ce = F.cross_entropy(z, torch.tensor(multitask["cls_labels"]).long())
    mse = F.mse_loss(b, t(multitask["box_true"]))
    (ce + 0.5 * mse).backward()
    assert cev.value == pytest.approx((ce + 0.5 * mse).item(), rel=RTOL)
    assert [d["value"] for d in cev.terms] == pytest.approx([ce.item(), mse.item()], rel=RTOL)
    if backend == "torch":
        assert set(cev.gradients) == {"cls_logits", "box_pred"}
        np.testing.assert_allclose(cev.gradients["cls_logits"], z.grad.numpy(), rtol=1e-11, atol=1e-15)
        np.testing.assert_allclose(cev.gradients["box_pred"], b.grad.numpy(), rtol=1e-11, atol=1e-15)
        norms = [float(z.grad.norm()), float(b.grad.norm())]
        assert [s["grad_norm"] for s in cev.shares] == pytest.approx(norms, rel=1e-11)
        assert sum(s["fraction"] for s in cev.shares) == pytest.approx(1.0)
    assert cev.n == 8  # the first data term's


def test_multi_task_missing_data_names_the_term(multitask):
    del multitask["box_pred"]
    with pytest.raises(
        UsageError,
        match=r"term 'mse\(preds=box_pred, targets=box_true\)' needs data 'box_pred' "
        r"\(its input preds\); give it with --input box_pred=FILE",
    ):
        evaluate_expression(parse(MULTI), multitask)


def test_bound_input_errors_name_the_data_source():
    data = {"a": np.zeros(3), "b": np.zeros(4)}
    with pytest.raises(InputError, match=r"a\.csv.*b\.csv"):
        evaluate_expression(parse("mse(preds=a, targets=b)"), data, sources={"a": "a.csv", "b": "b.csv"})


def test_to_dict_is_strict_json(multitask):
    cev = evaluate_expression(
        parse("2*" + MULTI.replace("ce(", "ce(label_smoothing=0.1, ")), multitask, backend="torch"
    )
    obj = composite_dict(cev)
    text = json.dumps(obj, allow_nan=False)
    assert set(obj) == {"loss", "value", "reduction", "params", "n", "dtype", "terms", "gradients", "shares"}
    assert (
        obj["loss"]
        == "2*ce(label_smoothing=0.1, preds=cls_logits, targets=cls_labels) + 0.5*mse(preds=box_pred, targets=box_true)"
    )
    assert obj["terms"][0]["expr"] == "cross-entropy(preds=cls_logits, targets=cls_labels, label_smoothing=0.1)"
    assert obj["terms"][0]["weight"] == 2.0 and obj["terms"][1]["weight"] == 0.5
    assert obj["params"] == {
        obj["terms"][0]["expr"]: {
            "from_logits": True,
            "label_smoothing": 0.1,
            "ignore_index": -100,
            "weight": None,
            "normalize": False,
        }
    }
    assert np.asarray(obj["gradients"]["box_pred"]).shape == (5, 4)
    assert set(obj["shares"][0]) == {"expr", "weight", "grad_norm", "fraction"}
    assert "NaN" not in text


def test_nan_gradients_become_null_with_a_note():
    data = {"preds": np.ones(4), "targets": np.ones(4)}  # rmse has a NaN gradient at zero residuals
    cev = evaluate_expression(parse("rmse + mse"), data, backend="torch")
    assert np.all(np.isnan(cev.gradients["preds"]))
    assert [s["fraction"] for s in cev.shares] == [None, None]
    obj = composite_dict(cev)
    json.dumps(obj, allow_nan=False)
    assert obj["gradients"]["preds"] == [None] * 4 and obj["notes"]


def test_as_evaluation_feeds_diagnose(regression):
    from losscli.diagnose import diagnose

    data = {**regression, "weights": np.linspace(-1, 1, 6)}
    cev = evaluate_expression(parse("mse + 0.01*l2"), data, backend="torch")
    ev = cev.as_evaluation()
    assert isinstance(ev, Evaluation) and ev.spec.name == "mse + 0.01*l2" and ev.params == {}
    assert [i.name for i in ev.spec.inputs] == ["preds", "targets", "weights"]
    health = diagnose(ev)
    assert health.status == "ok" and health.scale == 30.0
    assert health.elements == 30 + 6


# ---------------------------------------------------------------------- regularisation


@pytest.fixture
def w():
    return np.array([[0.5, -1.5, 2.0], [-0.25, 3.0, -0.75]])


@pytest.mark.parametrize(
    "name, value, grad",
    [
        ("l2", lambda w: (w**2).sum(), lambda w: 2 * w),
        ("l2-half", lambda w: (w**2).sum() / 2, lambda w: w),
        ("l1", lambda w: np.abs(w).sum(), lambda w: np.sign(w)),
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_regularisers_give_the_sum_and_their_gradients(w, name, value, grad, backend):
    for reduction in ("mean", "sum"):
        ev = single(name, {"weights": w}, reduction=reduction, backend=backend)
        assert ev.value == pytest.approx(value(w), rel=RTOL)
        assert ev.scale == 1.0
        if backend == "torch":
            np.testing.assert_allclose(ev.gradients["weights"], grad(w), rtol=RTOL)
    ev = single(name, {"weights": w}, reduction="none", backend=backend)
    assert np.asarray(ev.value).shape == w.shape
    assert np.sum(ev.value) == pytest.approx(value(w), rel=RTOL)
    assert losses.get(name).family == "regularization"


def test_l1_gradient_at_zero_is_zero():
    ev = single("l1", {"weights": np.array([0.0, 2.0, -3.0])}, backend="torch")
    np.testing.assert_array_equal(ev.gradients["weights"], [0.0, 1.0, -1.0])


def test_regularisers_against_torch(w):
    x = t(w, grad=True)
    ref = (x**2).sum()
    ref.backward()
    ev = single("l2", {"weights": w}, backend="torch")
    assert ev.value == pytest.approx(ref.item(), rel=RTOL)
    np.testing.assert_allclose(ev.gradients["weights"], x.grad.numpy(), rtol=RTOL)


def test_data_loss_plus_penalty(regression, w):
    data = {**regression, "weights": w}
    cev = evaluate_expression(parse("mse + 0.01*l2 + 1e-3*l1"), data, backend="torch")
    p = t(regression["preds"], grad=True)
    x = t(w, grad=True)
    total = F.mse_loss(p, t(regression["targets"])) + 0.01 * (x**2).sum() + 1e-3 * x.abs().sum()
    total.backward()
    assert cev.value == pytest.approx(total.item(), rel=RTOL)
    assert list(cev.gradients) == ["preds", "weights"]
    np.testing.assert_allclose(cev.gradients["preds"], p.grad.numpy(), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(cev.gradients["weights"], 0.02 * w + 1e-3 * np.sign(w), rtol=1e-12)
    np.testing.assert_allclose(cev.gradients["weights"], x.grad.numpy(), rtol=1e-12)
    assert [s["expr"] for s in cev.shares] == ["mse", "l2", "l1"]
    assert cev.shares[1]["grad_norm"] == pytest.approx(np.linalg.norm(0.02 * w), rel=1e-12)
    assert cev.n == 10 and cev.scale == 30.0  # the data term's, not the penalty's


def test_penalty_without_weights_is_a_usage_error(regression):
    with pytest.raises(UsageError, match=r"term 'l2' needs data 'weights'; give it with --input weights=FILE"):
        evaluate_expression(parse("mse + 0.01*l2"), regression)


def test_penalty_on_bound_weights():
    data = {"enc": np.array([1.0, -2.0]), "dec": np.array([3.0])}
    cev = evaluate_expression(parse("l2(weights=enc) + 0.5*l2(weights=dec)"), data, backend="torch")
    assert cev.value == pytest.approx(5.0 + 4.5)
    np.testing.assert_allclose(cev.gradients["enc"], [2.0, -4.0])
    np.testing.assert_allclose(cev.gradients["dec"], [3.0])


def test_empty_weights_are_refused():
    with pytest.raises(InputError, match="weights is empty"):
        single("l2", {"weights": np.zeros(0)})


def test_cases_reg_cover_every_penalty():
    from losscli.losses import regularization

    assert set(FAMILY_CASES) == {s.name for s in regularization.SPECS}
    assert all(losses.REGISTRY[s.name] is s for s in regularization.SPECS)  # registered by the package itself
    for cases in FAMILY_CASES.values():
        for _, params, factory in cases:
            d = factory(np.random.default_rng(0))
            assert set(d) == {"weights"} and np.all(np.abs(d["weights"]) >= 0.1)


# ---------------------------------------------------------------------------- compare


@pytest.fixture
def outliers():
    """1000 rows, residuals ~ N(0, 0.5) except 10 rows (1%) off by ±50."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=1000)
    r = rng.normal(0, 0.5, size=1000)
    bad = rng.choice(1000, size=10, replace=False)
    r[bad] = rng.choice([-50.0, 50.0], size=10)
    return {"preds": y + r, "targets": y}, np.sort(bad)


def test_outlier_rows_are_the_largest_residuals(outliers):
    data, bad = outliers
    np.testing.assert_array_equal(np.sort(outlier_rows(data)), bad)
    assert outlier_rows({"preds": np.zeros((4, 3)), "targets": np.zeros(4)}) is None
    assert outlier_rows({"weights": np.zeros(4)}) is None
    assert outlier_rows({"preds": np.arange(5.0), "targets": np.zeros(5)}).tolist() == [4]  # at least one row
    assert outlier_share(np.array([1.0, -1.0, 2.0]), np.array([2])) == pytest.approx(0.5)


def test_compare_shows_mse_letting_outliers_dominate(outliers):
    data, _ = outliers
    rows = compare_dicts(compare(["mse", "mae", "huber", "0.5*mse + 0.5*mae"], data, grad=True))
    by = {r["loss"]: r for r in rows}
    assert list(by) == ["mse", "mae", "huber", "0.5*mse + 0.5*mae"]
    for name in ("mse", "mae", "huber"):
        assert by[name]["value"] == pytest.approx(single(name, data).value, rel=RTOL)
        assert by[name]["outlier_rows"] == 10
        assert by[name]["health"]["status"] == "ok" and "per-sample gradient RMS" in by[name]["health"]["reason"]
        assert set(by[name]) >= {"loss", "value", "reduction", "params", "n", "gradients", "health"}
    # the 1% of rows with the largest residuals get most of MSE's gradient mass ...
    assert by["mse"]["outlier_share"] > 0.5
    # ... but exactly their fair 1% under MAE, and little more under Huber (gradient bounded by delta)
    assert by["mae"]["outlier_share"] == pytest.approx(0.01, rel=1e-12)
    assert by["huber"]["outlier_share"] < 0.05
    assert by["mse"]["grad_norm"] > 10 * by["huber"]["grad_norm"]
    g = 2 * (data["preds"] - data["targets"]) / 1000
    assert by["mse"]["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-12)


def test_compare_without_grad_is_values_only(outliers):
    data, _ = outliers
    rows = compare_dicts(compare(["mse", "huber(delta=2)"], data))
    assert [r["loss"] for r in rows] == ["mse", "huber"]  # canonical names, as compute prints them
    assert rows[0]["value"] == pytest.approx(single("mse", data).value, rel=RTOL)
    assert rows[1]["value"] == pytest.approx(single("huber", data, ["delta=2"]).value, rel=RTOL)
    assert rows[1]["params"] == {"delta": 2.0}
    for row in rows:
        assert row["reduction"] == "mean" and row["n"] == 1000
        assert not {"gradients", "health", "grad_norm", "outlier_share"} & set(row)


def test_compare_parses_everything_first_and_handles_class_targets():
    rng = np.random.default_rng(4)
    data = {"preds": rng.normal(size=(6, 3)), "targets": rng.integers(0, 3, size=6).astype(float)}
    with pytest.raises(UsageError, match="unknown loss 'cee'"):
        compare(["ce", "cee"], data, grad=True)
    (row,) = compare_dicts(compare(["ce(label_smoothing=0.1)"], data, grad=True))
    assert row["outlier_share"] is None and row["outlier_rows"] is None and row["grad_norm"] > 0


def test_compute_path_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "from losscli.expr import parse\n"
        "from losscli.composite import evaluate_expression, compare\n"
        "d = {'preds': np.array([0.2, 0.7]), 'targets': np.array([0.0, 1.0])}\n"
        "v = evaluate_expression(parse('0.7*bce + 0.3*mse'), d).value\n"
        "compare(['mse', 'mae'], d)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print(v)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) > 0
