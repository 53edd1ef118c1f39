"""Classification losses against their defining libraries (issue 11): cross-entropy's fixes
(negative class weights, every target ignored, Keras's normalised probabilities, torch's
K-dimensional and unbatched forms), nll, BCE's weight and label smoothing, the sigmoid focal loss
at extreme logits, categorical-focal, poly1, z-loss and multilabel-soft-margin.

torch is installed: its functions are the reference.  Keras and optax are not: their values come
from their own tests (keras/src/losses/losses_test.py) or from their source transcribed into torch
in a few lines, with the file and function named beside it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.composite import evaluate_expression
from losscli.errors import InputError
from losscli.expr import parse
from losscli.params import parse_params
from tests import test_explain, test_losses
from tests.cases import CASES
from tests.cases_classification import OWN_CASES
from tests.test_losses import run, t

RTOL = 1e-12
REDUCTIONS = ("mean", "sum", "none")


def cases_of(name):
    return [(name, cid, prm, fac) for cid, prm, fac in CASES.get(name, []) + OWN_CASES.get(name, [])]


def ids(case):
    return f"{case[0]}-{case[1]}"


def check_reference(loss, params, inputs, ref, *, rtol=RTOL, grad_rtol=1e-11):
    """Value (both backends) for every reduction, and the preds gradient for each, against
    ``ref(x, reduction)`` with x the preds as a leaf tensor."""
    for reduction in REDUCTIONS:
        x = t(inputs["preds"], grad=True)
        expected = ref(x, reduction)
        (expected if reduction != "none" else expected.sum()).backward()
        for backend in ("numpy", "torch"):
            ev = run(loss, params, inputs, backend, reduction=reduction)
            np.testing.assert_allclose(
                np.reshape(ev.value, -1), expected.detach().numpy().reshape(-1), rtol=rtol, atol=1e-14
            )
        np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=grad_rtol, atol=1e-15)


# ------------------------------------------------------------------ the registry-wide checks on OWN_CASES
# (cases the shared torch references of tests/test_losses.py cannot take; see tests/cases_classification.py)

OWN = [(name, cid, prm, fac) for name, cases in OWN_CASES.items() for cid, prm, fac in cases]


@pytest.mark.parametrize("case", OWN, ids=ids)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_own_cases_parity_and_chain(case, reduction):
    test_losses.test_backend_parity(case, reduction)
    test_explain.test_worked_element_equals_autograd(case, reduction)


@pytest.mark.parametrize("case", OWN, ids=ids)
def test_own_cases_gradient_and_float32(case):
    test_losses.test_gradient_matches_central_differences(case)
    test_losses.test_float32_close_to_float64(case)


# ------------------------------------------------------------------ cross-entropy


def torch_cross_entropy(d, p):
    """F.cross_entropy (logits) or F.nll_loss(log p) (probabilities, torch's convention for
    from_logits=false), every layout torch takes: an unbatched sample's target is a 0-d index."""
    tg = d["targets"]
    weight = None if p["weight"] is None else t(p["weight"])
    unbatched = d["preds"].ndim == 1
    if tg.ndim == d["preds"].ndim and not unbatched:
        target = t(tg)
    else:
        target = torch.tensor(tg.reshape(()) if unbatched else tg).long()

    def ref(x, reduction):
        if not p["from_logits"]:
            out = F.nll_loss(torch.log(x), target, weight=weight, ignore_index=p["ignore_index"], reduction=reduction)
        else:
            out = F.cross_entropy(
                x,
                target,
                weight=weight,
                ignore_index=p["ignore_index"],
                label_smoothing=p["label_smoothing"],
                reduction=reduction,
            )
        return out.reshape(1) if unbatched and reduction == "none" else out

    return ref


def keras_categorical_crossentropy(x, target_rows, label_smoothing):
    """keras/src/losses/losses.py categorical_crossentropy (label smoothing y (1 - ls) + ls / C),
    then keras/src/backend/*/nn.py categorical_crossentropy with from_logits=False:
    output = output / sum(output, axis=-1); clip(output, epsilon, 1 - epsilon); -sum(target log output)."""
    c = x.shape[-1]
    y = target_rows * (1.0 - label_smoothing) + label_smoothing / c
    out = x / x.sum(-1, keepdim=True)
    out = torch.clamp(out, 1e-7, 1.0 - 1e-7)
    return -(y * torch.log(out)).sum(-1)


