"""Every loss against an independent reference, on both backends, plus registry-wide
parity (numpy value == torch value) and gradient (autograd == central differences) tests."""

from __future__ import annotations

import array_api_compat.numpy
import numpy as np
import pytest
import scipy.stats
import sklearn.metrics as skm
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.core import evaluate
from losscli.params import parse_params
from tests.cases import CASES, all_cases

RTOL = 1e-12
ATOL = 1e-14


def run(name: str, params: list[str], inputs: dict[str, np.ndarray], backend: str = "numpy", **kw):
    spec = losses.get(name)
    return evaluate(spec, inputs, parse_params(spec, params), backend=backend, **kw)


def case_id(case: tuple) -> str:
    return f"{case[0]}-{case[1]}"


CASE_LIST = all_cases()


def test_every_registered_loss_has_cases():
    assert set(CASES) == set(losses.REGISTRY), "add cases for new losses in tests/cases.py"
    empty = sorted(name for name, cases in CASES.items() if not cases)
    assert not empty, f"losses whose case list is empty (their parametrized tests would vanish): {empty}"


@pytest.mark.parametrize("case", CASE_LIST, ids=case_id)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_backend_parity(case, reduction):
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(1))
    a = run(loss, params, inputs, "numpy", reduction=reduction)
    b = run(loss, params, inputs, "torch", reduction=reduction)
    np.testing.assert_allclose(a.value, b.value, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(a.elements, b.elements, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASE_LIST, ids=case_id)
def test_gradient_matches_central_differences(case):
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(2))
    spec = losses.get(loss)
    ev = run(loss, params, inputs, "torch")
    assert set(ev.gradients) == {i.name for i in spec.inputs if i.differentiable}
    h = 1e-6
    for name, grad in ev.gradients.items():
        assert grad.shape == inputs[name].shape
        numeric = np.zeros_like(inputs[name])
        for idx in np.ndindex(inputs[name].shape):
            plus = {k: v.copy() for k, v in inputs.items()}
            minus = {k: v.copy() for k, v in inputs.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            numeric[idx] = (run(loss, params, plus).value - run(loss, params, minus).value) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASE_LIST, ids=case_id)
def test_float32_close_to_float64(case):
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(3))
    a = run(loss, params, inputs, "numpy", dtype="float32")
    b = run(loss, params, inputs, "torch", dtype="float32")
    c = run(loss, params, inputs, "numpy")
    np.testing.assert_allclose(a.value, c.value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.value, c.value, rtol=1e-5, atol=1e-6)
    assert b.gradients[next(iter(b.gradients))].dtype == np.float32


# ------------------------------------------------------------------ references


