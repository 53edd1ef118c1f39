"""Classification losses: binary (BCE, focal, multi-label soft margin) and multi-class
(cross-entropy, nll, categorical focal, poly-1, z-loss); hinge losses live in margin.py, KL in
distribution.py.

Binary shapes: ``preds`` and ``targets`` (N,) or (N, K) for K independent labels.
Multi-class shapes, as torch reads them: ``preds`` (N, C) with ``targets`` (N,) class indices or
(N, C) rows; torch's K-dimensional form ``preds`` (N, C, d1, ...) with ``targets`` (N, d1, ...)
indices or (N, C, d1, ...) rows (one loss per position, ``reduction='none'`` keeps N x d1 x ...);
one unbatched sample ``preds`` (C,) with one class index.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from losscli import scalar as S
from losscli.chains import Custom, Elementwise, outer_step, sigmoid_f, softmax_f
from losscli.errors import InputError
from losscli.examples import BINARY_LOGITS, THREE_CLASS, Example
from losscli.losses import _checks
from losscli.losses._ops import (
    BCE_GRAD_EPS,
    KERAS_EPSILON,
    LOG_CLAMP,
    bce_clamped,
    bce_logits,
    bce_probabilities,
    class_index,
    clip_bound,
    log_sigmoid,
    log_softmax,
    one_hot,
    quiet,
    safe_log,
    stop_gradient,
    take_class,
    weighted_row_sum,
)
from losscli.reduction import Rule
from losscli.scalar import Scalar
from losscli.spec import Advice, Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "classification"

FROM_LOGITS_FALSE = Param("from_logits", "bool", False, "preds are logits instead of probabilities")
CLIP = Param(
    "clip",
    "float",
    None,
    "probabilities only. none: torch (log clamped at -100); eps or sklearn: clip p to [eps, 1 - eps], "
    "eps the dtype's machine epsilon (scikit-learn log_loss); keras or c: clip p to [c, 1 - c] "
    "(keras = 1e-7, Keras BinaryCrossentropy)",
    low=float(np.finfo(np.float64).eps),  # below it 1 - c rounds to 1: nothing clipped at the top
    high=0.5,
    high_open=True,
    choices=("eps", "sklearn", "keras"),
)
CLAMPED = "clamped"  # ev.extras key: elements whose value torch's -100 clamp of the log changed
LOGITS_HINT = "if these are logits, pass -p from_logits=true"


def _src(sources: Sources, name: str) -> str:
    return sources.get(name, name)


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in shape) if shape else "scalar"


# ----------------------------------------------------------------------------- binary


def _binary_labels(xp: Any, y: Array) -> Array:
    """Hinge labels: {0, 1} becomes {-1, 1} when every label is 0 or 1 (Keras), else as given."""
    if bool(xp.all((y == 0) | (y == 1))):
        return 2.0 * y - 1.0
    return y


def _smoothed(y: Any, ls: float) -> Any:
    """Keras BinaryCrossentropy's label smoothing: y (1 - ls) + ls / 2 (numpy, torch or a float)."""
    return y * (1.0 - ls) + 0.5 * ls if ls else y


def bce(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Binary cross-entropy.

    Probabilities (torch ``BCELoss``): ℓ = -[y log p + (1 - y) log(1 - p)], logs clamped at -100,
    with torch's backward (p - y) / max(p(1 - p), 1e-12); with ``clip`` c, p is clipped to
    [c, 1 - c] first and there is no clamp (Keras, scikit-learn; see ``_ops.bce_probabilities``).
    Logits (torch ``BCEWithLogitsLoss``): ℓ = (1 - y) x + (1 + (w - 1) y) softplus(-x), w = pos_weight.
    ``label_smoothing`` ls (Keras): y becomes y (1 - ls) + ls / 2 first.  ``weight`` (torch): ℓ
    times w, w broadcast along the last axis as torch broadcasts a 1-D weight tensor; the mean stays
    Σ wℓ / (number of elements), as torch's.
    """
    x = inputs["preds"]
    y = _smoothed(inputs["targets"], params.get("label_smoothing", 0.0))
    if params["from_logits"]:
        pw = params["pos_weight"]
        loss = bce_logits(xp, x, y, 1.0 if pw is None else xp.asarray(pw, dtype=x.dtype))
    else:
        loss = bce_probabilities(xp, x, y, params.get("clip"))
    w = params.get("weight")
    return Terms(loss if w is None else xp.asarray(w, dtype=x.dtype) * loss)


def report_clamped(ev: Any, inputs: Inputs) -> dict[str, Any]:
    """``{"clamped": n}`` when torch's clamp of the log at -100 changed n > 0 elements (a probability
    of exactly 0 or 1, or below e⁻¹⁰⁰, on the side its label weighs), else nothing.  Only for
    probabilities without a clip (the clip replaces the clamp)."""
    if ev.params.get("from_logits") or ev.params.get("clip") is not None or ev.params.get("kind", "bce") != "bce":
        return {}
    count = bce_clamped(inputs["preds"], _smoothed(inputs["targets"], ev.params.get("label_smoothing", 0.0)))
    return {CLAMPED: int(count)} if count else {}


def _along_last(a: np.ndarray) -> int:
    """How many values a 1-D weight broadcast against ``a`` may have besides 1 (torch broadcasting:
    its last axis; for 1-D preds, one per element)."""
    return a.shape[-1] if a.ndim else 1


def _validate_bce(inputs: Inputs, params: Params, sources: Sources) -> dict[str, Any] | None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    pw = params["pos_weight"]
    if pw is not None and len(pw) not in (1, _last_dim(inputs["preds"])):
        raise InputError(f"pos_weight has {len(pw)} values; preds have {_last_dim(inputs['preds'])} columns")
    w = params.get("weight")
    if w is not None and len(w) not in (1, _along_last(inputs["preds"])):
        last = _along_last(inputs["preds"])
        raise InputError(
            f"weight has {len(w)} values; torch broadcasts a weight along the last axis of preds "
            f"(shape {_shape(inputs['preds'].shape)}): give 1 or {last} values"
        )
    if params["from_logits"]:
        if params.get("clip") is not None:
            raise InputError("clip applies to probabilities; with -p from_logits=true there is nothing to clip")
        _checks.fail_at(sources, "targets", inputs["targets"], ~np.isfinite(inputs["targets"]), "a finite number")
        return None  # BCEWithLogitsLoss takes any real target, as torch does
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0, hint="BCEWithLogitsLoss (-p from_logits=true) takes any")
    if pw is not None:
        raise InputError("pos_weight needs -p from_logits=true (torch BCELoss has no pos_weight)")
    _checks.in_range(inputs, sources, "preds", 0.0, 1.0, hint=LOGITS_HINT)
    return None


def _last_dim(a: np.ndarray) -> int:
    return a.shape[-1] if a.ndim > 1 else 1


def _log_one_minus_pt(xp: Any, x: Array, y: Array) -> Array:
    """log(1 - pₜ) = log((1 - y) σ(x) + y σ(-x)) as optax ``sigmoid_focal_loss`` computes it: a
    log-sum-exp of log σ(±x) weighted by (1 - y, y), so a hard label gives log σ(-x) (y = 1) or
    log σ(x) (y = 0) exactly, and (1 - pₜ)^γ = exp(γ log(1 - pₜ)) has a finite gradient for every
    γ > 0 at every logit (1 - pₜ computed as a difference is 0 at |x| ≳ 37, where the derivative
    γ(1 - pₜ)^(γ-1) of the power is infinite for γ < 1 and autograd gives 0·inf = NaN)."""
    log_p, log_q = log_sigmoid(xp, x), log_sigmoid(xp, -x)
    pos, neg = y == 1, y == 0
    m = stop_gradient(xp.maximum(log_p, log_q))
    s = (1.0 - y) * xp.exp(log_p - m) + y * xp.exp(log_q - m)
    soft = m + xp.log(xp.where(pos | neg, xp.ones_like(s), s))
    return xp.where(pos, log_q, xp.where(neg, log_p, soft))


def focal(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Sigmoid focal loss on logits (torchvision ``sigmoid_focal_loss``).

    p = σ(x), ce = BCEWithLogits(x, y), pₜ = p y + (1 - p)(1 - y),
    ℓ = αₜ · ce · (1 - pₜ)^γ with αₜ = α y + (1 - α)(1 - y) (no αₜ when α < 0);
    (1 - pₜ)^γ computed as optax does, exp(γ log(1 - pₜ)) (see :func:`_log_one_minus_pt`).
    """
    x, y = inputs["preds"], inputs["targets"]
    alpha, gamma = params["alpha"], params["gamma"]
    ce = bce_logits(xp, x, y)
    loss = ce if gamma == 0 else ce * xp.exp(gamma * _log_one_minus_pt(xp, x, y))
    if alpha >= 0:
        loss = (alpha * y + (1.0 - alpha) * (1.0 - y)) * loss
    return Terms(loss)