@pytest.mark.parametrize("case", [c for c in cases_of("cross-entropy") if "normalize" not in c[1]], ids=ids)
def test_cross_entropy_matches_torch(case):
    """Every layout (N x C, K-dimensional, unbatched), weights (negative too), ignore_index and
    label smoothing, for mean, sum and none, value and gradient."""
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    check_reference(loss, params, inputs, torch_cross_entropy(inputs, p))


@pytest.mark.parametrize("case", [c for c in cases_of("cross-entropy") if "normalize" in c[1]], ids=ids)
def test_cross_entropy_normalize_matches_keras(case):
    """-p normalize=true against Keras's categorical_crossentropy transcribed (reduction
    sum_over_batch_size = mean over N; Keras has no class weights, so the weight w_c multiplies
    the transcription's terms as losscli documents)."""
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    rows = t(d["targets"]) if d["targets"].ndim == 2 else t(np.eye(d["preds"].shape[1])[d["targets"].astype(int)])
    w = torch.ones(d["preds"].shape[1], dtype=torch.float64) if p["weight"] is None else t(p["weight"])

    def ref(x, reduction):
        per = keras_categorical_crossentropy(x, rows * w, 0.0) if p["label_smoothing"] == 0 else None
        if per is None:  # smoothing first, then the class weight of each term
            c = x.shape[-1]
            y = (rows * (1 - p["label_smoothing"]) + p["label_smoothing"] / c) * w
            per = -(y * torch.log(torch.clamp(x / x.sum(-1, keepdim=True), 1e-7, 1 - 1e-7))).sum(-1)
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]

    check_reference(loss, params, d, ref)


KERAS_Y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
KERAS_P = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]])
KERAS_Z = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])


@pytest.mark.parametrize("targets", [KERAS_Y, np.array([0.0, 1.0, 2.0])], ids=["one-hot", "indices"])
def test_cross_entropy_keras_test_values(targets):
    """keras/src/losses/losses_test.py CategoricalCrossentropyTest / SparseCategoricalCrossentropyTest
    test_unweighted: 0.3239 on rows that do not sum to 1 (Keras normalises); torch's convention
    (the default) reads them as given and gives 0.0946; from logits 0.0573, and per sample
    (0.001822, 0.000459, 0.169846) in test_no_reduction."""
    d = {"preds": KERAS_P, "targets": targets}
    keras = run("cross-entropy", ["from_logits=false", "normalize=true"], d).value
    assert keras == pytest.approx(0.3239, abs=1e-4)  # Keras asserts 4 digits (assertAlmostEqual, decimal=3)
    rows = KERAS_P / KERAS_P.sum(axis=1, keepdims=True)
    assert keras == pytest.approx(-np.mean(np.log(rows[[0, 1, 2], [0, 1, 2]])), rel=RTOL)
    assert run("cross-entropy", ["from_logits=false"], d).value == pytest.approx(0.0946, abs=1e-4)
    assert run("cross-entropy", ["from_logits=false"], d).value == pytest.approx(
        -np.mean(np.log(KERAS_P[[0, 1, 2], [0, 1, 2]])), rel=RTOL
    )
    logits = {"preds": KERAS_Z, "targets": targets}
    assert run("cross-entropy", [], logits).value == pytest.approx(0.0573, abs=1e-4)
    np.testing.assert_allclose(
        run("cross-entropy", [], logits, reduction="none").value, [0.001822, 0.000459, 0.169846], atol=5e-7
    )
    # test_label_smoothing: logits [[100, -100, -100]], y [[1, 0, 0]], 0.1 -> 400 * 0.1 / 3
    smooth = {"preds": np.array([[100.0, -100.0, -100.0]]), "targets": np.array([[1.0, 0.0, 0.0]])}
    assert run("cross-entropy", ["label_smoothing=0.1"], smooth).value == pytest.approx(400 * 0.1 / 3, rel=1e-12)


