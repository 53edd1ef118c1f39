"""Numerically stable building blocks shared by the losses.

Each helper takes the array namespace ``xp`` (numpy or torch through
``array_api_compat``) so one definition serves both backends.  They are written so
that autograd never multiplies a zero by an infinity: where a branch can produce
``log(0)`` the argument is made safe first, so unselected branches stay finite.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losscli.types import Array

LOG_CLAMP = -100.0  # torch BCELoss clamps log at -100

# numpy's warnings for the overflows these helpers expect and handle (1e308 - (-1e308) = -inf in a
# log-softmax, 0·inf in a branch that where() leaves out): the results are right, so say nothing
# (errstate is thread-local: the CLI's own may not cover a worker thread)
quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore")


def softplus(xp: Any, x: Array) -> Array:
    """softplus(x) = log(1 + e^x), computed as logaddexp(0, x) (no overflow)."""
    return xp.logaddexp(xp.zeros_like(x), x)


def log_sigmoid(xp: Any, x: Array) -> Array:
    """log σ(x) = -softplus(-x)."""
    return -softplus(xp, -x)


def sigmoid(xp: Any, x: Array) -> Array:
    """σ(x) = exp(log σ(x)), stable for large |x|."""
    return xp.exp(log_sigmoid(xp, x))


def safe_log(xp: Any, p: Array, floor: float = LOG_CLAMP) -> Array:
    """log(p) for p >= 0, clamped below at ``floor`` (torch BCELoss: -100).

    p = 0 gives ``floor`` with a zero gradient instead of -inf and NaN.
    """
    positive = p > 0
    safe = xp.where(positive, p, xp.ones_like(p))
    lowest = xp.full_like(p, floor)
    return xp.maximum(xp.where(positive, xp.log(safe), lowest), lowest)


BCE_GRAD_EPS = 9.999999960041972e-13  # torch clamps p(1 - p) at 1e-12 stored as a float32: this value

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): BinaryCrossentropy clips p to [1e-7, 1 - 1e-7]


def clip_bound(xp: Any, p: Array, clip: Any) -> float | None:
    """The lower clip bound c of BCE on probabilities (p is clipped to [c, 1 - c]), or None.

    ``clip`` is None (torch: no clip, the log is clamped at -100 instead), ``"eps"`` or
    ``"sklearn"`` (scikit-learn ``log_loss``: the machine epsilon of the dtype computed in,
    ``finfo(p.dtype).eps``: 2.2e-16 in float64, 1.2e-7 in float32), ``"keras"`` (1e-7,
    ``keras.backend.epsilon()``) or a number.
    """
    if clip is None:
        return None
    if clip in ("eps", "sklearn"):
        return float(xp.finfo(p.dtype).eps)
    if clip == "keras":
        return KERAS_EPSILON
    return float(clip)


def bce_probabilities(xp: Any, p: Array, y: Array, clip: Any = None) -> Array:
    """BCE on probabilities, elementwise.

    ``clip`` None, torch ``BCELoss``: ℓ = -[y max(log p, -100) + (1 - y) max(log(1 - p), -100)].
    torch's backward is hand-written, (p - y) / max(p(1 - p), 1e-12), which is not the
    derivative of the clamped forward at p = 0 or 1; so on torch this calls
    ``torch.nn.functional.binary_cross_entropy`` itself (its graph shows
    ``BinaryCrossEntropyBackward0``), and on numpy it computes the same forward.

    ``clip`` c (see :func:`clip_bound`), Keras ``binary_crossentropy`` and scikit-learn
    ``log_loss``: q = clip(p, c, 1 - c), ℓ = -[y log q + (1 - y) log(1 - q)]; its gradient is
    autograd's, 0 where p lies outside [c, 1 - c] (the clip's gradient, bounds included as torch).
    """
    low = clip_bound(xp, p, clip)
    if low is not None:
        q = xp.clip(p, low, 1.0 - low)
        return -(y * xp.log(q) + (1.0 - y) * xp.log(1.0 - q))
    if hasattr(p, "detach"):
        import torch.nn.functional as F

        return F.binary_cross_entropy(p, y, reduction="none")
    return -(y * safe_log(xp, p) + (1.0 - y) * safe_log(xp, 1.0 - p))


def bce_clamped(p: Any, y: Any) -> int:
    """How many elements of torch's BCE on probabilities the -100 clamp of the log changed: a log
    below -100 (p < e⁻¹⁰⁰ ≈ 3.7e-44, p = 0 included, or p = 1 for log(1 - p)) with a non-zero
    weight (y for log p, 1 - y for log(1 - p)).  numpy arrays in, float64."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        low_p = np.log(p) < LOG_CLAMP
        low_q = np.log(1.0 - p) < LOG_CLAMP
    return int(np.count_nonzero((low_p & (y != 0)) | (low_q & (y != 1))))


