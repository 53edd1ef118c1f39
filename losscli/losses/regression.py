"""Regression losses: preds and targets of the same shape, a loss per element.

Shapes: ``preds`` (N,) or (N, D); ``targets`` the same.  r = preds - targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from losscli import scalar as S
from losscli.chains import Elementwise
from losscli.examples import REGRESSION
from losscli.losses import _checks
from losscli.losses._ops import log_cosh as stable_log_cosh
from losscli.reduction import root
from losscli.scalar import Scalar
from losscli.spec import Advice, Input, LossSpec, Param, Terms, define
from losscli.types import Params

PREDS = Input("preds", "N or N x D", "model predictions")
TARGETS = Input("targets", "same as preds", "true values", differentiable=False)
FAMILY = "regression"


def _validate_pair(inputs: Mapping[str, Any], params: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")


def mse(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Squared error, ℓᵢ = (pᵢ - yᵢ)²; mean over all elements (torch ``MSELoss``)."""
    r = inputs["preds"] - inputs["targets"]
    return Terms(r * r)


def mae(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Absolute error, ℓᵢ = |pᵢ - yᵢ| (torch ``L1Loss``; d/dp at r = 0 is 0)."""
    return Terms(xp.abs(inputs["preds"] - inputs["targets"]))


def huber(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Huber, ℓ = ½r² if |r| < δ else δ(|r| - ½δ) (torch ``HuberLoss``)."""
    delta = params["delta"]
    r = inputs["preds"] - inputs["targets"]
    a = xp.abs(r)
    return Terms(xp.where(a < delta, 0.5 * r * r, delta * (a - 0.5 * delta)))


def smooth_l1(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Smooth L1, ℓ = ½r²/β if |r| < β else |r| - ½β; β = 0 is L1 (torch ``SmoothL1Loss``)."""
    beta = params["beta"]
    r = inputs["preds"] - inputs["targets"]
    a = xp.abs(r)
    if beta == 0:
        return Terms(a)
    return Terms(xp.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta))


def log_cosh(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """log cosh r, exact for every finite r (Keras ``LogCosh``, optax ``log_cosh``): |r| + softplus(-2|r|)
    - log 2, symmetric, so r = -1e308 gives 1e308; log1p(2 sinh²(r/2)) for |r| ≤ 1 (see ``_ops.log_cosh``)."""
    return Terms(stable_log_cosh(xp, inputs["preds"] - inputs["targets"]))


def quantile(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Pinball loss, ℓ = max(q·d, (q - 1)·d) with d = y - p (scikit-learn ``mean_pinball_loss``)."""
    q = params["q"]
    d = inputs["targets"] - inputs["preds"]
    return Terms(xp.maximum(q * d, (q - 1.0) * d))


KERAS_EPSILON = 1e-7  # keras.backend.epsilon()


def msle(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Squared log error, ℓᵢ = (log(1 + max(pᵢ, ε)) - log(1 + max(yᵢ, ε)))², ε = 1e-7 (Keras
    ``MeanSquaredLogarithmicError``: values below ε count as ε).  Shapes: preds, targets (N,) or (N, D)."""
    eps = xp.asarray(KERAS_EPSILON, dtype=inputs["preds"].dtype)
    d = xp.log1p(xp.maximum(inputs["preds"], eps)) - xp.log1p(xp.maximum(inputs["targets"], eps))
    return Terms(d * d)


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each loss once more as scalar maths over losscli.scalar.Scalar (plain math, not the array code
# above): --explain shows its forward steps and local derivatives and checks them against autograd.


def _residual(p: Scalar, y: Scalar) -> Scalar:
    return (p - y).named("r = p - y")


def mse_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    r = _residual(p, y)
    return (r * r).named("ℓ = r²")


def mae_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    return S.abs_(_residual(p, y)).named("ℓ = |r|")


def huber_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    d = params["delta"]
    r = _residual(p, y)
    if abs(r.value) < d:
        return (0.5 * r * r).named("ℓ = ½r² (|r| < δ)")
    return (d * (S.abs_(r) - 0.5 * d)).named("ℓ = δ(|r| - ½δ) (|r| ≥ δ)")


def smooth_l1_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    b = params["beta"]
    r = _residual(p, y)
    if b > 0 and abs(r.value) < b:
        return (0.5 * r * r / b).named("ℓ = ½r²/β (|r| < β)")
    return (S.abs_(r) - 0.5 * b).named("ℓ = |r| - ½β (|r| ≥ β)")


def log_cosh_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    r = _residual(p, y)
    v = r.value
    a = abs(v)
    value = (
        math.log1p(2.0 * math.sinh(0.5 * v) ** 2) if a <= 1.0 else a + math.log1p(math.exp(-2.0 * a)) - math.log(2.0)
    )
    return S.op(value, [(r, math.tanh(v), "tanh(r)")], "ℓ = log cosh r = |r| + softplus(-2|r|) - log 2")


def quantile_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    q = params["q"]
    d = (y - p).named("d = y - p")
    return S.maximum((q * d).named("q·d"), ((q - 1.0) * d).named("(q-1)·d")).named("ℓ = max(q·d, (q-1)·d)")


def msle_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    lp = S.log(1.0 + S.maximum(p, KERAS_EPSILON).named("max(p, ε)")).named("a = log(1 + max(p, ε))")
    ly = S.log(1.0 + S.maximum(y, KERAS_EPSILON).named("max(y, ε)")).named("b = log(1 + max(y, ε))")
    d = (lp - ly).named("d = a - b")
    return (d * d).named("ℓ = d²")


# ----------------------------------------------------------------------------- advice for --explain

OUTLIERS_DOMINATE = Advice(
    lambda params, health: health.status == "exploding",
    en="MSE's gradient grows with the residual, so outliers dominate: use huber or smooth-l1, "
    "or clip gradients in training (torch.nn.utils.clip_grad_norm_).",
    zh="MSE 的梯度與殘差成正比，離群值會主導：改用 huber 或 smooth-l1，或在訓練時裁剪梯度"
    "（torch.nn.utils.clip_grad_norm_）。",
)
RMSE_AT_ZERO = Advice(
    lambda params, health: health.status == "nonfinite",
    en="RMSE's derivative is (p - y) / (N·L); when every residual is 0, L = 0 and that is 0/0, "
    "so autograd gives NaN. Train on MSE (its gradient there is 0) or add a small ε inside "
    "the square root.",
    zh="RMSE 的導數是 (p - y) / (N·L)；當所有殘差都是 0 時 L = 0，變成 0/0，自動微分得到 NaN。"
    "訓練時請用 MSE（它在該處的梯度是 0），或在根號內加上小的 ε。",
    covers=("nonfinite",),
)


def _spec(**kw: Any) -> LossSpec:
    kw.setdefault("inputs", (PREDS, TARGETS))
    kw.setdefault("params", ())
    kw.setdefault("validate", _validate_pair)
    kw.setdefault("example", REGRESSION)
    kw.setdefault("outliers", True)
    return define(family=FAMILY, **kw)


SPECS = [
    _spec(
        name="mse",
        chain=Elementwise(mse_scalar),
        aliases=("mean-squared-error", "l2-loss", "squared-error"),
        summary="mean squared error",
        formula="L = (1/N) Σᵢ (pᵢ - yᵢ)²",
        derivative="∂L/∂pᵢ = 2 (pᵢ - yᵢ) / N",
        convention="torch.nn.MSELoss (= Keras MeanSquaredError, optax squared_error)",
        differs="optax l2_loss and many textbooks put a factor ½ in front: ½(p - y)².",
        when="Gaussian noise, when large errors should cost quadratically more; outliers dominate it.",
        fn=mse,
        advice=(OUTLIERS_DOMINATE,),
    ),
    _spec(
        name="rmse",
        chain=Elementwise(mse_scalar),
        aliases=("root-mean-squared-error",),
        summary="root mean squared error",
        formula="L = √( (1/N) Σᵢ (pᵢ - yᵢ)² )",
        derivative="∂L/∂pᵢ = (pᵢ - yᵢ) / (N · L); undefined (NaN) when every residual is 0",
        convention="sqrt of torch MSELoss; scikit-learn root_mean_squared_error",
        differs="Keras has RMSE only as a metric. --reduction sum gives √Σr² (the residual L2 norm); "
        "--reduction none gives |r| per element.",
        when="MSE in the units of the target, for reporting; its gradient is MSE's scaled by 1/(2L).",
        fn=mse,
        reduction=root(),
        advice=(OUTLIERS_DOMINATE, RMSE_AT_ZERO),
        element_note="squared error per element (the square root is taken after reduction)",
    ),
    _spec(
        name="mae",
        chain=Elementwise(mae_scalar),
        aliases=("l1-loss", "mean-absolute-error"),
        summary="mean absolute error",
        formula="L = (1/N) Σᵢ |pᵢ - yᵢ|",
        derivative="∂L/∂pᵢ = sign(pᵢ - yᵢ) / N, and 0 at a zero residual (torch: sign(0) = 0)",
        convention="torch.nn.L1Loss (= Keras MeanAbsoluteError, scikit-learn mean_absolute_error)",
        differs="Subgradient at 0: torch uses sign(0) = 0; jax.grad(jnp.abs)(0.) is 1; textbooks allow any value in [-1, 1].",
        when="Laplace noise or outliers you do not want to dominate; gives the median.",
        fn=mae,
    ),
    _spec(
        name="huber",
        chain=Elementwise(huber_scalar),
        summary="Huber loss: quadratic near 0, linear beyond delta",
        params=(
            Param("delta", "float", 1.0, "threshold between the quadratic and linear parts", low=0.0, low_open=True),
        ),
        formula="ℓ = ½ r² if |r| < δ, else δ (|r| - ½ δ);  L = mean ℓ",
        derivative="∂ℓ/∂p = r if |r| < δ, else δ · sign(r)",
        convention="torch.nn.HuberLoss(delta=1.0) (= Keras Huber, optax huber_loss)",
        differs="SmoothL1Loss(beta) = HuberLoss(delta=beta) / beta; they agree only at 1.",
        when="Regression with outliers: MSE near the target, MAE far from it; gradient bounded by δ.",
        fn=huber,
    ),
    _spec(
        name="smooth-l1",
        chain=Elementwise(smooth_l1_scalar),
        aliases=("smoothl1",),
        summary="smooth L1 loss (Huber divided by beta)",
        params=(Param("beta", "float", 1.0, "width of the quadratic zone; 0 gives L1", low=0.0),),
        formula="ℓ = ½ r² / β if |r| < β, else |r| - ½ β;  L = mean ℓ",
        derivative="∂ℓ/∂p = r / β if |r| < β, else sign(r)",
        convention="torch.nn.SmoothL1Loss(beta=1.0)",
        differs="Equals Huber only at β = δ = 1; the linear part always has slope 1 (Huber's has slope δ).",
        when="Box regression (Fast R-CNN); like Huber but with unit slope outside.",
        fn=smooth_l1,
    ),
    _spec(
        name="log-cosh",
        chain=Elementwise(log_cosh_scalar),
        aliases=("logcosh",),
        summary="log of the hyperbolic cosine of the error",
        formula="ℓ = log cosh(r) = |r| + softplus(-2|r|) - log 2, and log1p(2 sinh²(r/2)) for |r| ≤ 1 "
        "(exact for every finite r; Keras's r + softplus(-2r) - log 2 overflows below r ≈ -9e307 and "
        "loses the digits of a small r);  L = mean ℓ",
        derivative="∂ℓ/∂p = tanh(r)",
        convention="Keras LogCosh / optax log_cosh (stable form; no log(cosh) overflow)",
        differs="A naive log(cosh(r)) overflows to inf for |r| > ~710 in float64, ~89 in float32.",
        when="A smooth Huber: ≈ r²/2 for small r, ≈ |r| - log 2 for large r; twice differentiable.",
        fn=log_cosh,
    ),
    _spec(
        name="quantile",
        chain=Elementwise(quantile_scalar),
        aliases=("pinball",),
        summary="quantile (pinball) loss",
        params=(
            Param("q", "float", 0.5, "the quantile to estimate", low=0.0, high=1.0, low_open=True, high_open=True),
        ),
        formula="ℓ = max(q (y - p), (q - 1)(y - p));  L = mean ℓ",
        derivative="∂ℓ/∂p = -q if y > p, (1 - q) if y < p, and at y = p the subgradient torch picks for max",
        convention="scikit-learn mean_pinball_loss(alpha=q)",
        differs="q = 0.5 gives MAE / 2. Some libraries (TF Addons) call the parameter tau.",
        when="Predicting a quantile (e.g. q = 0.9 for an upper band) instead of the mean.",
        fn=quantile,
    ),
    _spec(
        name="msle",
        chain=Elementwise(msle_scalar),
        aliases=("mean-squared-logarithmic-error", "mean-squared-log-error"),
        summary="mean squared logarithmic error",
        formula="ℓ = (log(1 + max(p, ε)) - log(1 + max(y, ε)))², ε = 1e-7;  L = mean ℓ",
        derivative="∂ℓ/∂p = 2 (log(1 + p) - log(1 + y)) / (1 + p) for p > ε, and 0 below ε (clipped)",
        convention="Keras MeanSquaredLogarithmicError (values below ε = 1e-7 count as ε)",
        differs="scikit-learn mean_squared_log_error refuses negative values instead of clipping them; "
        "torch has no MSLE. Keras averages over the last axis first, which is the same mean for equal rows.",
        when="Targets spanning orders of magnitude (counts, prices) where relative error matters; "
        "under-prediction costs more than over-prediction.",
        fn=msle,
    ),
]
