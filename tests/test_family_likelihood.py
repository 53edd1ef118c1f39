"""The regression and likelihood losses of issue 11 against their defining libraries, float64:
value for every reduction the library offers and the gradient, unbatched inputs where torch takes
them, the bundled examples and bad inputs through the CLI.

poisson-nll and gaussian-nll: torch itself (installed).  mape: Keras's formula transcribed from
keras/src/losses/losses.py and Keras's own test values, and scikit-learn.  tweedie: scikit-learn.
cosine-similarity: Keras's and optax's formulas transcribed from their sources, their own test
values, and scipy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscli.examples import DATA
from tests.test_losses import run

REDUCTIONS = ("mean", "sum", "none")


def tt(a, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def check_values(name: str, params: list[str], inputs: dict[str, np.ndarray], reduction: str, ref) -> None:
    """Both backends give ``ref`` (a number or an array for ``none``)."""
    for backend in ("numpy", "torch"):
        ev = run(name, params, inputs, backend, reduction=reduction)
        np.testing.assert_allclose(ev.value, ref, rtol=1e-12, atol=1e-14)


def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("losscli: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ====================================================================== poisson-nll

POISSON_OPTIONS = {
    "default": ([], dict(log_input=True, full=False, eps=1e-8)),
    "full": (["full=true"], dict(log_input=True, full=True, eps=1e-8)),
    "rate": (["log_input=false"], dict(log_input=False, full=False, eps=1e-8)),
    "rate_full_eps": (["log_input=false", "full=true", "eps=0.01"], dict(log_input=False, full=True, eps=0.01)),
}
SHAPES = {"scalar": (), "vector": (7,), "matrix": (4, 3), "3d": (2, 3, 2)}


def poisson_data(shape: tuple[int, ...], log_input: bool, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.3, 6.0, size=shape)
    counts = np.asarray(rng.poisson(rate), dtype=np.float64)
    if counts.size >= 3:  # 0, 1 and a count above 1: the Stirling term's mask on both sides
        counts.reshape(-1)[:3] = [0.0, 1.0, 5.0]
    return {"preds": np.log(rate) if log_input else rate, "targets": counts}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("option", POISSON_OPTIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_matches_torch(reduction, option, shape):
    params, kw = POISSON_OPTIONS[option]
    inputs = poisson_data(SHAPES[shape], kw["log_input"])
    x = tt(inputs["preds"], grad=True)
    ref = F.poisson_nll_loss(x, tt(inputs["targets"]), reduction=reduction, **kw)
    ref.sum().backward()
    check_values("poisson-nll", params, inputs, reduction, ref.detach().numpy())
    ev = run("poisson-nll", params, inputs, "torch", reduction=reduction)
    assert ev.elements.shape == SHAPES[shape]
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_poisson_nll_stirling_only_above_one():
    """full=true adds y·log y - y + ½ log(2πy) exactly where y > 1; y = 0 and y = 1 get nothing."""
    inputs = {"preds": np.zeros(4), "targets": np.array([0.0, 1.0, 1.5, 4.0])}
    plain = run("poisson-nll", [], inputs, reduction="none").value
    full = run("poisson-nll", ["full=true"], inputs, reduction="none").value
    expected = [0.0, 0.0, *(y * math.log(y) - y + 0.5 * math.log(2 * math.pi * y) for y in (1.5, 4.0))]
    np.testing.assert_allclose(full - plain, expected, rtol=1e-14, atol=0)


def test_poisson_nll_bundled_example(cli):
    r = cli("compute", "poisson-nll", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    x = np.loadtxt(DATA / "poisson_nll_log_rates.csv", skiprows=1)
    y = np.loadtxt(DATA / "poisson_nll_counts.csv", skiprows=1)
    assert float(r.stdout) == pytest.approx(F.poisson_nll_loss(tt(x), tt(y)).item(), rel=1e-14)
    assert "6. Gradients accumulate" in cli("grad", "poisson-nll", "--explain").stdout


def test_poisson_nll_refuses_a_negative_rate(cli, write):
    p, t = write("rates.csv", np.array([0.5, -2.0, 1.0])), write("counts.csv", np.array([1.0, 0.0, 2.0]))
    line = one_line_error(cli("compute", "poisson-nll", p, t, "-p", "log_input=false"), str(p), "data row 2")
    assert "log_input=true" in line
    assert cli("compute", "poisson-nll", p, t, "-f", "plain").exit_code == 0  # log-rates may be negative


# ====================================================================== gaussian-nll

# (preds shape, var shape) as torch's GaussianNLLLoss documents them, unbatched ones included
GAUSSIAN_SHAPES = {
    "hetero": ((5, 3), (5, 3)),
    "one_fewer_dim": ((5, 3), (5,)),
    "last_dim_1": ((5, 3), (5, 1)),
    "middle_dim_1": ((4, 3, 2), (4, 1, 2)),
    "unbatched": ((6,), (6,)),
    "unbatched_var_1": ((6,), (1,)),
    "unbatched_var_0d": ((6,), ()),
    "scalar": ((), ()),
}


def gaussian_data(shape, var_shape, seed: int = 1, target_shape=None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=shape)
    return {
        "preds": mu,
        "targets": mu + rng.normal(0, 1.3, size=shape if target_shape is None else target_shape),
        "var": rng.uniform(0.2, 2.0, size=var_shape),
    }


def torch_gaussian(inputs: dict[str, np.ndarray], reduction: str, var_form: str = "tensor", **kw):
    """torch's value, and the gradients of its sum for input and var."""
    x, v = tt(inputs["preds"], grad=True), tt(inputs["var"], grad=True)
    var = v if var_form == "tensor" else v.expand(x.shape)  # a float var: one value for every element
    out = F.gaussian_nll_loss(x, tt(inputs["targets"]), var, reduction=reduction, **kw)
    out.sum().backward()
    return out.detach().numpy(), x.grad.numpy(), v.grad.numpy()


