"""Numerical edge cases of issue 8, each against an independent reference.

References, per test (named again in each docstring):

* BCE conventions: torch.nn.functional.binary_cross_entropy (torch, the default),
  sklearn.metrics.log_loss (``clip=eps``), Keras 3 ``binary_crossentropy`` transcribed from
  keras/src/backend/numpy/nn.py (``clip=keras`` / a number), torch autograd of the clipped
  formula (gradients), counts worked by hand (``extras["clamped"]``).
* cross-entropy, seq2seq, multi-margin at logits of ±1e308 / ±1e300 / ±inf:
  torch.nn.functional.cross_entropy / multi_margin_loss, wherever torch is finite.
* log-cosh: mpmath at 60 digits (value) and tanh (gradient).
* triplet / contrastive on 1-D inputs: torch.nn.functional.triplet_margin_loss on 1-D tensors,
  and the contrastive formula by hand with torch.linalg.vector_norm.
* parameters: UsageError at parse time (hand-stated expectations).
* gradient health near 1e308: hand-worked per-sample values.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss

from losscli import losses
from losscli.core import evaluate
from losscli.diagnose import diagnose, histogram, stable_mean, stable_norm, stable_rms
from losscli.errors import InputError, UsageError
from losscli.params import INT64_MAX, INT64_MIN, parse_params

INF = math.inf
BACKENDS = ("numpy", "torch")


def run(name: str, params: list[str], inputs: dict[str, np.ndarray], backend: str = "numpy", **kw):
    spec = losses.get(name)
    return evaluate(spec, inputs, parse_params(spec, params), backend=backend, **kw)


def t64(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ----------------------------------------------------------------------------- 1. BCE conventions

# probabilities as a random forest gives them: many exactly 0 or 1, some confidently wrong
RF_P = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.9, 1.0, 0.0, 0.55, 1e-50, 1.0 - 1e-16, 0.2])
RF_Y = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
# the confidently wrong ones: (p=1, y=0), (p=0, y=1), (p=1e-50 < e^-100, y=1)
RF_CLAMPED = 3


def random_forest_probabilities() -> tuple[np.ndarray, np.ndarray]:
    """A real model: a random forest on scikit-learn's breast-cancer data, held-out probabilities."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    xa, xb, ya, yb = train_test_split(x, y, test_size=0.5, random_state=0)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(xa, ya)
    return model.predict_proba(xb)[:, 1].astype(np.float64), yb.astype(np.float64)