def test_cross_entropy_negative_class_weights_as_torch():
    """torch allows negative class weights (refused before with a message that every weight is 0)."""
    z = np.array([[0.2, -1.0, 0.5], [1.5, 0.3, -0.2], [0.1, 0.1, 2.0]])
    y = np.array([0.0, 1.0, 2.0])
    ref = F.cross_entropy(t(z), torch.tensor([0, 1, 2]), weight=t([-1.0, -2.0, 0.5])).item()
    for backend in ("numpy", "torch"):
        assert run("cross-entropy", ["weight=-1,-2,0.5"], {"preds": z, "targets": y}, backend).value == pytest.approx(
            ref, rel=RTOL
        )
    only_negative = {"preds": z[:2], "targets": y[:2]}
    ref2 = F.cross_entropy(t(z[:2]), torch.tensor([0, 1]), weight=t([-1.0, -2.0, 0.5])).item()
    assert run("cross-entropy", ["weight=-1,-2,0.5"], only_negative).value == pytest.approx(ref2, rel=RTOL)


@pytest.mark.parametrize("loss", ["cross-entropy", "nll", "sparse-cross-entropy"])
def test_every_target_ignored_gives_zeros_for_sum_and_none(loss):
    z = np.array([[0.2, -1.0, 0.5], [1.5, 0.3, -0.2]])
    d = {"preds": z, "targets": np.array([-100.0, -100.0])}
    x = t(z, grad=True)
    fn = F.nll_loss if loss == "nll" else F.cross_entropy
    assert fn(x, torch.tensor([-100, -100]), reduction="sum").item() == 0.0
    assert torch.isnan(fn(t(z), torch.tensor([-100, -100]), reduction="mean"))
    for backend in ("numpy", "torch"):
        assert run(loss, [], d, backend, reduction="sum").value == 0.0
        np.testing.assert_array_equal(run(loss, [], d, backend, reduction="none").value, [0.0, 0.0])
    assert run(loss, [], d, "torch", reduction="sum").gradients["preds"].tolist() == [[0.0] * 3] * 2
    with pytest.raises(
        InputError, match=r"every target equals ignore_index.*torch returns NaN.*--reduction sum or none"
    ):
        run(loss, [], d)
    cancel = {"preds": z, "targets": np.array([0.0, 1.0])}
    with pytest.raises(InputError, match="the class weights of the counted targets sum to 0"):
        run(loss, ["weight=1,-1,2"], cancel)
    assert run(loss, ["weight=1,-1,2"], cancel, reduction="sum").value == pytest.approx(
        fn(t(z) if loss == "nll" else t(z), torch.tensor([0, 1]), weight=t([1.0, -1.0, 2.0]), reduction="sum").item(),
        rel=RTOL,
    )


def test_every_target_ignored_at_the_cli(cli, write):
    logits = write("logits.csv", "a,b\n1,2\n3,4\n5,6\n")
    ignored = write("ignored.csv", "y\n-100\n-100\n-100\n")
    r = cli("compute", "ce", logits, ignored)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        f"losscli: error: {ignored}: every target equals ignore_index or has class weight 0: the mean Σ w_y ℓ / Σ w_y "
        "divides by 0 (torch returns NaN); --reduction sum or none gives the sum (0 where every target is "
        "ignored), as torch does"
    )
    r = cli("compute", "ce", logits, ignored, "-r", "none", "-f", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["value"] == [0.0, 0.0, 0.0]


def test_cross_entropy_k_dimensional_from_npy_files(cli, tmp_path):
    """N x C x H x W logits and N x H x W labels, as .npy files, against torch."""
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=(2, 3, 4, 5)), rng.integers(0, 3, size=(2, 4, 5)).astype(float)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "y.npy", y)
    r = cli(
        "compute", "cross-entropy", tmp_path / "z.npy", tmp_path / "y.npy", "-p", "label_smoothing=0.1", "-f", "json"
    )
    assert r.exit_code == 0, r.stderr
    ref = F.cross_entropy(t(z), torch.tensor(y).long(), label_smoothing=0.1)
    assert json.loads(r.stdout)["value"] == pytest.approx(ref.item(), rel=1e-12)
    none = cli("compute", "cross-entropy", tmp_path / "z.npy", tmp_path / "y.npy", "-r", "none", "-f", "json")
    ref_none = F.cross_entropy(t(z), torch.tensor(y).long(), reduction="none")
    np.testing.assert_allclose(json.loads(none.stdout)["value"], ref_none.numpy(), rtol=1e-12)
    np.save(tmp_path / "bad.npy", y[:, :3])
    bad = cli("compute", "cross-entropy", tmp_path / "z.npy", tmp_path / "bad.npy")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        f"losscli: error: {tmp_path / 'bad.npy'}: targets has shape 2 x 3 x 5 but preds of shape 2 x 3 x 4 x 5 "
        "need 2 x 4 x 5 (class indices) or 2 x 3 x 4 x 5 (probability rows)"
    )