def _validate_focal(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0)


def multilabel_soft_margin(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``MultiLabelSoftMarginLoss``:
    ℓᵢ = -(1/C) Σ_c w_c [y_{ic} log σ(x_{ic}) + (1 - y_{ic}) log σ(-x_{ic})], mean over the N rows.

    Shapes: preds and targets (N, C), or (C,) for one unbatched sample (torch sums its last axis);
    ℓ (N,) ((1,) unbatched).  -y log σ(x) = y softplus(-x) written as BCE with logits (no cancellation).
    """
    x, y = inputs["preds"], inputs["targets"]
    loss = bce_logits(xp, x, y)
    w = params["weight"]
    if w is not None:
        loss = xp.asarray(w, dtype=x.dtype) * loss
    per_row = xp.sum(loss, axis=-1) / x.shape[-1]
    return Terms(xp.reshape(per_row, (1,)) if x.ndim == 1 else per_row)


def _validate_multilabel_soft_margin(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    x = inputs["preds"]
    if x.ndim not in (1, 2):
        raise InputError(
            f"preds must be N x C (or one sample's C scores), got shape {_shape(x.shape)}",
            source=_src(sources, "preds"),
        )
    w = params["weight"]
    if w is not None and len(w) != x.shape[-1]:
        raise InputError(f"weight has {len(w)} values but preds have {x.shape[-1]} classes (torch: a weight of size C)")
    for name in ("preds", "targets"):
        _checks.fail_at(sources, name, inputs[name], ~np.isfinite(inputs[name]), "a finite number")


def logit_saturation_limit(dtype: str) -> float:
    """|x| beyond which σ(x) rounds to exactly 0 or 1 in ``dtype`` (36.7 in float64, 16.6 in float32)."""
    return float(-np.log(np.finfo(dtype).eps / 2))


def _probability_saturation(p: np.ndarray, eps: float) -> np.ndarray:
    return (p <= eps) | (p >= 1.0 - eps)


def _bce_saturation(inputs: Inputs, params: Params, dtype: str, eps: float) -> dict[str, np.ndarray]:
    """Probabilities within ``eps`` of 0 or 1, or logits whose sigmoid rounds to 0 or 1."""
    x = inputs["preds"]
    if params.get("from_logits", True):
        return {"preds": np.abs(x) > logit_saturation_limit(dtype)}
    return {"preds": _probability_saturation(x, eps)}


def _class_axis(z: np.ndarray) -> int:
    return 0 if z.ndim == 1 else 1


def _ce_saturation(inputs: Inputs, params: Params, dtype: str, eps: float) -> dict[str, np.ndarray]:
    """Probability inputs within ``eps`` of 0 or 1; logit rows whose softmax rounds to one-hot."""
    z = inputs["preds"]
    if not params.get("from_logits", True):
        return {"preds": _probability_saturation(z, eps)}
    axis = _class_axis(z)
    top2 = np.moveaxis(np.sort(z, axis=axis), axis, -1)[..., -2:]
    flat = (top2[..., 1] - top2[..., 0]) > logit_saturation_limit(dtype)
    return {"preds": np.broadcast_to(np.expand_dims(flat, axis), z.shape)}


# ------------------------------------------------------------------------- multi-class


@dataclass(frozen=True)
class _CountedMean(Rule):
    """The mean of the index-target losses, Σ w_y ℓ / Σ w_y (torch), which refuses to divide by 0:
    every target ignored, or class weights that cancel, make torch's mean 0/0 or ±inf/0 (NaN or
    ±inf), while ``sum`` and ``none`` are defined (zeros where every target is ignored)."""

    def finish(self, xp: Any, state: Any, reduction: str) -> Any:
        if reduction == "mean" and self.kind == "mean" and _as_float(state.denominator) == 0:
            why = (
                "every target equals ignore_index or has class weight 0"
                if state.weighted == 0
                else "the class weights of the counted targets sum to 0"
            )
            raise InputError(
                f"{why}: the mean Σ w_y ℓ / Σ w_y divides by 0 (torch returns NaN); "
                "--reduction sum or none gives the sum (0 where every target is ignored), as torch does"
            )
        return Rule.finish(self, xp, state, reduction)


def _as_float(a: Any) -> float:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return float(np.asarray(a))


COUNTED_MEAN = _CountedMean("mean", description="Σ w_y ℓ / Σ w_y (index targets), Σℓ / N (probability targets)")


def _flatten_classes(xp: Any, z: Array, t: Array) -> tuple[Array, Array, tuple[int, ...]]:
    """torch's layouts as rows: (M, C) scores, (M,) class indices or (M, C) target rows, and the
    shape ℓ takes back ((N,), (N, d1, ...), or (1,) for one unbatched sample)."""
    if z.ndim == 1:
        return xp.reshape(z, (1, z.shape[0])), xp.reshape(t, (1,)), (1,)
    if z.ndim == 2:
        return z, t, (z.shape[0],)
    c = z.shape[1]
    perm = (0, *range(2, z.ndim), 1)
    rows = xp.reshape(xp.permute_dims(z, perm), (-1, c))
    shape = (z.shape[0], *z.shape[2:])
    if t.ndim == z.ndim:
        return rows, xp.reshape(xp.permute_dims(t, perm), (-1, c)), shape
    return rows, xp.reshape(t, (-1,)), shape


def _normalised_log(xp: Any, p: Array) -> Array:
    """Keras ``categorical_crossentropy`` on probabilities: log clip(p / Σ_c p, 1e-7, 1 - 1e-7)."""
    q = p / xp.sum(p, axis=-1, keepdims=True)
    return xp.log(xp.clip(q, KERAS_EPSILON, 1.0 - KERAS_EPSILON))


def _ce_log_probs(params: Params) -> Any:
    """log p of one row of scores for cross-entropy's three conventions."""
    if params.get("from_logits", True):
        return lambda xp, z: log_softmax(xp, z, axis=-1)
    if params.get("normalize"):
        return _normalised_log
    return safe_log


@quiet
def _rows_loss(xp: Any, z: Array, t: Array, params: Params, log_probs: Any, fill: float) -> tuple[Array, Array | None]:
    """ℓ per row of (M, C) scores and the row weights of the mean (None: a plain mean).

    Index targets yᵢ: ℓᵢ = (1 - ε) w_{yᵢ} (-log p_{i,yᵢ}) + (ε / C) Σ_c w_c (-log p_{ic}), weight
    w_{yᵢ} (0 for ignore_index).  Target rows: ℓᵢ = -Σ_c w_c ((1 - ε) y_{ic} + ε / C) log p_{ic}.
    Ignored rows are replaced by ``fill`` first, so whatever they hold gives them a zero gradient."""
    n_classes = z.shape[-1]
    eps = params.get("label_smoothing", 0.0)
    w = params.get("weight")
    w_c = None if w is None else xp.asarray(w, dtype=z.dtype)
    if t.ndim == 2:
        logp = log_probs(xp, z)
        y = (1.0 - eps) * t + eps / n_classes
        return -weighted_row_sum(xp, y if w_c is None else w_c * y, logp), None
    keep = t != params["ignore_index"]
    z = xp.where(keep[:, None], z, xp.full_like(z, fill))
    logp = log_probs(xp, z)
    k = class_index(xp, t, keep)
    zero = xp.zeros_like(logp[:, 0])
    w_y = xp.where(keep, xp.ones_like(zero) if w_c is None else xp.take(w_c, k), zero)
    nll = -take_class(xp, logp, k)
    loss = xp.where(w_y != 0, (1.0 - eps) * w_y * nll, zero)
    if eps > 0:
        loss = loss + xp.where(keep, (eps / n_classes) * -weighted_row_sum(xp, w_c, logp), zero)
    return loss, w_y


