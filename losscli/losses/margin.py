"""Margin losses: binary hinge and squared hinge on raw scores, the multi-class hinges (torch
MultiMarginLoss, Keras CategoricalHinge), torch's MultiLabelMarginLoss, SoftMarginLoss,
HingeEmbeddingLoss, and the pair losses MarginRankingLoss and CosineEmbeddingLoss.

Binary shapes: ``preds`` and ``targets`` (N,) or (N, K) (any shape for the elementwise torch losses).
Multi-class shapes: ``preds`` (N, C), or (C,) for one unbatched sample, as torch reads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli import scalar as S
from losscli.chains import Custom, Elementwise, outer_step
from losscli.errors import InputError
from losscli.examples import BINARY_LOGITS, THREE_CLASS, Example
from losscli.losses import _checks
from losscli.losses._ops import class_index, quiet, softplus, take_class
from losscli.scalar import Scalar
from losscli.spec import Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "classification"

# torch's ATen/native/Loss.cpp: `constexpr float EPSILON = 1e-12;`, a float promoted to double.
TORCH_LOSS_EPSILON = float(np.float32(1e-12))  # 9.999999960041972e-13


def _src(sources: Sources, name: str) -> str:
    return sources.get(name, name)


def _finite(inputs: Inputs, sources: Sources, *names: str) -> None:
    for name in names:
        a = inputs[name]
        _checks.fail_at(sources, name, a, ~np.isfinite(a), "a finite number")


def _shape(a: np.ndarray) -> str:
    return " x ".join(str(s) for s in a.shape) if a.shape else "scalar"


# ----------------------------------------------------------------------------- binary


def _is_keras_labels(labels: np.ndarray) -> bool:
    """Labels Keras Hinge reads as they are (±1) or maps ({0, 1}, every label 0 or 1)."""
    return bool(np.all(np.isin(labels, (-1.0, 1.0))) or np.all(np.isin(labels, (0.0, 1.0))))


def _pm_labels(xp: Any, y: Array) -> Array:
    """Hinge labels as ±1: {0, 1} becomes {-1, 1} when every label is 0 or 1 (Keras); ±1 stay;
    any other two label values are mapped as scikit-learn's ``hinge_loss`` does (its
    ``LabelBinarizer(neg_label=-1)``): the greater label is +1, the other -1."""
    ones = xp.ones_like(y)
    if bool(xp.all((y == 0) | (y == 1))):
        return 2.0 * y - 1.0
    if bool(xp.all((y == -1) | (y == 1))):
        return y
    return xp.where(y == xp.max(y), ones, -ones)


def hinge(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Binary hinge, ℓ = max(0, 1 - y·p), y in {-1, 1} after the label mapping of :func:`_pm_labels`."""
    y = _pm_labels(xp, inputs["targets"])
    return Terms(xp.maximum(xp.zeros_like(y), 1.0 - y * inputs["preds"]))


def _keras_only_labels(xp: Any, y: Array) -> Array:
    """Keras: {0, 1} becomes {-1, 1} when every label is 0 or 1, else the labels as given."""
    if bool(xp.all((y == 0) | (y == 1))):
        return 2.0 * y - 1.0
    return y