def keras_binary_crossentropy(target: np.ndarray, output: np.ndarray, epsilon: float) -> np.ndarray:
    """Keras 3 keras/src/backend/numpy/nn.py binary_crossentropy(from_logits=False), transcribed:
    output = np.clip(output, epsilon(), 1.0 - epsilon()); bce = target * np.log(output);
    bce += (1.0 - target) * np.log(1.0 - output); return -bce."""
    output = np.clip(output, epsilon, 1.0 - epsilon)
    bce = target * np.log(output)
    bce += (1.0 - target) * np.log(1.0 - output)
    return -bce


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["eps", "sklearn"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bce_clip_eps_is_sklearn_log_loss(backend, name, dtype):
    """Reference: sklearn.metrics.log_loss, which clips to [eps, 1 - eps], eps = finfo(dtype).eps."""
    p, y = RF_P.astype(dtype).astype(np.float64), RF_Y
    ev = run("bce", [f"clip={name}"], {"preds": p, "targets": y}, backend, dtype=dtype)
    ref = log_loss(y, p.astype(dtype))
    assert ev.value == pytest.approx(ref, rel=1e-13 if dtype == "float64" else 2e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bce_on_a_random_forest_default_is_torch_and_eps_is_sklearn(backend):
    """References: torch F.binary_cross_entropy (default) and sklearn log_loss (clip=eps) on the
    held-out probabilities of a random forest; the clamp count is worked by hand."""
    p, y = random_forest_probabilities()
    inputs = {"preds": p, "targets": y}
    torch_ref = F.binary_cross_entropy(t64(p), t64(y)).item()
    default = run("bce", [], inputs, backend)
    assert default.value == pytest.approx(torch_ref, rel=1e-13)
    sk = run("bce", ["clip=eps"], inputs, backend)
    assert sk.value == pytest.approx(log_loss(y, p), rel=1e-13)
    by_hand = int(np.sum(((p == 0) & (y == 1)) | ((p == 1) & (y == 0))))
    assert by_hand > 0 and default.extras["clamped"] == by_hand
    assert "clamped" not in sk.extras
    assert default.value > sk.value * 1.5  # the clamp at -100 is what makes them differ


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("param", "epsilon", "dtype"),
    [
        (param, epsilon, dtype)
        for param, epsilon in [("keras", 1e-7), ("1e-7", 1e-7), ("0.01", 0.01), ("0.25", 0.25), ("1e-12", 1e-12)]
        for dtype in ("float64", "float32")
        # 1 - 1e-12 rounds to 1 in float32: Keras itself gives inf or NaN there, nothing to compare
        if not (dtype == "float32" and epsilon < 6e-8)
    ],
)
def test_bce_clip_number_is_keras_formula(backend, param, epsilon, dtype):
    """Reference: Keras 3 binary_crossentropy (numpy backend) transcribed, mean over elements."""
    p, y = RF_P.astype(dtype), RF_Y.astype(dtype)
    ref = float(np.mean(keras_binary_crossentropy(y, p, epsilon)))
    ev = run("bce", [f"clip={param}"], {"preds": p.astype(np.float64), "targets": RF_Y}, backend, dtype=dtype)
    assert ev.value == pytest.approx(ref, rel=1e-13 if dtype == "float64" else 2e-6)
    per = run("bce", [f"clip={param}"], {"preds": RF_P, "targets": RF_Y}, backend, reduction="none")
    if dtype == "float64":
        np.testing.assert_allclose(per.value, keras_binary_crossentropy(RF_Y, RF_P, epsilon), rtol=1e-14)


@pytest.mark.parametrize("clip", ["1e-7", "0.1", "eps"])
def test_bce_clip_gradient_is_autograd_of_the_clipped_formula(clip):
    """Reference: torch autograd of -(y log q + (1 - y) log(1 - q)), q = torch.clamp(p, c, 1 - c):
    0 outside [c, 1 - c], the bounds themselves included in the range (torch's clamp backward)."""
    c = np.finfo(np.float64).eps if clip == "eps" else float(clip)
    p = np.array([0.0, c, 0.05, 0.3, 0.5, 0.95, 1.0 - c, 1.0, 0.999999, 1e-9])
    y = np.array([1.0, 1.0, 0.0, 1.0, 0.5, 0.0, 0.0, 1.0, 0.25, 0.0])
    pt = t64(p, grad=True)
    q = torch.clamp(pt, c, 1.0 - c)
    ref = torch.mean(-(t64(y) * torch.log(q) + (1 - t64(y)) * torch.log(1 - q)))
    ref.backward()
    ev = run("bce", [f"clip={clip}"], {"preds": p, "targets": y}, "torch")
    assert ev.value == pytest.approx(ref.item(), rel=1e-13)
    np.testing.assert_allclose(ev.gradients["preds"], pt.grad.numpy(), rtol=1e-12, atol=0)
    outside = (p < c) | (p > 1.0 - c)
    assert np.all(ev.gradients["preds"][outside] == 0.0)


@pytest.mark.parametrize(
    ("p", "y", "count"),
    [
        (RF_P, RF_Y, RF_CLAMPED),
        (np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0),  # right and sure: the clamp changes nothing
        (np.array([0.0, 1.0]), np.array([0.5, 0.5]), 2),  # soft labels weigh both logs
        (np.array([3e-44, 4e-44]), np.array([1.0, 1.0]), 1),  # e^-100 = 3.72e-44 lies between them
        (np.array([0.2, 0.7]), np.array([1.0, 0.0]), 0),
    ],
)
def test_bce_clamped_count(p, y, count):
    """Reference: counts worked by hand (an element counts when a log below -100 has a non-zero
    weight), and the value against torch F.binary_cross_entropy."""
    ev = run("bce", [], {"preds": p, "targets": y})
    assert ev.extras.get("clamped", 0) == count
    assert ("clamped" in ev.extras) == (count > 0)
    assert "_clamped" not in ev.params
    assert ev.value == pytest.approx(F.binary_cross_entropy(t64(p), t64(y)).item(), rel=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bce_default_still_torch_at_exact_zero_and_one(backend):
    """Reference: torch F.binary_cross_entropy, value and its hand-written backward."""
    pt = t64(RF_P, grad=True)
    ref = F.binary_cross_entropy(pt, t64(RF_Y))
    ref.backward()
    ev = run("bce", [], {"preds": RF_P, "targets": RF_Y}, backend)
    assert ev.value == pytest.approx(ref.item(), rel=1e-13)
    if backend == "torch":
        np.testing.assert_allclose(ev.gradients["preds"], pt.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("feature_reduction", ["sum", "mean"])
@pytest.mark.parametrize("clip", ["eps", "keras", "0.05"])
def test_reconstruction_bce_clip(backend, feature_reduction, clip):
    """Reference: torch F.binary_cross_entropy of torch.clamp(p, c, 1 - c), summed (or averaged)
    over the features of a row and averaged over rows (the -100 clamp never acts inside [c, 1-c])."""
    c = {"eps": np.finfo(np.float64).eps, "keras": 1e-7}.get(clip) or float(clip)
    p = RF_P.reshape(3, 4)
    y = RF_Y.reshape(3, 4)
    pt = t64(p, grad=True)
    per = F.binary_cross_entropy(torch.clamp(pt, c, 1 - c), t64(y), reduction="none")
    per_row = per.sum(dim=1) if feature_reduction == "sum" else per.mean(dim=1)
    ref = per_row.mean()
    ref.backward()
    params = ["kind=bce", f"clip={clip}", f"feature_reduction={feature_reduction}"]
    ev = run("reconstruction", params, {"preds": p, "targets": y}, backend)
    assert ev.value == pytest.approx(ref.item(), rel=1e-13)
    if backend == "torch":
        np.testing.assert_allclose(ev.gradients["preds"], pt.grad.numpy(), rtol=1e-12)
    default = run("reconstruction", ["kind=bce"], {"preds": p, "targets": y}, backend)
    assert default.extras["clamped"] == RF_CLAMPED


@pytest.mark.parametrize(
    ("loss", "params", "message"),
    [
        ("bce", ["clip=0"], r"clip of bce must be in \[2.22045e-16, 0.5\)"),
        ("bce", ["clip=1e-17"], r"clip of bce must be in \[2.22045e-16, 0.5\)"),
        ("bce", ["clip=0.5"], r"clip of bce must be in \[2.22045e-16, 0.5\) \(or one of eps"),
        ("bce", ["clip=-1e-7"], r"clip of bce must be"),
        ("bce", ["clip=tiny"], r"clip of bce must be a number or one of eps \| sklearn \| keras"),
        ("bce", ["clip=nan"], "clip of bce must be finite"),
        ("bce", ["clip=inf"], "clip of bce must be finite"),
    ],
)
def test_bce_clip_refused_at_parse_time(loss, params, message):
    """Reference: the valid values stated by hand, (0, 0.5) or a name."""
    with pytest.raises(UsageError, match=message):
        parse_params(losses.get(loss), params)


@pytest.mark.parametrize(
    ("loss", "params", "inputs", "message"),
    [
        ("bce", ["from_logits=true", "clip=eps"], {"preds": RF_P, "targets": RF_Y}, "nothing to clip"),
        (
            "reconstruction",
            ["kind=mse", "clip=eps"],
            {"preds": RF_P.reshape(3, 4), "targets": RF_Y.reshape(3, 4)},
            "kind=bce only",
        ),
    ],
)
def test_clip_without_probabilities_is_refused(loss, params, inputs, message):
    """Reference: a clip has nothing to act on with logits or a non-BCE kind (stated by hand)."""
    with pytest.raises(InputError, match=message):
        run(loss, params, inputs)


def test_clip_in_the_parameter_list_and_names():
    """Reference: the spec as the issue asks for it (clip on bce and reconstruction, default none)."""
    for name in ("bce", "reconstruction"):
        param = losses.get(name).param("clip")
        assert param is not None and param.default is None
    assert parse_params(losses.get("bce"), ["clip=none"])["clip"] is None
    assert parse_params(losses.get("bce"), ["clip=EPS"])["clip"] == "eps"
    assert parse_params(losses.get("bce"), ["clip=1e-7"])["clip"] == 1e-7


# ----------------------------------------------------------------------------- 2. BCE range hint


@pytest.mark.parametrize(
    ("loss", "params", "preds", "hint"),
    [
        ("bce", [], np.array([0.2, 2.5, -1.0]), "-p from_logits=true"),
        ("bce", ["clip=eps"], np.array([-0.1, 0.5, 0.5]), "-p from_logits=true"),
        ("bce", [], np.array([[0.2, 1.5], [0.1, 0.3], [0.4, 0.4]]), "-p from_logits=true"),
        ("cross-entropy", ["from_logits=false"], np.array([[0.2, 1.8], [0.5, 0.5], [0.1, 0.9]]), "from_logits=false"),
    ],
)
def test_probability_range_error_suggests_logits(loss, params, preds, hint):
    """Reference: the message the issue asks for, one line suggesting -p from_logits."""
    targets = np.zeros(preds.shape) if loss == "bce" else np.array([0.0, 1.0, 1.0])
    with pytest.raises(InputError) as err:
        run(loss, params, {"preds": preds, "targets": targets})
    text = str(err.value)
    assert "\n" not in text and "must be in [0, 1]" in text and hint in text


# ----------------------------------------------------------------------------- 3. cross-entropy at ±1e308

BIG = {
    "1e308": np.array([[1e308, -1e308, 0.0], [-1e308, 1e308, 0.0], [1.7e308, -1.7e308, 3.0], [2.0, 1e308, 1e308]]),
    "1e300": np.array([[1e300, -1e300, 5.0], [-1e300, 1e300, 0.0], [1e300, 1e300, -1e300], [0.5, -1e300, 2.0]]),
    "-inf": np.array([[-INF, 0.0, 1.0], [0.0, -INF, -INF], [-INF, 2.0, -1e308], [1.0, 2.0, 3.0]]),
    "mixed": np.array([[1e308, -INF, 0.0], [-1e308, -INF, 1e308], [INF, 0.0, 1.0], [-1.0, -INF, 1e300]]),
}
INDEX_TARGETS = np.array([0.0, 0.0, 1.0, 2.0])
PROB_TARGETS = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.2, 0.0, 0.8]])
CE_OPTIONS = {
    "plain": ([], {}),
    "weight": (["weight=1,2,0.5"], {"weight": torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)}),
    "zero_weight": (["weight=1,0,2"], {"weight": torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)}),
    "smoothing": (["label_smoothing=0.1"], {"label_smoothing": 0.1}),
    "weight_smoothing": (
        ["weight=1,2,0.5", "label_smoothing=0.2"],
        {"weight": torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), "label_smoothing": 0.2},
    ),
}


