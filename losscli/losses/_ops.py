"""Numerically stable building blocks shared by the losses.

Each helper takes the array namespace ``xp`` (numpy or torch through
``array_api_compat``) so one definition serves both backends.  They are written so
that autograd never multiplies a zero by an infinity: where a branch can produce
``log(0)`` the argument is made safe first, so unselected branches stay finite.
"""

from __future__ import annotations

from typing import Any

Array = Any

LOG_CLAMP = -100.0  # torch BCELoss clamps log at -100


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


def bce_probabilities(xp: Any, p: Array, y: Array) -> Array:
    """torch ``BCELoss`` elementwise: ℓ = -[y max(log p, -100) + (1 - y) max(log(1 - p), -100)].

    torch's backward is hand-written, (p - y) / max(p(1 - p), 1e-12), which is not the
    derivative of the clamped forward at p = 0 or 1; so on torch this calls
    ``torch.nn.functional.binary_cross_entropy`` itself (its graph shows
    ``BinaryCrossEntropyBackward0``), and on numpy it computes the same forward.
    """
    if hasattr(p, "detach"):
        import torch.nn.functional as F

        return F.binary_cross_entropy(p, y, reduction="none")
    return -(y * safe_log(xp, p) + (1.0 - y) * safe_log(xp, 1.0 - p))


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


def log_softmax(xp: Any, z: Array, axis: int = -1) -> Array:
    """log softmax(z) = z - max(z) - log Σ exp(z - max(z)) along ``axis``."""
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def one_hot(xp: Any, index: Array, n_classes: int, like: Array) -> Array:
    """(N,) class indices -> (N, C) one-hot rows in ``like``'s dtype; out-of-range rows are zero."""
    classes = xp.arange(n_classes, dtype=like.dtype)
    return xp.astype(index[:, None] == classes[None, :], like.dtype)