def squared_hinge(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Squared hinge (Keras SquaredHinge), ℓ = max(0, 1 - y·p)²."""
    y = _keras_only_labels(xp, inputs["targets"])
    h = xp.maximum(xp.zeros_like(y), 1.0 - y * inputs["preds"])
    return Terms(h * h)


def _validate_hinge(inputs: Inputs, params: Params, sources: Sources) -> None:
    """±1, {0, 1}, or any two label values (scikit-learn); a third label or a single label that
    has no sign is refused."""
    _checks.same_shape(inputs, sources, "preds", "targets")
    y = inputs["targets"]
    _checks.fail_at(sources, "targets", y, ~np.isfinite(y), "a finite label")
    flat = y.ravel()
    labels, first = np.unique(flat, return_index=True)
    if labels.size > 2:
        two = flat[np.sort(first)[:2]]
        _checks.fail_at(
            sources,
            "targets",
            y,
            ~np.isin(y, two),
            f"one of two labels (here {two[0]:g} and {two[1]:g}; -1 or 1, 0 and 1, or any two values, "
            "the greater read as +1 as scikit-learn hinge_loss does; more labels are a multi-class "
            "problem: multi-margin or categorical-hinge)",
        )
    if labels.size == 1 and labels[0] not in (-1.0, 0.0, 1.0):
        raise InputError(
            f"every target is {labels[0]:g}: a single label other than -1, 0 or 1 has no sign "
            "(scikit-learn's hinge_loss would read it as -1); give -1 or 1 labels",
            source=_src(sources, "targets"),
        )


def _hinge_report(ev: Any, inputs: Inputs) -> dict[str, Any]:
    """Labels other than ±1 / {0, 1}: which one was read as -1 and which as +1 (scikit-learn)."""
    labels = np.unique(inputs["targets"])
    if labels.size != 2 or _is_keras_labels(labels):
        return {}
    return {"negative_label": float(labels[0]), "positive_label": float(labels[1])}


def _validate_squared_hinge(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    y = inputs["targets"]
    _checks.fail_at(sources, "targets", y, ~np.isin(y, (-1.0, 0.0, 1.0)), "-1 or 1 (or 0 and 1)")
    if np.any(y == 0) and np.any(y == -1):
        _checks.fail_at(sources, "targets", y, y == 0, "-1 or 1 when -1 labels are present")


# ----------------------------------------------------------------------------- multi-class


def _as_rows(xp: Any, x: Array, t: Array) -> tuple[Array, Array]:
    """Unbatched torch input: a (C,) score vector (or one 0-d score, C = 1) with one target is
    one row, (1, C) with target (1,), as torch's ``atleast_2d``/``atleast_1d``."""
    if len(x.shape) >= 2:
        return x, t
    return xp.reshape(x, (1, -1)), xp.reshape(t, (1,))


@quiet
def multi_margin(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Multi-class hinge (torch ``MultiMarginLoss``):
    ℓᵢ = Σ_{j≠yᵢ} w_{yᵢ} max(0, m - x_{yᵢ} + x_j)^p / C.

    ``preds`` (N, C) with ``targets`` (N,), or unbatched (C,) with one target (torch: 0-d or
    (1,)), which gives one element.  ``weight`` (C,) multiplies the terms of sample i by the
    weight of its target class w_{yᵢ} (negative allowed, as torch); the mean is a plain mean
    over samples (torch divides by N, not by Σ w_{yᵢ}).  Any margin, negative included.
    """
    x, t = _as_rows(xp, inputs["preds"], inputs["targets"])
    n_classes = x.shape[-1]
    k = class_index(xp, t, t == t)
    x_y = take_class(xp, x, k)[:, None]  # a gather and a mask, no one-hot product (0·inf)
    target = xp.arange(n_classes, dtype=xp.int64)[None, :] == k[:, None]
    v = params["margin"] - x_y + x
    h = xp.where(target | ~(v > 0), xp.zeros_like(x), v)  # gradient 0 at v = 0 exactly, as torch
    if params["p"] == 2:
        h = h * h
    w = params.get("weight")
    if w is not None:
        h = h * xp.take(xp.asarray(w, dtype=x.dtype), k)[:, None]
    return Terms(xp.sum(h, axis=-1) / n_classes)


def _class_targets(inputs: Inputs, sources: Sources, n: int, c: int, what: str, *, unbatched: bool) -> None:
    """One whole class index in [0, C - 1] per sample (one target for an unbatched sample)."""
    t = inputs["targets"]
    if unbatched:
        if t.size != 1 or t.ndim > 1:
            raise InputError(
                f"preds is one unbatched sample of {c} class scores ({_src(sources, 'preds')}), so targets must be "
                f"one class index, got shape {_shape(t)}; for N samples give preds as an N x C matrix",
                source=_src(sources, "targets"),
            )
    else:
        _checks.ndim_in(inputs, sources, "targets", (1,), f"N class indices ({what})")
        if t.shape[0] != n:
            raise InputError(
                f"preds has {n} rows ({_src(sources, 'preds')}) but targets has "
                f"{t.shape[0]} ({_src(sources, 'targets')}); they must match"
            )
    _checks.fail_at(sources, "targets", t, t != np.round(t), "whole class indices")
    _checks.fail_at(sources, "targets", t, (t < 0) | (t >= c), f"a class index in [0, {c - 1}]")


def _validate_multi_margin(inputs: Inputs, params: Params, sources: Sources) -> None:
    x = inputs["preds"]
    _checks.ndim_in(inputs, sources, "preds", (0, 1, 2), "an N x C matrix of class scores, or C scores of one sample")
    c = x.shape[-1] if x.ndim else 1
    if x.size == 0:
        raise InputError("preds is empty", source=_src(sources, "preds"))
    _checks.fail_at(sources, "preds", x, np.isnan(x), "a number (not NaN)")
    _class_targets(inputs, sources, x.shape[0] if x.ndim == 2 else 1, c, "one per row", unbatched=x.ndim < 2)
    w = params.get("weight")
    if w is not None and len(w) != c:
        raise InputError(f"weight has {len(w)} values but preds have {c} classes (torch: one weight per class)")


@quiet
def categorical_hinge(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Keras ``CategoricalHinge``: pos = Σ_c y_c p_c, neg = max_c (1 - y_c) p_c,
    ℓᵢ = max(0, neg - pos + 1).  ``preds`` and ``targets`` (N, C), or (C,) for one sample
    (Keras reduces the last axis).  Targets one-hot or probability rows (Keras computes any
    values in [0, 1]; a row need not sum to 1).  The max over classes is torch ``amax``: on
    a tie its gradient is split evenly (as TensorFlow's reduce_max)."""
    p, y = inputs["preds"], inputs["targets"]
    pos = xp.sum(y * p, axis=-1)
    neg = xp.max((1.0 - y) * p, axis=-1)
    h = neg - pos + 1.0
    zero = xp.zeros_like(h)
    h = xp.where(h > 0, h, zero)
    return Terms(xp.reshape(h, (1,)) if len(h.shape) == 0 else h)


def _validate_categorical_hinge(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.ndim_in(inputs, sources, "preds", (1, 2), "an N x C matrix of class scores, or C scores of one sample")
    _checks.same_shape(inputs, sources, "preds", "targets")
    _finite(inputs, sources, "preds")
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0, hint="targets are one-hot or probability rows")


@quiet
def multilabel_margin(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``MultiLabelMarginLoss``: for each sample, the targets are the class indices listed
    before the first -1 (a repeat counts twice, as torch), J the set of them;
    ℓᵢ = Σ_{j listed} Σ_{c ∉ J} max(0, 1 - (x_j - x_c)) / C.

    ``preds`` and ``targets`` (N, C), or (C,) for one sample.  A gather by list position and
    two masks, as torch's own decomposition, with the positions after the first -1 masked."""
    x, t = inputs["preds"], inputs["targets"]
    if len(x.shape) < 2:
        x, t = xp.reshape(x, (1, -1)), xp.reshape(t, (1, -1))
    n_classes = x.shape[-1]
    idx = xp.arange(n_classes, dtype=xp.int64)
    end = xp.min(xp.where(t == -1, idx[None, :], xp.full_like(idx, n_classes)[None, :]), axis=-1)
    listed = idx[None, :] < end[:, None]  # (N, C): list positions before the first -1
    tidx = xp.astype(xp.where(listed, t, xp.zeros_like(t)), xp.int64)
    u = xp.take_along_axis(x, tidx, axis=-1)  # (N, K): score of the k-th listed target
    marked = xp.where(listed, tidx, xp.full_like(tidx, -1))
    is_target = xp.any(marked[:, :, None] == idx[None, None, :], axis=1)  # (N, C)
    z = 1.0 - u[:, :, None] + x[:, None, :]  # (N, K, C)
    keep = listed[:, :, None] & ~is_target[:, None, :] & (z > 0)
    z = xp.where(keep, z, xp.zeros_like(z)) / n_classes
    return Terms(xp.sum(xp.sum(z, axis=-1), axis=-1))


def _validate_multilabel_margin(inputs: Inputs, params: Params, sources: Sources) -> None:
    x, t = inputs["preds"], inputs["targets"]
    _checks.ndim_in(inputs, sources, "preds", (1, 2), "an N x C matrix of class scores, or C scores of one sample")
    _checks.same_shape(inputs, sources, "preds", "targets")
    _finite(inputs, sources, "preds")
    c = x.shape[-1]
    _checks.fail_at(sources, "targets", t, t != np.round(t), "whole class indices (or -1 to end the list)")
    _checks.fail_at(
        sources,
        "targets",
        t,
        (t < -1) | (t >= c),
        f"a class index in [0, {c - 1}] or -1 (torch checks every entry, even after the first -1)",
    )


# ----------------------------------------------------------------------------- elementwise torch losses


def soft_margin(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``SoftMarginLoss``: ℓ = log(1 + exp(-y·x)), computed as softplus(-y·x) (torch writes
    log(1 + exp(·)) literally, which overflows to inf for -y·x > 709 and rounds to 0 for
    y·x > 37; elsewhere the two agree).  Any shape; y as given (torch documents ±1 and computes
    any value)."""
    return Terms(softplus(xp, -inputs["targets"] * inputs["preds"]))


def _validate_elementwise(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _finite(inputs, sources, "targets")


def hinge_embedding(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``HingeEmbeddingLoss`` exactly as ATen writes it:
    ℓ = [y ≠ 1]·max(0, m - x) + [y ≠ -1]·x, so x for y = 1 and max(0, m - x) for y = -1 (any
    other y gets both terms, as torch computes it).  Any shape; any margin."""
    x, y = inputs["preds"], inputs["targets"]
    zero = xp.zeros_like(x)
    v = params["margin"] - x
    clamped = xp.where(v >= 0, v, zero)  # torch clamp_min: gradient 1 at the boundary
    return Terms(xp.where(y != 1, clamped, zero) + xp.where(y != -1, x, zero))


def margin_ranking(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``MarginRankingLoss``: ℓ = max(0, -y·(x1 - x2) + margin); every input the same
    shape (torch refuses broadcasting); y = 1 means x1 should rank higher."""
    x1, x2, y = inputs["input1"], inputs["input2"], inputs["target"]
    v = -y * (x1 - x2) + params["margin"]
    return Terms(xp.where(v > 0, v, xp.zeros_like(v)))


def _validate_margin_ranking(inputs: Inputs, params: Params, sources: Sources) -> None:
    shapes = {name: inputs[name].shape for name in ("input1", "input2", "target")}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {_shape(inputs[k])} ({_src(sources, k)})" for k in shapes)
        raise InputError(f"{listed}: torch's margin_ranking_loss needs all three the same shape (no broadcasting)")
    _finite(inputs, sources, "target")


def _norm_sq(xp: Any, a: Array) -> Array:
    return xp.sum(a * a, axis=-1)


def cosine_embedding(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """torch ``CosineEmbeddingLoss`` exactly as ATen's Loss.cpp:
    cos = Σ x1·x2 / √((Σ x1² + ε)(Σ x2² + ε)), ε = float(1e-12) = 9.999999960041972e-13;
    ℓ = 1 - cos for y = 1, max(0, cos - margin) for y = -1.  (N, D) inputs with (N,)
    targets, or one pair of (D,) vectors with one target."""
    x1, x2, y = inputs["input1"], inputs["input2"], inputs["target"]
    if len(x1.shape) == 1:
        x1, x2, y = xp.reshape(x1, (1, -1)), xp.reshape(x2, (1, -1)), xp.reshape(y, (1,))
    denom = xp.sqrt((_norm_sq(xp, x1) + TORCH_LOSS_EPSILON) * (_norm_sq(xp, x2) + TORCH_LOSS_EPSILON))
    cos = xp.sum(x1 * x2, axis=-1) / denom
    zero = xp.zeros_like(cos)
    v = cos - params["margin"]
    neg = xp.where(v >= 0, v, zero)  # torch clamp_min_: gradient 1 at the boundary
    return Terms(xp.where(y == 1, 1.0 - cos, zero) + xp.where(y == -1, neg, zero))


def _validate_cosine_embedding(inputs: Inputs, params: Params, sources: Sources) -> None:
    x1, x2, y = inputs["input1"], inputs["input2"], inputs["target"]
    if x1.shape != x2.shape:
        raise InputError(
            f"input1 has shape {_shape(x1)} ({_src(sources, 'input1')}) but input2 has shape "
            f"{_shape(x2)} ({_src(sources, 'input2')}); they must match"
        )
    _checks.ndim_in(inputs, sources, "input1", (1, 2), "an N x D matrix of embeddings, or one D-vector")
    if x1.ndim == 1 and y.size != 1:
        raise InputError(
            f"input1 is one pair of {x1.shape[0]}-vectors (torch reads a 1-D input as one embedding), so target "
            f"must be one value, got shape {_shape(y)}; for N pairs give N x D matrices",
            source=_src(sources, "target"),
        )
    if x1.ndim == 2 and (y.ndim != 1 or y.shape[0] != x1.shape[0]):
        raise InputError(
            f"input1 has {x1.shape[0]} rows ({_src(sources, 'input1')}) but target has shape {_shape(y)}: "
            "one target per pair",
            source=_src(sources, "target"),
        )
    _finite(inputs, sources, "input1", "input2")
    _checks.fail_at(
        sources,
        "target",
        y,
        (y != 1) & (y != -1),
        "1 (similar) or -1 (dissimilar) (torch counts 0 for any other value)",
    )


# ----------------------------------------------------------------------------- the chain rule for --explain


def _hinge_element(inputs: Inputs, params: Params, index: tuple[int, ...]) -> tuple[float, float, Params]:
    """The element's label after hinge's mapping to ±1 (Keras {0, 1}, scikit-learn's two labels)."""
    y = _pm_labels(np, inputs["targets"])
    return float(inputs["preds"][index]), float(y[index]), params


def _squared_hinge_element(inputs: Inputs, params: Params, index: tuple[int, ...]) -> tuple[float, float, Params]:
    y = _keras_only_labels(np, inputs["targets"])
    return float(inputs["preds"][index]), float(y[index]), params


def hinge_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    m = (y * p).named("m = y·p")
    return S.maximum(0.0, (1.0 - m).named("1 - m")).named("ℓ = max(0, 1 - m)")


def squared_hinge_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    h = hinge_scalar(p, y, params).named("h = max(0, 1 - m)")
    return (h * h).named("ℓ = h²")


def soft_margin_scalar(x: Scalar, y: Scalar, params: Params) -> Scalar:
    return S.softplus((-(y * x)).named("-y·x")).named("ℓ = softplus(-y·x) = log(1 + e^(-y·x))")


def hinge_embedding_scalar(x: Scalar, y: Scalar, params: Params) -> Scalar:
    yv = y.value
    margin_term = S.clamp_min((params["margin"] - x).named("m - x"), 0.0).named("max(0, m - x)")
    if yv == 1:
        return (x * 1.0).named("ℓ = x (y = 1)")
    if yv == -1:
        return (margin_term * 1.0).named("ℓ = max(0, m - x) (y = -1)")
    return (margin_term + x).named("ℓ = max(0, m - x) + x (y ≠ ±1, as torch)")


def _row_rule_chain(rule: Any, *, row_targets: bool) -> Custom:
    """A rule over one row as a :class:`Custom` chain that also reads torch's unbatched forms: a
    (C,) input (one row), with one target (``row_targets`` False: a 0-d or (1,) class index) or a
    (C,) target row.  The mean's 1/N is added here."""

    def work(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
        if name != "preds":
            return None
        x, t = inputs["preds"], inputs["targets"]
        if x.ndim < 2:
            row_x, col = x.reshape(-1), (index[0] if index else 0)
            row_t = t.reshape(-1) if row_targets else float(t.reshape(-1)[0])
        else:
            row_x, col = x[index[0]], index[1]
            row_t = t[index[0]]
        fwd, local = rule(row_x, row_t, col, ev.params)
        formula, outer = outer_step(ev, ev.denominator)
        return fwd, [("∂L/∂ℓᵢ", formula, outer), *local]

    return Custom(work)


def multi_margin_row_chain(x: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    k, m, pw = int(t), prm["margin"], prm["p"]
    n_cls = x.size
    w_y = 1.0 if prm.get("weight") is None else float(prm["weight"][k])
    h = np.maximum(0.0, m - x[k] + x)
    h[k] = 0.0
    dh = w_y * pw * h ** (pw - 1) * (h > 0) / n_cls
    grad = -float(dh.sum()) if c == k else float(dh[c])
    fwd = [
        (f"x_{c}", float(x[c])),
        ("x_y (target score)", float(x[k])),
        ("w_y (weight of the target class)", w_y),
        ("violating classes", int((h > 0).sum())),
    ]
    return fwd, [("∂ℓᵢ/∂x_c", "-Σ_j w_y p hⱼ^(p-1)/C for c = y, else w_y p h_c^(p-1)/C when violated", grad)]


def categorical_hinge_row_chain(p: np.ndarray, y: Any, c: int, prm: Mapping[str, Any]):
    y = np.asarray(y, dtype=float)
    pos = float(np.sum(y * p))
    masked = (1.0 - y) * p
    j = int(np.argmax(masked))
    neg = float(masked[j])
    h = neg - pos + 1.0
    grad = ((1.0 - y[c]) * (c == j) - y[c]) if h > 0 else 0.0
    fwd = [
        (f"p_{c}", float(p[c])),
        ("pos = Σ y·p", pos),
        (f"neg = max((1 - y)·p), at class {j}", neg),
        ("neg - pos + 1", h),
    ]
    return fwd, [("∂ℓᵢ/∂p_c", "(1 - y_c)[c = argmax] - y_c while neg - pos + 1 > 0, else 0", float(grad))]


def multilabel_margin_row_chain(x: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    t = np.asarray(t).reshape(-1)
    n_cls = x.size
    ends = np.flatnonzero(t == -1)
    listed = [int(v) for v in t[: ends[0] if ends.size else n_cls]]
    targets = set(listed)
    grad = 0.0
    active = 0
    for j in listed:
        for d in range(n_cls):
            if d in targets or 1.0 - x[j] + x[d] <= 0:
                continue
            active += 1
            grad += (1.0 if d == c else 0.0) - (1.0 if j == c else 0.0)
    fwd = [
        (f"x_{c}", float(x[c])),
        (f"target classes before the first -1 ({', '.join(map(str, listed)) or 'none'})", len(listed)),
        ("violated (target, other) pairs", active),
    ]
    formula = "(#violated pairs (j, c) - #violated pairs (c, d)) / C"
    return fwd, [("∂ℓᵢ/∂x_c", formula, grad / n_cls)]


def _pair_index(a: np.ndarray, index: tuple[int, ...]) -> tuple[int, int]:
    return (0, index[0]) if a.ndim == 1 else (index[0], index[1])


def margin_ranking_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    if name not in ("input1", "input2"):
        return None
    x1, x2, y = (float(inputs[k][index]) for k in ("input1", "input2", "target"))
    v = -y * (x1 - x2) + ev.params["margin"]
    formula, outer = outer_step(ev, ev.denominator)
    sign = -y if name == "input1" else y
    return [("x1", x1), ("x2", x2), ("y", y), ("v = -y·(x1 - x2) + margin", v)], [
        ("∂L/∂ℓ", formula, outer),
        ("∂ℓ/∂v", "1 if v > 0 else 0", 1.0 if v > 0 else 0.0),
        (f"∂v/∂{name}", "-y for input1, +y for input2", sign),
    ]


def cosine_embedding_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    if name not in ("input1", "input2"):
        return None
    row, col = _pair_index(inputs["input1"], index)
    a = inputs["input1"].reshape(-1, inputs["input1"].shape[-1])[row]
    b = inputs["input2"].reshape(-1, inputs["input2"].shape[-1])[row]
    y = float(inputs["target"].reshape(-1)[row])
    na, nb = float(a @ a) + TORCH_LOSS_EPSILON, float(b @ b) + TORCH_LOSS_EPSILON
    denom = math.sqrt(na * nb)
    cos = float(a @ b) / denom
    mine, other, n_mine = (a, b, na) if name == "input1" else (b, a, nb)
    dcos = float(other[col]) / denom - cos * float(mine[col]) / n_mine
    if y == 1:
        dl, dl_text = -1.0, "-1 (y = 1: ℓ = 1 - cos)"
    else:
        active = cos - ev.params["margin"] >= 0
        dl, dl_text = (1.0 if active else 0.0), "1 if cos ≥ margin else 0 (y = -1: ℓ = max(0, cos - margin))"
    formula, outer = outer_step(ev, ev.denominator)
    fwd = [("‖x1‖² + ε", na), ("‖x2‖² + ε", nb), ("cos = x1·x2 / √((‖x1‖² + ε)(‖x2‖² + ε))", cos), ("y", y)]
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂cos", dl_text, dl),
        (f"∂cos/∂{name}_k", "other_k / √(…) - cos · mine_k / (‖mine‖² + ε)", dcos),
    ]


# ----------------------------------------------------------------------------- specs

SCORES = Input("preds", "N or N x K", "raw scores (decision values)")
PM_TARGETS = Input(
    "targets",
    "same as preds",
    "labels in {-1, 1}, or {0, 1} (mapped to {-1, 1}), or any two values (the greater is +1)",
    differentiable=False,
)
KERAS_PM_TARGETS = Input(
    "targets", "same as preds", "labels in {-1, 1}, or {0, 1} (mapped to {-1, 1})", differentiable=False
)
UNBATCHED_SCORES = Input("preds", "N x C (or C: one sample)", "class scores")


def _example(*files: str, what: str) -> Example:
    return Example(files, what=what)


SPECS = [
    define(
        name="multi-margin",
        chain=_row_rule_chain(multi_margin_row_chain, row_targets=False),
        example=THREE_CLASS,
        aliases=("multi-class-hinge", "multimargin"),
        family=FAMILY,
        summary="multi-class hinge loss (Weston-Watkins form, as torch)",
        inputs=(
            UNBATCHED_SCORES,
            Input("targets", "N (or one value)", "class indices in [0, C - 1]", differentiable=False),
        ),
        params=(
            Param("margin", "float", 1.0, "margin m (any value, negative included, as torch)"),
            Param("p", "int", 1, "1 for hinge, 2 for squared hinge", low=1, high=2),
            Param(
                "weight",
                "floats",
                None,
                "per-class weights as a comma list: sample i's terms are multiplied by w of its target class",
            ),
        ),
        formula="ℓᵢ = (w_{yᵢ}/C) Σ_{j ≠ yᵢ} max(0, m - x_{i,yᵢ} + x_{ij})^p;  L = mean ℓ (over samples, "
        "also with weights);  a 1-D preds of C scores with one target is one sample, as torch",
        derivative="∂ℓᵢ/∂x_{ij} = w_{yᵢ} p h_j^(p-1)/C for each violating j ≠ yᵢ (h_j = m - x_{i,yᵢ} + x_{ij} > 0); "
        "∂ℓᵢ/∂x_{i,yᵢ} = -Σ_j of those",
        convention="torch.nn.MultiMarginLoss(p=1, margin=1, weight=None): p 1 or 2, any margin, "
        "per-class weight of the target class, unbatched (C,) input with a 0-d or (1,) target",
        differs="Keras CategoricalHinge uses only the largest wrong score, max(0, 1 + max_{j≠y} x_j - x_y), "
        "and does not divide by C; torch's weighted mean still divides by N (cross-entropy divides by Σ w_y).",
        when="Multi-class SVM-style training; zero loss once every margin is met.",
        fn=multi_margin,
        validate=_validate_multi_margin,
        element_note="per sample",
        mean_note="mean over samples",
    ),
    define(
        name="hinge",
        chain=Elementwise(hinge_scalar, _hinge_element),
        example=BINARY_LOGITS,
        family=FAMILY,
        summary="binary hinge loss on raw scores",
        inputs=(SCORES, PM_TARGETS),
        params=(),
        formula="ℓ = max(0, 1 - y p);  L = mean ℓ;  y: ±1 as given, {0, 1} mapped to {-1, 1} when every "
        "label is 0 or 1, any other two label values mapped to -1 (the smaller) and +1 (the greater)",
        derivative="∂ℓ/∂p = -y if y p < 1, else 0 (dead once the margin is met)",
        convention="Keras Hinge for ±1 labels and {0, 1} labels ({0, 1} become {-1, 1} only when every label "
        "is 0 or 1); any other two label values as sklearn.metrics.hinge_loss (LabelBinarizer(neg_label=-1): "
        "the greater label is +1), reported as negative_label and positive_label",
        differs="optax hinge_loss requires ±1 labels; scikit-learn hinge_loss reads a single label as -1 "
        "(Keras: all-1 labels are +1, followed here) and more than two labels as its multi-class "
        "hinge (refused here: use multi-margin or categorical-hinge).",
        when="Max-margin binary classification (linear SVM).",
        fn=hinge,
        validate=_validate_hinge,
        report=_hinge_report,
    ),
    define(
        name="squared-hinge",
        chain=Elementwise(squared_hinge_scalar, _squared_hinge_element),
        example=BINARY_LOGITS,
        family=FAMILY,
        summary="squared binary hinge loss",
        inputs=(SCORES, KERAS_PM_TARGETS),
        params=(),
        formula="ℓ = max(0, 1 - y p)²;  L = mean ℓ",
        derivative="∂ℓ/∂p = -2 y max(0, 1 - y p)",
        convention="Keras SquaredHinge (same label mapping as hinge)",
        differs="Differentiable at the margin, unlike hinge.",
        when="Like hinge, but smooth at the margin and harsher on large violations.",
        fn=squared_hinge,
        validate=_validate_squared_hinge,
    ),
    define(
        name="categorical-hinge",
        chain=_row_rule_chain(categorical_hinge_row_chain, row_targets=True),
        example=_example(
            "logits_3class.csv",
            "categorical_hinge_onehot.csv",
            what="3-class scores and one-hot labels",
        ),
        aliases=("categoricalhinge",),
        family=FAMILY,
        summary="multi-class hinge on the largest wrong score (Keras)",
        inputs=(
            UNBATCHED_SCORES,
            Input("targets", "same as preds", "one-hot or probability rows (values in [0, 1])", differentiable=False),
        ),
        params=(),
        formula="pos = Σ_c y_c p_c, neg = max_c (1 - y_c) p_c;  ℓᵢ = max(0, neg - pos + 1);  L = mean ℓ",
        derivative="while neg - pos + 1 > 0: ∂ℓᵢ/∂p_c = (1 - y_c)·[c = argmax (1 - y)·p] - y_c; else 0",
        convention="keras.losses.CategoricalHinge (keras/src/losses/losses.py categorical_hinge), "
        "reduction sum_over_batch_size (= mean), sum or none",
        differs="torch MultiMarginLoss sums over every wrong class and divides by C; with one-hot targets "
        "the max includes the zeroed target entry, so neg is never below 0 (Keras computes it so).",
        when="Multi-class max-margin training from one-hot labels (Crammer-Singer style).",
        fn=categorical_hinge,
        validate=_validate_categorical_hinge,
        element_note="per sample",
        mean_note="mean over samples",
    ),
    define(
        name="soft-margin",
        chain=Elementwise(soft_margin_scalar, leaf="x"),
        example=_example("binary_logits.csv", "soft_margin_labels.csv", what="a binary classifier's logits, ±1 labels"),
        aliases=("soft-margin-loss", "softmargin"),
        family=FAMILY,
        summary="logistic loss on ±1 labels (torch SoftMarginLoss)",
        inputs=(
            Input("preds", "any shape", "raw scores"),
            Input(
                "targets", "same as preds", "labels 1 or -1 (other values are computed as given)", differentiable=False
            ),
        ),
        params=(),
        formula="ℓ = log(1 + exp(-y x)), computed as softplus(-y x);  L = mean ℓ over every element",
        derivative="∂ℓ/∂x = -y σ(-y x)",
        convention="torch.nn.SoftMarginLoss (mean over all elements); torch writes log(1 + exp(-y x)) "
        "literally: inf beyond -y x = 709, 0 beyond y x = 37, where losscli stays exact",
        differs="BCE with logits on labels (y + 1)/2 is the same loss; Keras and optax have no ±1 form.",
        when="Binary classification with ±1 labels when a smooth hinge is wanted.",
        fn=soft_margin,
        validate=_validate_elementwise,
    ),
    define(
        name="hinge-embedding",
        chain=Elementwise(hinge_embedding_scalar, leaf="x"),
        example=_example(
            "hinge_embedding_distances.csv",
            "hinge_embedding_labels.csv",
            what="pair distances and ±1 similar/dissimilar labels",
        ),
        aliases=("hinge-embedding-loss", "hingeembedding"),
        family=FAMILY,
        summary="hinge on distances: x for similar pairs, max(0, m - x) for dissimilar ones",
        inputs=(
            Input("preds", "any shape", "inputs x, usually pair distances"),
            Input("targets", "same as preds", "1 (similar) or -1 (dissimilar)", differentiable=False),
        ),
        params=(Param("margin", "float", 1.0, "margin m (any value, as torch)"),),
        formula="ℓ = x if y = 1;  max(0, m - x) if y = -1 (torch: [y ≠ 1]·max(0, m - x) + [y ≠ -1]·x, so any "
        "other y gets both);  L = mean ℓ over every element",
        derivative="∂ℓ/∂x = 1 for y = 1;  -1 for y = -1 while x ≤ m (torch's clamp_min keeps the boundary), else 0",
        convention="torch.nn.HingeEmbeddingLoss(margin=1.0), as ATen's hinge_embedding_loss",
        differs="The contrastive loss squares both terms and takes a distance it computes itself; Keras and "
        "optax have no such loss.",
        when="Learning embeddings or similarity from pair distances labelled similar/dissimilar.",
        fn=hinge_embedding,
        validate=_validate_elementwise,
    ),
    define(
        name="multilabel-margin",
        chain=_row_rule_chain(multilabel_margin_row_chain, row_targets=True),
        example=_example(
            "multilabel_margin_scores.csv",
            "multilabel_margin_targets.csv",
            what="4-class scores and the classes of each sample, padded by -1",
        ),
        aliases=("multilabel-margin-loss", "multilabelmargin"),
        family=FAMILY,
        summary="multi-label hinge: every target class above every other class (torch)",
        inputs=(
            UNBATCHED_SCORES,
            Input(
                "targets",
                "same as preds",
                "class indices of each sample's labels, then -1 (what follows the first -1 is ignored)",
                differentiable=False,
            ),
        ),
        params=(),
        formula="J = the classes listed before the first -1;  ℓᵢ = Σ_{j listed} Σ_{c ∉ J} max(0, 1 - (x_j - x_c)) / C;  "
        "L = mean ℓ",
        derivative="∂ℓᵢ/∂x_c = (number of violated pairs (j, c) - number of violated pairs (c, d)) / C",
        convention="torch.nn.MultiLabelMarginLoss: targets padded by -1 as torch reads them (a repeated "
        "index counts twice), (N, C) or one unbatched (C,) sample",
        differs="multilabel-soft-margin (torch MultiLabelSoftMarginLoss) takes 0/1 indicator rows and a "
        "logistic loss per class instead.",
        when="Multi-label classification ranked by scores, labels given as class lists.",
        fn=multilabel_margin,
        validate=_validate_multilabel_margin,
        element_note="per sample",
        mean_note="mean over samples",
    ),
    define(
        name="margin-ranking",
        chain=Custom(margin_ranking_chain),
        example=_example(
            "margin_ranking_input1.csv",
            "margin_ranking_input2.csv",
            "margin_ranking_target.csv",
            what="scores of two items and which should rank higher (1: the first, -1: the second)",
        ),
        aliases=("margin-ranking-loss", "marginranking"),
        family=FAMILY,
        summary="pairwise ranking hinge on two scores (torch MarginRankingLoss)",
        inputs=(
            Input("input1", "any shape", "scores of the first items"),
            Input("input2", "same as input1", "scores of the second items"),
            Input("target", "same as input1", "1 if input1 should rank higher, -1 if input2", differentiable=False),
        ),
        params=(Param("margin", "float", 0.0, "required gap (torch default 0)"),),
        formula="ℓ = max(0, -y (x1 - x2) + margin);  L = mean ℓ over every element",
        derivative="∂ℓ/∂x1 = -y, ∂ℓ/∂x2 = y while -y (x1 - x2) + margin > 0, else 0",
        convention="torch.nn.MarginRankingLoss(margin=0.0): positional input1, input2, target; all the same "
        "shape (torch refuses broadcasting); y as given (torch computes any value)",
        differs="bpr is its smooth, margin-free counterpart, softplus(x2 - x1); TF-Ranking's pairwise hinge "
        "takes a list of scores and relevance labels.",
        when="Learning to rank from pairs: one item should score higher than the other by a margin.",
        fn=margin_ranking,
        validate=_validate_margin_ranking,
    ),
    define(
        name="cosine-embedding",
        chain=Custom(cosine_embedding_chain),
        example=_example(
            "cosine_embedding_input1.csv",
            "cosine_embedding_input2.csv",
            "cosine_embedding_target.csv",
            what="8 embedding pairs of width 4 with ±1 similar/dissimilar labels",
        ),
        aliases=("cosine-embedding-loss", "cosineembedding"),
        family=FAMILY,
        summary="cosine pair loss: 1 - cos for similar pairs, max(0, cos - margin) for dissimilar (torch)",
        inputs=(
            Input("input1", "N x D (or D: one pair)", "embeddings of the first item of each pair"),
            Input("input2", "same as input1", "embeddings of the second item of each pair"),
            Input("target", "N (or one value)", "1 (similar) or -1 (dissimilar)", differentiable=False),
        ),
        params=(Param("margin", "float", 0.0, "cosine above which dissimilar pairs cost (torch suggests 0 to 0.5)"),),
        formula="cos = Σ x1·x2 / √((Σ x1² + ε)(Σ x2² + ε)), ε = 9.999999960041972e-13 (torch's float 1e-12);  "
        "ℓᵢ = 1 - cos (y = 1), max(0, cos - margin) (y = -1);  L = mean ℓ over pairs",
        derivative="∂cos/∂x1 = x2/√(…) - cos·x1/(Σ x1² + ε);  ∂ℓ/∂cos = -1 (y = 1), 1 while cos ≥ margin (y = -1)",
        convention="torch.nn.CosineEmbeddingLoss(margin=0.0), as ATen's cosine_embedding_loss (Loss.cpp: "
        "EPSILON = 1e-12 as a float, added to each squared norm); positional input1, input2, target",
        differs="torch.nn.functional.cosine_similarity clamps each norm at eps = 1e-8 instead; the "
        "contrastive loss uses Euclidean distances; a target other than ±1 counts 0 in torch (refused here).",
        when="Learning embeddings whose cosine says whether two items are alike.",
        fn=cosine_embedding,
        validate=_validate_cosine_embedding,
        element_note="per pair",
        mean_note="mean over pairs",
    ),
]
