"""Generative, sequence and metric losses against independent references.

References: torch.nn.functional (BCE-with-logits, ctc_loss, cross_entropy,
triplet_margin_loss, logsigmoid, mse/l1/bce), scikit-learn's rbf_kernel and scipy's pdist
for MMD, the worked MMD values of docs/loss-conventions, and formulas by hand.  Values on
both backends, gradients from the torch backend; bad inputs raise a one-line InputError.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.spatial.distance
import torch
import torch.nn.functional as F
from sklearn.metrics.pairwise import rbf_kernel

from losscli import losses
from losscli.core import evaluate
from losscli.errors import InputError
from losscli.io import readers
from losscli.params import parse_params
from tests.cases_seqgen import FAMILY_CASES, log_softmax

RTOL = 1e-12
ATOL = 1e-14
GRAD_RTOL = 1e-10
GRAD_ATOL = 1e-13
BACKENDS = ("numpy", "torch")
DATA = Path(__file__).resolve().parent.parent / "losscli" / "data"
WORST: dict[str, list[float]] = {}  # loss -> [largest relative difference of value, of gradient]


def run(name: str, params: list[str], inputs: dict[str, np.ndarray], backend: str = "numpy", **kw):
    spec = losses.get(name)
    return evaluate(spec, inputs, parse_params(spec, params), backend=backend, **kw)


def t(a, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def cases(name: str):
    return pytest.mark.parametrize("case", FAMILY_CASES[name], ids=lambda c: c[0])


def check(name: str, params: list[str], inputs: dict[str, np.ndarray], ref_fn, reductions=("mean", "sum")):
    """Value on both backends for each reduction and gradients of every differentiable input
    against ``ref_fn(tensors, reduction)``; returns the largest relative differences seen."""
    spec = losses.get(name)
    worst = [0.0, 0.0]
    for reduction in reductions:
        tensors = {k: t(v, grad=any(i.name == k and i.differentiable for i in spec.inputs)) for k, v in inputs.items()}
        ref = ref_fn(tensors, reduction)
        ref.sum().backward()
        for backend in BACKENDS:
            ev = run(name, params, inputs, backend, reduction=reduction)
            np.testing.assert_allclose(ev.value, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
            worst[0] = max(worst[0], _rel(ev.value, ref.detach().numpy()))
        for k, g in ev.gradients.items():
            np.testing.assert_allclose(g, tensors[k].grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)
            worst[1] = max(worst[1], _rel(g, tensors[k].grad.numpy()))
    seen = WORST.setdefault(name, [0.0, 0.0])
    WORST[name] = [max(seen[0], worst[0]), max(seen[1], worst[1])]
    return worst


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(b), 1e-300)
    with np.errstate(invalid="ignore"):
        r = np.where(a == b, 0.0, np.abs(a - b) / scale)
    return float(np.max(r)) if r.size else 0.0


def refuses(name: str, params: list[str], inputs: dict[str, np.ndarray], match: str, sources=None) -> str:
    with pytest.raises(InputError, match=match) as info:
        run(name, params, inputs, sources=sources)
    message = str(info.value)
    assert "\n" not in message
    return message


def reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    return x.mean() if reduction == "mean" else x.sum() if reduction == "sum" else x


# ------------------------------------------------------------------------------- GAN


@cases("gan-discriminator")
def test_gan_discriminator_against_bce_with_logits(case):
    d = case[2](np.random.default_rng(20))

    def ref(x, reduction):
        real = F.binary_cross_entropy_with_logits(x["real"], torch.ones_like(x["real"]), reduction=reduction)
        fake = F.binary_cross_entropy_with_logits(x["fake"], torch.zeros_like(x["fake"]), reduction=reduction)
        return torch.cat([real, fake]) if reduction == "none" else real + fake

    check("gan-discriminator", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_gan_discriminator_mean_is_sum_of_two_means_when_lengths_differ():
    d = {"real": np.array([2.0, -1.0]), "fake": np.array([0.5, -3.0, 1.0, 0.0, -0.5])}
    sp = lambda x: np.logaddexp(0.0, x)  # noqa: E731
    expected = sp(-d["real"]).mean() + sp(d["fake"]).mean()
    for backend in BACKENDS:
        ev = run("gan-discriminator", [], d, backend)
        assert ev.value == pytest.approx(expected, rel=RTOL)
        assert ev.n == 7
        none = run("gan-discriminator", [], d, backend, reduction="none").value
        np.testing.assert_allclose(none, np.r_[sp(-d["real"]), sp(d["fake"])], rtol=RTOL)
    g = run("gan-discriminator", [], d, "torch").gradients
    np.testing.assert_allclose(g["real"], -1 / (1 + np.exp(d["real"])) / 2, rtol=1e-13)
    np.testing.assert_allclose(g["fake"], 1 / (1 + np.exp(-d["fake"])) / 5, rtol=1e-13)


@cases("gan-generator")
def test_gan_generator_against_bce_with_logits(case):
    d = case[2](np.random.default_rng(21))
    minimax = "mode=minimax" in case[1]

    def ref(x, reduction):
        f = x["fake"]
        if minimax:  # log(1 - D(G(z))) = -BCE(fake, 0)
            return -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f), reduction=reduction)
        return F.binary_cross_entropy_with_logits(f, torch.ones_like(f), reduction=reduction)

    check("gan-generator", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_gan_generator_minimax_saturates_and_is_stable():
    d = {"fake": np.array([-40.0, -800.0, 800.0])}
    ev = run("gan-generator", ["mode=minimax"], d, "torch")
    assert np.isfinite(ev.value)
    assert ev.value == pytest.approx(-800.0 / 3, rel=1e-12)
    g = ev.gradients["fake"]
    assert abs(g[0]) < 1e-17 and g[1] == 0.0  # σ(D) → 0: the saturating form's gradient vanishes
    ns = run("gan-generator", [], d, "torch")
    assert ns.gradients["fake"][1] == pytest.approx(-1 / 3, rel=1e-12)  # non-saturating keeps it


@cases("wasserstein-critic")
def test_wasserstein_critic_by_formula(case):
    d = case[2](np.random.default_rng(22))

    def ref(x, reduction):
        if reduction == "none":
            return torch.cat([-x["real"], x["fake"]])
        return reduce(x["fake"], reduction) - reduce(x["real"], reduction)

    check("wasserstein-critic", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_wasserstein_generator_by_formula():
    d = FAMILY_CASES["wasserstein-generator"][0][2](np.random.default_rng(23))
    check("wasserstein-generator", [], d, lambda x, r: -reduce(x["fake"], r), reductions=("mean", "sum", "none"))


# --------------------------------------------------------------------- reconstruction


@cases("reconstruction")
def test_reconstruction_against_torch(case):
    d = case[2](np.random.default_rng(24))
    p = parse_params(losses.get("reconstruction"), case[1])
    per = {"mse": F.mse_loss, "mae": F.l1_loss, "bce": F.binary_cross_entropy}[p["kind"]]

    def ref(x, reduction):
        preds = x["preds"].reshape(x["preds"].shape[0], -1)
        targets = x["targets"].reshape(preds.shape)
        n, dim = preds.shape
        if reduction == "none":
            rows = per(preds, targets, reduction="none").sum(dim=1)
            return rows / dim if p["feature_reduction"] == "mean" else rows
        total = per(preds, targets, reduction="sum")
        if p["feature_reduction"] == "mean":
            total = total / dim
        return total / n if reduction == "mean" else total

    check("reconstruction", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_reconstruction_mean_features_is_torch_default_mean():
    d = FAMILY_CASES["reconstruction"][0][2](np.random.default_rng(25))
    ev = run("reconstruction", ["feature_reduction=mean"], d)
    assert ev.value == pytest.approx(F.mse_loss(t(d["preds"]), t(d["targets"])).item(), rel=RTOL)


def test_reconstruction_bce_clamps_log_at_minus_100():
    d = {"preds": np.array([[0.0, 1.0], [0.5, 0.25]]), "targets": np.array([[1.0, 0.0], [1.0, 0.0]])}
    x = t(d["preds"], grad=True)
    ref = F.binary_cross_entropy(x, t(d["targets"]), reduction="sum") / 2
    ref.backward()
    for backend in BACKENDS:
        ev = run("reconstruction", ["kind=bce"], d, backend)
        assert ev.value == pytest.approx(ref.item(), rel=RTOL)
        assert ev.value == pytest.approx((200 + np.log(2) - np.log(0.75)) / 2, rel=RTOL)
    g = run("reconstruction", ["kind=bce"], d, "torch").gradients["preds"]
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[1], x.grad.numpy()[1], rtol=1e-13)


# ------------------------------------------------------------------------------- MMD

WORKED_X = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=float)
WORKED_Y = np.array([[7, 6, 5], [4, 3, 2], [1, 1, 8], [0, 2, 5]], dtype=float)


@pytest.mark.parametrize("estimator, expected", [("biased", 0.582207), ("unbiased", -0.001126)])
def test_mmd_worked_values(estimator, expected):
    for backend in BACKENDS:
        ev = run("mmd", ["gamma=1", f"estimator={estimator}"], {"x": WORKED_X, "y": WORKED_Y}, backend)
        assert ev.value == pytest.approx(expected, abs=5e-7)


def sklearn_mmd(x: np.ndarray, y: np.ndarray, gamma: float, estimator: str) -> float:
    kxx, kyy, kxy = rbf_kernel(x, x, gamma=gamma), rbf_kernel(y, y, gamma=gamma), rbf_kernel(x, y, gamma=gamma)
    n, m = len(x), len(y)
    if estimator == "unbiased":
        return (
            (kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        )
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def torch_mmd(x: torch.Tensor, y: torch.Tensor, gamma: float, estimator: str) -> torch.Tensor:
    """An independent torch formulation (Gram-matrix distances), for gradients."""

    def k(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return torch.exp(-gamma * d2)

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = x.shape[0], y.shape[0]
    if estimator == "unbiased":
        return (
            (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
            + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


@cases("mmd")
def test_mmd_against_sklearn_rbf_kernel_and_torch_gradients(case):
    d = case[2](np.random.default_rng(26))
    p = parse_params(losses.get("mmd"), case[1])
    x2, y2 = d["x"].reshape(len(d["x"]), -1), d["y"].reshape(len(d["y"]), -1)
    expected = sklearn_mmd(x2, y2, p["gamma"], p["estimator"])
    for backend in BACKENDS:
        for reduction in ("mean", "sum"):
            assert run("mmd", case[1], d, backend, reduction=reduction).value == pytest.approx(expected, rel=1e-12)
    none = run("mmd", case[1], d, reduction="none").value
    assert none.shape == (3,) and none.sum() == pytest.approx(expected, rel=1e-12)
    x, y = t(x2, grad=True), t(y2, grad=True)
    torch_mmd(x, y, p["gamma"], p["estimator"]).backward()
    g = run("mmd", case[1], d, "torch").gradients
    np.testing.assert_allclose(g["x"].reshape(x2.shape), x.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g["y"].reshape(y2.shape), y.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_mmd_median_heuristic_excludes_the_diagonal_and_is_reported():
    d = FAMILY_CASES["mmd"][0][2](np.random.default_rng(27))
    pooled = np.concatenate([d["x"], d["y"]])
    gamma = 1.0 / np.median(scipy.spatial.distance.pdist(pooled, "sqeuclidean"))
    for backend in BACKENDS:
        ev = run("mmd", [], d, backend)
        assert ev.params["gamma"] == pytest.approx(gamma, rel=1e-14)
        assert ev.value == pytest.approx(sklearn_mmd(d["x"], d["y"], gamma, "biased"), rel=1e-12)
    assert run("mmd", ["gamma=none"], d).params["gamma"] == pytest.approx(gamma, rel=1e-14)
    # the worked example: pooled median squared distance 27
    assert run("mmd", [], {"x": WORKED_X, "y": WORKED_Y}).params["gamma"] == pytest.approx(1 / 27, rel=1e-15)


def test_mmd_identical_samples_and_bad_inputs():
    x = np.random.default_rng(28).normal(size=(4, 2))
    assert run("mmd", ["gamma=0.7"], {"x": x, "y": x}).value == pytest.approx(0.0, abs=1e-15)
    refuses(
        "mmd", ["gamma=1"], {"x": x, "y": np.ones((3, 3))}, "same dimension d", sources={"x": "x.csv", "y": "y.csv"}
    )
    refuses("mmd", ["gamma=1", "estimator=unbiased"], {"x": x, "y": np.ones((1, 2))}, "at least 2 points")
    refuses("mmd", [], {"x": np.zeros((3, 2)), "y": np.zeros((2, 2))}, "median heuristic")


# ------------------------------------------------------------------------------- CTC


def ctc_torch_args(d: dict[str, np.ndarray], p: dict, lp: torch.Tensor):
    """torch.nn.functional.ctc_loss arguments for a losscli ctc input (explicit lengths)."""
    if lp.dim() == 2:
        lp = lp[:, None, :]
    t_max, n, _ = lp.shape
    il = d["input_lengths"].astype(int) if "input_lengths" in d else np.full(n, t_max)
    if d["targets"].ndim == 1 and n > 1:  # torch's concatenated 1-D targets, passed as they are
        return (
            lp,
            torch.from_numpy(d["targets"].astype(np.int64)),
            torch.from_numpy(np.asarray(il, dtype=np.int64)),
            torch.from_numpy(d["target_lengths"].astype(np.int64)),
        )
    tg = np.asarray(d["targets"], dtype=float).reshape(n, -1)
    if "target_lengths" in d:
        tl = d["target_lengths"].astype(int)
    else:
        pad = (tg < 0) | (tg == p["blank"])
        tl = (~pad).sum(axis=1)
    labels = np.where(np.arange(tg.shape[1])[None, :] < tl[:, None], tg, p["blank"]).astype(np.int64)
    return (
        lp,
        torch.from_numpy(labels),
        torch.from_numpy(np.asarray(il, dtype=np.int64)),
        torch.from_numpy(np.asarray(tl, dtype=np.int64)),
    )


def ctc_reference(d, params, reduction):
    p = parse_params(losses.get("ctc"), params)
    x = t(d["log_probs"], grad=True)
    lp = F.log_softmax(x, dim=-1) if p["from_logits"] else x
    lp, tg, il, tl = ctc_torch_args(d, p, lp)
    out = F.ctc_loss(lp, tg, il, tl, blank=p["blank"], reduction=reduction, zero_infinity=p["zero_infinity"])
    return x, out, il


@cases("ctc")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_value_against_torch(case, reduction):
    d = case[2](np.random.default_rng(30))
    _, ref, _ = ctc_reference(d, case[1], reduction)
    for backend in BACKENDS:
        ev = run("ctc", case[1], d, backend, reduction=reduction)
        np.testing.assert_allclose(ev.value, ref.detach().numpy(), rtol=RTOL, atol=ATOL)


@cases("ctc")
def test_ctc_gradient_against_torch(case):
    """torch's ctc_loss backward w.r.t. log_probs is exp(log_probs) - occupancy (the gradient
    w.r.t. logits under a log_softmax); the true gradient, losscli's, is -occupancy.  They
    agree exactly through log_softmax (from_logits=true) and differ by exp(log_probs) on
    the frames each sequence uses otherwise."""
    d = case[2](np.random.default_rng(31))
    x, ref, il = ctc_reference(d, case[1], "mean")
    ref.backward()
    ev = run("ctc", case[1], d, "torch")
    ours = ev.gradients["log_probs"]
    if "from_logits=true" in case[1]:
        np.testing.assert_allclose(ours, x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)
        return
    lp = d["log_probs"] if d["log_probs"].ndim == 3 else d["log_probs"][:, None, :]
    used = np.arange(lp.shape[0])[:, None] < il.numpy()[None, :]  # (T, N)
    p = parse_params(losses.get("ctc"), case[1])
    _, tg, il_t, tl = ctc_torch_args(d, p, t(lp))
    weight = 1.0 / np.maximum(tl.numpy(), 1) / lp.shape[1]  # d(mean)/d(loss_n)
    if p["zero_infinity"]:
        per = F.ctc_loss(t(lp), tg, il_t, tl, blank=p["blank"], reduction="none").detach().numpy()
        weight = np.where(np.isinf(per), 0.0, weight)
    shift = np.exp(lp) * used[:, :, None] * weight[None, :, None]
    np.testing.assert_allclose(
        ours.reshape(lp.shape) + shift, x.grad.numpy().reshape(lp.shape), rtol=GRAD_RTOL, atol=GRAD_ATOL
    )


def test_ctc_through_log_softmax_matches_torch_on_a_larger_batch():
    rng = np.random.default_rng(32)
    t_max, n, c = 30, 4, 6
    z = rng.normal(0, 2, size=(t_max, n, c))
    lengths = np.array([8, 5, 0, 11])
    tg = np.full((n, 11), -1.0)
    for i, s in enumerate(lengths):
        tg[i, :s] = rng.integers(1, c, size=s)
    tg[3, 3] = tg[3, 2]  # a repeat
    d = {"log_probs": z, "targets": tg, "input_lengths": np.array([30.0, 17.0, 9.0, 26.0])}
    worst = [0.0, 0.0]
    for reduction in ("mean", "sum", "none"):
        x, ref, _ = ctc_reference(d, ["from_logits=true"], reduction)
        ref.sum().backward()
        for backend in BACKENDS:
            ev = run("ctc", ["from_logits=true"], d, backend, reduction=reduction)
            np.testing.assert_allclose(ev.value, ref.detach().numpy(), rtol=RTOL)
            worst[0] = max(worst[0], _rel(ev.value, ref.detach().numpy()))
        np.testing.assert_allclose(ev.gradients["log_probs"], x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)
        worst[1] = max(worst[1], _rel(ev.gradients["log_probs"], x.grad.numpy()))
    assert worst[0] < 1e-12 and worst[1] < 1e-10


def test_ctc_single_sequence_equals_batch_of_one():
    d = FAMILY_CASES["ctc"][0][2](np.random.default_rng(33))
    batch = {"log_probs": d["log_probs"][:, None, :], "targets": d["targets"][None, :]}
    assert run("ctc", [], d).value == run("ctc", [], batch).value
    # mean divides by the target length (3), sum does not
    assert run("ctc", [], d, reduction="sum").value == pytest.approx(3 * run("ctc", [], d).value, rel=1e-15)


def test_ctc_impossible_alignment_is_inf_as_torch_and_zero_infinity_gives_zero_gradient():
    rng = np.random.default_rng(34)
    lp = log_softmax(rng.normal(size=(4, 2, 3)))
    d = {"log_probs": lp, "targets": np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 0.0]])}  # 1,1,1 needs 5 frames
    ref = F.ctc_loss(
        t(lp), torch.tensor([[1, 1, 1], [2, 1, 0]]), torch.tensor([4, 4]), torch.tensor([3, 2]), reduction="none"
    )
    assert torch.isinf(ref[0])
    for backend in BACKENDS:
        ev = run("ctc", [], d, backend, reduction="none")
        assert np.isinf(ev.value[0]) and ev.value[1] == pytest.approx(ref[1].item(), rel=RTOL)
        assert np.isinf(run("ctc", [], d, backend).value)
    ev = run("ctc", [], d, "torch")
    assert not np.any(np.isnan(ev.gradients["log_probs"]))
    zi = run("ctc", ["zero_infinity=true"], d, "torch")
    x = t(lp, grad=True)
    ref = F.ctc_loss(
        x, torch.tensor([[1, 1, 1], [2, 1, 0]]), torch.tensor([4, 4]), torch.tensor([3, 2]), zero_infinity=True
    )
    ref.backward()
    assert zi.value == pytest.approx(ref.item(), rel=RTOL)
    g = zi.gradients["log_probs"]
    assert np.all(np.isfinite(g))
    assert np.all(g[:, 0, :] == 0.0) and np.all(x.grad.numpy()[:, 0, :] == 0.0)


def test_ctc_minus_inf_log_probs_give_torch_value_and_no_nan_gradient():
    z = np.random.default_rng(38).normal(size=(6, 4))
    z[2, 3] = z[0, 1] = -np.inf  # classes with probability exactly 0 at some frames
    lp = log_softmax(z)
    d = {"log_probs": lp, "targets": np.array([1.0, 3.0])}
    ref = F.ctc_loss(t(lp)[:, None, :], torch.tensor([[1, 3]]), torch.tensor([6]), torch.tensor([2]))
    for backend in BACKENDS:
        assert run("ctc", [], d, backend).value == pytest.approx(ref.item(), rel=RTOL)
    g = run("ctc", [], d, "torch").gradients["log_probs"]
    assert not np.any(np.isnan(g)) and g[2, 3] == 0.0


def test_ctc_zero_infinity_accepts_a_target_longer_than_its_input():
    rng = np.random.default_rng(35)
    lp = log_softmax(rng.normal(size=(5, 2, 4)))
    d = {
        "log_probs": lp,
        "targets": np.array([[1.0, 2.0, 3.0, 1.0], [3.0, 2.0, 0.0, 0.0]]),
        "input_lengths": np.array([3.0, 5.0]),
    }
    ref = F.ctc_loss(
        t(lp),
        torch.tensor([[1, 2, 3, 1], [3, 2, 0, 0]]),
        torch.tensor([3, 5]),
        torch.tensor([4, 2]),
        reduction="none",
        zero_infinity=True,
    )
    for backend in BACKENDS:
        np.testing.assert_allclose(
            run("ctc", ["zero_infinity=true"], d, backend, reduction="none").value, ref.numpy(), rtol=RTOL
        )
    assert np.all(np.isfinite(run("ctc", ["zero_infinity=true"], d, "torch").gradients["log_probs"]))


def test_ctc_float32_is_close_and_blank_can_be_any_class():
    d = FAMILY_CASES["ctc"][1][2](np.random.default_rng(36))
    f32 = run("ctc", [], d, "torch", dtype="float32")
    assert f32.value == pytest.approx(run("ctc", [], d).value, rel=1e-5)
    # relabel: move the blank from class 0 to class 4 by permuting the columns
    lp = d["log_probs"][..., [1, 2, 3, 4, 0]]
    tg = np.where(np.arange(4)[None, :] < d["target_lengths"][:, None], d["targets"] - 1, 0.0)
    moved = {**d, "log_probs": lp, "targets": tg}
    assert run("ctc", ["blank=4"], moved).value == pytest.approx(run("ctc", [], d).value, rel=1e-14)


CTC_LP = log_softmax(np.random.default_rng(37).normal(size=(5, 2, 4)))


@pytest.mark.parametrize(
    "inputs, params, match",
    [
        (
            {"targets": np.array([[1.0, 2.0, 3.0, 1.0, 2.0, 3.0], [1.0, -1, -1, -1, -1, -1]])},
            [],
            r"target length 6 exceeds input length 5.*zero_infinity",
        ),
        (
            {"targets": np.array([[1.0, 4.0], [2.0, 1.0]])},
            [],
            r"data row 1, column 2: targets must be a label index in \[0, 3\]",
        ),
        ({"targets": np.array([[1.0, 1.5], [2.0, 1.0]])}, [], "whole label indices"),
        (
            {"targets": np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0]])},
            [],
            r"data row 1, column 3: targets has label 2 after padding",
        ),
        (
            {"targets": np.array([[1.0, 2.0], [2.0, 3.0]]), "target_lengths": np.array([2.0, 2.0])},
            ["blank=2"],
            r"a label other than the blank \(2\)",
        ),
        ({"targets": np.array([1.0, 2.0, 1.0])}, [], "targets must be 2 x S .* concatenated .* with target_lengths"),
        ({"targets": np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0]])}, [], "targets has 3 rows but log_probs holds 2"),
        (
            {"targets": np.array([[1.0], [2.0]]), "input_lengths": np.array([5.0, 6.0])},
            [],
            r"input_lengths must be in \[0, 5\]",
        ),
        (
            {"targets": np.array([1.0, 2.0, 3.0]), "target_lengths": np.array([1.0, 1.0])},
            [],
            r"target_lengths add up to 2 but targets holds 3 labels",
        ),
        (
            {"targets": np.array([1.0, 2.0, 4.0]), "target_lengths": np.array([1.0, 2.0])},
            [],
            r"data row 3: targets must be a label index in \[0, 3\]",
        ),
        ({"targets": np.array([[1.0], [2.0]]), "target_lengths": np.array([1.0])}, [], "target_lengths has 1 value"),
        ({"targets": np.array([[1.0], [2.0]])}, ["blank=4"], "blank = 4 is not a class"),
        ({"log_probs": -CTC_LP, "targets": np.array([[1.0], [2.0]])}, [], "from_logits=true"),
        ({"log_probs": CTC_LP[0], "targets": np.array([[1.0], [2.0]])}, [], "targets has 2 rows but log_probs holds 1"),
        ({"log_probs": np.zeros((5, 2, 4, 1)), "targets": np.array([[1.0], [2.0]])}, [], "T x N x C"),
    ],
)
def test_ctc_bad_inputs(inputs, params, match):
    d = {"log_probs": CTC_LP, **inputs}
    message = refuses("ctc", params, d, match, sources={k: "batch.json" for k in d})
    if params == ["blank=4"]:  # a parameter out of range: no data file to name
        assert "batch.json" not in message
    else:
        assert message.startswith("batch.json: ")


# --------------------------------------------------------------------------- seq2seq


@cases("seq2seq")
def test_seq2seq_against_torch_cross_entropy(case):
    d = case[2](np.random.default_rng(40))
    p = parse_params(losses.get("seq2seq"), case[1])
    tg = torch.from_numpy(d["targets"].reshape(-1).astype(np.int64))
    keep = tg != p["ignore_index"]

    def ref(x, reduction):
        z = x["preds"].reshape(-1, x["preds"].shape[-1])
        out = F.cross_entropy(
            z, tg, ignore_index=p["ignore_index"], label_smoothing=p["label_smoothing"], reduction=reduction
        )
        return out[keep] if reduction == "none" else out

    check("seq2seq", case[1], d, ref, reductions=("mean", "sum", "none"))
    ev = run("seq2seq", case[1], d)
    assert ev.extras["tokens"] == int(keep.sum()) == ev.n
    assert ev.extras["perplexity"] == pytest.approx(np.exp(ev.value), rel=1e-15)
    assert run("seq2seq", case[1], d, reduction="sum").extras == pytest.approx(ev.extras, rel=1e-14)


def test_seq2seq_reuses_cross_entropy_on_flattened_tokens():
    d = FAMILY_CASES["seq2seq"][0][2](np.random.default_rng(41))
    flat = {"preds": d["preds"].reshape(-1, d["preds"].shape[-1]), "targets": d["targets"].reshape(-1)}
    assert run("seq2seq", [], d).value == pytest.approx(run("cross-entropy", [], flat).value, rel=1e-15)
    g = run("seq2seq", [], d, "torch").gradients["preds"]
    assert g.shape == d["preds"].shape
    assert np.all(g[d["targets"] == -100] == 0.0)


@pytest.mark.parametrize(
    "inputs, match",
    [
        ({"targets": np.full((2, 3), -100.0)}, "every target token equals ignore_index -100"),
        (
            {"targets": np.array([[1.0, 2.0, 5.0], [0.0, 1.0, -100.0]])},
            r"data row 1, column 3: targets must be a token id in \[0, 3\]",
        ),
        ({"targets": np.array([[1.0, 2.0], [0.0, 1.0]])}, "targets has shape 2 x 2 but preds has shape 2 x 3 x 4"),
        ({"targets": np.array([[1.0, 2.5, 1.0], [0.0, 1.0, 1.0]])}, "whole token ids"),
        ({"preds": np.zeros((2, 3, 1)), "targets": np.zeros((2, 3))}, "at least 2"),
    ],
)
def test_seq2seq_bad_inputs(inputs, match):
    d = {"preds": np.zeros((2, 3, 4)), **inputs}
    refuses("seq2seq", [], d, match, sources={"preds": "batch.json", "targets": "batch.json"})


# ----------------------------------------------------------------------------- metric


@cases("contrastive")
def test_contrastive_by_formula(case):
    d = case[2](np.random.default_rng(50))
    margin = parse_params(losses.get("contrastive"), case[1])["margin"]

    def ref(x, reduction):
        dist = torch.linalg.vector_norm(x["x1"] - x["x2"], dim=1)
        y = x["label"]
        per = 0.5 * (y * dist**2 + (1 - y) * torch.clamp(margin - dist, min=0) ** 2)
        return reduce(per, reduction)

    check("contrastive", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_contrastive_identical_pairs_have_finite_gradients():
    x = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
    d = {"x1": x, "x2": x.copy(), "label": np.array([1.0, 0.0, 0.0])}
    ev = run("contrastive", [], d, "torch")
    assert ev.value == pytest.approx(1.0 / 3, rel=RTOL)  # two dissimilar pairs at D = 0 cost m²/2 each
    for g in ev.gradients.values():
        assert np.all(np.isfinite(g)) and np.all(g == 0.0)


def test_contrastive_bad_inputs():
    x = np.zeros((3, 2))
    refuses(
        "contrastive",
        [],
        {"x1": x, "x2": x + 1, "label": np.array([1.0, 2.0, 0.0])},
        r"data row 2: label must be 1 \(similar\) or 0 \(dissimilar\)",
        sources={"label": "pairs.json"},
    )
    refuses("contrastive", [], {"x1": x, "x2": np.zeros((3, 3)), "label": np.ones(3)}, "same width")
    refuses("contrastive", [], {"x1": x, "x2": x, "label": np.ones(2)}, "one label per pair")


@cases("triplet")
def test_triplet_against_torch(case):
    d = case[2](np.random.default_rng(51))
    p = parse_params(losses.get("triplet"), case[1])

    def ref(x, reduction):
        return F.triplet_margin_loss(
            x["anchor"],
            x["positive"],
            x["negative"],
            margin=p["margin"],
            p=p["p"],
            eps=p["eps"],
            swap=p["swap"],
            reduction=reduction,
        )

    check("triplet", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_triplet_default_is_torch_module_default_with_eps_inside_the_norm():
    rng = np.random.default_rng(52)
    d = {"anchor": rng.normal(size=(5, 3)), "positive": rng.normal(size=(5, 3)), "negative": rng.normal(size=(5, 3))}
    ref = torch.nn.TripletMarginLoss()(*(t(d[k]) for k in ("anchor", "positive", "negative"))).item()
    assert run("triplet", [], d).value == pytest.approx(ref, rel=RTOL)
    by_hand = np.mean(
        np.maximum(
            np.linalg.norm(d["anchor"] - d["positive"] + 1e-6, axis=1)
            - np.linalg.norm(d["anchor"] - d["negative"] + 1e-6, axis=1)
            + 1.0,
            0,
        )
    )
    assert run("triplet", [], d).value == pytest.approx(by_hand, rel=1e-13)


def test_triplet_bad_inputs():
    a = np.zeros((4, 3))
    refuses(
        "triplet",
        [],
        {"anchor": a, "positive": a, "negative": np.zeros((3, 3))},
        "anchor has 4 rows .* but negative has 3",
        sources={"anchor": "a.csv", "negative": "n.csv"},
    )
    refuses("triplet", [], {"anchor": a, "positive": np.zeros((4, 2)), "negative": a}, "same width")


@cases("bpr")
def test_bpr_against_torch_logsigmoid(case):
    d = case[2](np.random.default_rng(53))

    def ref(x, reduction):
        pos = x["pos"][:, None] if x["neg"].dim() == 2 else x["pos"]
        return reduce(-F.logsigmoid(pos - x["neg"]), reduction)

    check("bpr", case[1], d, ref, reductions=("mean", "sum", "none"))


def test_bpr_is_stable_for_large_score_gaps():
    d = {"pos": np.array([-400.0, 400.0]), "neg": np.array([400.0, -400.0])}
    for backend in BACKENDS:
        assert run("bpr", [], d, backend).value == pytest.approx(400.0, rel=1e-15)
    g = run("bpr", [], d, "torch").gradients
    np.testing.assert_allclose(g["pos"], [-0.5, 0.0])
    refuses("bpr", [], {"pos": np.zeros(3), "neg": np.zeros(4)}, "neg must match pos")


# ----------------------------------------------------------------------- sample data


FAMILIES = {
    "generative": {
        "gan-discriminator",
        "gan-generator",
        "wasserstein-critic",
        "wasserstein-generator",
        "reconstruction",
        "mmd",
    },
    "sequence": {"ctc", "seq2seq"},
    "metric": {"contrastive", "triplet", "bpr"},
}


def test_metadata_for_every_new_loss():
    assert set(FAMILY_CASES) == set().union(*FAMILIES.values())
    for name in FAMILY_CASES:
        spec = losses.get(name)
        assert name in FAMILIES[spec.family], (name, spec.family)
        for field in ("summary", "formula", "derivative", "convention", "differs", "when"):
            assert getattr(spec, field), f"{name}.{field} is empty"
        assert spec.fn.__doc__


SAMPLES = [
    ("gan-discriminator", ["gan_real_logits.csv", "gan_fake_logits.csv"]),
    ("gan-generator", ["gan_fake_logits.csv"]),
    ("wasserstein-critic", ["gan_real_logits.csv", "gan_fake_logits.csv"]),
    ("wasserstein-generator", ["gan_fake_logits.csv"]),
    ("ctc", ["ctc_batch.json"]),
    ("ctc", ["ctc_log_probs.csv", "ctc_targets.csv"]),
    ("seq2seq", ["seq2seq_batch.json"]),
    ("triplet", ["triplet_anchor.csv", "triplet_positive.csv", "triplet_negative.csv"]),
    ("contrastive", ["contrastive_pairs.json"]),
    ("bpr", ["bpr_scores.csv"]),
    ("mmd", ["mmd_x.csv", "mmd_y.csv"]),
]


@pytest.mark.parametrize("loss, files", SAMPLES, ids=lambda v: v if isinstance(v, str) else "+".join(v))
def test_sample_data_loads_and_evaluates(loss, files):
    spec = losses.get(loss)
    required = [i.name for i in spec.inputs if i.required]
    arrays = readers.load_inputs(spec.input_names, [str(DATA / f) for f in files], required=required)
    for backend in BACKENDS:
        ev = evaluate(spec, arrays, parse_params(spec, []), backend=backend)
        assert np.isfinite(ev.value)
    assert all(np.all(np.isfinite(g)) for g in ev.gradients.values())


def test_ctc_batch_json_has_the_four_keys():
    d = json.loads((DATA / "ctc_batch.json").read_text())
    assert set(d) == {"log_probs", "targets", "input_lengths", "target_lengths"}


def test_compute_path_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "from losscli import losses\n"
        "from losscli.core import evaluate\n"
        "from losscli.params import parse_params\n"
        "from tests.cases_seqgen import FAMILY_CASES\n"
        "for name, cs in FAMILY_CASES.items():\n"
        "    for cid, params, fac in cs:\n"
        "        s = losses.get(name)\n"
        "        evaluate(s, fac(np.random.default_rng(0)), parse_params(s, params))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