def test_cross_entropy_refuses_what_it_cannot_take(cli, write):
    logits = write("logits.csv", "a,b\n1,2\n3,4\n5,6\n")
    labels = write("labels.csv", "y\n0\n1\n1\n")
    r = cli("compute", "ce", logits, labels, "-p", "normalize=true")
    assert r.exit_code == 2 and "normalize applies to probabilities" in r.stderr
    one = write("one.csv", "z\n0.2\n1.3\n0.5\n")
    r = cli("compute", "ce", one, labels)
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        f"losscli: error: {one}: preds must be an N x C matrix of scores (one column per class), N x C x d1 x ... "
        "(torch's K-dimensional form), or one sample's C scores with a single class index, got shape 3 with 3 targets"
    )


def test_cross_entropy_unbatched_at_the_cli(cli, write):
    z = write("z.csv", "z\n0.2\n1.3\n0.5\n")
    y = write("y.csv", "y\n1\n")
    r = cli("compute", "ce", z, y, "-f", "plain")
    assert r.exit_code == 0, r.stderr
    ref = F.cross_entropy(t([0.2, 1.3, 0.5]), torch.tensor(1))
    assert float(r.stdout) == pytest.approx(ref.item(), rel=1e-14)


# ------------------------------------------------------------------ nll


@pytest.mark.parametrize("case", cases_of("nll"), ids=ids)
def test_nll_matches_torch(case):
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    unbatched = d["preds"].ndim == 1
    target = torch.tensor(d["targets"].reshape(()) if unbatched else d["targets"]).long()
    weight = None if p["weight"] is None else t(p["weight"])

    def ref(x, reduction):
        out = F.nll_loss(x, target, weight=weight, ignore_index=p["ignore_index"], reduction=reduction)
        return out.reshape(1) if unbatched and reduction == "none" else out

    check_reference(loss, params, d, ref)


def test_nll_aliases_and_bad_input(cli, write):
    assert losses.get("nll-loss") is losses.get("nll") is losses.get("NLLLoss")
    r = cli("compute", "nll", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(run("cross-entropy", [], _bundled("cross-entropy")).value, rel=1e-5)
    lp = write("lp.csv", "a,b\n-0.1,-2.4\n-1.2,-0.4\n")
    r = cli("compute", "nll", lp, write("y.csv", "y\n0\n2\n"))
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        f"losscli: error: {lp.parent / 'y.csv'}: data row 2: targets must be a class index in [0, 1] "
        "(or ignore_index -100), got 2"
    )
    r = cli("compute", "nll", lp, write("soft.csv", "a,b\n0.5,0.5\n1,0\n"))
    assert r.exit_code == 2 and "nll takes no probability rows" in r.stderr


def _bundled(name):
    """The bundled example's arrays (CSV files with a header row)."""
    spec = losses.get(name)
    paths = spec.teaching.example.paths()
    arrays = [np.loadtxt(p, delimiter=",", skiprows=1) for p in paths]
    return dict(zip(spec.input_names, arrays, strict=False))


# ------------------------------------------------------------------ bce


