"""Regression and likelihood losses: preds and targets of the same shape, a loss per element
(cosine-similarity: a loss per row).

Shapes: ``preds`` (N,) or (N, D); ``targets`` the same.  r = preds - targets.  The torch losses
(poisson-nll, gaussian-nll) take any shape torch takes, unbatched ones included: a 0-d or 1-D
input is read elementwise as torch does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli import scalar as S
from losscli.chains import Custom, Elementwise, outer_step
from losscli.errors import InputError, UsageError
from losscli.examples import REGRESSION, Example
from losscli.losses import _checks
from losscli.losses._ops import log_cosh as stable_log_cosh
from losscli.losses._ops import stop_gradient
from losscli.reduction import root
from losscli.scalar import Scalar
from losscli.spec import Advice, Input, LossSpec, Param, Terms, define
from losscli.types import Params, Sources

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


# ----------------------------------------------------------------------------- likelihood losses (torch)


def poisson_nll(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Poisson negative log-likelihood, exactly as torch ``PoissonNLLLoss`` (aten ``poisson_nll_loss``).

    log_input=true: ℓ = exp(x) - y·x (x is the log-rate); log_input=false: ℓ = x - y·log(x + eps)
    (x is the rate).  full=true adds Stirling's approximation of log(y!), y·log y - y + ½ log(2πy),
    where y > 1 and nothing where y ≤ 1 (torch's ``masked_fill(target <= 1, 0)``).
    Shapes: preds, targets any shape, the same (0-d and 1-D unbatched inputs included); elements alike.
    """
    x, y = inputs["preds"], inputs["targets"]
    if params["log_input"]:
        loss = xp.exp(x) - y * x
    else:
        loss = x - y * xp.log(x + params["eps"])
    if params["full"]:
        above = y > 1
        ys = xp.where(above, y, xp.ones_like(y))  # log of y ≤ 1 is never taken (torch masks it after)
        stirling = ys * xp.log(ys) - ys + 0.5 * xp.log(2 * math.pi * ys)
        loss = loss + xp.where(above, stirling, xp.zeros_like(y))
    return Terms(loss)


def _stirling(y: float) -> float:
    return y * math.log(y) - y + 0.5 * math.log(2 * math.pi * y) if y > 1 else 0.0


