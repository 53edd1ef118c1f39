"""The margin losses against their defining libraries, float64, every reduction they offer,
value and gradient: torch (MultiMarginLoss, SoftMarginLoss, HingeEmbeddingLoss,
MultiLabelMarginLoss, MarginRankingLoss, CosineEmbeddingLoss) called directly; scikit-learn's
hinge_loss called directly; Keras CategoricalHinge (not installed here) by the values of its
own tests, transcribed, and by a transcription of its source into torch for the gradient.
Then the CLI: bundled examples and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.chains import worked_element
from losscli.core import evaluate
from losscli.explain import choose_element
from losscli.losses.margin import TORCH_LOSS_EPSILON
from losscli.params import parse_params
from tests import test_losses
from tests.cases_margin import (
    cosine_default,
    multi_margin_scores,
    multi_margin_unbatched,
    multi_margin_unbatched_column,
)
from tests.test_losses import run

RTOL = 1e-12
ATOL = 1e-14
REDUCTIONS = ("mean", "sum", "none")


def leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def const(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64))


def check(name: str, params: list[str], inputs: dict[str, np.ndarray], reference, grads=("preds",)) -> None:
    """Value (both backends) and gradients (torch) against ``reference(leaves, reduction)`` for
    every reduction; with ``none``, the gradient of the sum (what losscli reports)."""
    for reduction in REDUCTIONS:
        leaves = {k: leaf(inputs[k]) for k in grads}
        ref = reference(leaves, reduction)
        ref.sum().backward()
        expected = ref.detach().numpy()
        for backend in ("numpy", "torch"):
            ev = run(name, params, inputs, backend, reduction=reduction)
            got = np.asarray(ev.value)
            np.testing.assert_allclose(
                got.reshape(expected.shape) if got.size == expected.size else got, expected, rtol=RTOL, atol=ATOL
            )
        for k in grads:
            np.testing.assert_allclose(ev.gradients[k], leaves[k].grad.numpy(), rtol=1e-11, atol=1e-15)


# ----------------------------------------------------------------------------- multi-margin


MULTI_MARGIN_WEIGHT = "0.5,-2,1.5,3"  # torch's own sample inputs draw weights in [-10, 10]


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.0, 7.0, -3.14])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_matches_torch(p, margin, weighted):
    """torch F.multi_margin_loss: p, any margin (torch's reference inputs use 0, 7, -3.14),
    per-class weight (negative included), mean/sum/none."""
    d = multi_margin_scores(np.random.default_rng(31))
    params = [f"p={p}", f"margin={margin}"] + ([f"weight={MULTI_MARGIN_WEIGHT}"] if weighted else [])
    w = const(np.array([float(v) for v in MULTI_MARGIN_WEIGHT.split(",")])) if weighted else None
    target = torch.tensor(d["targets"]).long()
    check(
        "multi-margin",
        params,
        d,
        lambda lv, r: F.multi_margin_loss(lv["preds"], target, p=p, margin=margin, weight=w, reduction=r),
    )


def test_multi_margin_weighted_mean_divides_by_n_as_torch():
    """Not Σ w_y: torch's mean with weights is the plain mean of the weighted per-sample terms."""
    d = multi_margin_scores(np.random.default_rng(32))
    ev = run("multi-margin", [f"weight={MULTI_MARGIN_WEIGHT}"], d)
    none = run("multi-margin", [f"weight={MULTI_MARGIN_WEIGHT}"], d, reduction="none").value
    assert ev.value == pytest.approx(np.mean(none), rel=RTOL)
    assert ev.denominator == 8.0


@pytest.mark.parametrize("factory", [multi_margin_unbatched, multi_margin_unbatched_column], ids=["0-d", "(1,)"])
@pytest.mark.parametrize("params", [[], ["p=2", "margin=0.5"], ["margin=-0.3", "weight=1,2,0.5,-1,3"]])
def test_multi_margin_unbatched_matches_torch(factory, params):
    """A (C,) input with a 0-d or (1,) target is one sample, as torch reads it (reduction none
    gives torch's shape () or (1,); losscli one element)."""
    d = factory(np.random.default_rng(33))
    prm = parse_params(losses.get("multi-margin"), params)
    w = None if prm["weight"] is None else const(np.array(prm["weight"]))
    target = torch.tensor(d["targets"]).long()
    check(
        "multi-margin",
        params,
        d,
        lambda lv, r: F.multi_margin_loss(lv["preds"], target, p=prm["p"], margin=prm["margin"], weight=w, reduction=r),
    )
    assert run("multi-margin", params, d, reduction="none").elements.shape == (1,)


def test_multi_margin_one_scalar_score_is_one_class():
    """torch accepts a 0-d input with a 0-d target (its sample inputs do): C = 1, loss 0."""
    x = leaf(np.array(0.3))
    ref = F.multi_margin_loss(x, torch.tensor(0))
    ref.backward()
    ev = run("multi-margin", [], {"preds": np.array(0.3), "targets": np.array(0.0)}, "torch")
    assert ev.value == ref.item() == 0.0
    assert ev.gradients["preds"] == x.grad.numpy() == 0.0


WEIGHTED_CASES = [
    ("multi-margin", "weighted", [f"weight={MULTI_MARGIN_WEIGHT}"], multi_margin_scores),
    ("multi-margin", "weighted_p2", ["p=2", "margin=-0.6", f"weight={MULTI_MARGIN_WEIGHT}"], multi_margin_scores),
    ("multi-margin", "weighted_unbatched", ["weight=1,2,0.5,-1,3"], multi_margin_unbatched),
]


@pytest.mark.parametrize("case", WEIGHTED_CASES, ids=lambda c: c[1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_weight_registry_checks(case, reduction):
    """The registry-wide checks of tests/test_losses.py (parity, central differences, float32)
    and the --explain chain, on the weighted cases kept out of tests/cases_margin.py."""
    test_losses.test_backend_parity(case, reduction)
    if reduction == "mean":
        test_losses.test_gradient_matches_central_differences(case)
        test_losses.test_float32_close_to_float64(case)
    spec = losses.get("multi-margin")
    inputs = case[3](np.random.default_rng(21))
    ev = evaluate(spec, inputs, parse_params(spec, case[2]), backend="torch", reduction=reduction)
    for index in {choose_element(ev, "preds", None), (0,) * inputs["preds"].ndim}:
        chain = worked_element(ev, inputs, index)
        assert chain is not None
        assert chain.product == pytest.approx(float(ev.gradients["preds"][index]), rel=1e-12, abs=1e-300)


# ----------------------------------------------------------------------------- hinge


@pytest.mark.parametrize("labels", [(2.0, 5.0), (-1.0, 0.0), (-3.0, -1.0), (0.0, 1.0), (-1.0, 1.0), (1.0, 2.0)])
def test_hinge_matches_sklearn(labels):
    """scikit-learn hinge_loss on any two label values: the greater is +1 (LabelBinarizer with
    neg_label=-1); the gradient is -y_±1 / N where y·p < 1."""
    rng = np.random.default_rng(34)
    y = rng.choice(labels, size=14)
    y[:2] = labels  # both labels present
    p = rng.normal(0, 1.5, size=14)
    ref = skm.hinge_loss(y, p)
    pm = np.where(y == max(labels), 1.0, -1.0)
    active = pm * p < 1
    for backend in ("numpy", "torch"):
        assert run("hinge", [], {"preds": p, "targets": y}, backend).value == pytest.approx(ref, rel=RTOL)
    ev = run("hinge", [], {"preds": p, "targets": y}, "torch")
    np.testing.assert_allclose(ev.gradients["preds"], np.where(active, -pm, 0.0) / 14, rtol=RTOL, atol=0)
    assert run("hinge", [], {"preds": p, "targets": y}, reduction="sum").value == pytest.approx(ref * 14, rel=RTOL)
    none = run("hinge", [], {"preds": p, "targets": y}, reduction="none").value
    np.testing.assert_allclose(none, np.maximum(0, 1 - pm * p), rtol=RTOL, atol=0)
    reported = ev.extras
    if labels in ((0.0, 1.0), (-1.0, 1.0)):
        assert reported == {}
    else:
        assert reported == {"negative_label": min(labels), "positive_label": max(labels)}


def test_hinge_keeps_keras_for_single_labels():
    """Every label 1: Keras reads +1 (scikit-learn's LabelBinarizer would read -1: 2.25 here);
    every label 0: -1 in both."""
    p = np.array([0.5, 2.0])
    assert run("hinge", [], {"preds": p, "targets": np.ones(2)}).value == pytest.approx(0.25, rel=RTOL)
    assert skm.hinge_loss([1, 1], p) == pytest.approx(2.25)
    assert run("hinge", [], {"preds": p, "targets": np.zeros(2)}).value == pytest.approx(
        skm.hinge_loss([0, 0], p), rel=RTOL
    )


# ----------------------------------------------------------------------------- categorical-hinge


def keras_categorical_hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """keras/src/losses/losses.py categorical_hinge (Keras 3), transcribed into torch:
    pos = sum(y_true * y_pred, -1); neg = max((1 - y_true) * y_pred, -1); maximum(neg - pos + 1, 0)."""
    pos = torch.sum(y_true * y_pred, dim=-1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return torch.maximum(neg - pos + 1.0, torch.zeros_like(pos))


def test_categorical_hinge_matches_keras():
    """Keras's own test values (keras/src/losses/losses_test.py, CategoricalHingeTest
    .test_unweighted): y_true [[0, 1], [0, 0]], y_pred [[0.6, 0.4], [0.4, 0.6]] give
    none [1.2, 1.6], sum_over_batch_size 1.4, sum 2.8; and the metric's test
    (keras/src/metrics/hinge_metrics_test.py, CategoricalHingeTest.test_unweighted): 0.5."""
    d = {"preds": np.array([[0.6, 0.4], [0.4, 0.6]]), "targets": np.array([[0.0, 1.0], [0.0, 0.0]])}
    for backend in ("numpy", "torch"):
        np.testing.assert_allclose(
            run("categorical-hinge", [], d, backend, reduction="none").value, [1.2, 1.6], rtol=1e-15
        )
        assert run("categorical-hinge", [], d, backend).value == pytest.approx(1.4, rel=1e-15)
        assert run("categorical-hinge", [], d, backend, reduction="sum").value == pytest.approx(2.8, rel=1e-15)
    y_true = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=float)
    y_pred = np.array([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=float)
    assert run("categorical-hinge", [], {"preds": y_pred, "targets": y_true}).value == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("case", ["onehot", "soft", "unbatched"])
def test_categorical_hinge_gradient_matches_keras_source(case):
    from tests.cases_margin import FAMILY_CASES

    factory = dict((c[0], c[2]) for c in FAMILY_CASES["categorical-hinge"])[case]
    d = factory(np.random.default_rng(35))
    check(
        "categorical-hinge",
        [],
        d,
        lambda lv, r: _reduce(keras_categorical_hinge(const(d["targets"]), lv["preds"]), r),
    )


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return per_sample.reshape(-1)
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


# ----------------------------------------------------------------------------- torch elementwise


@pytest.mark.parametrize("shape", [(12,), (4, 3), ()])
def test_soft_margin_matches_torch(shape):
    rng = np.random.default_rng(36)
    d = {"preds": rng.normal(0, 3, size=shape), "targets": rng.choice([-1.0, 1.0], size=shape)}
    check("soft-margin", [], d, lambda lv, r: F.soft_margin_loss(lv["preds"], const(d["targets"]), reduction=r))
    real = {"preds": rng.normal(0, 2, size=shape), "targets": rng.uniform(-2, 2, size=shape)}  # as torch's samples
    check("soft-margin", [], real, lambda lv, r: F.soft_margin_loss(lv["preds"], const(real["targets"]), reduction=r))


def test_soft_margin_stays_finite_where_torch_overflows():
    """torch computes log(1 + exp(-y x)) literally: inf at -y x = 800, where the loss is 800."""
    d = {"preds": np.array([-800.0, 40.0]), "targets": np.array([1.0, 1.0])}
    assert torch.isinf(F.soft_margin_loss(const(d["preds"]), const(d["targets"]), reduction="none")[0])
    ev = run("soft-margin", [], d, "torch", reduction="none")
    np.testing.assert_allclose(ev.value, [800.0, np.exp(-40.0)], rtol=1e-15)
    np.testing.assert_allclose(ev.gradients["preds"], [-1.0, -np.exp(-40.0) / (1 + np.exp(-40.0))], rtol=1e-15)


@pytest.mark.parametrize("margin", [1.0, -2.5, 6.3])
def test_hinge_embedding_matches_torch(margin):
    """torch's sample inputs draw the margin in [-9, 9]; targets ±1, and other values (both terms)."""
    rng = np.random.default_rng(37)
    x = margin + rng.choice([-1.0, 1.0], size=(5, 4)) * rng.uniform(0.1, 2.0, size=(5, 4))
    for labels in ((-1.0, 1.0), (-1.0, 1.0, 0.0, 3.7)):
        d = {"preds": x, "targets": rng.choice(labels, size=(5, 4))}
        check(
            "hinge-embedding",
            [f"margin={margin}"],
            d,
            lambda lv, r, d=d: F.hinge_embedding_loss(lv["preds"], const(d["targets"]), margin=margin, reduction=r),
        )
    scalar = {"preds": np.array(0.4), "targets": np.array(-1.0)}
    check("hinge-embedding", [], scalar, lambda lv, r: F.hinge_embedding_loss(lv["preds"], const(-1.0), reduction=r))


# ----------------------------------------------------------------------------- multilabel-margin


MULTILABEL = [
    # torch's reference inputs (common_methods_invocations.reference_inputs_multilabel_margin_loss):
    # repeated labels and -1, labels after the first -1 ignored
    ([7], [2, 0, 6, -1, 4, -1, 6]),
    ([4, 5], [[4, -1, 0, -1, 2], [0, 0, 4, 1, 4], [-1, 3, -1, 1, 0], [4, 3, 2, 1, 0]]),
    ([3, 4], [[3, 0, -1, 1], [1, 2, -1, -1], [0, 1, 2, 3]]),
]


@pytest.mark.parametrize("shape, target", MULTILABEL, ids=["unbatched", "torch_reference", "full_row"])
def test_multilabel_margin_matches_torch(shape, target):
    x = np.random.default_rng(38).normal(0, 1.3, size=shape)
    t = np.array(target, dtype=float)
    d = {"preds": x, "targets": t}
    tt = torch.tensor(target)
    check(
        "multilabel-margin",
        [],
        d,
        lambda lv, r: (
            F.multilabel_margin_loss(lv["preds"], tt, reduction=r).reshape(-1)
            if r == "none"
            else F.multilabel_margin_loss(lv["preds"], tt, reduction=r)
        ),
    )


# ----------------------------------------------------------------------------- pair losses


@pytest.mark.parametrize("shape", [(), (5,), (5, 5), (3, 2, 4)])
@pytest.mark.parametrize("margin", [0.0, 1.0])
def test_margin_ranking_matches_torch(shape, margin):
    """torch's sample inputs: shapes (), (S,), (S, S), (S, S, S), margins 0 and 1, real targets."""
    rng = np.random.default_rng(39)
    d = {"input1": rng.normal(size=shape), "input2": rng.normal(size=shape), "target": rng.uniform(-2, 2, size=shape)}
    check(
        "margin-ranking",
        [f"margin={margin}"],
        d,
        lambda lv, r: F.margin_ranking_loss(lv["input1"], lv["input2"], const(d["target"]), margin=margin, reduction=r),
        grads=("input1", "input2"),
    )


@pytest.mark.parametrize("margin", [0.0, 0.5, -0.7])
def test_cosine_embedding_matches_torch(margin):
    d = cosine_default(np.random.default_rng(40))
    d["input1"][0] = 1e-7  # ε = float(1e-12) in the squared norms decides these two rows
    d["input2"][1] = 0.0
    check(
        "cosine-embedding",
        [f"margin={margin}"],
        d,
        lambda lv, r: F.cosine_embedding_loss(
            lv["input1"], lv["input2"], const(d["target"]), margin=margin, reduction=r
        ),
        grads=("input1", "input2"),
    )
    one = {"input1": d["input1"][2], "input2": d["input2"][2], "target": d["target"][2:3]}
    check(
        "cosine-embedding",
        [f"margin={margin}"],
        one,
        lambda lv, r: F.cosine_embedding_loss(
            lv["input1"], lv["input2"], const(one["target"][0]), margin=margin, reduction=r
        ).reshape(-1 if r == "none" else ()),
        grads=("input1", "input2"),
    )


def test_cosine_embedding_epsilon_is_torchs_float():
    """ATen's Loss.cpp: constexpr float EPSILON = 1e-12, i.e. 9.999999960041972e-13 in double:
    a zero input2 gives cos = 0 exactly and a tiny input1 shows the value of ε."""
    assert TORCH_LOSS_EPSILON == float(np.float32(1e-12)) != 1e-12
    a, b = np.full(4, 1e-7), np.array([1.0, 2.0, 0.5, -1.0])
    ref = F.cosine_embedding_loss(const(a[None]), const(b[None]), const(np.array([1.0])))
    ours = run("cosine-embedding", [], {"input1": a[None], "input2": b[None], "target": np.array([1.0])}).value
    assert ours == ref.item()
    with_double_eps = 1 - a @ b / np.sqrt((a @ a + 1e-12) * (b @ b + 1e-12))
    assert ours != with_double_eps


# ----------------------------------------------------------------------------- CLI


NEW = ["categorical-hinge", "soft-margin", "hinge-embedding", "multilabel-margin", "margin-ranking", "cosine-embedding"]


@pytest.mark.parametrize("loss", ["multi-margin", "hinge", *NEW])
def test_bundled_example_runs(cli, loss):
    r = cli("compute", loss, "-f", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    spec = losses.get(loss)
    files = spec.teaching.example.paths()
    inputs = {inp.name: np.loadtxt(f, delimiter=",", skiprows=1) for inp, f in zip(spec.inputs, files)}
    assert out["value"] == pytest.approx(run(loss, [], inputs).value, rel=1e-15)
    g = cli("grad", loss, "--explain")
    assert g.exit_code == 0, g.stderr
    assert "they agree" in g.stdout


def test_hinge_reports_the_labels_it_read(cli, write):
    p = write("p.csv", "p\n0.3\n-1\n2\n")
    t = write("t.csv", "y\n2\n5\n5\n")
    r = cli("compute", "hinge", p, t, "-f", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["extras"] == {"negative_label": 2.0, "positive_label": 5.0}
    assert out["value"] == pytest.approx(skm.hinge_loss([2, 5, 5], [0.3, -1, 2]), rel=1e-15)
    table = cli("compute", "hinge", p, t)
    assert "negative_label" in table.stdout and "positive_label" in table.stdout


def test_multi_margin_unbatched_from_files(cli, write):
    """One column of C scores and one target value: one sample, as torch reads a (C,) input."""
    p = write("scores.csv", "s\n0.2\n1.5\n-0.3\n0.9\n")
    t = write("target.csv", "y\n1\n")
    r = cli("compute", "multi-margin", p, t, "-p", "p=2", "-p", "margin=0.8", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    ref = F.multi_margin_loss(const(np.array([0.2, 1.5, -0.3, 0.9])), torch.tensor(1), p=2, margin=0.8)
    assert float(r.stdout) == pytest.approx(ref.item(), rel=1e-15)


def one_error_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and r.stdout == "", r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def test_bad_inputs_are_refused_naming_the_file(cli, write):
    scores = write("scores.csv", "a,b,c\n0.1,0.2,0.3\n0.5,-1,2\n")
    line = one_error_line(cli("compute", "multi-margin", scores, write("cls.csv", "y\n0\n3\n")))
    assert "cls.csv" in line and "data row 2" in line and "class index in [0, 2]" in line
    line = one_error_line(cli("compute", "multi-margin", scores, write("c.csv", "y\n0\n1\n"), "-p", "weight=1,2"))
    assert "weight has 2 values but preds have 3 classes" in line
    p = write("p.csv", "p\n0.3\n-1\n2\n")
    line = one_error_line(cli("compute", "hinge", p, write("three.csv", "y\n2\n5\n1\n")))
    assert "three.csv" in line and "data row 3" in line and "-1 or 1" in line and "multi-margin" in line
    line = one_error_line(cli("compute", "hinge", p, write("single.csv", "y\n5\n5\n5\n")))
    assert "single.csv" in line and "no sign" in line
    line = one_error_line(cli("compute", "categorical-hinge", scores, write("oh.csv", "a,b,c\n1,0,0\n0,2,0\n")))
    assert "oh.csv" in line and "data row 2, column 2" in line and "[0, 1]" in line
    line = one_error_line(cli("compute", "multilabel-margin", scores, write("ml.csv", "a,b,c\n0,-1,-1\n-2,1,-1\n")))
    assert "ml.csv" in line and "data row 2, column 1" in line and "or -1" in line
    x = write("x.csv", "a,b\n1,2\n3,4\n")
    line = one_error_line(cli("compute", "cosine-embedding", x, x, write("y.csv", "y\n1\n0\n")))
    assert "y.csv" in line and "data row 2" in line and "1 (similar) or -1 (dissimilar)" in line
    line = one_error_line(cli("compute", "margin-ranking", p, write("q.csv", "q\n1\n2\n"), p))
    assert "q.csv" in line and "same shape" in line