@pytest.mark.parametrize(
    "case",
    [c for c in cases_of("bce") if c[1] in ("weight_cols", "logits_weight_label_smoothing", "label_smoothing")]
    + [c for c in cases_of("bce") if c[1] == "logits_targets_outside_0_1"],
    ids=ids,
)
def test_bce_matches_torch(case):
    """torch BCELoss / BCEWithLogitsLoss with weight (broadcast along the last axis), pos_weight and
    targets outside [0, 1]; Keras's label smoothing y (1 - ls) + ls / 2 (keras/src/losses/losses.py
    binary_crossentropy: ``y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing``) applied to the
    targets torch is given."""
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    y = t(d["targets"] * (1 - p["label_smoothing"]) + 0.5 * p["label_smoothing"])
    weight = None if p["weight"] is None else t(p["weight"])
    pos_weight = None if p["pos_weight"] is None else t(p["pos_weight"])

    def ref(x, reduction):
        if p["from_logits"]:
            return F.binary_cross_entropy_with_logits(x, y, weight=weight, pos_weight=pos_weight, reduction=reduction)
        return F.binary_cross_entropy(x, y, weight=weight, reduction=reduction)

    check_reference(loss, params, d, ref)


def test_bce_keras_label_smoothing_test_value():
    """keras/src/losses/losses_test.py BinaryCrossentropyTest.test_label_smoothing: logits
    [[10, -10, -10]], y [[1, 0, 1]], ls 0.1: (10 + 5 ls) / 3 (to its float32 assertAlmostEqual)."""
    d = {"preds": np.array([[10.0, -10.0, -10.0]]), "targets": np.array([[1.0, 0.0, 1.0]])}
    value = run("bce", ["from_logits=true", "label_smoothing=0.1"], d).value
    assert value == pytest.approx((10.0 + 5.0 * 0.1) / 3.0, abs=1e-4)  # Keras: assertAlmostEqual, decimal=3

    def sp(v):
        return np.logaddexp(0.0, v)

    by_hand = (0.95 * sp(-10) + 0.05 * sp(10) + 0.05 * sp(10) + 0.95 * sp(-10) + 0.95 * sp(10) + 0.05 * sp(-10)) / 3
    assert value == pytest.approx(by_hand, rel=RTOL)


def test_bce_weight_broadcast_per_element_for_1d_preds_and_refusals(cli, write):
    p, y = np.array([0.2, 0.7, 0.9]), np.array([0.0, 1.0, 1.0])
    ref = F.binary_cross_entropy(t(p), t(y), weight=t([1.0, 2.0, 0.5])).item()
    assert run("bce", ["weight=1,2,0.5"], {"preds": p, "targets": y}).value == pytest.approx(ref, rel=RTOL)
    pf, yf = write("p.csv", p), write("y.csv", y)
    r = cli("compute", "bce", pf, yf, "-p", "weight=1,2")
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        "losscli: error: weight has 2 values; torch broadcasts a weight along the last axis of preds "
        "(shape 3): give 1 or 3 values"
    )
    wide = write("wide.csv", np.array([-0.5, 1.0, 1.5]))
    r = cli("compute", "bce", pf, wide)
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        f"losscli: error: {wide}: data row 1: targets must be in [0, 1], got -0.5 (2 such values); "
        "BCEWithLogitsLoss (-p from_logits=true) takes any"
    )
    r = cli("compute", "bce", pf, wide, "-p", "from_logits=true", "-f", "plain")
    assert r.exit_code == 0
    assert float(r.stdout) == pytest.approx(
        F.binary_cross_entropy_with_logits(t(p), t([-0.5, 1.0, 1.5])).item(), rel=1e-15
    )


# ------------------------------------------------------------------ focal


def optax_sigmoid_focal_loss(x, y, alpha, gamma):
    """optax/losses/_classification.py sigmoid_focal_loss (0.2.5+), in torch: log(1 - pₜ) by
    jax.scipy.special.logsumexp([log σ(x), log σ(-x)], b=[1 - y, y]) (entries with b = 0 masked to
    -inf, the max held constant, as jax does), focal weight exp(γ log(1 - pₜ))."""
    ce = -y * F.logsigmoid(x) - (1 - y) * F.logsigmoid(-x)
    a = torch.stack([F.logsigmoid(x), F.logsigmoid(-x)], -1)
    b = torch.stack([1 - y, y], -1)
    a = torch.where(b != 0, a, torch.full_like(a, -torch.inf))
    amax = a.max(-1, keepdim=True).values.detach()
    log_1m = (amax + torch.log((b * torch.exp(a - amax)).sum(-1, keepdim=True)))[..., 0]
    loss = ce * torch.exp(gamma * log_1m)
    return loss if alpha is None else (alpha * y + (1 - alpha) * (1 - y)) * loss