def _validate_poisson(inputs: Mapping[str, Any], params: Mapping[str, Any], sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    if not params["log_input"]:
        x = inputs["preds"]
        _checks.fail_at(
            sources,
            "preds",
            x,
            x + params["eps"] <= 0,
            f"> -eps = {-params['eps']:g} (with log_input=false preds is the Poisson rate and torch takes "
            "log(preds + eps))",
            "pass -p log_input=true if these are log-rates",
        )


def _var_like(xp: Any, var: Any, x: Any) -> Any:
    """var shaped to broadcast against preds as torch ``gaussian_nll_loss`` does: the same shape; one
    axis fewer (unsqueezed at the end); one axis of size 1 (broadcast); or one value (torch's float var)."""
    shape, want = tuple(var.shape), tuple(x.shape)
    if shape == want:
        return var
    if shape == want[:-1]:
        return xp.reshape(var, shape + (1,))
    if math.prod(shape) == 1:
        return xp.reshape(var, (1,) * len(want))
    return var


def _var_fits(var: tuple[int, ...], x: tuple[int, ...]) -> bool:
    """torch's size check of var against input (and a single value, torch's float var)."""
    if var == x or var == x[:-1] or math.prod(var) == 1:
        return True
    return len(var) == len(x) and sum(b for a, b in zip(x, var) if a != b) == 1


def gaussian_nll(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Gaussian negative log-likelihood, exactly as torch ``GaussianNLLLoss`` (``F.gaussian_nll_loss``).

    ℓ = ½ (log v̂ + (x - y)² / v̂) (+ ½ log 2π with full=true), v̂ = max(var, eps).  Torch clamps a
    clone of var in place under no_grad, so the clamp is invisible to autograd: ∂ℓ/∂var is
    ½ (1/v̂ - (x - y)²/v̂²) below eps too (a straight-through clamp, reproduced here with a detached
    difference).  Shapes: preds (the mean, torch's input) any shape; targets the same or with axes of
    size 1; var the same as preds (heteroscedastic), without preds' last axis or with one axis of size
    1 (homoscedastic), or a single value (torch's float var); elements shaped like preds.
    """
    x, y = inputs["preds"], inputs["targets"]
    var = _var_like(xp, inputs["var"], x)
    eps = xp.asarray(params["eps"], dtype=x.dtype)
    clamped = stop_gradient(xp.maximum(var, eps)) + (var - stop_gradient(var))
    loss = 0.5 * (xp.log(clamped) + (x - y) ** 2 / clamped)
    if params["full"]:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return Terms(loss)


def _validate_gaussian(inputs: Mapping[str, Any], params: Mapping[str, Any], sources: Sources) -> None:
    _checks.non_empty(inputs, sources)
    x, y, var = inputs["preds"], inputs["targets"], inputs["var"]
    src = {k: sources.get(k, k) for k in ("preds", "targets", "var")}
    fmt = _checks._fmt_shape
    if y.shape != x.shape and not (y.ndim == x.ndim and all(b in (a, 1) for a, b in zip(x.shape, y.shape))):
        raise InputError(
            f"targets has shape {fmt(y.shape)} ({src['targets']}) but preds has shape {fmt(x.shape)} "
            f"({src['preds']}); targets must match preds or have size 1 where they differ"
        )
    if not _var_fits(var.shape, x.shape):
        raise InputError(
            f"var has shape {fmt(var.shape)} ({src['var']}) but preds has shape {fmt(x.shape)} ({src['preds']}); "
            "torch's gaussian_nll_loss takes var of preds' shape, without its last axis, with one axis of size 1, "
            "or a single value"
        )
    _checks.fail_at(sources, "var", var, var < 0, ">= 0 (a variance; torch: 'var has negative entry')")


# ----------------------------------------------------------------------------- Keras, scikit-learn, optax


def mape(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Absolute percentage error, ℓᵢ = 100 · |(yᵢ - pᵢ) / max(|yᵢ|, ε)|, ε = 1e-7 (Keras
    ``MeanAbsolutePercentageError``, keras/src/losses/losses.py ``mean_absolute_percentage_error``).
    Shapes: preds, targets (N,) or (N, D), the same; elements alike."""
    p, y = inputs["preds"], inputs["targets"]
    eps = xp.asarray(KERAS_EPSILON, dtype=p.dtype)
    return Terms(100.0 * xp.abs((y - p) / xp.maximum(xp.abs(y), eps)))


def tweedie(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Tweedie deviance with power ρ, exactly as scikit-learn ``_mean_tweedie_deviance`` (μ = preds):

    ρ < 0:  2 (max(y, 0)^(2-ρ)/((1-ρ)(2-ρ)) - y μ^(1-ρ)/(1-ρ) + μ^(2-ρ)/(2-ρ));
    ρ = 0:  (y - μ)²;   ρ = 1: 2 (xlogy(y, y/μ) - y + μ);   ρ = 2: 2 (log(μ/y) + y/μ - 1);
    other ρ ≥ 1: 2 (y^(2-ρ)/((1-ρ)(2-ρ)) - y μ^(1-ρ)/(1-ρ) + μ^(2-ρ)/(2-ρ)).
    xlogy(0, ·) = 0: the log is taken of a safe argument where y = 0, so autograd stays finite.
    Shapes: preds, targets (N,) or (N, D), the same; elements alike.
    """
    rho = params["power"]
    mu, y = inputs["preds"], inputs["targets"]
    if rho == 0:
        return Terms((y - mu) ** 2)
    if rho == 1:
        positive = y > 0
        ys = xp.where(positive, y, xp.ones_like(y))
        return Terms(2 * (xp.where(positive, ys * xp.log(ys / mu), xp.zeros_like(y)) - y + mu))
    if rho == 2:
        return Terms(2 * (xp.log(mu / y) + y / mu - 1))
    base = xp.where(y > 0, y, xp.zeros_like(y)) if rho < 0 else y
    return Terms(
        2
        * (base ** (2 - rho) / ((1 - rho) * (2 - rho)) - y * mu ** (1 - rho) / (1 - rho) + mu ** (2 - rho) / (2 - rho))
    )


def _validate_tweedie(inputs: Mapping[str, Any], params: Mapping[str, Any], sources: Sources) -> None:
    """scikit-learn's checks of mean_tweedie_deviance, per power."""
    rho = params["power"]
    if 0 < rho < 1:
        raise UsageError(
            f"parameter power of tweedie must be <= 0 or >= 1, got {rho:g} (scikit-learn: the Tweedie deviance "
            "is not defined for 0 < power < 1)"
        )
    _checks.same_shape(inputs, sources, "preds", "targets")
    mu, y = inputs["preds"], inputs["targets"]
    why = f"(scikit-learn's mean_tweedie_deviance with power={rho:g})"
    if rho >= 1:
        low, text = (y <= 0, "> 0") if rho >= 2 else (y < 0, ">= 0")
        _checks.fail_at(sources, "targets", y, low, f"{text} {why}")
    if rho != 0:
        _checks.fail_at(sources, "preds", mu, mu <= 0, f"> 0 {why}")


COSINE_FORMS = ("keras", "optax")


def cosine_similarity(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Cosine loss per vector along the last axis, in one of two libraries' forms.

    keras (Keras ``CosineSimilarity``, keras/src/losses/losses.py ``cosine_similarity`` with
    ``normalize`` = keras/src/ops/nn.py ``_normalize``): ℓ = -Σ ŷ·p̂, x̂ = x · min(1/√Σx², 1/ε),
    ε = epsilon (keras.backend.epsilon() = 1e-7), written x · 1/√max(Σx², ε²) (the same number, and no
    1/0 for a zero vector).  optax (optax/losses/_regression.py ``cosine_distance``): ℓ = 1 - Σ â·b̂,
    â = a / √max(Σa², epsilon) (optax clips the squared norm; epsilon 0 by default).
    Shapes: preds, targets (..., D), the same; a 1-D input is one vector (as both libraries read
    it); elements: one per vector, the input's shape without its last axis.
    """
    p, y = inputs["preds"], inputs["targets"]
    eps = params["epsilon"]
    if params["form"] == "keras":
        floor = xp.asarray(eps * eps, dtype=p.dtype)
        p_hat = p * (1.0 / xp.sqrt(xp.maximum(xp.sum(p * p, axis=-1, keepdims=True), floor)))
        y_hat = y * (1.0 / xp.sqrt(xp.maximum(xp.sum(y * y, axis=-1, keepdims=True), floor)))
        return Terms(-xp.sum(y_hat * p_hat, axis=-1))
    floor = xp.asarray(eps, dtype=p.dtype)
    a_unit = p / xp.sqrt(xp.maximum(xp.sum(p * p, axis=-1, keepdims=True), floor))
    b_unit = y / xp.sqrt(xp.maximum(xp.sum(y * y, axis=-1, keepdims=True), floor))
    return Terms(1.0 - xp.sum(a_unit * b_unit, axis=-1))


def _validate_cosine(inputs: Mapping[str, Any], params: Mapping[str, Any], sources: Sources) -> dict[str, Any]:
    _checks.non_empty(inputs, sources)
    _checks.same_shape(inputs, sources, "preds", "targets")
    for name in ("preds", "targets"):
        _checks.ndim_in(inputs, sources, name, (1, 2, 3, 4), "vectors along the last axis (N x D, or D for one)")
    eps = params["epsilon"]
    if eps is None:
        eps = KERAS_EPSILON if params["form"] == "keras" else 0.0
    if params["form"] == "optax" and eps == 0:
        for name in ("preds", "targets"):
            a = inputs[name]
            zero = np.all(a == 0, axis=-1)
            if np.any(zero):
                row = int(np.flatnonzero(zero.ravel())[0]) + 1
                raise InputError(
                    f"data row {row}: {name} is a zero vector; optax's cosine_distance with epsilon=0 divides "
                    "0 by 0 (NaN): pass -p epsilon=1e-12, or -p form=keras (a zero vector gives cos 0)",
                    source=sources.get(name, name),
                )
    return {**params, "epsilon": eps}


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


def poisson_nll_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    c = _stirling(y.value) if params["full"] else 0.0
    if params["log_input"]:
        base = S.exp(p).named("λ = exp(p)")
        ell = base - y * p
        text = "ℓ = λ - y·p"
    else:
        ell = p - y * S.log(p + params["eps"]).named("log(p + eps)")
        text = "ℓ = p - y·log(p + eps)"
    if c:
        return (ell + c).named(f"{text} + Stirling(y) ({c:.6g})")
    return ell.named(text)


def _gaussian_pieces(inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """preds, and targets and var broadcast to preds' shape; and each element's flat var index."""
    x = inputs["preds"]
    var = _var_like(np, inputs["var"], x)
    ids = np.broadcast_to(np.arange(var.size).reshape(var.shape), x.shape)
    return x, np.broadcast_to(inputs["targets"], x.shape), np.broadcast_to(var, x.shape), ids


def gaussian_nll_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂L/∂preds by one path; ∂L/∂var by one path per element sharing that variance (homoscedastic)."""
    x, y, v, ids = _gaussian_pieces(inputs)
    eps, half_log_2pi = ev.params["eps"], 0.5 * math.log(2 * math.pi) if ev.params["full"] else 0.0
    if name == "preds":
        leaf = Scalar.leaf(float(x[index]), "p")
        v_hat = Scalar.leaf(max(float(v[index]), eps), "v̂", "max(var, eps), a constant here")
        r = (leaf - Scalar.leaf(float(y[index]), "y")).named("r = p - y")
        inner = (S.log(v_hat) + r * r / v_hat).named("s = log v̂ + r²/v̂")
        ell = (0.5 * inner).named("ℓ = ½ s")
        if half_log_2pi:
            ell = (ell + half_log_2pi).named("ℓ + ½ log 2π")
        top = ev.spec.rule.chain_outer(ell, ev.elements, ev.denominator, ev.reduction)
        d = S.derivation(top, leaf)
        return d.forward, d.steps
    if name != "var":
        return None
    flat = int(np.ravel_multi_index(index, inputs["var"].shape)) if inputs["var"].ndim else 0
    uses = [tuple(int(i) for i in k) for k in np.argwhere(ids == flat)]
    var = float(inputs["var"][index])
    vc = max(var, eps)
    formula, outer = outer_step(ev, ev.denominator)
    clamp = "1 (var ≥ eps)" if var >= eps else "1 (torch clamps var under no_grad: no gradient is cut)"
    fwd: list[tuple[str, Any]] = [("var", var), ("v̂ = max(var, eps)", vc)]
    local = []
    for k in uses:
        rk = float(x[k] - y[k])
        fwd.append((f"r = p - y at {list(k)}", rk))
        local.append(
            (
                f"element {list(k)}: ∂L/∂ℓ · ∂ℓ/∂v̂ · ∂v̂/∂var",
                f"{formula} · ½ (1/v̂ - r²/v̂²) · {clamp}",
                outer * 0.5 * (1.0 / vc - rk * rk / (vc * vc)),
            )
        )
    return fwd, local, "sum"


def mape_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    d = max(abs(y.value), KERAS_EPSILON)
    q = ((y - p) / d).named(f"q = (y - p)/max(|y|, ε) (max = {d:.6g})")
    return (100.0 * S.abs_(q)).named("ℓ = 100·|q|")


def tweedie_scalar(mu: Scalar, y: Scalar, params: Params) -> Scalar:
    rho, yv = params["power"], y.value
    if rho == 0:
        d = (y - mu).named("d = y - μ")
        return (d * d).named("ℓ = d²")
    if rho == 1:
        if yv > 0:
            return (2 * (yv * S.log(yv / mu) - yv + mu)).named("ℓ = 2 (y·log(y/μ) - y + μ)")
        return (2 * (mu - yv)).named("ℓ = 2 (0 - y + μ) (xlogy(0, ·) = 0)")
    if rho == 2:
        return (2 * (S.log(mu / yv) + yv / mu - 1)).named("ℓ = 2 (log(μ/y) + y/μ - 1)")
    base = max(yv, 0.0) if rho < 0 else yv
    const = base ** (2 - rho) / ((1 - rho) * (2 - rho))
    a = (mu ** (1 - rho)).named("μ^(1-ρ)")
    b = (mu ** (2 - rho)).named("μ^(2-ρ)")
    return (2 * (const - yv * a / (1 - rho) + b / (2 - rho))).named(
        "ℓ = 2 (y^(2-ρ)/((1-ρ)(2-ρ)) - y·μ^(1-ρ)/(1-ρ) + μ^(2-ρ)/(2-ρ))"
    )


def cosine_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂L/∂pⱼ of one vector: ∂ℓ/∂cos · ∂cos/∂pⱼ, with ∂cos/∂pⱼ = (ŷⱼ - cos·p̂ⱼ)/‖p‖ (or ŷⱼ/‖p‖ where the
    norm sits at its floor, which has no gradient)."""
    if name != "preds":
        return None
    row, col = index[:-1], index[-1]
    p, y = inputs["preds"][row], inputs["targets"][row]
    keras, eps = ev.params["form"] == "keras", ev.params["epsilon"]
    floor = eps * eps if keras else eps
    ss_p, ss_y = float(np.sum(p * p)), float(np.sum(y * y))
    n_p, n_y = math.sqrt(max(ss_p, floor)), math.sqrt(max(ss_y, floor))
    p_hat, y_hat = p / n_p, y / n_y
    cos = float(np.sum(p_hat * y_hat))
    floor_text = "ε²" if keras else "epsilon"
    ell = -cos if keras else 1.0 - cos
    formula, outer = outer_step(ev, ev.denominator)
    fwd = [
        (f"‖p‖ = √max(Σp², {floor_text})", n_p),
        (f"‖y‖ = √max(Σy², {floor_text})", n_y),
        ("cos = Σ (p/‖p‖)·(y/‖y‖)", cos),
        ("ℓ = -cos" if keras else "ℓ = 1 - cos", ell),
    ]
    if ss_p > floor:
        local_cos = ("∂cos/∂pⱼ", "(ŷⱼ - cos·p̂ⱼ)/‖p‖", float((y_hat[col] - cos * p_hat[col]) / n_p))
    else:
        local_cos = ("∂cos/∂pⱼ", "ŷⱼ/‖p‖ (the norm is at its floor)", float(y_hat[col] / n_p))
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂cos", "-1", -1.0), local_cos]


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
    kw.setdefault("row_local", True)  # one element per row, each of its own row
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
    _spec(
        name="poisson-nll",
        chain=Elementwise(poisson_nll_scalar),
        aliases=("poisson-nll-loss",),
        summary="Poisson negative log-likelihood of counts",
        params=(
            Param("log_input", "bool", True, "preds are log-rates (true) or rates (false)"),
            Param("full", "bool", False, "add Stirling's approximation of log(y!) where y > 1"),
            Param("eps", "float", 1e-8, "added to the rate inside the log when log_input=false", low=0.0),
        ),
        formula="log_input=true: ℓ = exp(p) - y·p;  log_input=false: ℓ = p - y·log(p + eps);  "
        "full=true adds y·log y - y + ½ log(2πy) where y > 1;  L = mean ℓ",
        derivative="∂ℓ/∂p = exp(p) - y (log_input=true), 1 - y/(p + eps) (log_input=false); the Stirling term "
        "does not depend on p",
        convention="torch.nn.PoissonNLLLoss(log_input=True, full=False, eps=1e-8): the Stirling term only where "
        "y > 1, as torch's masked_fill(target <= 1, 0)",
        differs="Keras Poisson takes rates and computes mean(p - y·log(p + 1e-7)) over the last axis, i.e. "
        "log_input=false with eps=1e-7; the exact log(y!) (scipy.special.gammaln(y + 1)) differs from the "
        "Stirling term, most for small counts; torch's --reduction none and sum are per element.",
        when="Count targets (events per interval, clicks, photons) modelled with a Poisson rate; predict the "
        "log-rate (log_input=true) so that exp keeps the rate positive.",
        fn=poisson_nll,
        validate=_validate_poisson,
        outliers=False,
        example=Example(
            ("poisson_nll_log_rates.csv", "poisson_nll_counts.csv"),
            what="a model's log-rates of support tickets per hour and the counts seen",
        ),
    ),
    _spec(
        name="gaussian-nll",
        chain=Custom(gaussian_nll_chain),
        aliases=("gaussian-nll-loss", "heteroscedastic-nll"),
        summary="Gaussian negative log-likelihood with a predicted variance",
        inputs=(
            Input("preds", "any shape", "predicted means (torch's input)"),
            TARGETS,
            Input(
                "var",
                "as preds, or without its last axis, or with one axis of size 1, or one value",
                "predicted variances (torch's var)",
            ),
        ),
        params=(
            Param("full", "bool", False, "add the constant ½ log 2π"),
            Param("eps", "float", 1e-6, "var is clamped at eps (invisible to autograd, as torch)", low=0.0),
        ),
        formula="ℓ = ½ (log max(v, eps) + (p - y)² / max(v, eps))  (+ ½ log 2π with full=true);  L = mean ℓ",
        derivative="∂ℓ/∂p = (p - y)/v̂;  ∂ℓ/∂v = ½ (1/v̂ - (p - y)²/v̂²) with v̂ = max(v, eps), also below eps "
        "(torch clamps under no_grad); a shared variance sums over its elements",
        convention="torch.nn.GaussianNLLLoss(full=False, eps=1e-6): positional files preds, targets, var in "
        "torch's order (input, target, var); var as torch broadcasts it",
        differs="torch.distributions.Normal(p, v.sqrt()).log_prob(y) is the negated loss with full=true and no "
        "clamp; Keras has no Gaussian NLL; --reduction mean divides by the number of preds' elements as torch.",
        when="Regression that also predicts its uncertainty (heteroscedastic noise): the variance output "
        "learns how far each target tends to fall from the mean.",
        fn=gaussian_nll,
        validate=_validate_gaussian,
        outliers=False,
        example=Example(
            ("gaussian_nll_mean.csv", "gaussian_nll_target.csv", "gaussian_nll_var.csv"),
            what="a regressor's predicted means and variances for 10 targets",
        ),
    ),
    _spec(
        name="mape",
        chain=Elementwise(mape_scalar),
        aliases=("mean-absolute-percentage-error",),
        summary="mean absolute percentage error",
        formula="ℓ = 100 · |y - p| / max(|y|, ε), ε = 1e-7;  L = mean ℓ",
        derivative="∂ℓ/∂p = 100 · sign(p - y) / max(|y|, ε)",
        convention="Keras MeanAbsolutePercentageError (100 · |(y - p)/max(|y|, ε)|, ε = keras.backend.epsilon() "
        "= 1e-7)",
        differs="scikit-learn mean_absolute_percentage_error has no factor 100 and uses ε = 2.2e-16 "
        "(numpy float64 eps), so they differ where |y| < 1e-7; Keras's reduction=None and 'sum' are per "
        "sample (the mean over the last axis first), losscli's none and sum per element; torch has no MAPE.",
        when="Reporting relative error when targets are well away from 0; it explodes near y = 0 and "
        "penalises over-prediction more than under-prediction.",
        fn=mape,
        outliers=False,
    ),
    _spec(
        name="tweedie",
        chain=Elementwise(tweedie_scalar, leaf="μ"),
        aliases=("tweedie-deviance", "mean-tweedie-deviance"),
        summary="Tweedie deviance (squared error, Poisson, Gamma and between)",
        params=(
            Param(
                "power",
                "float",
                0.0,
                "Tweedie power ρ: 0 squared error, 1 Poisson, 2 Gamma; ρ <= 0 or ρ >= 1 (scikit-learn's range)",
            ),
        ),
        formula="ρ = 0: (y - μ)²;  ρ = 1: 2 (y log(y/μ) - y + μ);  ρ = 2: 2 (log(μ/y) + y/μ - 1);  "
        "otherwise 2 (max(y, 0)^(2-ρ)/((1-ρ)(2-ρ)) - y μ^(1-ρ)/(1-ρ) + μ^(2-ρ)/(2-ρ));  L = mean ℓ",
        derivative="∂ℓ/∂μ = 2 μ^(-ρ) (μ - y) for every power",
        convention="scikit-learn mean_tweedie_deviance(power=ρ) (default power=0, as scikit-learn): its formula per power and its domain checks "
        "(ρ < 0: μ > 0; 1 <= ρ < 2: y >= 0, μ > 0; ρ >= 2: y > 0, μ > 0)",
        differs="scikit-learn refuses multi-output data (N x D); losscli takes it elementwise. PyTorch and Keras "
        "have none; LightGBM's and XGBoost's tweedie objectives are the negative log-likelihood on a log link: "
        "half the deviance up to terms in y only, differentiated in log μ.",
        when="Non-negative targets with exact zeros and a skewed tail (insurance claims, rainfall, sales): "
        "1 < power < 2 is a compound Poisson-Gamma model.",
        fn=tweedie,
        validate=_validate_tweedie,
        outliers=False,
        example=Example(
            ("tweedie_premiums.csv", "tweedie_claims.csv"),
            params=("power=1.5",),
            what="expected and actual insurance claims of 12 policies, most without a claim",
        ),
    ),
    _spec(
        name="cosine-similarity",
        chain=Custom(cosine_chain),
        aliases=("cosine-similarity-loss", "cosine-distance"),
        summary="cosine similarity loss of vectors (Keras -cos, or optax's 1 - cos)",
        inputs=(
            Input("preds", "N x D (one vector per row), or D for one vector", "predicted vectors"),
            Input("targets", "same as preds", "target vectors", differentiable=False),
        ),
        params=(
            Param(
                "form",
                "choice",
                "keras",
                "keras: ℓ = -cos (CosineSimilarity); optax: ℓ = 1 - cos",
                choices=COSINE_FORMS,
            ),
            Param(
                "epsilon",
                "float",
                None,
                "keras: floor of each norm (default 1e-7); optax: floor of each squared norm (default 0)",
                low=0.0,
            ),
        ),
        formula="cos = Σⱼ p̂ⱼ ŷⱼ over the last axis;  keras: x̂ = x / √max(Σx², ε²), ℓ = -cos;  "
        "optax: x̂ = x / √max(Σx², epsilon), ℓ = 1 - cos;  L = mean over vectors",
        derivative="∂ℓ/∂pⱼ = -(ŷⱼ - cos·p̂ⱼ)/‖p‖ (and -ŷⱼ/‖p‖ where the norm is at its floor)",
        convention="Keras CosineSimilarity(axis=-1) (form=keras, ε = keras.backend.epsilon() = 1e-7 on the norm); "
        "optax.cosine_distance(epsilon=0.) with form=optax (epsilon on the squared norm)",
        differs="The two forms differ by the constant 1 (same gradient) and in their floors: Keras clamps the "
        "norm at 1e-7 (a zero vector gives cos 0), optax the squared norm at epsilon = 0 (a zero vector "
        "is 0/0, refused here); torch.nn.CosineEmbeddingLoss uses 1 - cos with eps 1e-8 on the squared "
        "norms' product and a label per pair.",
        when="Matching directions, not lengths: embedding regression, distillation of normalised features.",
        fn=cosine_similarity,
        validate=_validate_cosine,
        outliers=False,
        element_note="per vector",
        mean_note="mean over vectors",
        example=Example(
            ("cosine_similarity_preds.csv", "cosine_similarity_targets.csv"),
            what="6 predicted embeddings and their targets, one pointing the wrong way",
        ),
    ),
]