@pytest.mark.parametrize("full", [False, True], ids=["plain", "full"])
@pytest.mark.parametrize("shapes", GAUSSIAN_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_matches_torch(reduction, shapes, full):
    shape, var_shape = GAUSSIAN_SHAPES[shapes]
    inputs = gaussian_data(shape, var_shape)
    params = ["full=true"] if full else []
    value, grad_x, grad_v = torch_gaussian(inputs, reduction, full=full)
    check_values("gaussian-nll", params, inputs, reduction, value)
    ev = run("gaussian-nll", params, inputs, "torch", reduction=reduction)
    np.testing.assert_allclose(ev.gradients["preds"], grad_x, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ev.gradients["var"], grad_v, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_one_variance_is_torchs_float_var(reduction):
    """A var of one value on a 2-D input is torch's float var (a 1-element tensor would be refused there)."""
    inputs = gaussian_data((4, 3), (1,))
    x = tt(inputs["preds"], grad=True)
    ref = F.gaussian_nll_loss(x, tt(inputs["targets"]), float(inputs["var"][0]), reduction=reduction)
    ref.sum().backward()
    check_values("gaussian-nll", [], inputs, reduction, ref.detach().numpy())
    ev = run("gaussian-nll", [], inputs, "torch", reduction=reduction)
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-12, atol=1e-15)
    _, _, grad_v = torch_gaussian(inputs, reduction, var_form="expanded")
    np.testing.assert_allclose(ev.gradients["var"], grad_v, rtol=1e-12, atol=1e-15)


def test_gaussian_nll_clamp_is_invisible_to_autograd_as_torch():
    """Variances 0 and 0.002 below eps = 0.01: the value uses eps, the gradient is torch's
    straight-through ½(1/v̂ - r²/v̂²), not the 0 of a differentiated clamp."""
    inputs = gaussian_data((8,), (8,), seed=3)
    inputs["var"][[1, 4]] = [0.002, 0.0]
    for reduction in REDUCTIONS:
        value, grad_x, grad_v = torch_gaussian(inputs, reduction, eps=0.01)
        check_values("gaussian-nll", ["eps=0.01"], inputs, reduction, value)
        ev = run("gaussian-nll", ["eps=0.01"], inputs, "torch", reduction=reduction)
        np.testing.assert_allclose(ev.gradients["preds"], grad_x, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ev.gradients["var"], grad_v, rtol=1e-12, atol=1e-15)
        assert grad_v[4] != 0.0


def test_gaussian_nll_targets_with_a_size_one_axis_broadcast_as_torch():
    inputs = gaussian_data((4, 3), (4, 3), target_shape=(4, 1))
    value, grad_x, grad_v = torch_gaussian(inputs, "none")
    check_values("gaussian-nll", [], inputs, "none", value)
    ev = run("gaussian-nll", [], inputs, "torch")
    np.testing.assert_allclose(ev.gradients["preds"], grad_x / 12, rtol=1e-12)
    np.testing.assert_allclose(ev.gradients["var"], grad_v / 12, rtol=1e-12)


def test_gaussian_nll_bundled_example(cli):
    r = cli("compute", "gaussian-nll", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    x, y, v = (np.loadtxt(DATA / f"gaussian_nll_{n}.csv", skiprows=1) for n in ("mean", "target", "var"))
    assert float(r.stdout) == pytest.approx(F.gaussian_nll_loss(tt(x), tt(y), tt(v)).item(), rel=1e-14)
    out = cli("grad", "gaussian-nll", "--explain").stdout
    assert "they agree" in out and "6. Gradients accumulate" in out


def test_gaussian_nll_positional_files_in_torchs_order(cli, write):
    """input, target, var: swapping target and var changes the value."""
    d = gaussian_data((5,), (5,))
    files = [write(f"{k}.csv", d[k]) for k in ("preds", "targets", "var")]
    r = cli("compute", "gaussian-nll", *files, "-f", "plain")
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(F.gaussian_nll_loss(tt(d["preds"]), tt(d["targets"]), tt(d["var"])).item())


def test_gaussian_nll_refuses_negative_var_and_bad_shapes(cli, write):
    d = gaussian_data((5,), (5,))
    p, t = write("mean.csv", d["preds"]), write("target.csv", d["targets"])
    bad = write("var.csv", np.array([1.0, 0.5, -0.2, 1.0, 2.0]))
    one_line_error(cli("compute", "gaussian-nll", p, t, bad), str(bad), "data row 3", "var must be >= 0")
    short = write("short.csv", np.array([1.0, 0.5, 2.0]))
    line = one_line_error(cli("compute", "gaussian-nll", p, t, short), str(short), str(p), "var has shape 3")
    assert "without its last axis" in line
    wide = write("wide.csv", "a,b\n1,2\n1,2\n1,2\n1,2\n1,2\n")
    one_line_error(cli("compute", "gaussian-nll", wide, wide, write("v.csv", np.ones(4))), "var has shape 4")


# ====================================================================== mape


def keras_mape(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """keras/src/losses/losses.py mean_absolute_percentage_error, transcribed (Keras is not installed):
    diff = abs((y_true - y_pred) / maximum(abs(y_true), epsilon)); 100 * mean(diff, axis=-1),
    epsilon = keras.backend.epsilon() = 1e-7.  The per-sample values reduction=None returns."""
    diff = torch.abs((y_true - y_pred) / torch.clamp(torch.abs(y_true), min=1e-7))
    return 100.0 * torch.mean(diff, dim=-1)


# Keras's own test data (keras/src/losses/losses_test.py MeanAbsolutePercentageErrorTest)
KERAS_Y_TRUE = np.array([[1.0, 9.0, 2.0], [-5.0, -2.0, 6.0]])
KERAS_Y_PRED = np.array([[4.0, 8.0, 12.0], [8.0, 1.0, 3.0]])


def test_mape_matches_keras():
    """Keras's test values (float32 there, 3-4 digits), then its formula transcribed for every Keras
    reduction: sum_over_batch_size (= losscli mean), None (per sample: losscli's none averaged over the
    last axis), sum (the sum of those), and the gradient."""
    d = {"preds": KERAS_Y_PRED, "targets": KERAS_Y_TRUE}
    assert run("mape", [], d).value == pytest.approx(211.8518, abs=5e-4)  # test_unweighted
    per_sample = run("mape", [], d, reduction="none").value.mean(axis=-1)
    np.testing.assert_allclose(per_sample * 2.3, [621.8518, 352.6666], atol=5e-4)  # test_no_reduction, weight 2.3
    rng = np.random.default_rng(7)
    y = rng.choice([-1.0, 1.0], size=(6, 4)) * rng.uniform(0.5, 30.0, size=(6, 4))
    y[1, 2], y[4, 0] = 0.0, 3e-8  # both below ε: divided by ε
    inputs = {"preds": y + rng.normal(0, 2.0, size=y.shape), "targets": y}
    x = tt(inputs["preds"], grad=True)
    keras = keras_mape(tt(y), x)
    keras.mean().backward()  # sum_over_batch_size
    check_values("mape", [], inputs, "mean", keras.mean().item())
    ev = run("mape", [], inputs, "torch")
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-12)
    none = run("mape", [], inputs, reduction="none").value
    np.testing.assert_allclose(none.mean(axis=-1), keras.detach().numpy(), rtol=1e-12)  # Keras reduction=None
    np.testing.assert_allclose(none.mean(axis=-1).sum(), keras.sum().item(), rtol=1e-12)  # Keras reduction="sum"
    check_values("mape", [], inputs, "sum", none.sum())


def test_mape_against_scikit_learn():
    """scikit-learn's mean_absolute_percentage_error is the same ratio without the factor 100 wherever
    |y| >= 1e-7; at y = 0 their epsilons differ (1e-7 against 2.2e-16)."""
    from sklearn.metrics import mean_absolute_percentage_error

    rng = np.random.default_rng(8)
    y = rng.uniform(-40.0, 40.0, size=(9, 2))
    p = y * rng.uniform(0.5, 1.5, size=y.shape)
    for backend in ("numpy", "torch"):
        value = run("mape", [], {"preds": p, "targets": y}, backend).value
        assert value == pytest.approx(100 * mean_absolute_percentage_error(y, p), rel=1e-13)
    zero = {"preds": np.array([0.5, 2.0]), "targets": np.array([0.0, 4.0])}
    assert run("mape", [], zero).value == pytest.approx((100 * 0.5 / 1e-7 + 50.0) / 2, rel=1e-14)
    sk = mean_absolute_percentage_error(zero["targets"], zero["preds"])
    assert sk == pytest.approx((0.5 / np.finfo(np.float64).eps + 0.5) / 2, rel=1e-14)


def test_mape_bundled_example(cli):
    r = cli("compute", "mape", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    p, y = (np.loadtxt(DATA / f, delimiter=",", skiprows=1) for f in ("preds.csv", "targets.csv"))
    assert float(r.stdout) == pytest.approx(keras_mape(tt(y), tt(p)).item(), rel=1e-13)
    assert "they agree" in cli("grad", "mape", "--explain").stdout


def test_mape_refuses_mismatched_shapes(cli, write):
    p, t = write("p.csv", np.ones(4)), write("t.csv", np.ones(3))
    one_line_error(cli("compute", "mape", p, t), str(p), str(t), "they must match")


# ====================================================================== tweedie

TWEEDIE_DATA = {
    0: lambda rng: (rng.uniform(0.3, 4.0, 15), rng.normal(1.0, 2.0, 15)),
    1: lambda rng: (rng.uniform(0.3, 4.0, 15), np.r_[0.0, 0.0, rng.poisson(2.0, 13)].astype(float)),
    1.5: lambda rng: (rng.uniform(0.3, 4.0, 15), np.r_[0.0, rng.gamma(2.0, 1.0, 14)]),
    2: lambda rng: (rng.uniform(0.3, 4.0, 15), rng.gamma(2.0, 1.0, 15)),
    3: lambda rng: (rng.uniform(0.3, 4.0, 15), rng.gamma(2.0, 1.0, 15)),
    -1: lambda rng: (rng.uniform(0.3, 4.0, 15), rng.normal(0.5, 2.0, 15)),
}


@pytest.mark.parametrize("power", [0, 1, 1.5, 2, 3, -1])
def test_tweedie_matches_scikit_learn(power):
    """scikit-learn mean_tweedie_deviance for the value (mean and with sample weights); sum and none are
    its unreduced deviances (transcribed from _mean_tweedie_deviance); the gradient is the closed form
    2 μ^(-ρ) (μ - y) / N (scikit-learn computes no gradient)."""
    from sklearn.metrics import mean_tweedie_deviance

    mu, y = TWEEDIE_DATA[power](np.random.default_rng(9))
    inputs, params = {"preds": mu, "targets": y}, [f"power={power}"]
    check_values("tweedie", params, inputs, "mean", mean_tweedie_deviance(y, mu, power=power))
    w = np.random.default_rng(10).uniform(0.2, 3.0, size=y.size)
    for backend in ("numpy", "torch"):
        ev = run("tweedie", params, inputs, backend, sample_weights=w)
        assert ev.value == pytest.approx(mean_tweedie_deviance(y, mu, sample_weight=w, power=power), rel=1e-12)
    per = np.array([mean_tweedie_deviance(y[i : i + 1], mu[i : i + 1], power=power) for i in range(y.size)])
    check_values("tweedie", params, inputs, "none", per)
    check_values("tweedie", params, inputs, "sum", per.sum())
    grad = run("tweedie", params, inputs, "torch").gradients["preds"]
    np.testing.assert_allclose(grad, 2 * mu ** (-power) * (mu - y) / y.size, rtol=1e-11, atol=1e-15)


def test_tweedie_special_powers_are_the_named_deviances():
    rng = np.random.default_rng(11)
    mu, y = rng.uniform(0.5, 3.0, 8), rng.uniform(0.5, 3.0, 8)
    d = {"preds": mu, "targets": y}
    assert run("tweedie", [], d).value == pytest.approx(run("mse", [], d).value, rel=1e-14)
    from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance

    assert run("tweedie", ["power=1"], d).value == pytest.approx(mean_poisson_deviance(y, mu), rel=1e-13)
    assert run("tweedie", ["power=2"], d).value == pytest.approx(mean_gamma_deviance(y, mu), rel=1e-13)


def test_tweedie_bundled_example(cli):
    from sklearn.metrics import mean_tweedie_deviance

    mu = np.loadtxt(DATA / "tweedie_premiums.csv", skiprows=1)
    y = np.loadtxt(DATA / "tweedie_claims.csv", skiprows=1)
    r = cli("compute", "tweedie", "-f", "plain")  # the example's own -p power=1.5 applies, and is said
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(mean_tweedie_deviance(y, mu, power=1.5), rel=1e-13)
    assert "with -p power=1.5" in r.stderr
    r = cli("compute", "tweedie", "-p", "power=1.2", "-f", "plain")  # what the user sets wins
    assert r.exit_code == 0, r.stderr
    assert float(r.stdout) == pytest.approx(mean_tweedie_deviance(y, mu, power=1.2), rel=1e-13)
    assert "with -p" not in r.stderr
    assert "they agree" in cli("grad", "tweedie", "--explain").stdout


@pytest.mark.parametrize(
    "power, preds, targets, where, text",
    [
        ("-1", [1.0, 0.0, 2.0], [-3.0, 1.0, 1.0], "preds", "data row 2: preds must be > 0"),
        ("1", [1.0, 2.0, 2.0], [1.0, -1.0, 0.0], "targets", "data row 2: targets must be >= 0"),
        ("1.5", [1.0, -2.0, 2.0], [1.0, 1.0, 0.0], "preds", "data row 2: preds must be > 0"),
        ("2", [1.0, 2.0, 2.0], [1.0, 1.0, 0.0], "targets", "data row 3: targets must be > 0"),
        ("3", [1.0, 2.0, 0.0], [1.0, 1.0, 2.0], "preds", "data row 3: preds must be > 0"),
    ],
)
def test_tweedie_refuses_data_outside_scikit_learns_domain(cli, write, power, preds, targets, where, text):
    p, t = write("mu.csv", np.array(preds)), write("y.csv", np.array(targets))
    line = one_line_error(cli("compute", "tweedie", p, t, "-p", f"power={power}"), text, f"power={power}")
    assert str(p if where == "preds" else t) in line


def test_tweedie_refuses_a_power_between_0_and_1(cli, write):
    p = write("mu.csv", np.array([1.0, 2.0]))
    one_line_error(cli("compute", "tweedie", p, p, "-p", "power=0.5"), "power", "0 < power < 1")
    assert cli("compute", "tweedie", p, write("y.csv", np.array([-1.0, 1.0])), "-f", "plain").exit_code == 0


# ====================================================================== cosine-similarity


def keras_cosine(y_true: torch.Tensor, y_pred: torch.Tensor, epsilon: float = 1e-7) -> torch.Tensor:
    """keras/src/losses/losses.py cosine_similarity, with keras/src/ops/nn.py _normalize (order 2),
    transcribed: x * minimum(rsqrt(sum(square(x), axis, keepdims)), 1/epsilon); -sum(y_true * y_pred)."""

    def normalize(x):
        inv_norm = torch.rsqrt(torch.sum(torch.square(x), dim=-1, keepdim=True))
        return x * torch.minimum(inv_norm, torch.tensor(1.0 / epsilon, dtype=x.dtype))

    return -torch.sum(normalize(y_true) * normalize(y_pred), dim=-1)


def optax_cosine_distance(predictions: torch.Tensor, targets: torch.Tensor, epsilon: float = 0.0) -> torch.Tensor:
    """optax/losses/_regression.py cosine_distance = 1 - cosine_similarity, transcribed:
    a_norm = sqrt(clip(sum(square(a), -1, keepdims), epsilon)); sum(a/a_norm * b/b_norm, -1)."""
    a_norm = torch.sqrt(torch.clamp(torch.square(predictions).sum(-1, keepdim=True), min=epsilon))
    b_norm = torch.sqrt(torch.clamp(torch.square(targets).sum(-1, keepdim=True), min=epsilon))
    return 1.0 - (predictions / a_norm * (targets / b_norm)).sum(-1)


COSINE_SHAPES = {"one_vector": (5,), "rows": (6, 4), "sequences": (3, 2, 4)}
COSINE_FORMS = {
    "keras": ([], lambda y, p: keras_cosine(y, p)),
    "keras_eps": (["epsilon=0.01"], lambda y, p: keras_cosine(y, p, 0.01)),
    "optax": (["form=optax"], lambda y, p: optax_cosine_distance(p, y)),
    "optax_eps": (["form=optax", "epsilon=0.05"], lambda y, p: optax_cosine_distance(p, y, 0.05)),
}


def cosine_data(shape, seed: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=shape)
    p = y + rng.normal(0, 0.9, size=shape)
    if len(shape) == 2:
        p[1] *= 1e-3  # Σp² ≈ 3e-6: clamped by keras epsilon=0.01 and optax epsilon=0.05, not by the defaults
        y[4] = -p[4]
    return {"preds": p, "targets": y}


@pytest.mark.parametrize("shape", COSINE_SHAPES)
@pytest.mark.parametrize("form", COSINE_FORMS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_similarity_matches_keras_and_optax(reduction, form, shape):
    """Both libraries' formulas transcribed from their sources: value per vector (none), summed and
    averaged (Keras's sum and sum_over_batch_size; optax leaves the reduction to the caller), and the
    gradient, also where a norm sits at its floor."""
    params, ref_fn = COSINE_FORMS[form]
    inputs = cosine_data(COSINE_SHAPES[shape])
    x = tt(inputs["preds"], grad=True)
    per = ref_fn(tt(inputs["targets"]), x)
    ref = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    ref.sum().backward()
    check_values("cosine-similarity", params, inputs, reduction, ref.detach().numpy())
    ev = run("cosine-similarity", params, inputs, "torch", reduction=reduction)
    assert ev.elements.shape == COSINE_SHAPES[shape][:-1]
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-11, atol=1e-12)


def test_cosine_similarity_libraries_own_values():
    """Keras's docstring example ([-0., -0.99999994, 0.99999994] in float32) and optax's test values
    (CosineDistanceTest: computed with scipy), and scipy.spatial.distance.cosine itself."""
    from scipy.spatial.distance import cosine

    keras = {
        "preds": np.array([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]]),
        "targets": np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
    }
    np.testing.assert_allclose(
        run("cosine-similarity", [], keras, reduction="none").value, [0.0, -1.0, 1.0], atol=1e-15
    )
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]])
    ts = np.array([[0.0, 1.2, 0.2], [1.0, -0.3, 0.0]])
    optax = run("cosine-similarity", ["form=optax"], {"preds": ys, "targets": ts}, reduction="none").value
    np.testing.assert_allclose(optax, [0.9358251989, 1.0464068465], rtol=0, atol=1e-7)  # float32 there
    np.testing.assert_allclose(optax, [cosine(a, b) for a, b in zip(ys, ts)], rtol=1e-13)
    one = run("cosine-similarity", ["form=optax"], {"preds": ys[0], "targets": ts[0]}, "torch")
    assert one.value == pytest.approx(0.9358251989, abs=1e-7) and one.n == 1  # a 1-D input is one vector