def torchvision_sigmoid_focal_loss(x, y, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss (v0.20), reduction='none'."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


@pytest.mark.parametrize("case", cases_of("focal"), ids=ids)
def test_focal_matches_torchvision_and_optax(case):
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    y = t(d["targets"])

    def reduce(per, reduction):
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]

    check_reference(
        loss, params, d, lambda x, r: reduce(torchvision_sigmoid_focal_loss(x, y, p["alpha"], p["gamma"]), r)
    )
    alpha = None if p["alpha"] < 0 else p["alpha"]
    check_reference(loss, params, d, lambda x, r: reduce(optax_sigmoid_focal_loss(x, y, alpha, p["gamma"]), r))


def test_sigmoid_focal_gamma_below_one_has_finite_gradients_at_extreme_logits():
    """At x = ±50, γ = 0.5: 1 - pₜ computed as a difference is exactly 0 for a right answer, and
    the power's derivative γ (1 - pₜ)^(γ-1) is infinite there: torchvision's gradient is NaN.
    optax computes (1 - pₜ)^γ = exp(γ log(1 - pₜ)) with log(1 - pₜ) = log σ(∓x): finite, and so is
    losscli's, equal to the optax transcription."""
    d = {"preds": np.array([50.0, -50.0, 50.0, -50.0, 0.3]), "targets": np.array([1.0, 0.0, 0.0, 1.0, 1.0])}
    x = t(d["preds"], grad=True)
    torchvision_sigmoid_focal_loss(x, t(d["targets"]), 0.25, 0.5).mean().backward()
    assert np.isnan(x.grad.numpy()[:2]).all()
    x = t(d["preds"], grad=True)
    ref = optax_sigmoid_focal_loss(x, t(d["targets"]), 0.25, 0.5).mean()
    ref.backward()
    assert np.isfinite(x.grad.numpy()).all()
    ev = run("focal", ["gamma=0.5"], d, "torch")
    assert ev.value == pytest.approx(ref.item(), rel=RTOL)
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-12, atol=0)
    # the right answers' gradients are tiny but not zero: σ(-50)^1.5-ish
    assert 0 < abs(ev.gradients["preds"][0]) < 1e-30
    g32 = run("focal", ["gamma=0.5"], d, "torch", dtype="float32").gradients["preds"]
    assert np.isfinite(g32).all()


# ------------------------------------------------------------------ categorical-focal


def keras_categorical_focal_crossentropy(x, y, alpha, gamma, from_logits, label_smoothing):
    """keras/src/losses/losses.py categorical_focal_crossentropy, in torch."""
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / y.shape[-1]
    if from_logits:
        x = torch.softmax(x, -1)
    output = x / x.sum(-1, keepdim=True)
    output = torch.clamp(output, 1e-7, 1.0 - 1e-7)
    cce = -y * torch.log(output)
    modulating_factor = torch.pow(1.0 - output, gamma)
    weighting_factor = modulating_factor * alpha
    return (weighting_factor * cce).sum(-1)


@pytest.mark.parametrize("case", cases_of("categorical-focal"), ids=ids)
def test_categorical_focal_matches_keras(case):
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    c = d["preds"].shape[1]
    rows = t(d["targets"]) if d["targets"].ndim == 2 else t(np.eye(c)[d["targets"].astype(int)])
    alpha = t(np.broadcast_to(p["alpha"], (c,)))

    def ref(x, reduction):
        per = keras_categorical_focal_crossentropy(x, rows, alpha, p["gamma"], p["from_logits"], p["label_smoothing"])
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]

    check_reference(loss, params, d, ref)