def bce_logits(xp: Any, x: Array, y: Array, pos_weight: Any = 1.0) -> Array:
    """BCE with logits, ℓ = w y softplus(-x) + (1 - y) softplus(x) (w = pos_weight).

    Equal to torch's (1 - y) x + (1 + (w - 1) y) softplus(-x), written so that the gradient
    -w y σ(-x) + (1 - y) σ(x) has no cancellation: σ(x) - y computed as a difference loses
    every digit for a confident logit (x = -40, y = 0 gives 0 instead of 4e-18).
    """
    return pos_weight * y * softplus(xp, -x) + (1.0 - y) * softplus(xp, x)


def xlogx(xp: Any, p: Array) -> Array:
    """p log p with the convention 0 log 0 = 0."""
    positive = p > 0
    safe = xp.where(positive, p, xp.ones_like(p))
    return xp.where(positive, p * xp.log(safe), xp.zeros_like(p))


def stop_gradient(a: Array) -> Array:
    """``a`` as a constant to autograd (torch ``detach``); numpy arrays unchanged."""
    return a.detach() if hasattr(a, "detach") else a


@quiet
def log_softmax(xp: Any, z: Array, axis: int = -1) -> Array:
    """log softmax(z) = z - m - log Σ exp(z - m) along ``axis``, m = max(z) held constant.

    The gradient through m is 0 in exact arithmetic (Σ softmax = 1), so m is a constant to
    autograd, as in torch's fused ``log_softmax`` backward g - softmax·Σg.  A logit of ±1e308
    gives log-probabilities 0 and -inf (z - m overflows to -inf, exp gives 0), never NaN; a
    +inf logit gives NaN (inf - inf) as torch does.
    """
    m = stop_gradient(xp.max(z, axis=axis, keepdims=True))
    shifted = z - m
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def class_index(xp: Any, t: Array, keep: Array) -> Array:
    """(N,) class indices as int64, 0 where ``keep`` is false (ignored targets), for a gather."""
    return xp.astype(xp.where(keep, t, xp.zeros_like(t)), xp.int64)


def take_class(xp: Any, values: Array, index: Array) -> Array:
    """values[i, index[i]] for (N, C) ``values`` and (N,) int64 ``index``: a gather, no one-hot
    product (0·inf would give NaN where a row holds an infinite value)."""
    return xp.take_along_axis(values, index[:, None], axis=-1)[:, 0]


@quiet
def weighted_row_sum(xp: Any, w: Array | None, v: Array) -> Array:
    """Σ_c w_c v_c along the last axis, a zero weight contributing 0 even where v_c is infinite."""
    if w is None:
        return xp.sum(v, axis=-1)
    return xp.sum(xp.where(w != 0, w * v, xp.zeros_like(v)), axis=-1)


def one_hot(xp: Any, index: Array, n_classes: int, like: Array) -> Array:
    """(N,) class indices -> (N, C) one-hot rows in ``like``'s dtype; out-of-range rows are zero."""
    classes = xp.arange(n_classes, dtype=like.dtype)
    return xp.astype(index[:, None] == classes[None, :], like.dtype)


@quiet
def log_cosh(xp: Any, r: Array) -> Array:
    """log cosh r, accurate and finite for every finite r (its derivative is tanh r).

    |r| ≤ 1: log1p(2 sinh²(r/2)), exact near 0 (where |r| + softplus(-2|r|) - log 2 subtracts two
    numbers near log 2 and loses every digit of r²/2); |r| > 1: |r| + softplus(-2|r|) - log 2,
    symmetric, so r = -1e308 gives 1e308 (r + softplus(-2r) overflows there).  The branch not
    taken gets a harmless argument, so autograd never meets 0·inf.
    """
    a = xp.abs(r)
    near = a <= 1.0
    small = xp.where(near, r, xp.zeros_like(r))
    large = xp.where(near, xp.ones_like(a), a)
    s = xp.sinh(0.5 * small)
    return xp.where(near, xp.log1p(2.0 * s * s), large + softplus(xp, -2.0 * large) - math.log(2.0))
