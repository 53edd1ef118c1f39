"""Metric-learning and ranking losses: contrastive (pairs), triplet margin, BPR.

Shapes: embeddings are (N, d), one sample per row; a 1-D input of d values is ONE embedding
(1 x d), as torch's triplet_margin_loss, pairwise_distance and cosine_embedding_loss read a
1-D tensor (so a one-column CSV is one embedding of size N: give N x 1 data as a
two-dimensional array for N scalar embeddings).  Labels and scores are (N,).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import Custom, outer_step, sigmoid_f, softplus_f
from losscli.errors import InputError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import softplus
from losscli.spec import Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "metric"


def _rows(xp: Any, a: Array) -> Array:
    """A 1-D input (d,) is one embedding: 1 x d (torch's reading)."""
    return xp.reshape(a, (1, -1)) if a.ndim == 1 else a


def _np_rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(1, -1) if a.ndim == 1 else a


def _row_col(a: np.ndarray, index: tuple[int, ...]) -> tuple[int, int]:
    """(row, column) of an element of an embedding input; a 1-D input is row 0."""
    return (0, index[0]) if a.ndim == 1 else (index[0], index[1] if len(index) > 1 else 0)


def _rows_text(a: np.ndarray) -> str:
    n = _np_rows(a).shape[0]
    one = " (a 1-D input is one embedding, as in torch)" if a.ndim == 1 else ""
    return f"{n} row{'s' if n != 1 else ''}{one}"


def _validate_embeddings(inputs: Inputs, sources: Sources, names: tuple[str, ...]) -> None:
    _checks.non_empty({k: inputs[k] for k in names}, sources)
    for name in names:
        _checks.ndim_in(inputs, sources, name, (1, 2), "an N x d matrix of embeddings, one per row (or one d-vector)")
    first = names[0]
    for other in names[1:]:
        a, b = _np_rows(inputs[first]), _np_rows(inputs[other])
        if a.shape[0] != b.shape[0]:
            raise InputError(
                f"{first} has {_rows_text(inputs[first])} ({sources.get(first, first)}) but {other} has "
                f"{_rows_text(inputs[other])} ({sources.get(other, other)}); they must match"
            )
        if a.shape[1] != b.shape[1]:
            raise InputError(
                f"{first} has {a.shape[1]} columns ({sources.get(first, first)}) but {other} has "
                f"{b.shape[1]} ({sources.get(other, other)}); embeddings must have the same width"
            )


# ------------------------------------------------------------------------ contrastive


def contrastive(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Contrastive loss (Hadsell, Chopra, LeCun 2006) with label 1 = similar.

    D² = ‖x1ᵢ - x2ᵢ‖²;  ℓᵢ = yᵢ · D²/2 + (1 - yᵢ) · max(0, m - D)²/2.
    Similar pairs use D² directly (no sqrt); D = √D² is taken only where D² > 0 (a safe
    sqrt), so identical pairs give a finite gradient (0 for a dissimilar pair at D = 0).
    Shapes: x1, x2 (N, d), or (d,) for one pair; label (N,); elements (N,).
    """
    x1, x2 = _rows(xp, inputs["x1"]), _rows(xp, inputs["x2"])
    y = xp.reshape(inputs["label"], (-1,))
    diff = x1 - x2
    d2 = xp.sum(diff * diff, axis=1)
    positive = d2 > 0
    d = xp.where(positive, xp.sqrt(xp.where(positive, d2, xp.ones_like(d2))), xp.zeros_like(d2))
    gap = xp.maximum(params["margin"] - d, xp.zeros_like(d))
    return Terms(0.5 * (y * d2 + (1.0 - y) * gap * gap))


def _validate_contrastive(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_embeddings(inputs, sources, ("x1", "x2"))
    label = inputs["label"].reshape(-1)
    n = _np_rows(inputs["x1"]).shape[0]
    if label.size != n:
        raise InputError(
            f"label has {label.size} values but x1 and x2 have {n} rows; one label per pair",
            source=sources.get("label", "label"),
        )
    _checks.fail_at(sources, "label", label, ~np.isin(label, (0.0, 1.0)), "1 (similar) or 0 (dissimilar)")


# ---------------------------------------------------------------------------- triplet


def _pairwise_distance(xp: Any, a: Array, b: Array, p: float, eps: float) -> Array:
    """‖a - b + eps‖_p per row, exactly as torch.nn.functional.pairwise_distance."""
    diff = a - b + eps
    if p == 2:
        return xp.sqrt(xp.sum(diff * diff, axis=1))
    if p == 1:
        return xp.sum(xp.abs(diff), axis=1)
    return xp.sum(xp.abs(diff) ** p, axis=1) ** (1.0 / p)


def triplet(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Triplet margin loss (torch ``TripletMarginLoss``).

    d(a, b) = ‖a - b + eps‖_p;  ℓᵢ = max(0, d(aᵢ, pᵢ) - d(aᵢ, nᵢ) + margin), with
    d(aᵢ, nᵢ) replaced by min(d(aᵢ, nᵢ), d(pᵢ, nᵢ)) when swap is true.
    Shapes: anchor, positive, negative (N, d), or (d,) for one triplet (as torch); elements (N,).
    """
    a, pos, neg = (_rows(xp, inputs[k]) for k in ("anchor", "positive", "negative"))
    p, eps = params["p"], params["eps"]
    d_ap = _pairwise_distance(xp, a, pos, p, eps)
    d_an = _pairwise_distance(xp, a, neg, p, eps)
    if params["swap"]:
        d_an = xp.minimum(d_an, _pairwise_distance(xp, pos, neg, p, eps))
    return Terms(xp.maximum(d_ap - d_an + params["margin"], xp.zeros_like(d_ap)))


def _validate_triplet(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_embeddings(inputs, sources, ("anchor", "positive", "negative"))


# -------------------------------------------------------------------------------- BPR


def bpr(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Bayesian personalised ranking, ℓᵢ = -log σ(posᵢ - negᵢ) = softplus(negᵢ - posᵢ).

    Shapes: pos (N,); neg (N,) or (N, K) for K sampled negatives per positive (pos is
    broadcast); elements shaped like neg.
    """
    pos, neg = inputs["pos"], inputs["neg"]
    if neg.ndim == 2 and pos.ndim == 1:
        pos = pos[:, None]
    return Terms(softplus(xp, neg - pos))


def _validate_bpr(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.non_empty(inputs, sources)
    pos, neg = inputs["pos"], inputs["neg"]
    if pos.shape == neg.shape:
        return
    if pos.ndim == 1 and neg.ndim == 2 and neg.shape[0] == pos.shape[0]:
        return
    raise InputError(
        f"pos has shape {_checks._fmt_shape(pos.shape)} ({sources.get('pos', 'pos')}) but neg has "
        f"shape {_checks._fmt_shape(neg.shape)} ({sources.get('neg', 'neg')}); neg must match pos "
        "or be N x K (K negatives per positive)"
    )


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ included
# (see losscli.chains), or None when it has no derivation for that input.


def bpr_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    pos, neg = inputs["pos"], inputs["neg"]
    if neg.ndim == 2 and pos.ndim == 1:  # K negatives per positive: pos is broadcast
        pos = np.broadcast_to(pos[:, None], neg.shape)
        if name == "pos":  # one path per negative k: the contributions add up
            formula, outer = outer_step(ev, neg.size)
            d = pos[index[0]] - neg[index[0]]
            fwd = [(f"d_k = pos - neg_k (k = 0..{d.size - 1})", float(d[0]))]
            return (
                fwd,
                [
                    (
                        f"path k={k}: ∂L/∂ℓ_k · ∂ℓ_k/∂d_k · ∂d_k/∂pos",
                        f"{formula} · -σ(-d_k) · 1",
                        outer * -sigmoid_f(-float(dk)),
                    )
                    for k, dk in enumerate(d)
                ],
                "sum",
            )
    d = float(pos[index] - neg[index])
    formula, outer = outer_step(ev, neg.size)
    fwd = [("d = pos - neg", d), ("ℓ = softplus(-d) = -log σ(d)", softplus_f(-d))]
    return fwd, [
        ("∂L/∂ℓ", formula, outer),
        ("∂ℓ/∂d", "-σ(-d)", -sigmoid_f(-d)),
        (f"∂d/∂{name}", "+1 for pos, -1 for neg", 1.0 if name == "pos" else -1.0),
    ]


def contrastive_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    x1, x2 = _np_rows(inputs["x1"]), _np_rows(inputs["x2"])
    row, col = _row_col(inputs[name], index)
    y, m = float(inputs["label"].reshape(-1)[row]), ev.params["margin"]
    diff = x1[row] - x2[row]
    d = float(np.sqrt(np.sum(diff * diff)))
    sign = 1.0 if name == "x1" else -1.0
    gap = max(0.0, m - d)
    fwd = [("D = ‖x1ᵢ - x2ᵢ‖", d), ("label (1 = similar)", y), ("max(0, m - D)", gap)]
    formula, outer = outer_step(ev, x1.shape[0])
    dd = y * diff[col] - (1 - y) * gap * (diff[col] / d if d > 0 else 0.0)
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂(x1ᵢ - x2ᵢ)_k", "y (x1 - x2)_k - (1 - y) max(0, m - D) (x1 - x2)_k / D", dd),
        (f"∂(x1 - x2)/∂{name}", "+1 for x1, -1 for x2", sign),
    ]


def triplet_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """p = 2, no swap: ∂ℓ/∂a = (a - p + ε)/d_ap - (a - n + ε)/d_an while the margin is violated."""
    if ev.params["p"] != 2 or ev.params["swap"]:
        return None
    a, p, n = (_np_rows(inputs[k]) for k in ("anchor", "positive", "negative"))
    row, col = _row_col(inputs[name], index)
    eps = ev.params["eps"]
    u, v = a[row] - p[row] + eps, a[row] - n[row] + eps
    d_ap, d_an = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    hinge = d_ap - d_an + ev.params["margin"]
    active = 1.0 if hinge > 0 else 0.0
    local_d = {"anchor": u[col] / d_ap - v[col] / d_an, "positive": -u[col] / d_ap, "negative": v[col] / d_an}[name]
    fwd = [("d(a, p) = ‖a - p + ε‖", d_ap), ("d(a, n) = ‖a - n + ε‖", d_an), ("d(a,p) - d(a,n) + margin", hinge)]
    formula, outer = outer_step(ev, a.shape[0])
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂(hinge)", "1 if violated else 0", active),
        (f"∂(hinge)/∂{name}_k", "(a - p + ε)_k/d_ap - (a - n + ε)_k/d_an for the anchor", local_d),
    ]


# ----------------------------------------------------------------------------- specs

SPECS = [
    define(
        name="contrastive",
        chain=Custom(contrastive_chain),
        example=Example(("contrastive_pairs.json",), what="embedding pairs with similar/dissimilar labels"),
        aliases=("contrastive-loss", "siamese"),
        family=FAMILY,
        summary="contrastive (siamese) pair loss, label 1 = similar",
        inputs=(
            Input("x1", "N x d (or d: one pair)", "embeddings of the first item of each pair"),
            Input("x2", "N x d (or d: one pair)", "embeddings of the second item of each pair"),
            Input("label", "N", "1 = similar pair, 0 = dissimilar pair", differentiable=False),
        ),
        params=(Param("margin", "float", 1.0, "distance m beyond which dissimilar pairs cost nothing", low=0.0),),
        formula="D = ‖x1ᵢ - x2ᵢ‖₂;  ℓᵢ = yᵢ D²/2 + (1 - yᵢ) max(0, m - D)²/2;  L = mean ℓ  "
        "(a 1-D x1, x2 of d values is one pair of d-vectors, as torch reads 1-D tensors, not d pairs)",
        derivative="∂ℓᵢ/∂x1ᵢ = yᵢ (x1ᵢ - x2ᵢ) - (1 - yᵢ) max(0, m - D) (x1ᵢ - x2ᵢ)/D;  ∂/∂x2ᵢ = -∂/∂x1ᵢ "
        "(0 for a dissimilar pair at D = 0, where the direction is undefined)",
        convention="Hadsell, Chopra & LeCun 2006 with the label flipped (1 = similar, as most code); "
        "pytorch-metric-learning ContrastiveLoss differs: unsquared hinges [D - pos_margin]₊ + "
        "[neg_margin - D]₊, averaged over the non-zero terms",
        differs="The paper writes Y = 1 for dissimilar pairs; some code drops the ½ or uses D instead of D²; "
        "torch's CosineEmbeddingLoss is a different (cosine) loss.",
        when="Siamese networks: pull similar pairs together, push dissimilar pairs at least m apart.",
        fn=contrastive,
        validate=_validate_contrastive,
        element_note="per pair",
        mean_note="mean over pairs",
        references=("Hadsell, Chopra, LeCun 2006, Dimensionality Reduction by Learning an Invariant Mapping",),
    ),
    define(
        name="triplet",
        chain=Custom(triplet_chain),
        example=Example(
            ("triplet_anchor.csv", "triplet_positive.csv", "triplet_negative.csv"),
            what="8 embedding triplets of width 4",
        ),
        aliases=("triplet-margin", "triplet-loss", "triplet-margin-loss"),
        family=FAMILY,
        summary="triplet margin loss on (anchor, positive, negative) embeddings",
        inputs=(
            Input("anchor", "N x d (or d: one triplet)", "anchor embeddings"),
            Input("positive", "N x d (or d: one triplet)", "embeddings of the same class as the anchor"),
            Input("negative", "N x d (or d: one triplet)", "embeddings of a different class"),
        ),
        params=(
            Param("margin", "float", 1.0, "required gap between d(a, n) and d(a, p)", low=0.0),
            Param("p", "float", 2.0, "norm degree of the distance", low=0.0, low_open=True),
            Param("eps", "float", 1e-6, "added to the difference before the norm (as torch)", low=0.0),
            Param("swap", "bool", False, "use min(d(a, n), d(p, n)) as the negative distance (Balntas et al.)"),
        ),
        formula="d(a, b) = ‖a - b + eps‖_p;  ℓᵢ = max(0, d(aᵢ, pᵢ) - d(aᵢ, nᵢ) + margin);  L = mean ℓ  "
        "(a 1-D input of d values is one triplet of d-vectors, as torch.nn.functional.triplet_margin_loss "
        "reads 1-D tensors, not d triplets)",
        derivative="for an active triplet (ℓᵢ > 0), p = 2: ∂ℓᵢ/∂pᵢ = -(aᵢ - pᵢ + eps)/d(aᵢ, pᵢ), "
        "∂ℓᵢ/∂nᵢ = (aᵢ - nᵢ + eps)/d(aᵢ, nᵢ), ∂ℓᵢ/∂aᵢ = -∂ℓᵢ/∂pᵢ - ∂ℓᵢ/∂nᵢ; 0 when inactive",
        convention="torch.nn.TripletMarginLoss(margin=1.0, p=2, eps=1e-6, swap=False) "
        "(pairwise_distance adds eps to the difference)",
        differs="optax triplet_margin_loss and many papers put eps elsewhere (or nowhere) and use margins "
        "of 0.05-0.2 on normalised embeddings; FaceNet uses squared distances.",
        when="Metric learning (face recognition, retrieval) from triplets.",
        fn=triplet,
        validate=_validate_triplet,
        element_note="per triplet",
        mean_note="mean over triplets",
        references=("Schroff, Kalenichenko, Philbin 2015, FaceNet", "Balntas et al. 2016 (swap)"),
    ),
    define(
        name="bpr",
        chain=Custom(bpr_chain),
        example=Example(("bpr_scores.csv",), what="scores of observed and sampled items"),
        aliases=("bpr-loss", "bayesian-personalized-ranking"),
        family=FAMILY,
        summary="Bayesian personalised ranking loss on (positive, negative) item scores",
        inputs=(
            Input("pos", "N", "scores of the items the user interacted with"),
            Input("neg", "N or N x K", "scores of sampled negative items (K per positive)"),
        ),
        params=(),
        formula="ℓᵢ = -log σ(posᵢ - negᵢ) = softplus(negᵢ - posᵢ);  L = mean ℓ",
        derivative="∂ℓᵢ/∂posᵢ = -σ(negᵢ - posᵢ);  ∂ℓᵢ/∂negᵢ = σ(negᵢ - posᵢ)",
        convention="-torch.nn.functional.logsigmoid(pos - neg).mean() (Rendle et al. 2009)",
        differs="RecBole BPRLoss computes -log(gamma + sigmoid(pos - neg)) with gamma = 1e-10, which "
        "caps the loss at about 23 and loses precision; the stable log-sigmoid here does not.",
        when="Implicit-feedback recommendation: rank observed items above sampled unobserved ones.",
        fn=bpr,
        validate=_validate_bpr,
        element_note="per (positive, negative) pair",
        mean_note="mean over pairs",
        references=("Rendle et al. 2009, BPR: Bayesian Personalized Ranking from Implicit Feedback",),
    ),
]