def torch_ce(z: np.ndarray, t: np.ndarray, reduction: str, **kw):
    zt = t64(z, grad=True)
    tt = torch.from_numpy(t.astype(np.int64)) if t.ndim == 1 else t64(t)
    loss = F.cross_entropy(zt, tt, reduction=reduction, **kw)
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach().numpy(), zt.grad.numpy()


def assert_like_torch_where_finite(ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-12) -> None:
    """Equal wherever torch is finite; +-inf where torch is +-inf (NaN: torch's 0·inf, see below)."""
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    finite = np.isfinite(ref)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=rtol, atol=1e-300)
    inf = np.isinf(ref)
    np.testing.assert_array_equal(ours[inf], ref[inf])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("option", list(CE_OPTIONS))
@pytest.mark.parametrize("logits", list(BIG))
@pytest.mark.parametrize("targets", ["index", "prob", "ignore"])
def test_cross_entropy_at_huge_logits_is_torch(backend, option, logits, targets):
    """Reference: torch F.cross_entropy (reduction none and mean), values and gradients wherever
    torch is finite.  Index-target rows with finite logits are never NaN (the old one-hot product
    gave 0·(-inf) = NaN for ±1e308)."""
    z = BIG[logits]
    params, kw = CE_OPTIONS[option]
    if targets == "prob":
        t = PROB_TARGETS
    elif targets == "ignore":
        t = np.array([0.0, -100.0, 1.0, -100.0])
    else:
        t = INDEX_TARGETS
    for reduction in ("none", "mean"):
        ref, ref_grad = torch_ce(z, t, reduction, **kw)
        ev = run("cross-entropy", params, {"preds": z, "targets": t}, backend, reduction=reduction)
        assert_like_torch_where_finite(ev.value, ref)
        if backend == "torch":
            assert_like_torch_where_finite(ev.gradients["preds"], ref_grad)
    per = run("cross-entropy", params, {"preds": z, "targets": t}, backend, reduction="none").value
    if targets != "prob":
        finite_rows = np.all(np.isfinite(z) | (z == -INF), axis=1) & ~np.all(z == -INF, axis=1)
        assert not np.any(np.isnan(per[finite_rows]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_zero_times_minus_inf_is_zero(backend):
    """Reference: worked by hand. A target probability 0 on a class whose log-probability is -inf
    contributes 0 (0 log 0 = 0), where torch gives NaN; the other rows equal torch."""
    z = np.array([[1e308, -1e308, 0.0], [0.0, 1.0, 2.0]])
    t = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ev = run("cross-entropy", [], {"preds": z, "targets": t}, backend, reduction="none")
    ref, _ = torch_ce(z, t, "none")
    assert math.isnan(ref[0]) and ev.value[0] == 0.0
    assert ev.value[1] == pytest.approx(ref[1], rel=1e-14)


def test_cross_entropy_ignored_rows_have_zero_gradient_whatever_they_hold():
    """Reference: torch F.cross_entropy for the counted rows; an ignored row holding +inf gets
    gradient 0 here (torch gives NaN there: the row's softmax is NaN times a zero gradient)."""
    z = np.array([[INF, 0.0, 1.0], [1.0, 2.0, 0.5], [np.nan, 0.0, 0.0]])
    t = np.array([-100.0, 1.0, -100.0])
    ev = run("cross-entropy", [], {"preds": z, "targets": t}, "torch")
    ref, ref_grad = torch_ce(z, t, "mean")
    assert ev.value == pytest.approx(float(ref), rel=1e-14)
    np.testing.assert_allclose(ev.gradients["preds"][1], ref_grad[1], rtol=1e-13)
    assert np.all(ev.gradients["preds"][[0, 2]] == 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("logits", ["1e308", "1e300", "-inf"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_seq2seq_at_huge_logits_is_torch(backend, logits, smoothing):
    """Reference: torch F.cross_entropy on the flattened tokens with ignore_index=-100."""
    z = BIG[logits].reshape(2, 2, 3)
    t = np.array([[0.0, -100.0], [1.0, 2.0]])
    zt = t64(z, grad=True)
    ref = F.cross_entropy(
        zt.reshape(-1, 3), torch.from_numpy(t.reshape(-1).astype(np.int64)), label_smoothing=smoothing
    )
    ref.backward()
    ev = run("seq2seq", [f"label_smoothing={smoothing}"], {"preds": z, "targets": t}, backend)
    assert_like_torch_where_finite(np.array([ev.value]), np.array([ref.item()]))
    if backend == "torch":
        assert_like_torch_where_finite(ev.gradients["preds"], zt.grad.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("logits", ["1e300", "1e308", "-inf"])
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_at_huge_logits_is_torch(backend, logits, p):
    """Reference: torch F.multi_margin_loss wherever torch is finite (a gather and a mask, no
    one-hot product)."""
    z = BIG[logits]
    t = INDEX_TARGETS
    zt = t64(z, grad=True)
    ref = F.multi_margin_loss(zt, torch.from_numpy(t.astype(np.int64)), p=p, reduction="none")
    ref.sum().backward()
    ev = run("multi-margin", [f"p={p}"], {"preds": z, "targets": t}, backend, reduction="none")
    assert_like_torch_where_finite(ev.value, ref.detach().numpy())
    if backend == "torch":
        assert_like_torch_where_finite(ev.gradients["preds"], zt.grad.numpy())


# ----------------------------------------------------------------------------- 4. log-cosh

LOG_COSH_R = [-1e308, 1e308, -1.7e308, -1e300, 1e200, -800.0, 710.0, -30.0, 1.5, 1.0, -1.0, 0.999, 0.5, 1e-3]
LOG_COSH_R += [1e-8, -1e-8, 1e-170, 0.0]


def mp_log_cosh(r: float) -> float:
    with mpmath.workdps(60):
        return float(mpmath.log(mpmath.cosh(mpmath.mpf(r))))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("r", LOG_COSH_R)
def test_log_cosh_exact_against_mpmath(backend, r):
    """Reference: mpmath log(cosh(r)) at 60 digits; gradient tanh(r) (mpmath too)."""
    ev = run("log-cosh", [], {"preds": np.array([r]), "targets": np.array([0.0])}, backend, reduction="sum")
    ref = mp_log_cosh(r)
    assert ev.value == pytest.approx(ref, rel=4e-16, abs=0)
    if backend == "torch":
        with mpmath.workdps(60):
            tanh = float(mpmath.tanh(mpmath.mpf(r)))
        assert ev.gradients["preds"][0] == pytest.approx(tanh, rel=4e-16, abs=1e-300)


def test_log_cosh_is_symmetric():
    """Reference: log cosh is even (by hand): ℓ(r) == ℓ(-r) exactly, gradients opposite."""
    r = np.array([1e308, 3.0, 0.7, 1e-9, 1.0])
    a = run("log-cosh", [], {"preds": r, "targets": np.zeros(5)}, "torch", reduction="none")
    b = run("log-cosh", [], {"preds": -r, "targets": np.zeros(5)}, "torch", reduction="none")
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.gradients["preds"], -b.gradients["preds"])


# ----------------------------------------------------------------------------- 5. 1-D embeddings


TRIPLET_PARAMS = [[], ["p=1"], ["p=3", "margin=0.5"], ["swap=true"], ["margin=10"]]


@pytest.mark.parametrize("params", TRIPLET_PARAMS, ids=lambda p: ",".join(p) or "default")
@pytest.mark.parametrize("d", [1, 3, 8])
def test_triplet_one_dimensional_input_is_one_embedding_as_torch(params, d):
    """Reference: torch F.triplet_margin_loss on 1-D tensors (torch 2.x: one embedding of size D),
    value and gradients."""
    rng = np.random.default_rng(d)
    a, p, n = (rng.normal(size=d) for _ in range(3))
    prm = parse_params(losses.get("triplet"), params)
    leaves = [t64(v, grad=True) for v in (a, p, n)]
    ref = F.triplet_margin_loss(*leaves, margin=prm["margin"], p=prm["p"], eps=prm["eps"], swap=prm["swap"])
    assert ref.dim() == 0
    ref.backward()
    for backend in BACKENDS:
        ev = run("triplet", params, {"anchor": a, "positive": p, "negative": n}, backend)
        assert ev.n == 1 if hasattr(ev, "n") else True
        assert ev.value == pytest.approx(ref.item(), rel=1e-13, abs=1e-15)
    ev = run("triplet", params, {"anchor": a, "positive": p, "negative": n}, "torch")
    for name, leaf in zip(("anchor", "positive", "negative"), leaves):
        assert ev.gradients[name].shape == (d,)
        np.testing.assert_allclose(ev.gradients[name], leaf.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_triplet_one_dimensional_equals_one_row():
    """Reference: torch F.triplet_margin_loss: a (d,) input and the same (1, d) row give one loss."""
    rng = np.random.default_rng(7)
    a, p, n = (rng.normal(size=5) for _ in range(3))
    flat = run("triplet", [], {"anchor": a, "positive": p, "negative": n}, reduction="none")
    row = run("triplet", [], {"anchor": a[None], "positive": p[None], "negative": n[None]}, reduction="none")
    ref = F.triplet_margin_loss(t64(a[None]), t64(p[None]), t64(n[None]), reduction="none").numpy()
    np.testing.assert_allclose(flat.value, ref, rtol=1e-14)
    np.testing.assert_allclose(row.value, ref, rtol=1e-14)


def test_triplet_one_dimensional_worked_element_equals_autograd():
    """Reference: torch autograd (the --explain hand derivation must agree with it on 1-D inputs)."""
    from losscli.chains import worked_element

    rng = np.random.default_rng(3)
    inputs = {k: rng.normal(size=4) for k in ("anchor", "positive", "negative")}
    inputs["negative"] = inputs["anchor"] + 0.1  # an active triplet: the hinge is > 0
    ev = run("triplet", [], inputs, "torch")
    assert ev.value > 0
    for name in ("anchor", "positive", "negative"):
        for k in range(4):
            chain = worked_element(ev, inputs, (k,), name)
            assert chain is not None
            assert chain.product == pytest.approx(float(ev.gradients[name][k]), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("label", [0.0, 1.0])
@pytest.mark.parametrize("margin", [1.0, 5.0])
def test_contrastive_one_dimensional_input_is_one_pair(label, margin):
    """Reference: the contrastive formula by hand with torch.linalg.vector_norm on 1-D tensors
    (torch reads a 1-D tensor as one vector, as cosine_embedding_loss does), autograd gradients."""
    rng = np.random.default_rng(int(margin))
    x1, x2 = rng.normal(size=6), rng.normal(size=6)
    l1, l2 = t64(x1, grad=True), t64(x2, grad=True)
    dist = torch.linalg.vector_norm(l1 - l2)
    ref = 0.5 * (label * dist**2 + (1 - label) * torch.clamp(margin - dist, min=0) ** 2)
    ref.backward()
    ev = run("contrastive", [f"margin={margin}"], {"x1": x1, "x2": x2, "label": np.array([label])}, "torch")
    assert ev.value == pytest.approx(ref.item(), rel=1e-13, abs=1e-300)
    np.testing.assert_allclose(ev.gradients["x1"], l1.grad.numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ev.gradients["x2"], l2.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    ("loss", "inputs", "message"),
    [
        (
            "triplet",
            {"anchor": np.zeros(3), "positive": np.zeros((4, 3)), "negative": np.zeros((4, 3))},
            "anchor has 1 row .a 1-D input is one embedding",
        ),
        ("contrastive", {"x1": np.zeros(4), "x2": np.ones(4), "label": np.ones(4)}, "one label per pair"),
        ("triplet", {"anchor": np.zeros(3), "positive": np.zeros(3), "negative": np.zeros(2)}, "same width"),
    ],
)
def test_one_dimensional_mismatches_are_explained(loss, inputs, message):
    """Reference: torch refuses mixed 1-D / 2-D triplets; the message says how 1-D is read."""
    with pytest.raises(InputError, match=message):
        run(loss, [], inputs)


@pytest.mark.parametrize("loss", ["triplet", "contrastive"])
def test_metric_spec_says_how_one_dimensional_inputs_are_read(loss):
    """Reference: the decision itself (follow torch), as the spec's input and formula texts state it."""
    spec = losses.get(loss)
    embedding_inputs = [i for i in spec.inputs if i.name != "label"]
    assert all("or d: one" in i.shape for i in embedding_inputs)
    assert "1-D" in spec.formula and "as torch" in spec.formula


# ----------------------------------------------------------------------------- 6. parameters

INT_BAD = ["1e20", "-1e20", str(INT64_MAX + 1), str(INT64_MIN - 1), "1e400", "-inf", "inf", "9" * 5000]


@pytest.mark.parametrize("text", INT_BAD)
@pytest.mark.parametrize("loss", ["cross-entropy", "seq2seq", "sparse-cross-entropy"])
def test_out_of_range_integer_refused_at_parse_time(loss, text):
    """Reference: int64 bounds by hand; one line naming the parameter and the range."""
    with pytest.raises(UsageError) as err:
        parse_params(losses.get(loss), [f"ignore_index={text}"])
    message = str(err.value)
    assert "\n" not in message and "ignore_index" in message and "int64" in message and str(INT64_MAX) in message


@pytest.mark.parametrize("text", ["nan", "1.5", "abc"])
def test_non_integer_refused(text):
    """Reference: stated by hand: an int parameter takes whole numbers only."""
    with pytest.raises(UsageError, match="ignore_index of cross-entropy must be a whole number"):
        parse_params(losses.get("cross-entropy"), [f"ignore_index={text}"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN, 10**15 + 1])
def test_integer_at_int64_bounds_runs_on_both_backends(backend, value):
    """Reference: torch F.cross_entropy with the same ignore_index (no OverflowError anywhere)."""
    prm = parse_params(losses.get("cross-entropy"), [f"ignore_index={value}"])
    assert prm["ignore_index"] == value and isinstance(value, int)
    z = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 3.0]])
    t = np.array([0.0, 2.0])
    ev = run("cross-entropy", [f"ignore_index={value}"], {"preds": z, "targets": t}, backend)
    ref = F.cross_entropy(t64(z), torch.tensor([0, 2]), ignore_index=value).item()
    assert ev.value == pytest.approx(ref, rel=1e-14)


def _numeric_params():
    for name, spec in sorted(losses.REGISTRY.items()):
        for p in spec.params:
            if p.kind in ("float", "floats", "int"):
                yield pytest.param(name, p.name, id=f"{name}-{p.name}")


@pytest.mark.parametrize(("loss", "param"), list(_numeric_params()))
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", "NaN"])
def test_every_numeric_parameter_refuses_nan_and_inf(loss, param, text):
    """Reference: stated by hand: no parameter of any registered loss takes NaN or ±inf."""
    with pytest.raises(UsageError, match=param):
        parse_params(losses.get(loss), [f"{param}={text}"])


# ----------------------------------------------------------------------------- 7. gradient health near 1e308


@pytest.mark.parametrize(
    ("loss", "preds", "overflowing"),
    [
        ("mse", np.array([1e308, -1e308, 1.0]), 2),  # 2r/N finite, 2r = 2e308 is not
        ("mse", np.array([6e307, 0.5, 0.25, 1.0]), 0),  # 2r = 1.2e308 still finite
        ("mae", np.array([1e308, -1e308, 1.0]), 0),  # gradient ±1/N: nothing overflows
        ("huber", np.array([1e308, 1e300, 0.5]), 0),
        ("mse", np.array([1.7e308, 1.7e308, 1.7e308]), 3),
    ],
)
def test_health_near_1e308_counts_overflow_and_never_crashes(loss, preds, overflowing):
    """Reference: per-sample gradients worked by hand (MSE: 2r, MAE: sign r, Huber: clip(r, ±1));
    an overflowing per-sample value is non-finite and counted, the histogram stays finite."""
    inputs = {"preds": preds, "targets": np.zeros_like(preds)}
    ev = run(loss, [], inputs, "torch")
    h = diagnose(ev, inputs)
    assert h.overflow == overflowing and h.nonfinite == overflowing
    assert (h.status == "nonfinite") == (overflowing > 0)
    assert all(math.isfinite(e) for e in h.histogram["edges"])
    assert h.histogram["nonfinite"] == overflowing
    assert sum(h.histogram["counts"]) + h.histogram["zeros"] + h.histogram["nonfinite"] == preds.size
    assert math.isfinite(h.per_sample_rms) and math.isfinite(h.mean_abs)
    if overflowing:
        assert "overflows" in h.reason() and any(f["kind"] == "nonfinite" for f in h.findings)
    if loss == "mse" and not overflowing:
        assert h.per_sample_max_abs == pytest.approx(2 * np.max(np.abs(preds)), rel=1e-15)


@pytest.mark.parametrize(
    ("values", "norm", "rms", "mean"),
    [
        (np.array([1.5e308, 1.5e308]), INF, 1.5e308, 1.5e308),  # the norm 2.1e308 is beyond float64
        (np.array([1e308, 1e308]), math.sqrt(2) * 1e308, 1e308, 1e308),  # Σx² overflows, the norm does not
        (np.array([3e307, 4e307]), 5e307, 5e307 / math.sqrt(2), 3.5e307),
        (np.array([3.0, 4.0]), 5.0, math.sqrt(12.5), 3.5),
        (np.array([1e-320, 0.0]), 1e-320, 1e-320 / math.sqrt(2), 5e-321),
        (np.zeros(0), 0.0, 0.0, 0.0),
    ],
)
def test_stable_norm_rms_and_mean(values, norm, rms, mean):
    """Reference: worked by hand; the RMS and the mean never overflow (both are at most max|x|)."""
    assert stable_norm(values) == pytest.approx(norm, rel=1e-15)
    assert stable_rms(values) == pytest.approx(rms, rel=1e-15, abs=1e-323)
    assert stable_mean(values) == pytest.approx(mean, rel=1e-15, abs=1e-323)


def test_histogram_leaves_out_infinite_values():
    """Reference: by hand: inf is not binned (it is counted as non-finite by the caller)."""
    h = histogram(np.array([INF, 1e300, 1.0, 0.0]), zeros=1, nonfinite=1)
    assert sum(h["counts"]) == 2 and all(math.isfinite(e) for e in h["edges"])


@pytest.mark.parametrize("loss", ["bce", "reconstruction"])
@pytest.mark.parametrize("clip", ["none", "eps", "keras", "0.1"])
def test_bce_worked_element_with_a_clip_equals_autograd(loss, clip):
    """Reference: torch autograd (the --explain hand derivation of the clipped formula must agree)."""
    from losscli.chains import worked_element

    p = np.array([[0.05, 0.3, 0.5], [0.95, 0.7, 0.2]])
    y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
    params = [f"clip={clip}"] + (["kind=bce"] if loss == "reconstruction" else [])
    inputs = {"preds": p, "targets": y}
    ev = run(loss, params, inputs, "torch")
    for index in np.ndindex(p.shape):
        chain = worked_element(ev, inputs, index, "preds")
        assert chain is not None
        assert chain.product == pytest.approx(float(ev.gradients["preds"][index]), rel=1e-12)
    if clip == "0.1":  # 0.05 and 0.95 lie outside [0.1, 0.9]: the clip's gradient is 0 there
        assert ev.gradients["preds"][0, 0] == 0.0 and ev.gradients["preds"][1, 0] == 0.0