def _multiclass_terms(xp: Any, inputs: Inputs, params: Params, log_probs: Any, fill: float) -> Terms:
    zz, tt, shape = _flatten_classes(xp, inputs["preds"], inputs["targets"])
    loss, w_y = _rows_loss(xp, zz, tt, params, log_probs, fill)
    return Terms(xp.reshape(loss, shape), weights=None if w_y is None else xp.reshape(w_y, shape))


def cross_entropy(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Cross-entropy per sample (torch ``cross_entropy``), in each of torch's layouts.

    Index targets yᵢ: ℓᵢ = (1 - ε) w_{yᵢ} (-log p_{i,yᵢ}) + (ε / C) Σ_c w_c (-log p_{ic}),
    mean = Σᵢ ℓᵢ / Σᵢ w_{yᵢ} over samples whose target is not ``ignore_index``.
    Probability targets: ℓᵢ = -Σ_c w_c ((1 - ε) y_{ic} + ε / C) log p_{ic}, mean over N.
    K-dimensional (N, C, d1, ...): the same per position (classes on axis 1), ℓ (N, d1, ...).

    log p: log-softmax of logits; with ``from_logits=false`` the log of the probabilities as given,
    clamped at -100 (torch ``nll_loss(log p)``), or with ``normalize`` Keras's log of
    clip(p / Σp, 1e-7, 1 - 1e-7).  The target's term by a gather (no one-hot product), and a zero
    weight or target probability contributes 0 even where log p = -inf (a logit of ±1e308): no
    0·inf anywhere, so no NaN where torch is finite.
    """
    fill = 0.0 if params.get("from_logits", True) else 1.0
    return _multiclass_terms(xp, inputs, params, _ce_log_probs(params), fill)


def nll(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``nll_loss`` on log-probabilities x: ℓᵢ = -w_{yᵢ} x_{i,yᵢ}, 0 for ignore_index;
    mean = Σᵢ ℓᵢ / Σᵢ w_{yᵢ}.  (N, C), (N, C, d1, ...) or (C,) with one index, as cross-entropy."""
    return _multiclass_terms(xp, inputs, params, lambda xp, z: z, 0.0)


PREDS_FORMS = (
    "an N x C matrix of scores (one column per class), N x C x d1 x ... (torch's K-dimensional form), "
    "or one sample's C scores with a single class index"
)


def _validate_multiclass(
    inputs: Inputs, params: Params, sources: Sources, *, loss: str, index_only: bool, min_classes: int = 2
) -> bool:
    """Checks torch's layouts (see the module docstring); True for index targets."""
    z, t = inputs["preds"], inputs["targets"]
    src_p, src_t = _src(sources, "preds"), _src(sources, "targets")
    if z.ndim == 0 or (z.ndim == 1 and t.size != 1):
        got = f"got shape {_shape(z.shape)}" + (f" with {t.size} targets" if z.ndim == 1 else "")
        raise InputError(f"preds must be {PREDS_FORMS}, {got}", source=src_p)
    c = z.shape[_class_axis(z)]
    if c < min_classes:
        raise InputError(f"preds has {c} column; {loss} needs one column per class (>= {min_classes})", source=src_p)
    w = params.get("weight")
    if w is not None and len(w) != c:
        raise InputError(f"weight has {len(w)} values but preds have {c} classes")
    index_shape = (1,) if z.ndim == 1 else (z.shape[0], *z.shape[2:])
    if z.ndim >= 2 and t.ndim == z.ndim and not (z.ndim == 2 and t.shape[1:] == (1,)):
        if index_only:
            raise InputError(
                f"targets must be class indices of shape {_shape(index_shape)} ({loss} takes no probability "
                f"rows), got shape {_shape(t.shape)}",
                source=src_t,
            )
        _checks.same_shape(inputs, sources, "preds", "targets")
        _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
        return False
    if z.ndim == 2 and t.ndim == 1 and t.shape[0] != z.shape[0]:
        raise InputError(
            f"preds has {z.shape[0]} rows ({src_p}) but targets has {t.shape[0]} ({src_t}); they must match"
        )
    if t.size != math.prod(index_shape) or (z.ndim > 2 and t.shape != index_shape):
        rows = "" if index_only else f" or {_shape(z.shape)} (probability rows)"
        raise InputError(
            f"targets has shape {_shape(t.shape)} but preds of shape {_shape(z.shape)} need "
            f"{_shape(index_shape)} (class indices){rows}",
            source=src_t,
        )
    ignore = params["ignore_index"]
    valid = t != ignore
    _checks.fail_at(sources, "targets", t, valid & (t != np.round(t)), "whole class indices")
    _checks.fail_at(
        sources, "targets", t, valid & ((t < 0) | (t >= c)), f"a class index in [0, {c - 1}] (or ignore_index {ignore})"
    )
    return True


def _validate_probabilities(inputs: Inputs, params: Params, sources: Sources) -> None:
    z = inputs["preds"]
    if params.get("normalize"):
        _checks.fail_at(sources, "preds", z, ~(z >= 0), "a non-negative number (a probability before normalizing)")
        sums = np.sum(z, axis=_class_axis(z), keepdims=True)
        _checks.fail_at(
            sources,
            "preds",
            z,
            np.broadcast_to(sums <= 0, z.shape),
            "in a row with a positive sum (normalize divides each row by its sum)",
        )
        return
    _checks.in_range(inputs, sources, "preds", 0.0, 1.0, hint="if these are logits, leave out -p from_logits=false")


def _validate_ce(inputs: Inputs, params: Params, sources: Sources, *, sparse: bool = False) -> None:
    if params.get("normalize") and params["from_logits"]:
        raise InputError(
            "normalize applies to probabilities (Keras divides each probability row by its sum): "
            "add -p from_logits=false, or leave normalize out for logits"
        )
    _validate_multiclass(inputs, params, sources, loss="cross-entropy", index_only=sparse)
    if not params["from_logits"]:
        _validate_probabilities(inputs, params, sources)


def _validate_sparse_ce(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_ce(inputs, params, sources, sparse=True)


def _validate_nll(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_multiclass(inputs, params, sources, loss="nll", index_only=True, min_classes=1)
    z = inputs["preds"]
    _checks.fail_at(sources, "preds", z, np.isnan(z), "a number (log-probabilities)")


# ----------------------------------------------------------------------- focal, poly-1, z-loss (rows)


def _target_rows(xp: Any, z: Array, t: Array) -> Array:
    """(N, C) target rows: as given, or the one-hot rows of (N,) class indices."""
    return t if t.ndim == 2 else one_hot(xp, t, z.shape[-1], z)


def categorical_focal(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Keras ``categorical_focal_crossentropy``: ỹ = y (1 - ls) + ls / C, p = softmax(z) with
    from_logits, q = clip(p / Σ_c p, 1e-7, 1 - 1e-7), ℓᵢ = Σ_c α_c (1 - q_c)^γ (-ỹ_c log q_c);
    mean over N (Keras sum_over_batch_size).  Shapes (N, C); targets one-hot rows or indices."""
    z = inputs["preds"]
    y = _target_rows(xp, z, inputs["targets"])
    ls = params["label_smoothing"]
    if ls:
        y = y * (1.0 - ls) + ls / z.shape[-1]
    p = xp.exp(log_softmax(xp, z, axis=-1)) if params["from_logits"] else z
    q = xp.clip(p / xp.sum(p, axis=-1, keepdims=True), KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    alpha = xp.asarray(params["alpha"], dtype=z.dtype)
    return Terms(xp.sum(alpha * (1.0 - q) ** params["gamma"] * (-y * xp.log(q)), axis=-1))


def _validate_rows(inputs: Inputs, params: Params, sources: Sources, *, loss: str) -> None:
    """(N, C) preds with (N, C) target rows in [0, 1] or (N,) class indices."""
    z, t = inputs["preds"], inputs["targets"]
    _checks.ndim_in(inputs, sources, "preds", (2,), "an N x C matrix of scores (one column per class)")
    if z.shape[1] < 2:
        raise InputError(f"preds has {z.shape[1]} column; {loss} needs one column per class (>= 2)")
    if t.ndim == 2:
        _checks.same_shape(inputs, sources, "preds", "targets")
        _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
        return
    _checks.ndim_in(inputs, sources, "targets", (1,), "N class indices or an N x C matrix of target rows")
    if t.shape[0] != z.shape[0]:
        raise InputError(
            f"preds has {z.shape[0]} rows ({_src(sources, 'preds')}) but targets has {t.shape[0]} "
            f"({_src(sources, 'targets')}); they must match"
        )
    c = z.shape[1]
    _checks.fail_at(sources, "targets", t, (t != np.round(t)) | (t < 0) | (t >= c), f"a class index in [0, {c - 1}]")


def _validate_categorical_focal(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_rows(inputs, params, sources, loss="categorical-focal")
    c = inputs["preds"].shape[1]
    if len(params["alpha"]) not in (1, c):
        raise InputError(f"alpha has {len(params['alpha'])} values; give one, or one per class ({c})")
    if not params["from_logits"]:
        _validate_probabilities(inputs, {"normalize": True}, sources)


@quiet
def poly1(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """optax ``poly_loss_cross_entropy``: p = softmax(z), ℓᵢ = -Σ_c y_c log p_c + ε Σ_c y_c (1 - p_c)
    (cross-entropy plus ε (1 - pₜ)); (N, C) logits, target rows or class indices."""
    z = inputs["preds"]
    y = _target_rows(xp, z, inputs["targets"])
    logp = log_softmax(xp, z, axis=-1)
    ce = -weighted_row_sum(xp, y, logp)
    return Terms(ce + params["epsilon"] * xp.sum(y * (1.0 - xp.exp(logp)), axis=-1))


def _validate_poly1(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_rows(inputs, params, sources, loss="poly1")


def _log_partition(xp: Any, z: Array) -> Array:
    """log Z = log Σ_c exp z_c over the last axis, max-subtracted (the max held constant)."""
    m = stop_gradient(xp.max(z, axis=-1, keepdims=True))
    return (m + xp.log(xp.sum(xp.exp(z - m), axis=-1, keepdims=True)))[..., 0]


def z_loss(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """t5x / PaLM z-loss: ℓᵢ = z_loss · (log Zᵢ)², Zᵢ = Σ_c exp z_{ic}, on (N, C) logits or torch's
    (N, C, d1, ...) (classes on axis 1, as cross-entropy reads them); ℓ (N,) or (N, d1, ...)."""
    z = inputs["preds"]
    rows, _, shape = _flatten_classes(xp, z, z[:, 0] if z.ndim > 1 else z)
    return Terms(xp.reshape(params["z_loss"] * _log_partition(xp, rows) ** 2, shape))


def _validate_z_loss(inputs: Inputs, params: Params, sources: Sources) -> None:
    z = inputs["preds"]
    if z.ndim < 2:
        raise InputError(
            f"preds must be N x C logits (or N x C x d1 x ...), got shape {_shape(z.shape)}",
            source=_src(sources, "preds"),
        )
    _checks.fail_at(sources, "preds", z, ~np.isfinite(z), "a finite logit")


# ----------------------------------------------------------------------------- the chain rule for --explain
# The binary losses once more as scalar maths over losscli.scalar.Scalar (plain math, not the array
# code above); the multi-class ones as rules over one row.  --explain checks both against autograd.


def bce_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    """Probabilities: torch BCELoss, its forward with logs clamped at -100 and its hand-written
    backward (p - y)/max(p(1 - p), 1e-12), or with a clip c the log loss of q = clip(p, c, 1 - c)
    (float64: clip=eps is 2.2e-16); logits: w·y·softplus(-x) + (1 - y)·softplus(x).  A ``weight``
    (one value: the element's) multiplies ℓ."""
    weight = params.get("weight")
    ell = _bce_scalar(p, y, params)
    if weight is None:
        return ell
    return (weight[0] * ell).named("ℓ = weight · bce")


def _bce_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    if params["from_logits"]:
        w = 1.0 if params.get("pos_weight") is None else params["pos_weight"][0]
        x = p
        return (w * y * S.softplus(-x) + (1.0 - y) * S.softplus(x)).named("ℓ = w·y·softplus(-x) + (1-y)·softplus(x)")
    pv, yv = p.value, y.value
    low = clip_bound(np, np.float64(pv), params.get("clip"))
    if low is not None:
        inside = low <= pv <= 1.0 - low
        q = S.op(
            min(max(pv, low), 1.0 - low),
            [(p, 1.0 if inside else 0.0, f"1 ({low:g} ≤ p ≤ 1 - {low:g})" if inside else "0 (p clipped)")],
            f"q = clip(p, {low:g}, 1 - {low:g})",
        )
        qv = q.value
        return S.op(
            -(yv * math.log(qv) + (1.0 - yv) * math.log(1.0 - qv)),
            [(q, (qv - yv) / (qv * (1.0 - qv)), "(q - y) / (q (1-q))")],
            "ℓ = -(y log q + (1-y) log(1-q))",
        )
    log_p = S.op(max(math.log(pv), LOG_CLAMP) if pv > 0 else LOG_CLAMP, [], "log p (clamped at -100)")
    log_q = S.op(max(math.log(1 - pv), LOG_CLAMP) if pv < 1 else LOG_CLAMP, [], "log(1-p) (clamped at -100)")
    value = -(yv * log_p.value + (1 - yv) * log_q.value)
    backward = (pv - yv) / max(pv * (1 - pv), BCE_GRAD_EPS)
    return S.op(
        value,
        [
            (p, backward, "(p - y) / max(p(1-p), 1e-12)  (torch BCELoss backward)"),
            (y, 0.0, "0"),
            (log_p, 0.0, "0"),
            (log_q, 0.0, "0"),
        ],
        "ℓ = -(y log p + (1-y) log(1-p))",
    )


def _bce_element(inputs: Inputs, params: Params, index: tuple[int, ...]) -> tuple[float, float, Params]:
    """One weight per column: the element's own pos_weight and weight; the target smoothed."""
    out = dict(params)
    for name in ("pos_weight", "weight"):
        values = params.get(name)
        if values and len(values) > 1:
            out[name] = (values[index[-1]],)
    y = _smoothed(float(inputs["targets"][index]), params.get("label_smoothing", 0.0))
    return float(inputs["preds"][index]), y, out


def focal_scalar(x: Scalar, y: Scalar, params: Params) -> Scalar:
    """torchvision sigmoid_focal_loss: αₜ (1 - pₜ)^γ · BCEWithLogits(x, y), with (1 - pₜ)^γ as optax
    computes it, exp(γ log(1 - pₜ)): log(1 - pₜ) = -softplus(x) for y = 1, -softplus(-x) for y = 0,
    log((1 - y) σ(x) + y σ(-x)) for a soft label."""
    a, g = params["alpha"], params["gamma"]
    not_y = (1.0 - y).named("1 - y")
    sp_neg = S.softplus(-x).named("softplus(-x)")
    sp_pos = S.softplus(x).named("softplus(x)")
    ce = (y * sp_neg + not_y * sp_pos).named("ce = BCEWithLogits(x, y)")
    if g == 0:
        loss = ce
    else:
        if y.value == 1.0:
            log_1m = (-sp_pos).named("log(1-pₜ) = log σ(-x)")
        elif y.value == 0.0:
            log_1m = (-sp_neg).named("log(1-pₜ) = log σ(x)")
        else:
            mix = not_y * S.exp(-sp_neg) + y * S.exp(-sp_pos)
            log_1m = S.log(mix.named("1-pₜ = (1-y)σ(x) + yσ(-x)")).named("log(1-pₜ)")
        loss = (ce * S.exp(g * log_1m).named("(1-pₜ)^γ = exp(γ log(1-pₜ))")).named("ce·(1-pₜ)^γ")
    if a < 0:
        return loss.named("ℓ = ce·(1-pₜ)^γ")
    alpha_t = (a * y + (1.0 - a) * not_y).named("αₜ")
    return (alpha_t * loss).named("ℓ = αₜ (1-pₜ)^γ ce")


def multilabel_soft_margin_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂L/∂x_{ic} = (∂L/∂ℓᵢ) (w_c / C)(-y σ(-x) + (1 - y) σ(x))."""
    if name != "preds":
        return None
    x, y = float(inputs["preds"][index]), float(inputs["targets"][index])
    c = inputs["preds"].shape[-1]
    w = 1.0 if ev.params["weight"] is None else ev.params["weight"][index[-1]]
    formula, outer = outer_step(ev, ev.denominator)
    fwd = [("x", x), ("y", y), ("σ(x)", sigmoid_f(x))]
    grad = w / c * (-y * sigmoid_f(-x) + (1.0 - y) * sigmoid_f(x))
    return fwd, [("∂L/∂ℓᵢ", formula, outer), ("∂ℓᵢ/∂x_c", "(w_c / C)(σ(x) - y)", grad)]


# ----------------------------------------------------------------------------- advice for --explain


def _on_probabilities(params: Params) -> bool:
    return not params.get("from_logits")


BCE_CONVENTION = Advice(
    lambda params, health: _on_probabilities(params) and params.get("clip") is None and "saturated" in health.kinds(),
    en="BCE's gradient on probabilities is (p - y)/(p(1 - p)): it grows without bound as p nears "
    "0 or 1 (about 1e12/N at p = 1e-12), and at exactly 0 or 1 torch clamps the log at -100 "
    "and p(1 - p) at 1e-12, so the gradient there is a convention. Upstream, the sigmoid "
    "multiplies it by p(1 - p) ≈ 0, and the two cancel in rounding error.",
    zh="BCE 對機率的梯度是 (p - y)/(p(1 - p))：機率越接近 0 或 1，它就越大（p = 1e-12 時約為 1e12/N）；"
    "機率恰為 0 或 1 時，torch 把 log 截斷在 -100、把 p(1 - p) 截斷在 1e-12，梯度只是約定值。"
    "上游的 sigmoid 會再乘上 p(1 - p) ≈ 0，兩者相抵時就會失去精度。",
)
BCE_USE_LOGITS = Advice(
    lambda params, health: _on_probabilities(params) and ("saturated" in health.kinds() or health.status != "ok"),
    en="BCE on probabilities saturates: pass logits with -p from_logits=true (BCEWithLogitsLoss), "
    "which computes σ inside the loss stably; its gradient σ(x) - y is always bounded.",
    zh="BCE 作用在機率上會飽和：請改傳 logits 並加上 -p from_logits=true（即 BCEWithLogitsLoss），"
    "它在損失內部穩定地計算 σ，梯度 σ(x) - y 永遠有界。",
)
CONFIDENTLY_RIGHT = Advice(
    lambda params, health: health.status == "vanishing" and params.get("from_logits", True),
    en="The model is confidently right on these samples: there is nothing left to learn, so "
    "the gradient is tiny. If you expected mistakes, check the labels.",
    zh="模型對這些樣本既有信心又正確：沒有東西可學，梯度自然很小。若你預期會有錯誤，請檢查標籤。",
)


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ included
# (see losscli.chains), or None when it has no derivation for that input.


def _smoothed_row(t: Any, n_cls: int, eps: float) -> np.ndarray:
    """ỹ = (1 - ε) y + ε / C for a target row or a class index."""
    y = np.eye(n_cls)[int(t)] if np.ndim(t) == 0 else np.asarray(t, float)
    return (1 - eps) * y + eps / n_cls


def ce_row_chain(z: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    """∂ℓᵢ/∂z_c for one row of cross-entropy (index or probability target)."""
    n_cls = z.size
    eps = prm.get("label_smoothing", 0.0)
    w = np.ones(n_cls) if prm.get("weight") is None else np.asarray(prm["weight"], float)
    index = np.ndim(t) == 0
    if index and int(t) == prm["ignore_index"]:
        return [("target", int(t))], [("∂ℓᵢ/∂z_c", "0 (ignored target)", 0.0)]
    if not prm.get("from_logits", True):
        p = z
        fwd = [(f"p_{c}", float(p[c]))] + ([("target class", int(t))] if index else [])
        ty = _smoothed_row(t, n_cls, eps)
        if prm.get("normalize"):
            total = float(p.sum())
            q = p / total
            inside = (q >= KERAS_EPSILON) & (q <= 1 - KERAS_EPSILON)
            a = w * ty * inside
            grad = -(a[c] / q[c] - a.sum()) / total
            fwd += [("Σp", total), (f"q_{c} = p_{c}/Σp", float(q[c]))]
            return fwd, [("∂ℓᵢ/∂p_c", "(Σ_k a_k - a_c / q_c) / Σp,  a_k = w_k ỹ_k (0 where q_k is clipped)", grad)]
        return fwd, [("∂ℓᵢ/∂p_c", "-w_c ỹ_c / p_c", float(-w[c] * ty[c] / p[c]))]
    s = softmax_f(z)
    fwd = [(f"z_{c}", float(z[c])), (f"softmax(z)_{c}", float(s[c]))]
    if index:
        k = int(t)
        grad = (1 - eps) * w[k] * (s[c] - (c == k)) + eps / n_cls * (s[c] * w.sum() - w[c])
        fwd.append(("target class y", k))
        return fwd, [("∂ℓᵢ/∂z_c", "(1-ε) w_y (s_c - [c = y]) + (ε/C)(s_c Σw - w_c)", float(grad))]
    ty = _smoothed_row(t, n_cls, eps)
    grad = s[c] * np.sum(w * ty) - w[c] * ty[c]
    return fwd, [("∂ℓᵢ/∂z_c", "s_c Σ_k w_k ỹ_k - w_c ỹ_c", float(grad))]


def nll_row_chain(x: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    """∂ℓᵢ/∂x_c = -w_y [c = y] for nll (0 for an ignored target)."""
    k = int(t)
    if k == prm["ignore_index"]:
        return [("target", k)], [("∂ℓᵢ/∂x_c", "0 (ignored target)", 0.0)]
    w_k = 1.0 if prm["weight"] is None else float(prm["weight"][k])
    return [(f"x_{c}", float(x[c])), ("target class y", k)], [("∂ℓᵢ/∂x_c", "-w_y [c = y]", -w_k if c == k else 0.0)]


def focal_row_chain(z: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    """Keras categorical focal: ℓ = Σ_k f_k(q_k), f_k(q) = -α_k ỹ_k (1 - q)^γ log q, q the clipped,
    normalised probabilities; g_k = f'_k(q_k) (0 where q_k is clipped);
    ∂ℓ/∂p_c = (g_c - Σ_k g_k q_k) / Σp, and from logits ∂ℓ/∂z_c = s_c (g_c - Σ_k g_k s_k)."""
    n_cls = z.size
    gamma = prm["gamma"]
    alpha = np.broadcast_to(np.asarray(prm["alpha"], float), (n_cls,))
    ty = _smoothed_row(t, n_cls, prm["label_smoothing"])
    p = softmax_f(z) if prm["from_logits"] else z
    total = float(p.sum())
    q = p / total
    inside = (q >= KERAS_EPSILON) & (q <= 1 - KERAS_EPSILON)
    qc = np.clip(q, KERAS_EPSILON, 1 - KERAS_EPSILON)
    g = -alpha * ty * (-gamma * (1 - qc) ** (gamma - 1) * np.log(qc) + (1 - qc) ** gamma / qc) * inside
    fwd = [(f"q_{c}", float(qc[c])), ("ỹ_c", float(ty[c]))]
    formula = "f'_k(q) = -α_k ỹ_k [(1-q)^γ / q - γ (1-q)^(γ-1) log q]"
    if prm["from_logits"]:
        grad = q[c] * (g[c] - np.sum(g * q))
        return fwd, [("∂ℓᵢ/∂z_c", f"s_c (g_c - Σ_k g_k s_k),  g_k = {formula}", float(grad))]
    grad = (g[c] - np.sum(g * q)) / total
    return fwd, [("∂ℓᵢ/∂p_c", f"(g_c - Σ_k g_k q_k) / Σp,  g_k = {formula}", float(grad))]


def poly1_row_chain(z: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    """∂ℓ/∂z_c = s_c Σy - y_c - ε s_c (y_c - Σ_k y_k s_k)."""
    n_cls = z.size
    y = _smoothed_row(t, n_cls, 0.0)
    s = softmax_f(z)
    eps = prm["epsilon"]
    grad = s[c] * y.sum() - y[c] - eps * s[c] * (y[c] - np.sum(y * s))
    fwd = [(f"z_{c}", float(z[c])), (f"softmax(z)_{c}", float(s[c])), ("pₜ = Σ y s", float(np.sum(y * s)))]
    return fwd, [("∂ℓᵢ/∂z_c", "s_c Σy - y_c - ε s_c (y_c - pₜ)", float(grad))]


def _row_at(inputs: Mapping[str, np.ndarray], index: tuple[int, ...]) -> tuple[np.ndarray, Any, int]:
    """(the row of scores, its target, the class column) of preds[index] in torch's layouts."""
    z, t = inputs["preds"], inputs["targets"]
    if z.ndim == 1:
        return z, t.reshape(-1)[0], index[0]
    i, c, rest = index[0], index[1], tuple(index[2:])
    along: tuple[Any, ...] = (i, slice(None)) + rest
    row = z[along]
    target = t[along] if t.ndim == z.ndim else t[(i,) + rest]
    return row, target, c


def row_chain(rule: Any) -> Custom:
    """A chain over one row of classes (axis 1, or the only axis of one unbatched sample); the
    mean's 1/Σw (or 1/N) comes first."""

    def work(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
        if name != "preds" or "targets" not in inputs:
            return None
        row, target, c = _row_at(inputs, index)
        fwd, local = rule(row, target, c, ev.params)
        formula, outer = outer_step(ev, ev.denominator)
        return fwd, [("∂L/∂ℓᵢ", formula, outer), *local]

    return Custom(work)


def z_loss_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂ℓᵢ/∂z_c = 2 z_loss log Zᵢ softmax(zᵢ)_c."""
    if name != "preds":
        return None
    z = inputs["preds"]
    i, c, rest = index[0], index[1], tuple(index[2:])
    along: tuple[Any, ...] = (i, slice(None)) + rest
    row = z[along]
    m = float(row.max())
    log_z = m + math.log(float(np.sum(np.exp(row - m))))
    s = softmax_f(row)
    formula, outer = outer_step(ev, ev.denominator)
    fwd = [(f"z_{c}", float(row[c])), ("log Z", log_z), (f"softmax(z)_{c}", float(s[c]))]
    grad = 2.0 * ev.params["z_loss"] * log_z * s[c]
    return fwd, [("∂L/∂ℓᵢ", formula, outer), ("∂ℓᵢ/∂z_c", "2 z_loss log Z · softmax(z)_c", grad)]


# ----------------------------------------------------------------------------- specs

BIN_PREDS = Input("preds", "N or N x K", "probabilities in [0, 1], or logits with from_logits=true")
BIN_TARGETS = Input("targets", "same as preds", "labels in [0, 1] (soft labels allowed)", differentiable=False)
BCE_TARGETS = Input(
    "targets", "same as preds", "labels in [0, 1] (soft labels allowed; any real with logits)", differentiable=False
)
LOGITS = Input("preds", "N or N x K", "raw scores (logits)")
SCORES = Input("preds", "N or N x K", "raw scores (decision values)")
PM_TARGETS = Input("targets", "same as preds", "labels in {-1, 1}, or {0, 1} (mapped to {-1, 1})", differentiable=False)
CE_PREDS = Input("preds", "N x C, N x C x d1 x ..., or C", "logits (or probabilities with from_logits=false)")
CE_TARGETS = Input(
    "targets",
    "N, N x d1 x ..., or like preds",
    "class indices (one for one unbatched sample), or probability / one-hot rows shaped like preds",
    differentiable=False,
)
IGNORE_INDEX = Param("ignore_index", "int", -100, "index targets equal to this are skipped")
CLASS_WEIGHT = Param("weight", "floats", None, "per-class weights w_c as a comma list (negative allowed, as torch)")
CE_PARAMS = (
    Param("from_logits", "bool", True, "preds are logits; false for probabilities (log clamped at -100)"),
    Param("label_smoothing", "float", 0.0, "ε: mix targets with the uniform distribution", low=0.0, high=1.0),
    IGNORE_INDEX,
    CLASS_WEIGHT,
    Param(
        "normalize",
        "bool",
        False,
        "from_logits=false only: divide each probability row by its sum and clip to [1e-7, 1 - 1e-7] "
        "first (Keras CategoricalCrossentropy)",
    ),
)
ROW_PREDS = Input("preds", "N x C", "logits (or probabilities with from_logits=false)")
ROW_TARGETS = Input("targets", "N or N x C", "class indices, or one-hot / probability rows", differentiable=False)
CE_LAYOUTS = (
    "Layouts as torch: N x C with N indices or N x C rows; N x C x d1 x ... with N x d1 x ... indices or "
    "rows shaped like preds (one loss per position, classes on axis 1); one unbatched sample C with one index"
)
ALL_IGNORED = (
    "with every target ignored (or class weights that sum to 0) torch's mean is NaN: losscli refuses the mean, "
    "and --reduction sum or none gives zeros as torch does."
)

SPECS = [
    define(
        name="bce",
        row_local=True,
        chain=Elementwise(bce_scalar, _bce_element, leaf="p"),
        advice=(BCE_CONVENTION, BCE_USE_LOGITS, CONFIDENTLY_RIGHT),
        example=Example(
            ("binary_probs.csv", "binary_labels.csv"), what="a binary classifier's probabilities and labels"
        ),
        aliases=("binary-cross-entropy", "log-loss", "logloss", "binary-crossentropy"),
        family=FAMILY,
        summary="binary cross-entropy on probabilities or logits",
        inputs=(BIN_PREDS, BCE_TARGETS),
        params=(
            FROM_LOGITS_FALSE,
            Param("pos_weight", "floats", None, "weight of positives (per column), logits only", low=0.0),
            CLIP,
            Param(
                "weight",
                "floats",
                None,
                "torch weight: rescales each element's loss, broadcast along the last axis (one value, one per "
                "column, or for 1-D preds one per element); the mean still divides by the element count",
            ),
            Param(
                "label_smoothing",
                "float",
                0.0,
                "Keras label smoothing ls: targets become y (1 - ls) + ls / 2",
                low=0.0,
                high=1.0,
            ),
        ),
        formula="ℓ = -[y log p + (1 - y) log(1 - p)], logs clamped at -100 (torch; the count of "
        "elements the clamp changed is reported as 'clamped');  with -p clip=c: q = clip(p, c, 1 - c), "
        "ℓ = -[y log q + (1 - y) log(1 - q)], ∂ℓ/∂p = (q - y)/(q (1 - q)) inside [c, 1 - c] and 0 outside "
        "(clip=keras: c = 1e-7, Keras BinaryCrossentropy; clip=eps: c = finfo(dtype).eps, scikit-learn "
        "log_loss; a wrong p = 0 costs 100, 16.1 and 36.0 in float64);  with logits x: "
        "ℓ = (1 - y) x + (1 + (w - 1) y) · softplus(-x);  -p weight=v: ℓ·v (torch weight, broadcast);  "
        "-p label_smoothing=ls: y → y (1 - ls) + ls/2 first (Keras);  L = mean ℓ (Σ vℓ / element count)",
        derivative="∂ℓ/∂p = (p - y) / max(p (1 - p), 1e-12) (torch's backward: finite at p = 0 or 1);  "
        "with logits ∂ℓ/∂x = σ(x) - y (w = 1); times the weight v",
        convention="torch.nn.BCELoss(weight) (probabilities, log clamped at -100); "
        "BCEWithLogitsLoss(weight, pos_weight) with from_logits=true (any real target, as torch); "
        "label_smoothing as Keras BinaryCrossentropy",
        differs="Keras clips probabilities to [1e-7, 1 - 1e-7] instead of clamping the log, and "
        "averages over the last axis first; scikit-learn log_loss clips at machine epsilon. torch's "
        "weight is any tensor broadcastable to the input: here a comma list along the last axis (per-row "
        "weights: --sample-weights, which divides by their sum instead).",
        when="Binary or multi-label classification. Prefer logits: BCE on probabilities saturates "
        "(gradients vanish once σ is rounded to 0 or 1).",
        fn=bce,
        validate=_validate_bce,
        report=report_clamped,
        report_adds=True,
        saturation=_bce_saturation,
    ),
    define(
        name="cross-entropy",
        row_local=True,
        chain=row_chain(ce_row_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=THREE_CLASS,
        aliases=("ce", "categorical-cross-entropy", "softmax", "categorical-crossentropy"),
        family=FAMILY,
        summary="softmax cross-entropy over C classes",
        inputs=(CE_PREDS, CE_TARGETS),
        params=CE_PARAMS,
        reduction=COUNTED_MEAN,
        formula="ℓᵢ = -Σ_c w_c ỹ_{ic} log softmax(zᵢ)_c,  ỹ = (1 - ε) y + ε / C;  "
        "L = Σᵢ ℓᵢ / Σᵢ w_{yᵢ} (index targets) or (1/N) Σᵢ ℓᵢ (probability targets);  log softmax by "
        "log-sum-exp, the target's term by a gather: a zero ỹ_{ic} or w_c times log p = -inf (a logit of "
        "±1e308) counts 0 (torch: NaN); wherever torch is finite the two agree.  from_logits=false: "
        "log p of the probabilities as given, clamped at -100 (torch nll_loss(log p)); with -p normalize=true "
        "log clip(p / Σ_c p, 1e-7, 1 - 1e-7) (Keras).  " + CE_LAYOUTS,
        derivative="∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic} (unweighted)",
        convention="torch.nn.functional.cross_entropy (weight, ignore_index=-100, label_smoothing), "
        "including its weighted mean and its K-dimensional and unbatched forms; from_logits=false is "
        "torch nll_loss(log p) on the probabilities as given (rows are not renormalised)",
        differs="Keras CategoricalCrossentropy takes probabilities by default, divides each row by its sum "
        "and clips to [1e-7, 1 - 1e-7] (-p normalize=true), and divides by N even with class weights; " + ALL_IGNORED,
        when="Single-label multi-class classification from logits; segmentation (N x C x H x W).",
        fn=cross_entropy,
        validate=_validate_ce,
        saturation=_ce_saturation,
        element_note="per sample (per position in the K-dimensional form)",
        mean_note="weighted mean over samples",
    ),
    define(
        name="sparse-cross-entropy",
        row_local=True,
        chain=row_chain(ce_row_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=THREE_CLASS,
        aliases=("sparse-categorical-cross-entropy", "sparse-ce"),
        family=FAMILY,
        summary="cross-entropy that insists on class-index targets",
        inputs=(CE_PREDS, Input("targets", "N or N x d1 x ...", "class indices in [0, C - 1]", differentiable=False)),
        params=CE_PARAMS,
        reduction=COUNTED_MEAN,
        formula="ℓᵢ = -(1 - ε) w_{yᵢ} log softmax(zᵢ)_{yᵢ} - (ε / C) Σ_c w_c log softmax(zᵢ)_c;  L = Σᵢ ℓᵢ / Σᵢ w_{yᵢ}",
        derivative="∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic} (unweighted)",
        convention="torch.nn.functional.cross_entropy with index targets",
        differs="Keras SparseCategoricalCrossentropy takes probabilities by default (and normalises them: "
        "-p normalize=true).",
        when="Multi-class classification with integer labels; refuses one-hot targets.",
        fn=cross_entropy,
        validate=_validate_sparse_ce,
        saturation=_ce_saturation,
        element_note="per sample",
        mean_note="weighted mean over samples",
    ),
    define(
        name="nll",
        row_local=True,
        chain=row_chain(nll_row_chain),
        example=Example(("nll_log_probs.csv", "labels_3class.csv"), what="3-class log-probabilities and labels"),
        aliases=("nll-loss", "nllloss", "negative-log-likelihood"),
        family=FAMILY,
        summary="negative log-likelihood of class indices on log-probabilities",
        inputs=(
            Input("preds", "N x C, N x C x d1 x ..., or C", "log-probabilities (e.g. log_softmax outputs)"),
            Input(
                "targets", "N or N x d1 x ... (one index for C)", "class indices in [0, C - 1]", differentiable=False
            ),
        ),
        params=(IGNORE_INDEX, CLASS_WEIGHT),
        reduction=COUNTED_MEAN,
        formula="ℓᵢ = -w_{yᵢ} x_{i,yᵢ} (0 where yᵢ = ignore_index);  L = Σᵢ ℓᵢ / Σᵢ w_{yᵢ};  " + CE_LAYOUTS,
        derivative="∂ℓᵢ/∂x_{ic} = -w_{yᵢ} [c = yᵢ]",
        convention="torch.nn.NLLLoss / F.nll_loss(weight, ignore_index=-100), including its weighted mean "
        "and its K-dimensional and unbatched forms; the input is used as given (torch does not check that "
        "it holds log-probabilities)",
        differs="cross-entropy = nll on log_softmax(logits). Keras and optax have no separate nll: "
        "SparseCategoricalCrossentropy / softmax_cross_entropy_with_integer_labels apply the softmax "
        "themselves. " + ALL_IGNORED,
        when="The model already ends in log_softmax (or gives log-likelihoods of classes).",
        fn=nll,
        validate=_validate_nll,
        element_note="per sample (per position in the K-dimensional form)",
        mean_note="weighted mean over samples",
    ),
    define(
        name="focal",
        row_local=True,
        chain=Elementwise(focal_scalar, leaf="x"),
        advice=(CONFIDENTLY_RIGHT,),
        example=BINARY_LOGITS,
        aliases=("sigmoid-focal", "focal-loss"),
        family=FAMILY,
        summary="binary focal loss on logits",
        inputs=(LOGITS, BIN_TARGETS),
        params=(
            Param("alpha", "float", 0.25, "weight of positives; negative disables it", high=1.0),
            Param("gamma", "float", 2.0, "focusing exponent", low=0.0),
        ),
        formula="p = σ(x), pₜ = p y + (1 - p)(1 - y), αₜ = α y + (1 - α)(1 - y);  "
        "ℓ = αₜ (1 - pₜ)^γ · BCEWithLogits(x, y);  L = mean ℓ;  (1 - pₜ)^γ = exp(γ log(1 - pₜ)) with "
        "log(1 - pₜ) = log((1 - y) σ(x) + y σ(-x)) from log σ(±x) (optax), so the gradient is finite "
        "for γ < 1 at any logit",
        derivative="∂ℓ/∂x = αₜ [γ (1 - pₜ)^(γ-1) ∂(-pₜ)/∂x · ce + (1 - pₜ)^γ (σ(x) - y)]",
        convention="torchvision.ops.sigmoid_focal_loss(alpha=0.25, gamma=2), reduction mean; its "
        "(1 - pₜ)^γ computed in log space as optax.sigmoid_focal_loss",
        differs="optax sigmoid_focal_loss defaults to alpha=None; Keras BinaryFocalCrossentropy applies "
        "alpha only with apply_class_balancing=True. torchvision computes 1 - pₜ as a difference: "
        "0 for |x| ≳ 37 in float64, where γ < 1 gives it a NaN gradient (losscli and optax: finite).",
        when="Dense detection and heavy class imbalance: down-weights easy examples.",
        fn=focal,
        validate=_validate_focal,
        saturation=_bce_saturation,
    ),
    define(
        name="categorical-focal",
        row_local=True,
        chain=row_chain(focal_row_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=Example(("categorical_focal_probs.csv", "labels_3class.csv"), what="3-class probabilities and labels"),
        aliases=("categorical-focal-crossentropy", "softmax-focal", "multiclass-focal"),
        family=FAMILY,
        summary="multi-class (softmax) focal loss",
        inputs=(
            Input("preds", "N x C", "probabilities (or logits with from_logits=true)"),
            ROW_TARGETS,
        ),
        params=(
            Param("alpha", "floats", (0.25,), "weight α_c: one value, or one per class"),
            Param("gamma", "float", 2.0, "focusing exponent γ", low=0.0),
            FROM_LOGITS_FALSE,
            Param("label_smoothing", "float", 0.0, "ε: ỹ = y (1 - ε) + ε / C", low=0.0, high=1.0),
        ),
        formula="ỹ = y (1 - ε) + ε / C;  p = softmax(z) with from_logits;  q = clip(p / Σ_c p, 1e-7, 1 - 1e-7);  "
        "ℓᵢ = Σ_c α_c (1 - q_c)^γ (-ỹ_c log q_c);  L = mean ℓ",
        derivative="∂ℓ/∂q_c = -α_c ỹ_c [(1 - q_c)^γ / q_c - γ (1 - q_c)^(γ-1) log q_c] (0 where q_c is clipped), "
        "then through q = p / Σp (and the softmax)",
        convention="keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0, from_logits=False, "
        "label_smoothing=0.0), reduction sum_over_batch_size (mean over N); class-index targets are "
        "taken as their one-hot rows",
        differs="kornia focal_loss takes logits and index targets, has no clip and weighs all classes by "
        "alpha alike; Keras clips q to [1e-7, 1 - 1e-7] even from logits, so a confident, right logit "
        "gets a zero gradient; the sigmoid (binary) focal loss is focal.",
        when="Multi-class classification with imbalanced classes, when easy examples swamp the loss.",
        fn=categorical_focal,
        validate=_validate_categorical_focal,
        saturation=_ce_saturation,
        element_note="per sample",
        mean_note="mean over samples",
    ),
    define(
        name="poly1",
        row_local=True,
        chain=row_chain(poly1_row_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=THREE_CLASS,
        aliases=("poly-1", "poly-loss", "polyloss"),
        family=FAMILY,
        summary="Poly-1 loss: cross-entropy plus ε (1 - pₜ)",
        inputs=(Input("preds", "N x C", "logits"), ROW_TARGETS),
        params=(Param("epsilon", "float", 2.0, "ε, the coefficient of the first polynomial term (1 - pₜ)"),),
        formula="p = softmax(z);  ℓᵢ = -Σ_c y_c log p_c + ε Σ_c y_c (1 - p_c);  L = mean ℓ",
        derivative="∂ℓᵢ/∂z_c = p_c Σy - y_c - ε p_c (y_c - pₜ),  pₜ = Σ_c y_c p_c",
        convention="optax.losses.poly_loss_cross_entropy(epsilon=2.0) (Leng et al. 2022), mean over N; "
        "class-index targets are taken as their one-hot rows",
        differs="MONAI PolyLoss defaults to epsilon=1.0; the paper recommends ε = 2 for ImageNet and ε = -1 "
        "for detection. optax returns one value per sample and leaves the reduction to the caller.",
        when="A drop-in for cross-entropy whose first polynomial term is tuned (ε > 0 pushes harder on pₜ).",
        fn=poly1,
        validate=_validate_poly1,
        saturation=_ce_saturation,
        element_note="per sample",
        mean_note="mean over samples",
        references=("Leng et al. 2022, PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions",),
    ),
    define(
        name="z-loss",
        row_local=True,
        chain=Custom(z_loss_chain),
        example=Example(("logits_3class.csv",), what="3-class logits"),
        aliases=("zloss", "logit-z-loss"),
        family=FAMILY,
        summary="z-loss on logits: z_loss · (log Σ exp z)², keeps the softmax normaliser near 1",
        inputs=(Input("preds", "N x C or N x C x d1 x ...", "logits (classes on axis 1, as cross-entropy)"),),
        params=(Param("z_loss", "float", 1.0, "the coefficient z (t5x's z_loss; PaLM uses 1e-4)", low=0.0),),
        formula="log Zᵢ = log Σ_c exp z_{ic} (max-subtracted);  ℓᵢ = z_loss · (log Zᵢ)²;  L = mean ℓ.  "
        "One input, the logits, named preds: in an expression it reads the same preds as "
        "cross-entropy, e.g. 'cross-entropy + 1e-4*z-loss' (the same as -p z_loss=1e-4)",
        derivative="∂ℓᵢ/∂z_{ic} = 2 z_loss · log Zᵢ · softmax(zᵢ)_c",
        convention="t5x cross_entropy_with_logits' auxiliary z-loss, z_loss · log(Z)², as in PaLM (z = 1e-4), "
        "averaged over rows",
        differs="t5x adds z_loss · log²Z to each token's loss and weights it with the token weights (padding "
        "left out): here it is averaged over every row, padding included. Keras and torch have no z-loss; "
        "ST-MoE's router z-loss squares the log-sum-exp of router logits the same way.",
        when="Large softmax models (LLMs): stops the logits drifting so that log Z stays near 0.",
        fn=z_loss,
        validate=_validate_z_loss,
        element_note="per row (per position in the K-dimensional form)",
        mean_note="mean over rows",
        references=("Chowdhery et al. 2022, PaLM", "Raffel et al., t5x (google-research/t5x, z_loss)"),
    ),
    define(
        name="multilabel-soft-margin",
        row_local=True,
        chain=Custom(multilabel_soft_margin_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=Example(
            ("multilabel_soft_margin_logits.csv", "multilabel_soft_margin_labels.csv"),
            what="a 4-label tagger's logits and its 0/1 labels",
        ),
        aliases=("multilabel-soft-margin-loss", "multi-label-soft-margin"),
        family=FAMILY,
        summary="multi-label one-vs-all logistic loss, averaged over the C labels of each row",
        inputs=(
            Input("preds", "N x C (or C)", "logits, one column per label"),
            Input("targets", "same as preds", "labels, 1 or 0 per class", differentiable=False),
        ),
        params=(Param("weight", "floats", None, "per-class weights w_c as a comma list (torch weight of size C)"),),
        formula="ℓᵢ = -(1/C) Σ_c w_c [y_{ic} log σ(x_{ic}) + (1 - y_{ic}) log σ(-x_{ic})];  L = mean ℓ",
        derivative="∂ℓᵢ/∂x_{ic} = (w_c / C)(σ(x_{ic}) - y_{ic})",
        convention="torch.nn.MultiLabelSoftMarginLoss(weight) (one sample of C labels when preds are 1-D); "
        "targets used as given, as torch",
        differs="bce with -p from_logits=true on the same data gives the same mean (it divides by N·C "
        "too); they differ under reduction sum/none, where this loss keeps one value per row (the mean "
        "over its C labels). Keras has no equivalent.",
        when="Multi-label classification when one loss per sample (not per label) is wanted.",
        fn=multilabel_soft_margin,
        validate=_validate_multilabel_soft_margin,
        saturation=_bce_saturation,
        element_note="per sample (mean over its C labels)",
        mean_note="mean over samples",
    ),
]
