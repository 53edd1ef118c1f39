"""Margin losses: binary hinge and squared hinge on raw scores, and the multi-class
hinge (torch MultiMarginLoss).

Binary shapes: ``preds`` and ``targets`` (N,) or (N, K).
Multi-class shapes: ``preds`` (N, C); ``targets`` (N,) class indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli import scalar as S
from losscli.chains import Elementwise, RowWise
from losscli.examples import BINARY_LOGITS, THREE_CLASS
from losscli.losses import _checks
from losscli.losses._ops import class_index, quiet, take_class
from losscli.losses.classification import _binary_labels, _validate_ce
from losscli.scalar import Scalar
from losscli.spec import Input, Param, Terms, define
from losscli.types import Inputs, Params, Sources

FAMILY = "classification"


# ----------------------------------------------------------------------------- binary


def hinge(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Binary hinge, ℓ = max(0, 1 - y·p), labels in {-1, 1} (or {0, 1}, mapped)."""
    y = _binary_labels(xp, inputs["targets"])
    return Terms(xp.maximum(xp.zeros_like(y), 1.0 - y * inputs["preds"]))


def squared_hinge(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Squared hinge, ℓ = max(0, 1 - y·p)²."""
    h = hinge(xp, inputs, params).elements
    return Terms(h * h)


def _validate_hinge(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    y = inputs["targets"]
    _checks.fail_at(sources, "targets", y, ~np.isin(y, (-1.0, 0.0, 1.0)), "-1 or 1 (or 0 and 1)")
    if np.any(y == 0) and np.any(y == -1):
        _checks.fail_at(sources, "targets", y, y == 0, "-1 or 1 when -1 labels are present")


# ----------------------------------------------------------------------------- multi-class


@quiet
def multi_margin(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Multi-class hinge (torch ``MultiMarginLoss``): ℓᵢ = Σ_{j≠yᵢ} max(0, m - x_{yᵢ} + x_j)^p / C."""
    x, t = inputs["preds"], inputs["targets"]
    n_classes = x.shape[-1]
    k = class_index(xp, t, t == t)
    x_y = take_class(xp, x, k)[:, None]  # a gather and a mask, no one-hot product (0·inf)
    target = xp.arange(n_classes, dtype=xp.int64)[None, :] == k[:, None]
    v = params["margin"] - x_y + x
    h = xp.where(target | ~(v > 0), xp.zeros_like(x), v)  # gradient 0 at v = 0 exactly, as torch
    if params["p"] == 2:
        h = h * h
    return Terms(xp.sum(h, axis=-1) / n_classes)


def _validate_multi_margin(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_ce(
        inputs, {**params, "from_logits": True, "weight": None, "ignore_index": -(10**9)}, sources, sparse=True
    )


# ----------------------------------------------------------------------------- the chain rule for --explain


def _hinge_element(inputs: Inputs, params: Params, index: tuple[int, ...]) -> tuple[float, float, Params]:
    """{0, 1} labels become ±1 when every label is 0 or 1 (Keras)."""
    y_all = inputs["targets"]
    y = float(y_all[index])
    if bool(np.all((y_all == 0) | (y_all == 1))):
        y = 2 * y - 1
    return float(inputs["preds"][index]), y, params


def hinge_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    m = (y * p).named("m = y·p")
    return S.maximum(0.0, (1.0 - m).named("1 - m")).named("ℓ = max(0, 1 - m)")


def squared_hinge_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    h = hinge_scalar(p, y, params).named("h = max(0, 1 - m)")
    return (h * h).named("ℓ = h²")


def multi_margin_row_chain(x: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    k, m, pw = int(t), prm["margin"], prm["p"]
    n_cls = x.size
    h = np.maximum(0.0, m - x[k] + x)
    h[k] = 0.0
    dh = pw * h ** (pw - 1) * (h > 0) / n_cls
    grad = -float(dh.sum()) if c == k else float(dh[c])
    fwd = [(f"x_{c}", float(x[c])), ("x_y (target score)", float(x[k])), ("violating classes", int((h > 0).sum()))]
    return fwd, [("∂ℓᵢ/∂x_c", "-Σ_j p hⱼ^(p-1)/C for c = y, else p h_c^(p-1)/C when violated", grad)]


# ----------------------------------------------------------------------------- specs

SCORES = Input("preds", "N or N x K", "raw scores (decision values)")
PM_TARGETS = Input("targets", "same as preds", "labels in {-1, 1}, or {0, 1} (mapped to {-1, 1})", differentiable=False)

SPECS = [
    define(
        name="multi-margin",
        chain=RowWise(multi_margin_row_chain),
        example=THREE_CLASS,
        aliases=("multi-class-hinge", "multimargin"),
        family=FAMILY,
        summary="multi-class hinge loss (Weston-Watkins form, as torch)",
        inputs=(
            Input("preds", "N x C", "class scores"),
            Input("targets", "N", "class indices in [0, C - 1]", differentiable=False),
        ),
        params=(
            Param("margin", "float", 1.0, "margin m", low=0.0),
            Param("p", "int", 1, "1 for hinge, 2 for squared hinge", low=1, high=2),
        ),
        formula="ℓᵢ = (1/C) Σ_{j ≠ yᵢ} max(0, m - x_{i,yᵢ} + x_{ij})^p;  L = mean ℓ",
        derivative="∂ℓᵢ/∂x_{ij} = 1/C for each violating j ≠ yᵢ; ∂ℓᵢ/∂x_{i,yᵢ} = -(number of violators)/C (p = 1)",
        convention="torch.nn.MultiMarginLoss(p=1, margin=1)",
        differs="Keras CategoricalHinge uses only the largest wrong score, max(0, 1 + max_{j≠y} x_j - x_y), "
        "and does not divide by C.",
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
        formula="ℓ = max(0, 1 - y p);  L = mean ℓ",
        derivative="∂ℓ/∂p = -y if y p < 1, else 0 (dead once the margin is met)",
        convention="Keras Hinge: {0, 1} labels become {-1, 1} only when every label is 0 or 1",
        differs="optax hinge_loss requires ±1 labels; scikit-learn hinge_loss is the same formula.",
        when="Max-margin binary classification (linear SVM).",
        fn=hinge,
        validate=_validate_hinge,
    ),
    define(
        name="squared-hinge",
        chain=Elementwise(squared_hinge_scalar, _hinge_element),
        example=BINARY_LOGITS,
        family=FAMILY,
        summary="squared binary hinge loss",
        inputs=(SCORES, PM_TARGETS),
        params=(),
        formula="ℓ = max(0, 1 - y p)²;  L = mean ℓ",
        derivative="∂ℓ/∂p = -2 y max(0, 1 - y p)",
        convention="Keras SquaredHinge (same label mapping as hinge)",
        differs="Differentiable at the margin, unlike hinge.",
        when="Like hinge, but smooth at the margin and harsher on large violations.",
        fn=squared_hinge,
        validate=_validate_hinge,
    ),
]