def test_cosine_similarity_zero_vectors():
    """Keras: a zero vector gives cos 0 (its norm is floored at 1e-7); optax with epsilon=0 is 0/0,
    refused with a line that says what to do."""
    from losscli.errors import InputError

    d = {"preds": np.array([[0.0, 0.0], [1.0, 2.0]]), "targets": np.array([[1.0, 1.0], [2.0, 4.0]])}
    np.testing.assert_allclose(run("cosine-similarity", [], d, reduction="none").value, [0.0, -1.0], atol=1e-15)
    with pytest.raises(InputError, match="data row 1: preds is a zero vector.*epsilon=1e-12"):
        run("cosine-similarity", ["form=optax"], d)
    assert run("cosine-similarity", ["form=optax", "epsilon=1e-12"], d, reduction="none").value[0] == 1.0


def test_cosine_similarity_explain_on_one_vector_equals_autograd():
    from losscli.chains import worked_element

    inputs = cosine_data((5,))
    for params in ([], ["form=optax"]):
        ev = run("cosine-similarity", params, inputs, "torch")
        for j in range(5):
            assert worked_element(ev, inputs, (j,)).product == pytest.approx(ev.gradients["preds"][j], rel=1e-12)


def test_cosine_similarity_bundled_example(cli):
    r = cli("compute", "cosine-similarity", "-f", "plain")
    assert r.exit_code == 0, r.stderr
    p, y = (np.loadtxt(DATA / f"cosine_similarity_{n}.csv", delimiter=",", skiprows=1) for n in ("preds", "targets"))
    assert float(r.stdout) == pytest.approx(keras_cosine(tt(y), tt(p)).mean().item(), rel=1e-13)
    r = cli("compute", "cosine-similarity", "-p", "form=optax", "-f", "plain")
    assert float(r.stdout) == pytest.approx(optax_cosine_distance(tt(p), tt(y)).mean().item(), rel=1e-13)
    assert "they agree" in cli("grad", "cosine-similarity", "--explain").stdout


def test_cosine_similarity_refuses_bad_inputs(cli, write):
    p = write("p.csv", "a,b\n1,2\n3,4\n")
    one_line_error(
        cli("compute", "cosine-similarity", p, write("t.csv", "a,b,c\n1,2,3\n3,4,5\n")), str(p), "they must match"
    )
    zero = write("z.csv", "a,b\n1,2\n0,0\n")
    one_line_error(
        cli("compute", "cosine-similarity", p, zero, "-p", "form=optax"), str(zero), "data row 2", "zero vector"
    )
    one_line_error(cli("compute", "cosine-similarity", p, p, "-p", "form=torch"), "form")
