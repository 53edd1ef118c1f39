"""Divergences between distributions: KL (torch kl_div) and Jensen-Shannon.

Shapes: ``preds`` and ``targets`` of one shape.  ``kl-div``: any shape, torch's (*); rows along
the first axis (N, C) or (N, C, d1, ...), summed over the other axes per row, or one
distribution (C,).  ``jsd``: (N, C) rows of distributions, or one distribution (C,).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import Custom, RowWise, outer_step
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import quiet, xlogx
from losscli.spec import Input, Param, Terms, define
from losscli.types import Inputs, Params, Sources

FAMILY = "classification"


@quiet
def kl_div(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """KL(p || q), torch ``kl_div``: pointwise p (log p - log q), 0 log 0 = 0.

    log_target=false: p log p - p log q (a zero p gives 0, as torch's xlogy);
    log_target=true (targets are log p, as torch): exp(log p) (log p - log q).
    batchmean=true: one element per row, summed over every axis but the first (a 1-D input is one
    distribution, one row), so the mean is torch's 'batchmean' Σ / N; batchmean=false: the
    pointwise terms themselves (torch's reduction='none'), so the mean is torch's 'mean' Σ / (N·C).
    Shapes: preds, targets (N, C, ...) or (C,); elements (N,) or the input's shape.
    """
    q, t = inputs["preds"], inputs["targets"]
    if params["log_target"]:
        log_q = q if params["log_input"] else xp.log(q)
        pointwise = xp.exp(t) * (t - log_q)
    else:
        if params["log_input"]:
            log_q = q
        else:  # log q where p > 0 (q = 0 there gives inf, as torch); log 1 = 0 where p = 0 (no 0·inf)
            log_q = xp.log(xp.where(t > 0, q, xp.ones_like(q)))
        cross = xp.where(t > 0, t * log_q, xp.zeros_like(t))
        pointwise = xlogx(xp, t) - cross
    if not params["batchmean"]:
        return Terms(pointwise)
    if pointwise.ndim == 1:
        return Terms(xp.sum(pointwise, axis=0, keepdims=True))
    return Terms(xp.sum(xp.reshape(pointwise, (pointwise.shape[0], -1)), axis=1))


def _validate_kl(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.non_empty(inputs, sources)
    if params["log_target"]:
        _checks.fail_at(
            sources,
            "targets",
            inputs["targets"],
            inputs["targets"] > 0,
            "log-probabilities (<= 0) with log_target=true",
            hint="pass -p log_target=false for probabilities",
        )
    else:
        _checks.in_range(
            inputs, sources, "targets", 0.0, 1.0, hint="if these are log-probabilities, pass -p log_target=true"
        )
    if params["log_input"]:
        _checks.fail_at(sources, "preds", inputs["preds"], inputs["preds"] > 0, "log-probabilities (<= 0)")
    else:
        _checks.in_range(
            inputs, sources, "preds", 0.0, 1.0, hint="if these are log-probabilities, pass -p log_input=true"
        )


# ------------------------------------------------------------------------------ JSD


def _log_base(params: Params) -> float:
    base = params.get("base")
    return 1.0 if base is None else math.log(base)


def jsd(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Jensen-Shannon divergence per row, JS(P || Q) = ½ KL(P || M) + ½ KL(Q || M), M = ½ (P + Q).

    ℓᵢ = ½ Σ_c [p log p + q log q - (p + q) log m] (0 log 0 = 0; a class with p = q = 0 adds 0),
    natural log unless ``base`` is given (then ÷ log base).  Shapes: preds q, targets p (N, C) or
    (C,) (one distribution); elements (N,) (1 for a single distribution).
    """
    q, p = inputs["preds"], inputs["targets"]
    if q.ndim == 1:
        q, p = q[None, :], p[None, :]
    m = 0.5 * (p + q)
    pointwise = 0.5 * (xlogx(xp, p) + xlogx(xp, q)) - xlogx(xp, m)
    return Terms(xp.sum(pointwise, axis=-1) / _log_base(params))


def _validate_jsd(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.ndim_in(inputs, sources, "preds", (1, 2), "a distribution (C) or rows of distributions (N x C)")
    _checks.non_empty(inputs, sources)
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
    _checks.in_range(inputs, sources, "preds", 0.0, 1.0)
    _checks.fail_at(
        sources,
        "preds",
        inputs["preds"],
        inputs["preds"] == 0,
        "> 0 (at q = 0 the gradient ½ log(q / m) is -inf)",
        hint="smooth the distribution, e.g. (q + 1e-12) / sum",
    )


# ----------------------------------------------------------------------------- the chain rule for --explain


def kl_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """One pointwise term p (log p - log q): ∂/∂q = -p/q (∂/∂log q = -p); the mean's 1/N (batchmean)
    or 1/(N·C) (batchmean=false) comes first."""
    if name != "preds":
        return None
    prm = ev.params
    q, t = float(inputs["preds"][index]), float(inputs["targets"][index])
    p = math.exp(t) if prm["log_target"] else t
    fwd = [
        ("log q_c" if prm["log_input"] else "q_c", q),
        ("log p_c" if prm["log_target"] else "p_c", t),
    ]
    if prm["log_target"]:
        fwd.append(("p_c = exp(log p_c)", p))
    formula, outer = outer_step(ev, ev.denominator)
    ell = "ℓᵢ" if prm["batchmean"] else "ℓ_ic"  # a row's sum, or one pointwise term (batchmean=false)
    if prm["log_input"]:
        local = (f"∂{ell}/∂(log q)_c", "-p_c", -p)
    else:
        local = (f"∂{ell}/∂q_c", "-p_c / q_c", -p / q if p > 0 else 0.0)
    return fwd, [(f"∂L/∂{ell}", formula, outer), local]


def jsd_row_chain(q: np.ndarray, p: np.ndarray, c: int, prm: Mapping[str, Any]):
    qc, pc = float(q[c]), float(p[c])
    m = 0.5 * (pc + qc)
    scale = _log_base(prm)
    fwd = [(f"q_{c}", qc), (f"p_{c}", pc), (f"m_{c} = (p_{c} + q_{c}) / 2", m)]
    formula = "½ log(q_c / m_c)" if scale == 1.0 else "½ log(q_c / m_c) / log(base)"
    return fwd, [("∂ℓᵢ/∂q_c", formula, 0.5 * math.log(qc / m) / scale)]


# ----------------------------------------------------------------------------- specs

KL_PARAMS = (
    Param("log_input", "bool", False, "preds are log-probabilities (as torch kl_div expects)"),
    Param("log_target", "bool", False, "targets are log-probabilities (torch kl_div's log_target)"),
    Param(
        "batchmean",
        "bool",
        True,
        "true: --reduction mean divides by the N rows (torch reduction='batchmean'); false: by every "
        "element, N·C (torch reduction='mean'), and --reduction none lists the pointwise terms (torch 'none')",
    ),
)

SPECS = [
    define(
        name="kl-div",
        row_local=True,
        chain=Custom(kl_chain),
        example=Example(("kl_preds.csv", "kl_targets.csv"), what="predicted and true distributions over 4 classes"),
        aliases=("kl", "kl-divergence", "kld"),
        family=FAMILY,
        summary="Kullback-Leibler divergence KL(targets || preds)",
        inputs=(
            Input("preds", "N x C (or C, or N x C x ...)", "predicted distribution q (log q with log_input=true)"),
            Input(
                "targets",
                "N x C (or C, or N x C x ...)",
                "true distribution p (log p with log_target=true)",
                differentiable=False,
            ),
        ),
        params=KL_PARAMS,
        formula="ℓᵢ = Σ_c p_{ic} (log p_{ic} - log q_{ic}), 0 log 0 = 0 (with log_target=true: "
        "Σ_c exp(t_{ic}) (t_{ic} - log q_{ic}), t = log p);  L = (1/N) Σᵢ ℓᵢ (batchmean); "
        "with batchmean=false every pointwise term is an element and L = (1/(N·C)) Σ_{i,c} (torch 'mean')",
        derivative="∂ℓᵢ/∂q_{ic} = -p_{ic} / q_{ic};  with log_input ∂ℓᵢ/∂(log q)_{ic} = -p_{ic}",
        convention="torch.nn.functional.kl_div(log q, p, reduction='batchmean', log_target=False) = mean over rows "
        "of scipy.stats.entropy(p, q, axis=1); -p batchmean=false is torch's reduction='mean' (and 'none'); "
        "-p log_target=true is torch's log_target=True, exp(t) (t - log q)",
        differs="torch's reduction='mean' divides by N·C (not a KL; -p batchmean=false gives it); torch's argument "
        "order is (log q, p) and its input is always log q (-p log_input=true); Keras clips both to [1e-7, 1]. "
        "A 1-D input is one distribution (summed over its C classes, as scipy); torch's batchmean would divide a "
        "1-D input by C (with batchmean=false it is torch's 'mean', Σ / C). An input with more axes, N x C x d1 "
        "..., is summed over all but the first per row, as torch's batchmean divides by N. With log_target=true "
        "a target of -inf gives NaN, as torch (exp(-inf) · inf).",
        when="Distillation and matching distributions; --reduction mean is batchmean here.",
        fn=kl_div,
        validate=_validate_kl,
        element_note="per row (summed over classes); per pointwise term with batchmean=false",
        mean_note="mean over rows (torch batchmean); over every term, N·C, with batchmean=false (torch 'mean')",
    ),
    define(
        name="jsd",
        row_local=True,
        chain=RowWise(jsd_row_chain),
        example=Example(
            ("jsd_preds.csv", "jsd_targets.csv"),
            what="a model's and a reference's next-word distributions over 5 words, 6 contexts",
        ),
        aliases=("js-divergence", "jensen-shannon"),
        family=FAMILY,
        summary="Jensen-Shannon divergence ½ KL(P || M) + ½ KL(Q || M), M = (P + Q) / 2, per row",
        inputs=(
            Input("preds", "N x C (or C)", "distribution q, one per row (probabilities > 0)"),
            Input("targets", "N x C (or C)", "distribution p, one per row", differentiable=False),
        ),
        params=(
            Param(
                "base",
                "float",
                None,
                "logarithm base (scipy's base); none: natural log (nats, at most log 2 per row)",
                low=1.0,
                low_open=True,
            ),
        ),
        formula="ℓᵢ = ½ Σ_c p_{ic} log(p_{ic} / m_{ic}) + ½ Σ_c q_{ic} log(q_{ic} / m_{ic}) with "
        "m = (p + q) / 2, 0 log 0 = 0;  L = (1/N) Σᵢ ℓᵢ",
        derivative="∂ℓᵢ/∂q_{ic} = ½ log(q_{ic} / m_{ic})  (÷ log base with base)",
        convention="Lin 1991 Jensen-Shannon divergence, natural log: the square of "
        "scipy.spatial.distance.jensenshannon(p, q) (base e by default) per row, averaged over rows",
        differs="scipy.spatial.distance.jensenshannon returns the Jensen-Shannon distance, the square root of "
        "this divergence, and first divides each row by its sum; losscli takes the rows as given and does not "
        "take the root. With base=2 the divergence lies in [0, 1]. Symmetric in p and q; its value stays "
        "finite where KL's is not (a zero in one distribution only), but its gradient in q is -inf at q = 0, "
        "so losscli refuses a prediction of exactly 0 (zeros in targets are fine).",
        when="A bounded, symmetric distance between distributions (the divergence the original GAN minimises); "
        "comparing predicted with true class distributions.",
        fn=jsd,
        validate=_validate_jsd,
        element_note="per row (summed over classes)",
        mean_note="mean over rows",
        references=("Lin 1991, Divergence measures based on the Shannon entropy, IEEE Trans. Inf. Theory 37",),
    ),
]