def t(a, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def refuses(name: str, params: list[str], inputs: dict[str, np.ndarray], match: str) -> str:
    """The one-line InputError the loss raises on ``inputs`` (each named as its own .csv)."""
    from losscli.errors import InputError

    sources = {k: f"{k}.csv" for k in inputs}
    with pytest.raises(InputError, match=match) as info:
        run(name, params, inputs, sources=sources)
    message = str(info.value)
    assert "\n" not in message
    return message


def check_torch_reference(loss: str, params: list[str], inputs: dict[str, np.ndarray], ref_fn) -> None:
    """Value on both backends and the preds gradient against a torch.nn.functional reference."""
    x = t(inputs["preds"], grad=True)
    ref = ref_fn(x, inputs)
    ref.backward()
    for backend in ("numpy", "torch"):
        ev = run(loss, params, inputs, backend)
        np.testing.assert_allclose(ev.value, ref.item(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-11, atol=1e-15)


TORCH_REFERENCES = {
    "mse": lambda x, d, p: F.mse_loss(x, t(d["targets"])),
    "rmse": lambda x, d, p: torch.sqrt(F.mse_loss(x, t(d["targets"]))),
    "mae": lambda x, d, p: F.l1_loss(x, t(d["targets"])),
    "huber": lambda x, d, p: F.huber_loss(x, t(d["targets"]), delta=p["delta"]),
    "smooth-l1": lambda x, d, p: F.smooth_l1_loss(x, t(d["targets"]), beta=p["beta"]),
    "bce": lambda x, d, p: (
        F.binary_cross_entropy_with_logits(
            x, t(d["targets"]), pos_weight=None if p["pos_weight"] is None else t(np.array(p["pos_weight"]))
        )
        if p["from_logits"]
        else F.binary_cross_entropy(x, t(d["targets"]))
    ),
    "cross-entropy": lambda x, d, p: (
        F.nll_loss(
            torch.log(x),
            torch.tensor(d["targets"]).long(),
            weight=None if p["weight"] is None else t(np.array(p["weight"])),
            ignore_index=p["ignore_index"],
        )
        if not p["from_logits"]
        else F.cross_entropy(
            x,
            t(d["targets"]) if d["targets"].ndim == 2 else torch.tensor(d["targets"]).long(),
            weight=None if p["weight"] is None else t(np.array(p["weight"])),
            ignore_index=p["ignore_index"],
            label_smoothing=p["label_smoothing"],
        )
    ),
    "multi-margin": lambda x, d, p: F.multi_margin_loss(
        x,
        torch.tensor(d["targets"]).long(),
        p=p["p"],
        margin=p["margin"],
        weight=None if p["weight"] is None else t(np.array(p["weight"])),
    ),
    "kl-div": lambda x, d, p: F.kl_div(
        x if p["log_input"] else torch.log(x),
        t(d["targets"]),
        reduction="batchmean" if p["batchmean"] else "mean",
        log_target=p["log_target"],
    ),
    "focal": lambda x, d, p: torchvision_sigmoid_focal_loss(x, t(d["targets"]), p["alpha"], p["gamma"]),
}
TORCH_REFERENCES["sparse-cross-entropy"] = TORCH_REFERENCES["cross-entropy"]


def torchvision_sigmoid_focal_loss(inputs, targets, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss (v0.20 source), reduction='mean', copied verbatim
    because torchvision does not install beside this torch wheel."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss.mean()


TORCH_CASES = [c for c in CASE_LIST if c[0] in TORCH_REFERENCES]


def test_every_torch_reference_has_cases():
    assert {c[0] for c in TORCH_CASES} == set(TORCH_REFERENCES)


@pytest.mark.parametrize("case", TORCH_CASES, ids=case_id)
def test_against_torch(case):
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(4))
    p = parse_params(losses.get(loss), params)
    check_torch_reference(loss, params, inputs, lambda x, d: TORCH_REFERENCES[loss](x, d, p))


# Independent non-torch references (scikit-learn, scipy, a formula by hand).


def test_rmse_against_sklearn():
    d = CASES["rmse"][0][2](np.random.default_rng(5))
    ref = skm.root_mean_squared_error(d["targets"], d["preds"])
    assert run("rmse", [], d).value == pytest.approx(ref, rel=RTOL)


def test_mae_against_sklearn():
    d = CASES["mae"][0][2](np.random.default_rng(5))
    assert run("mae", [], d).value == pytest.approx(skm.mean_absolute_error(d["targets"], d["preds"]), rel=RTOL)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_against_sklearn(q):
    d = CASES["quantile"][0][2](np.random.default_rng(6))
    ref = skm.mean_pinball_loss(d["targets"], d["preds"], alpha=q)
    for backend in ("numpy", "torch"):
        assert run("quantile", [f"q={q}"], d, backend).value == pytest.approx(ref, rel=RTOL)


def test_quantile_half_is_half_mae():
    d = CASES["quantile"][0][2](np.random.default_rng(6))
    assert run("quantile", [], d).value == pytest.approx(run("mae", [], d).value / 2, rel=RTOL)


def test_log_cosh_against_formula_and_is_stable():
    d = CASES["log-cosh"][0][2](np.random.default_rng(7))
    ref = np.mean(np.log(np.cosh(d["preds"] - d["targets"])))
    for backend in ("numpy", "torch"):
        assert run("log-cosh", [], d, backend).value == pytest.approx(ref, rel=1e-12)
    big = {"preds": np.array([1000.0, -1000.0]), "targets": np.zeros(2)}
    assert run("log-cosh", [], big).value == pytest.approx(1000.0 - np.log(2.0), rel=1e-15)
    g = run("log-cosh", [], big, "torch").gradients["preds"]
    np.testing.assert_allclose(g, [0.5, -0.5])  # tanh(±1000) / N


def test_bce_against_sklearn_log_loss():
    d = CASES["bce"][0][2](np.random.default_rng(8))
    ref = skm.log_loss(d["targets"], d["preds"], labels=[0, 1])
    assert run("bce", [], d).value == pytest.approx(ref, rel=1e-12)


def test_bce_clamps_log_at_minus_100_as_torch():
    d = {"preds": np.array([0.0, 1.0, 0.5]), "targets": np.array([1.0, 0.0, 1.0])}
    ref = F.binary_cross_entropy(t(d["preds"]), t(d["targets"])).item()
    for backend in ("numpy", "torch"):
        ev = run("bce", [], d, backend)
        assert ev.value == pytest.approx(ref, rel=RTOL)
        assert ev.value == pytest.approx((100 + 100 + np.log(2)) / 3, rel=RTOL)
    x = t(d["preds"], grad=True)
    F.binary_cross_entropy(x, t(d["targets"])).backward()
    np.testing.assert_allclose(run("bce", [], d, "torch").gradients["preds"], x.grad.numpy(), rtol=1e-15)


def test_bce_gradient_is_torch_backward_at_and_near_the_bounds():
    """torch's BCELoss backward is (p - y)/max(p(1-p), 1e-12): finite at p = 0 or 1 and not
    the derivative of the clamped forward; losscli reports the same numbers."""
    d = {
        "preds": np.array([0.0, 0.0, 1.0, 1.0, 1e-20, 1e-13, 0.5]),
        "targets": np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]),
    }
    x = t(d["preds"], grad=True)
    ref = F.binary_cross_entropy(x, t(d["targets"]))
    ref.backward()
    ev = run("bce", [], d, "torch")
    assert ev.value == pytest.approx(ref.item(), rel=RTOL)
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-15)
    recon = run("reconstruction", ["kind=bce"], {k: v[:, None] for k, v in d.items()}, "torch", reduction="sum")
    np.testing.assert_allclose(recon.gradients["preds"][:, 0], x.grad.numpy() * len(d["preds"]), rtol=1e-15)