def test_categorical_focal_keras_test_values():
    """keras/src/losses/losses_test.py CategoricalFocalCrossentropyTest (float32 there; compared to
    the digits it asserts)."""
    d = {"preds": KERAS_P, "targets": KERAS_Y}
    assert run("categorical-focal", [], d).value == pytest.approx(0.02059, abs=1e-5)
    logits = {"preds": KERAS_Z, "targets": KERAS_Y}
    assert run("categorical-focal", ["from_logits=true"], logits).value == pytest.approx(0.000345, abs=5e-7)
    per = run("categorical-focal", ["from_logits=true"], logits, reduction="none").value
    keras = np.array([1.5096224e-09, 2.4136547e-11, 1.0360638e-03])
    np.testing.assert_allclose(per[[0, 2]], keras[[0, 2]], rtol=1e-5)
    # the second row's 1 - q ≈ 1.2e-4 is computed in float32 by Keras: 4e-4 relative apart from float64
    np.testing.assert_allclose(per[1], keras[1], rtol=5e-4)
    smooth = {"preds": np.array([[4.9, -0.5, 2.05]]), "targets": np.array([[1.0, 0.0, 0.0]])}
    value = run("categorical-focal", ["from_logits=true", "label_smoothing=0.1"], smooth).value
    assert value == pytest.approx(0.06685, abs=5e-6)
    indices = {"preds": KERAS_P, "targets": np.array([0.0, 1.0, 2.0])}
    assert run("categorical-focal", [], indices).value == run("categorical-focal", [], d).value


# ------------------------------------------------------------------ poly1


def optax_poly_loss_cross_entropy(x, labels, epsilon):
    """optax/losses/_classification.py poly_loss_cross_entropy, in torch:
    p = softmax(logits); one_minus_pt = sum(labels * (1 - p)); softmax_cross_entropy + epsilon * one_minus_pt."""
    p = torch.softmax(x, -1)
    one_minus_pt = (labels * (1 - p)).sum(-1)
    cross_entropy = -(labels * torch.log_softmax(x, -1)).sum(-1)
    return cross_entropy + epsilon * one_minus_pt


@pytest.mark.parametrize("case", cases_of("poly1"), ids=ids)
def test_poly1_matches_optax(case):
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    c = d["preds"].shape[1]
    rows = t(d["targets"]) if d["targets"].ndim == 2 else t(np.eye(c)[d["targets"].astype(int)])

    def ref(x, reduction):
        per = optax_poly_loss_cross_entropy(x, rows, p["epsilon"])
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]

    check_reference(loss, params, d, ref)
    if p["epsilon"] == 0:
        return
    zero = run(loss, ["epsilon=0"], d).value
    assert zero == pytest.approx(run("cross-entropy", [], d).value, rel=RTOL)


# ------------------------------------------------------------------ z-loss


def t5x_z_loss(x, z_loss):
    """t5x/losses.py cross_entropy_with_logits: log_z = logsumexp(logits, axis=-1);
    total_z_loss = z_loss * jax.lax.square(log_z) (classes moved last for torch's layouts)."""
    rows = x if x.ndim == 2 else torch.movedim(x, 1, -1)
    return z_loss * torch.logsumexp(rows, -1) ** 2


@pytest.mark.parametrize("case", cases_of("z-loss"), ids=ids)
def test_z_loss_matches_t5x(case):
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)

    def ref(x, reduction):
        per = t5x_z_loss(x, p["z_loss"])
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]

    check_reference(loss, params, d, ref)


