"""Divergences between distributions: KL (torch kl_div).

Shapes: ``preds`` and ``targets`` (N, C) rows of distributions, or one distribution (C,).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import RowWise
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import xlogx
from losscli.spec import Input, Param, Terms, define
from losscli.types import Inputs, Params, Sources

FAMILY = "classification"


def kl_div(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """KL(p || q) per row: Σ_c p_c (log p_c - log q_c), 0 log 0 = 0 (torch ``kl_div``, batchmean)."""
    q, p = inputs["preds"], inputs["targets"]
    if q.ndim == 1:
        q, p = q[None, :], p[None, :]
    if params["log_input"]:
        log_q = q
    else:  # log q where p > 0 (q = 0 there gives inf, as torch); log 1 = 0 where p = 0 (no 0·inf)
        log_q = xp.log(xp.where(p > 0, q, xp.ones_like(q)))
    cross = xp.where(p > 0, p * log_q, xp.zeros_like(p))
    return Terms(xp.sum(xlogx(xp, p) - cross, axis=-1))


def _validate_kl(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.ndim_in(inputs, sources, "preds", (1, 2), "a distribution (C) or rows of distributions (N x C)")
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
    if params["log_input"]:
        _checks.fail_at(sources, "preds", inputs["preds"], inputs["preds"] > 0, "log-probabilities (<= 0)")
    else:
        _checks.in_range(inputs, sources, "preds", 0.0, 1.0)


# ----------------------------------------------------------------------------- the chain rule for --explain


def kl_row_chain(q: np.ndarray, p: np.ndarray, c: int, prm: Mapping[str, Any]):
    fwd = [(f"q_{c}" if not prm["log_input"] else f"log q_{c}", float(q[c])), (f"p_{c}", float(p[c]))]
    if prm["log_input"]:
        return fwd, [("∂ℓᵢ/∂(log q)_c", "-p_c", float(-p[c]))]
    return fwd, [("∂ℓᵢ/∂q_c", "-p_c / q_c", float(-p[c] / q[c]) if p[c] > 0 else 0.0)]


# ----------------------------------------------------------------------------- specs

SPECS = [
    define(
        name="kl-div",
        chain=RowWise(kl_row_chain),
        example=Example(("kl_preds.csv", "kl_targets.csv"), what="predicted and true distributions over 4 classes"),
        aliases=("kl", "kl-divergence", "kld"),
        family=FAMILY,
        summary="Kullback-Leibler divergence KL(targets || preds)",
        inputs=(
            Input("preds", "N x C (or C)", "predicted distribution q (log q with log_input=true)"),
            Input("targets", "N x C (or C)", "true distribution p", differentiable=False),
        ),
        params=(Param("log_input", "bool", False, "preds are log-probabilities (as torch kl_div expects)"),),
        formula="ℓᵢ = Σ_c p_{ic} (log p_{ic} - log q_{ic}), 0 log 0 = 0;  L = (1/N) Σᵢ ℓᵢ (batchmean)",
        derivative="∂ℓᵢ/∂q_{ic} = -p_{ic} / q_{ic};  with log_input ∂ℓᵢ/∂(log q)_{ic} = -p_{ic}",
        convention="torch.nn.functional.kl_div(log q, p, reduction='batchmean') = mean over rows of "
        "scipy.stats.entropy(p, q, axis=1)",
        differs="torch's reduction='mean' divides by N·C (not a KL); torch's argument order is (log q, p); "
        "Keras clips both to [1e-7, 1]. A 1-D input is one distribution (summed over its C classes, as "
        "scipy); torch's batchmean would divide a 1-D input by C.",
        when="Distillation and matching distributions; --reduction mean is batchmean here.",
        fn=kl_div,
        validate=_validate_kl,
        element_note="per row (summed over classes)",
        mean_note="mean over rows (torch batchmean)",
    ),
]