def test_bce_with_logits_is_stable_for_large_logits():
    d = {"preds": np.array([800.0, -800.0, 40.0]), "targets": np.array([0.0, 1.0, 1.0])}
    ref = F.binary_cross_entropy_with_logits(t(d["preds"]), t(d["targets"])).item()
    assert run("bce", ["from_logits=true"], d).value == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("case", CASES["hinge"], ids=lambda c: c[0])
def test_hinge_against_sklearn(case):
    d = case[2](np.random.default_rng(9))
    ref = skm.hinge_loss(d["targets"], d["preds"])
    for backend in ("numpy", "torch"):
        assert run("hinge", [], d, backend).value == pytest.approx(ref, rel=RTOL)


def test_squared_hinge_by_hand():
    d = {"preds": np.array([0.3, -2.0, 1.5, 0.0]), "targets": np.array([1.0, 0.0, 0.0, 1.0])}
    # labels mapped to +1, -1, -1, +1: margins 0.7, 0 (=max(0, 1-2)), 2.5, 1
    assert run("squared-hinge", [], d).value == pytest.approx((0.49 + 0 + 6.25 + 1) / 4, rel=RTOL)
    assert run("hinge", [], d).value == pytest.approx((0.7 + 0 + 2.5 + 1) / 4, rel=RTOL)


def test_cross_entropy_against_sklearn_log_loss():
    d = CASES["cross-entropy"][-1][2](np.random.default_rng(10))  # probabilities
    ref = skm.log_loss(d["targets"], d["preds"], labels=[0, 1, 2, 3])
    assert run("cross-entropy", ["from_logits=false"], d).value == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("case", CASES["kl-div"], ids=lambda c: c[0])
def test_kl_against_scipy_entropy(case):
    d = case[2](np.random.default_rng(11))
    q = np.exp(d["preds"]) if "log_input" in case[0] else d["preds"]
    ref = np.mean([scipy.stats.entropy(p_row, q_row) for p_row, q_row in zip(d["targets"], q)])
    for backend in ("numpy", "torch"):
        assert run("kl-div", case[1], d, backend).value == pytest.approx(ref, rel=1e-12)


def test_focal_reduces_to_bce_with_gamma_zero_and_no_alpha():
    d = CASES["focal"][0][2](np.random.default_rng(12))
    focal = run("focal", ["alpha=-1", "gamma=0"], d).value
    assert focal == pytest.approx(run("bce", ["from_logits=true"], d).value, rel=RTOL)


def test_rmse_reductions():
    d = {"preds": np.array([1.0, 2.0, 5.0]), "targets": np.array([0.0, 0.0, 1.0])}
    assert run("rmse", [], d).value == pytest.approx(np.sqrt(21 / 3), rel=RTOL)
    assert run("rmse", [], d, reduction="sum").value == pytest.approx(np.sqrt(21), rel=RTOL)
    np.testing.assert_allclose(run("rmse", [], d, reduction="none").value, [1, 2, 4])