def test_z_loss_in_an_expression_with_cross_entropy(cli, tmp_path):
    """'cross-entropy+1e-4*z-loss': z-loss's one input is preds, so both terms read the same logits;
    value and gradient equal torch's cross_entropy + 1e-4 · mean(logsumexp²)."""
    rng = np.random.default_rng(9)
    z, y = rng.normal(0, 3, size=(6, 5)), rng.integers(0, 5, size=6).astype(float)
    ce = evaluate_expression(parse("cross-entropy+1e-4*z-loss"), {"preds": z, "targets": y}, backend="torch")
    x = t(z, grad=True)
    ref = F.cross_entropy(x, torch.tensor(y).long()) + 1e-4 * (torch.logsumexp(x, -1) ** 2).mean()
    ref.backward()
    assert ce.value == pytest.approx(ref.item(), rel=1e-13)
    np.testing.assert_allclose(ce.gradients["preds"], x.grad.numpy(), rtol=1e-12)
    assert [term["expr"] for term in ce.terms] == ["cross-entropy", "z-loss"]
    np.savetxt(tmp_path / "z.csv", z, delimiter=",")
    np.savetxt(tmp_path / "y.csv", y)
    r = cli("compute", "cross-entropy+1e-4*z-loss", tmp_path / "z.csv", tmp_path / "y.csv", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(ref.item(), rel=1e-13)
    same = run("z-loss", ["z_loss=1e-4"], {"preds": z}).value
    assert same == pytest.approx(ce.terms[1]["value"] * 1e-4, rel=1e-13)


def test_z_loss_refuses_a_vector(cli, write):
    v = write("v.csv", np.array([0.1, 0.2, 0.3]))
    r = cli("compute", "z-loss", v)
    assert r.exit_code == 2
    assert r.stderr.strip() == f"losscli: error: {v}: preds must be N x C logits (or N x C x d1 x ...), got shape 3"


# ------------------------------------------------------------------ multilabel-soft-margin


@pytest.mark.parametrize("case", cases_of("multilabel-soft-margin"), ids=ids)
def test_multilabel_soft_margin_matches_torch(case):
    loss, _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    weight = None if p["weight"] is None else t(p["weight"])
    unbatched = d["preds"].ndim == 1

    def ref(x, reduction):
        out = F.multilabel_soft_margin_loss(x, t(d["targets"]), weight=weight, reduction=reduction)
        return out.reshape(1) if unbatched and reduction == "none" else out

    check_reference(loss, params, d, ref)


def test_multilabel_soft_margin_mean_is_bce_with_logits_mean():
    d = CASES["multilabel-soft-margin"][0][2](np.random.default_rng(3))
    assert run("multilabel-soft-margin", [], d).value == pytest.approx(
        run("bce", ["from_logits=true"], d).value, rel=RTOL
    )


def test_multilabel_soft_margin_bad_shapes(cli, write):
    x = write("x.csv", "a,b,c\n0.1,0.2,0.3\n1,2,3\n")
    y = write("y.csv", "a,b\n1,0\n0,1\n")
    r = cli("compute", "multilabel-soft-margin", x, y)
    assert r.exit_code == 2
    assert (
        r.stderr.strip()
        == f"losscli: error: preds has shape 2 x 3 ({x}) but targets has shape 2 x 2 ({y}); they must match"
    )
    r = cli("compute", "multilabel-soft-margin", x, write("y3.csv", "a,b,c\n1,0,1\n0,1,1\n"), "-p", "weight=1,2")
    assert r.exit_code == 2 and "weight has 2 values but preds have 3 classes" in r.stderr


# ------------------------------------------------------------------ bundled examples


@pytest.mark.parametrize(
    "loss", ["nll", "categorical-focal", "poly1", "z-loss", "multilabel-soft-margin", "cross-entropy", "bce", "focal"]
)
def test_bundled_example_runs(cli, loss):
    r = cli("compute", loss, "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert np.isfinite(json.loads(r.stdout)["value"])
    g = cli("grad", loss, "--explain")
    assert g.exit_code == 0, g.stderr
    assert "they agree" in g.stdout


def test_categorical_focal_bad_alpha_and_rows(cli, write):
    p = write("p.csv", "a,b,c\n0.2,0.3,0.5\n0.1,0.1,0.8\n")
    y = write("y.csv", "y\n0\n2\n")
    r = cli("compute", "categorical-focal", p, y, "-p", "alpha=0.1,0.2")
    assert r.exit_code == 2
    assert r.stderr.strip() == "losscli: error: alpha has 2 values; give one, or one per class (3)"
    r = cli("compute", "categorical-focal", p, write("bad.csv", "y\n0\n3\n"))
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        f"losscli: error: {p.parent / 'bad.csv'}: data row 2: targets must be a class index in [0, 2], got 3"
    )
