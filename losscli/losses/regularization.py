"""Regularisation penalties: a function of the model's parameters, not of predictions.

One input, ``weights`` (any shape: a vector, a matrix, the flattened parameters of a
layer), differentiable.  They are meant to be added to a data loss in an expression,
``losscli compute "mse + 0.01*l2" preds.csv targets.csv --input weights=w.csv``, the
coefficient written in the expression (Keras writes it as ``l2(0.01)``).

Reductions: a penalty is a SUM over the parameters, never a mean, so both ``--reduction
mean`` (the default) and ``--reduction sum`` give Σᵢ penaltyᵢ, with per-sample scale 1;
``--reduction none`` gives the penalty of each parameter.  This is the ``PENALTY`` rule of
:mod:`losscli.reduction` (no samples, so sample weights do not apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from losscli.losses import _checks
from losscli.reduction import PENALTY
from losscli.spec import Input, LossSpec, Terms, define

FAMILY = "regularization"
WEIGHTS = Input("weights", "any shape (e.g. P or R x C)", "model parameters to penalise")

_REDUCTION_NOTE = "the SUM over all parameters for both mean and sum (a penalty is not averaged)"


def l1(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """L1 penalty Σ |wᵢ| (Keras ``regularizers.L1`` with l1 = 1)."""
    return Terms(xp.abs(inputs["weights"]))


def l2(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """L2 penalty Σ wᵢ² (Keras ``regularizers.L2`` with l2 = 1)."""
    w = inputs["weights"]
    return Terms(w * w)


def l2_half(xp: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> Terms:
    """Half L2 penalty Σ wᵢ² / 2 (optax ``l2_loss`` of the parameters against 0)."""
    w = inputs["weights"]
    return Terms(0.5 * (w * w))


def _validate(inputs: Mapping[str, Any], params: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    _checks.non_empty(inputs, sources)


def _spec(**kw: Any) -> LossSpec:
    kw.setdefault("inputs", (WEIGHTS,))
    kw.setdefault("params", ())
    kw.setdefault("validate", _validate)
    kw.setdefault("reduction", PENALTY)
    kw.setdefault("element_note", "per parameter")
    kw.setdefault("mean_note", _REDUCTION_NOTE)
    return define(family=FAMILY, **kw)


SPECS = [
    _spec(
        name="l1",
        aliases=("l1-penalty", "l1-reg"),
        summary="L1 weight penalty: sum of |w|",
        formula="R = Σᵢ |wᵢ|  (a sum over every parameter, whatever --reduction mean/sum)",
        derivative="∂R/∂wᵢ = sign(wᵢ), and 0 at wᵢ = 0 (torch: sign(0) = 0)",
        convention="Keras regularizers.L1 with l1 = 1 (the coefficient goes in the expression: 1e-4*l1)",
        differs="Keras folds the coefficient in (L1(0.01) = 0.01 Σ|w|); torch has no L1 penalty built in.",
        when="Add to a data loss over --input weights=FILE to push parameters to exactly zero (sparsity).",
        fn=l1,
    ),
    _spec(
        name="l2",
        aliases=("l2-penalty", "l2-reg"),
        summary="L2 weight penalty: sum of w²",
        formula="R = Σᵢ wᵢ²  (a sum over every parameter, whatever --reduction mean/sum)",
        derivative="∂R/∂wᵢ = 2 wᵢ",
        convention="Keras regularizers.L2 with l2 = 1 (the coefficient goes in the expression: 0.01*l2)",
        differs="optax l2_loss and SGD weight decay use ½ Σ w² (see l2-half): λ·l2 = 2λ·l2-half. "
        "Not the same as the alias l2-loss, which is MSE.",
        when="Add to a data loss over --input weights=FILE to keep parameters small (ridge, weight decay).",
        fn=l2,
    ),
    _spec(
        name="l2-half",
        aliases=("half-l2",),
        summary="half L2 weight penalty: sum of w² / 2",
        formula="R = ½ Σᵢ wᵢ²  (a sum over every parameter, whatever --reduction mean/sum)",
        derivative="∂R/∂wᵢ = wᵢ",
        convention="optax.l2_loss(w) summed (= ½‖w‖², the penalty whose gradient is SGD weight decay λw)",
        differs="Keras L2 has no ½: l2 = 2 · l2-half.",
        when="Weight decay written as a loss: λ·l2-half adds exactly λw to each parameter's gradient.",
        fn=l2_half,
    ),
]