def test_rmse_gradient_is_nan_at_zero_residuals():
    d = {"preds": np.ones(4), "targets": np.ones(4)}
    ev = run("rmse", [], d, "torch")
    assert ev.value == 0.0
    assert np.all(np.isnan(ev.gradients["preds"]))


def test_weighted_mean_denominator_and_scale():
    """Class-weighted CE divides by Σ w_y (the denominator); the health scale is the number of
    weighted samples, so multiplying every weight by 1e-9 changes neither value nor verdict."""
    from losscli.diagnose import diagnose

    d = {"preds": np.array([[0.0, 0.0], [1.0, -1.0], [0.5, 2.0]]), "targets": np.array([0.0, 1.0, 1.0])}
    ev = run("cross-entropy", ["weight=1,3"], d, "torch")
    assert ev.denominator == 7.0 and ev.scale == 3.0
    tiny = run("cross-entropy", ["weight=1e-9,3e-9"], d, "torch")
    assert tiny.value == pytest.approx(ev.value, rel=1e-12)
    assert diagnose(tiny).per_sample_rms == pytest.approx(diagnose(ev).per_sample_rms, rel=1e-9)
    s = run("mse", [], CASES["mse"][0][2](np.random.default_rng(1)), "torch", sample_weights=np.full(12, 1e-9))
    assert diagnose(s).status == "ok" and s.scale == 12


# ------------------------------------------------------------------ sample weights


SAMPLE_WEIGHT_CASES = [
    c
    for c in CASE_LIST
    if c[1] in ("vector", "index", "ignored", "weighted", "probs") and losses.get(c[0]).family != "regularization"
]


def test_sample_weight_cases_are_the_expected_ones():
    assert sorted((c[0], c[1]) for c in SAMPLE_WEIGHT_CASES) == [
        ("bce", "probs"),
        ("cross-entropy", "ignored"),
        ("cross-entropy", "index"),
        ("cross-entropy", "probs"),
        ("cross-entropy", "weighted"),
        ("kl-div", "probs"),
        ("log-cosh", "vector"),
        ("mae", "vector"),
        ("mse", "vector"),
        ("rmse", "vector"),
        ("sparse-cross-entropy", "index"),
        ("sparse-cross-entropy", "weighted"),
    ]


@pytest.mark.parametrize("case", SAMPLE_WEIGHT_CASES, ids=case_id)
def test_sample_weights_weighted_mean(case):
    """Σ sᵢ ℓᵢ / Σ sᵢ wᵢ against the unreduced loss weighted by hand, on both backends."""
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(13))
    plain = run(loss, params, inputs, reduction="none")
    n = plain.elements.shape[0]
    s = np.random.default_rng(14).uniform(0.1, 2.0, size=n)
    spec = losses.get(loss)
    terms = spec.fn(array_api_compat.numpy, inputs, parse_params(spec, params))
    w = np.ones_like(plain.elements) if terms.weights is None else terms.weights
    sb = s.reshape((n,) + (1,) * (plain.elements.ndim - 1))
    expected = np.sum(sb * plain.elements) / np.sum(sb * w)
    expected = spec.rule.finalise(np, expected)
    for backend in ("numpy", "torch"):
        ev = run(loss, params, inputs, backend, sample_weights=s)
        assert ev.value == pytest.approx(expected, rel=1e-12)


def test_sample_weights_ones_change_nothing_and_bad_weights_refused():
    d = CASES["mse"][0][2](np.random.default_rng(15))
    assert run("mse", [], d, sample_weights=np.ones(12)).value == pytest.approx(run("mse", [], d).value, rel=1e-15)
    from losscli.errors import InputError

    with pytest.raises(InputError, match="expected 12 sample weights"):
        run("mse", [], d, sample_weights=np.ones(11))
    with pytest.raises(InputError, match="data row 3"):
        run("mse", [], d, sample_weights=np.r_[1.0, 1.0, -1.0, np.ones(9)])


@pytest.mark.parametrize("loss, params", [("bce", ["from_logits=true"]), ("focal", ["alpha=-1", "gamma=0"])])
def test_logit_gradients_keep_their_digits_for_confident_logits(loss, params):
    """σ(x) - y as a difference loses every digit at x = -40, y = 0 (1 - σ(40) = 0); the
    gradient must be σ(-40)/N, as torch's BCEWithLogits gives, in float32 too."""
    d = {"preds": np.array([-40.0, -110.0, 40.0, -20.0]), "targets": np.array([0.0, 0.0, 1.0, 0.0])}
    expected = (
        np.array([1 / (1 + np.exp(40.0)), 1 / (1 + np.exp(110.0)), -1 / (1 + np.exp(40.0)), 1 / (1 + np.exp(20.0))]) / 4
    )
    np.testing.assert_allclose(run(loss, params, d, "torch").gradients["preds"], expected, rtol=1e-12)
    g32 = run(loss, params, d, "torch", dtype="float32").gradients["preds"]
    np.testing.assert_allclose(g32[[0, 2, 3]], expected[[0, 2, 3]], rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_msle_against_scikit_learn_and_keras(backend):
    """scikit-learn mean_squared_log_error on non-negative data; Keras's docstring example
    (y_true [[0, 1], [0, 0]], y_pred [[1, 1], [1, 0]] gives 0.240, float32) with its clip."""
    from sklearn.metrics import mean_squared_log_error

    inputs = CASES["msle"][0][2](np.random.default_rng(8))
    ev = run("msle", [], inputs, backend)
    assert ev.value == pytest.approx(mean_squared_log_error(inputs["targets"], inputs["preds"]), rel=1e-13)
    keras = {"preds": np.array([[1.0, 1.0], [1.0, 0.0]]), "targets": np.array([[0.0, 1.0], [0.0, 0.0]])}
    by_hand = 2 * (np.log1p(1.0) - np.log1p(1e-7)) ** 2 / 4
    assert run("msle", [], keras, backend).value == pytest.approx(by_hand, rel=1e-14)
    assert round(by_hand, 3) == 0.240
    clipped = run("msle", [], {"preds": np.array([-5.0, 2.0]), "targets": np.array([0.0, 2.0])}, "torch")
    assert clipped.value == 0.0 and clipped.gradients["preds"].tolist() == [0.0, 0.0]  # -5 counts as ε, as 0 does


@pytest.mark.parametrize("case", CASE_LIST, ids=case_id)
def test_evaluation_never_writes_into_its_inputs(case):
    """float64 inputs reach the loss functions without a copy (numpy) or as tensors sharing
    their memory (torch.from_numpy), so no loss may write into them."""
    loss, _, params, factory = case
    inputs = factory(np.random.default_rng(4))
    before = {k: v.copy() for k, v in inputs.items()}
    for backend in ("numpy", "torch"):
        run(loss, params, inputs, backend)
        for k, v in inputs.items():
            np.testing.assert_array_equal(v, before[k], err_msg=f"{loss} wrote into {k} ({backend})")


def test_the_loss_index_names_the_module_of_every_loss_and_alias():
    """losses.get imports only the module _index names: it must name every loss and alias exactly."""
    import importlib

    from losscli.losses import FAMILY_MODULES
    from losscli.losses._index import MODULES

    expected = {
        key: module
        for module in FAMILY_MODULES
        for spec in importlib.import_module(f"losscli.losses.{module}").SPECS
        for key in (spec.name, *spec.aliases)
    }
    assert MODULES == expected, "regenerate it: python scripts/loss_index.py"
    families = [s.name for m in FAMILY_MODULES for s in importlib.import_module(f"losscli.losses.{m}").SPECS]
    assert list(losses.REGISTRY)[: len(families)] == families  # (a test may have registered more after them)


def test_a_small_command_imports_only_its_loss_family():
    import subprocess
    import sys

    code = (
        "import sys; from losscli import losses; losses.get('mse'); "
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('losscli.losses.') and not m.endswith('_index')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['_checks', '_ops', 'regression']"


def test_the_registry_order_does_not_depend_on_which_losses_were_asked_for_first():
    import subprocess
    import sys

    code = (
        "import importlib; from losscli import losses; from losscli.losses._index import MODULES\n"
        "for key in reversed(list(MODULES)): losses.get(key)\n"
        "order = [s.name for m in losses.FAMILY_MODULES for s in importlib.import_module('losscli.losses.' + m).SPECS]\n"
        "print(list(losses.REGISTRY) == order, list(losses.by_family()) == list(dict.fromkeys(losses.REGISTRY[n].family for n in order)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True True"
