"""Metric-learning, ranking and preference losses: contrastive (pairs), triplet margin (euclidean
or cosine distance), BPR, DPO (preference pairs of log-probabilities), InfoNCE / NT-Xent (two views
or labels) and SupCon.

Shapes: embeddings are (N, d), one sample per row; a 1-D input of d values is ONE embedding
(1 x d), as torch's triplet_margin_loss, pairwise_distance and cosine_embedding_loss read a
1-D tensor (so a one-column CSV is one embedding of size N: give N x 1 data as a
two-dimensional array for N scalar embeddings).  Labels and scores are (N,).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import Custom, outer_step, sigmoid_f, softplus_f
from losscli.errors import InputError, UsageError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import softplus, stop_gradient
from losscli.reduction import Rule
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


def _safe_norm(xp: Any, a: Array) -> Array:
    """‖a‖₂ over the last axis, keepdims; its gradient at a = 0 is 0 (torch linalg.vector_norm)."""
    s = xp.sum(a * a, axis=-1, keepdims=True)
    positive = s > 0
    return xp.where(positive, xp.sqrt(xp.where(positive, s, xp.ones_like(s))), xp.zeros_like(s))


def _cosine_similarity(xp: Any, a: Array, b: Array, eps: float) -> Array:
    """torch.nn.functional.cosine_similarity(a, b, dim=-1, eps) exactly (ATen cosine_similarity):
    Σ (a / max(‖a‖, eps)) (b / max(‖b‖, eps)), the clamp applied under NoGradGuard, so its value
    is eps below eps while the gradient still flows through ‖a‖ as if unclamped."""

    def clamped(n: Array) -> Array:
        return xp.where(n >= eps, n, n - stop_gradient(n) + eps)

    return xp.sum((a / clamped(_safe_norm(xp, a))) * (b / clamped(_safe_norm(xp, b))), axis=-1)


def _triplet_distance(xp: Any, a: Array, b: Array, params: Params) -> Array:
    if params["distance"] == "cosine":
        return 1.0 - _cosine_similarity(xp, a, b, params["cosine_eps"])
    return _pairwise_distance(xp, a, b, params["p"], params["eps"])


def triplet(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Triplet margin loss (torch ``TripletMarginLoss``; with ``distance=cosine``
    ``TripletMarginWithDistanceLoss(distance_function=lambda x, y: 1 - cosine_similarity(x, y))``).

    euclidean: d(a, b) = ‖a - b + eps‖_p (torch pairwise_distance);  cosine: d(a, b) = 1 - cos(a, b)
    with torch's cosine_similarity eps (``cosine_eps``);  ℓᵢ = max(0, d(aᵢ, pᵢ) - d(aᵢ, nᵢ) + margin),
    with d(aᵢ, nᵢ) replaced by min(d(aᵢ, nᵢ), d(pᵢ, nᵢ)) when swap is true.
    Shapes: anchor, positive, negative (N, d), or (d,) for one triplet (as torch); elements (N,).
    """
    a, pos, neg = (_rows(xp, inputs[k]) for k in ("anchor", "positive", "negative"))
    d_ap = _triplet_distance(xp, a, pos, params)
    d_an = _triplet_distance(xp, a, neg, params)
    if params["swap"]:
        d_an = xp.minimum(d_an, _triplet_distance(xp, pos, neg, params))
    return Terms(xp.maximum(d_ap - d_an + params["margin"], xp.zeros_like(d_ap)))


def _validate_triplet(inputs: Inputs, params: Params, sources: Sources) -> None:
    if params["distance"] == "cosine" and (params["p"] != 2.0 or params["eps"] != 1e-6):
        raise UsageError(
            "p and eps are torch pairwise_distance's (distance=euclidean, TripletMarginLoss); distance=cosine "
            "is 1 - cosine_similarity, whose own eps is cosine_eps"
        )
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


# -------------------------------------------------------------------------------- DPO

_DPO_LOGPS = ("chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps")


def _dpo_logits(xp: Any, inputs: Inputs, params: Params) -> Array:
    """TRL's ``logits``: (chosen - rejected) - (ref_chosen - ref_rejected); the reference term is 0
    with reference_free."""
    c, r = (xp.reshape(inputs[k], (-1,)) for k in _DPO_LOGPS[:2])
    if params["reference_free"]:
        return c - r
    rc, rr = (xp.reshape(inputs[k], (-1,)) for k in _DPO_LOGPS[2:])
    return (c - r) - (rc - rr)


def dpo(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Direct preference optimisation, as TRL ``DPOTrainer.dpo_loss`` (trl/trainer/dpo_trainer.py).

    Δᵢ = (log π(yᵂ) - log π(yᴸ)) - (log π_ref(yᵂ) - log π_ref(yᴸ)) (TRL's ``logits``), β = beta, ε =
    label_smoothing.  sigmoid: ℓ = (1 - ε) softplus(-βΔ) + ε softplus(βΔ) (cDPO; ε = 0 is BPR on βΔ);
    robust: ((1 - ε) softplus(-βΔ) - ε softplus(βΔ)) / (1 - 2ε); hinge: max(0, 1 - βΔ);
    ipo: (Δ - 1/(2β))².  Shapes: four (N,) sequence log-probabilities; elements (N,).
    """
    delta = _dpo_logits(xp, inputs, params)
    beta, ls, kind = params["beta"], params["label_smoothing"], params["loss_type"]
    z = beta * delta
    if kind == "sigmoid":
        return Terms((1.0 - ls) * softplus(xp, -z) + ls * softplus(xp, z))
    if kind == "robust":
        return Terms(((1.0 - ls) * softplus(xp, -z) - ls * softplus(xp, z)) / (1.0 - 2.0 * ls))
    if kind == "hinge":
        return Terms(xp.maximum(1.0 - z, xp.zeros_like(z)))
    gap = delta - 1.0 / (2.0 * beta)
    return Terms(gap * gap)


def _validate_dpo(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.non_empty(inputs, sources)
    if params["label_smoothing"] and params["loss_type"] not in ("sigmoid", "robust"):
        raise UsageError(
            f"label_smoothing applies to loss_type=sigmoid (cDPO) and robust; TRL ignores it for "
            f"loss_type={params['loss_type']}"
        )
    if params["loss_type"] == "robust" and params["label_smoothing"] >= 0.5:
        raise UsageError("loss_type=robust divides by 1 - 2 label_smoothing: label_smoothing must be < 0.5")
    first = inputs["chosen_logps"].reshape(-1)
    for name in _DPO_LOGPS:
        arr = inputs[name]
        if arr.ndim > 1 and not (arr.ndim == 2 and arr.shape[1] == 1):
            raise InputError(
                f"{name} must be one log-probability per pair (N values), got shape {_checks._fmt_shape(arr.shape)}",
                source=sources.get(name, name),
            )
        if arr.size != first.size:
            raise InputError(
                f"chosen_logps has {first.size} values ({sources.get('chosen_logps', 'chosen_logps')}) but {name} "
                f"has {arr.size} ({sources.get(name, name)}); one log-probability of each kind per pair"
            )
        _checks.fail_at(
            sources, name, arr, arr > 0, "a log-probability (<= 0)", "give log π(y|x), the sum of token log-probs"
        )


def _report_dpo(ev: Any, inputs: Inputs) -> dict[str, Any]:
    """TRL's logged metrics: rewards/chosen, rewards/rejected (β · policy-minus-reference log-ratio,
    averaged), rewards/accuracies (share of pairs whose chosen reward is higher) and rewards/margins."""
    beta = ev.params["beta"]
    c, r, rc, rr = (np.asarray(inputs[k], dtype=np.float64).reshape(-1) for k in _DPO_LOGPS)
    chosen, rejected = beta * (c - rc), beta * (r - rr)
    return {
        "rewards/chosen": float(np.mean(chosen)),
        "rewards/rejected": float(np.mean(rejected)),
        "rewards/accuracies": float(np.mean(chosen > rejected)),
        "rewards/margins": float(np.mean(chosen - rejected)),
    }


# ---------------------------------------------------------------------------- InfoNCE / NT-Xent, SupCon

# Batch losses: every term depends on the whole batch, so rows cannot be chunked and merged, and a
# weight per term is not a weight per sample.
PAIR_MEAN = Rule(
    "positive-pair mean", chunkable=False, sample_weights=False, description="mean over the positive pairs of the batch"
)
ANCHOR_MEAN = Rule(
    "anchor mean",
    chunkable=False,
    sample_weights=False,
    description="Σℓ / anchors with a positive (pytorch-metric-learning AvgNonZeroReducer)",
)


def _normalize(xp: Any, x: Array) -> Array:
    """torch.nn.functional.normalize(x, p=2, dim=1, eps=1e-12): x / max(‖x‖, 1e-12), the floor
    differentiable (clamp_min), as pytorch-metric-learning's CosineSimilarity normalises."""
    return x / xp.maximum(_safe_norm(xp, x), xp.asarray(1e-12, dtype=x.dtype))


def _labels_vector(xp: Any, labels: Array) -> Array:
    return xp.reshape(labels, (-1,))


def _ntxent_matrix(xp: Any, inputs: Inputs, params: Params) -> tuple[Array, Array, Array]:
    """(S, positives, negatives): the similarity matrix over the temperature and the masks of
    pytorch-metric-learning's get_all_pairs_indices (self pairs left out when there is no ref_emb)."""
    tau = params["temperature"]
    x = _normalize(xp, inputs["embeddings"])
    if "ref_emb" in inputs:
        y = _normalize(xp, inputs["ref_emb"])
        n = x.shape[0]
        if params["symmetric"]:  # SelfSupervisedLoss(symmetric=True): one batch of 2N, labels 0..N-1 twice
            e = xp.concat([x, y], axis=0)
            idx = xp.arange(n)
            lab = xp.concat([idx, idx], axis=0)
            q = r = e
            self_pairs = True
        else:  # SelfSupervisedLoss(symmetric=False): embeddings against ref_emb, ref_labels = labels
            q, r = x, y
            lab = xp.arange(n)
            self_pairs = False
        lab_r = lab
    else:
        q = r = x
        lab = lab_r = _labels_vector(xp, inputs["labels"])
        self_pairs = True
    same = lab[:, None] == lab_r[None, :]
    positives = same
    if self_pairs:
        positives = same & ~xp.eye(q.shape[0], dtype=xp.bool)
    sim = (q @ xp.matrix_transpose(r)) / tau
    return sim, positives, ~same


def infonce(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """InfoNCE (two views) and NT-Xent (labels), as pytorch-metric-learning ``NTXentLoss`` (cosine similarity).

    s = cos / τ;  per positive pair (a, p): ℓ = -log(e^{s_ap} / (e^{s_ap} + Σ_{n ∉ class(a)} e^{s_an})
    + tiny) (tiny = finfo(dtype).tiny, as pytorch-metric-learning), each pair shifted by its own
    max(s_ap, max_n s_an).  infonce, two views (embeddings, ref_emb): rows i of both are the positives, as
    ``SelfSupervisedLoss(NTXentLoss(), symmetric)``; ntxent, one batch with labels (optax ntxent).
    Shapes: embeddings (N, d), ref_emb (N, d) or labels (N,); elements: one per positive pair.
    """
    sim, pos, neg = _ntxent_matrix(xp, inputs, params)
    minus_inf = xp.full_like(sim, -math.inf)
    has_neg = xp.any(neg, axis=1, keepdims=True)
    neg_max = stop_gradient(xp.max(xp.where(neg, sim, minus_inf), axis=1, keepdims=True))
    neg_max = xp.where(has_neg, neg_max, xp.zeros_like(neg_max))
    neg_sum = xp.sum(xp.where(neg, xp.exp(sim - neg_max), xp.zeros_like(sim)), axis=1, keepdims=True)
    shift = stop_gradient(xp.maximum(sim, xp.where(has_neg, neg_max, minus_inf[:, :1])))
    numerator = xp.exp(sim - shift)
    denominator = numerator + xp.where(has_neg, xp.exp(neg_max - shift), xp.zeros_like(shift)) * neg_sum
    tiny = float(xp.finfo(sim.dtype).tiny)
    per_pair = -xp.log(numerator / denominator + tiny)
    return Terms(per_pair[pos])


def supcon(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Supervised contrastive loss, as pytorch-metric-learning ``SupConLoss`` (cosine similarity).

    s = cos / τ;  log p_aj = s_aj - log Σ_{k ≠ a} e^{s_ak};  ℓ_a = -Σ_{p ∈ P(a)} log p_ap / (|P(a)| + tiny),
    P(a) the other samples of a's class; anchors without a positive give 0 and are left out of the mean.
    Shapes: embeddings (N, d), labels (N,); elements (N,), one per anchor.
    """
    x = _normalize(xp, inputs["embeddings"])
    lab = _labels_vector(xp, inputs["labels"])
    n = x.shape[0]
    sim = (x @ xp.matrix_transpose(x)) / params["temperature"]
    sim = sim - stop_gradient(xp.max(sim, axis=1, keepdims=True))
    others = ~xp.eye(n, dtype=xp.bool)
    pos = (lab[:, None] == lab[None, :]) & others
    top = stop_gradient(xp.max(xp.where(others, sim, xp.full_like(sim, -math.inf)), axis=1, keepdims=True))
    log_denominator = top + xp.log(
        xp.sum(xp.where(others, xp.exp(sim - top), xp.zeros_like(sim)), axis=1, keepdims=True)
    )
    log_prob = sim - log_denominator
    pos_f = xp.astype(pos, sim.dtype)
    count = xp.sum(pos_f, axis=1)
    tiny = float(xp.finfo(sim.dtype).tiny)
    losses = -xp.sum(xp.where(pos, log_prob, xp.zeros_like(sim)), axis=1) / (count + tiny)
    return Terms(losses, weights=xp.astype(count > 0, sim.dtype))


def _validate_labelled_batch(inputs: Inputs, sources: Sources) -> None:
    """Embeddings N x d and one whole-number label per row, with a positive and a negative pair
    (pytorch-metric-learning returns 0 without them)."""
    _checks.non_empty(inputs, sources)
    _checks.ndim_in(inputs, sources, "embeddings", (2,), "an N x d matrix of embeddings, one per row")
    n = inputs["embeddings"].shape[0]
    labels = inputs["labels"]
    src = sources.get("labels", "labels")
    if labels.size != n or (labels.ndim > 1 and labels.shape[1:] != (1,)):
        raise InputError(
            f"labels has shape {_checks._fmt_shape(labels.shape)} but embeddings has {n} rows; one label per row",
            source=src,
        )
    flat = labels.reshape(-1)
    _checks.fail_at(sources, "labels", flat, flat != np.round(flat), "a whole-number class label")
    values, counts = np.unique(flat, return_counts=True)
    if not np.any(counts > 1):
        raise InputError(
            "no two rows share a label, so there is no positive pair (pytorch-metric-learning returns 0)", source=src
        )
    if values.size < 2:
        raise InputError(
            "every row has the same label, so there is no negative pair (pytorch-metric-learning returns 0)",
            source=src,
        )


def _validate_infonce(inputs: Inputs, params: Params, sources: Sources) -> None:
    """Two views of the same N samples, N x d each, N >= 2 (a negative pair)."""
    _checks.non_empty(inputs, sources)
    _checks.ndim_in(inputs, sources, "embeddings", (2,), "an N x d matrix of embeddings, one per row")
    x, ref = inputs["embeddings"], inputs["ref_emb"]
    if ref.shape != x.shape:
        hint = "; for one batch with labels use the loss ntxent" if ref.ndim == 1 else ""
        raise InputError(
            f"embeddings has shape {_checks._fmt_shape(x.shape)} ({sources.get('embeddings', 'embeddings')}) but "
            f"ref_emb has shape {_checks._fmt_shape(ref.shape)} ({sources.get('ref_emb', 'ref_emb')}); the two views "
            f"must match row for row{hint}"
        )
    if x.shape[0] < 2:
        raise InputError(
            "two views of 1 sample have no negative pair; give at least 2 rows",
            source=sources.get("embeddings", "embeddings"),
        )


def _validate_ntxent(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_labelled_batch(inputs, sources)


def _validate_supcon(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_labelled_batch(inputs, sources)


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


def _dcos_f(u: np.ndarray, v: np.ndarray, eps: float) -> tuple[float, np.ndarray]:
    """cos(u, v) as torch computes it and its gradient in u: v/(Nu Nv) - (u·v) u/(Nu² Nv ‖u‖), where
    N = max(‖·‖, eps) is clamped for the value only (ATen cosine_similarity)."""
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    cu, cv = max(nu, eps), max(nv, eps)
    dot = float(np.dot(u, v))
    grad = v / (cu * cv) - (dot / (cu * cu * cv)) * (u / nu if nu > 0 else np.zeros_like(u))
    return dot / (cu * cv), grad


def _triplet_cosine_chain(ev: Any, a: np.ndarray, p: np.ndarray, n: np.ndarray, name: str, row: int, col: int):
    eps = ev.params["cosine_eps"]
    cos_ap, g_ap_a = _dcos_f(a[row], p[row], eps)
    cos_an, g_an_a = _dcos_f(a[row], n[row], eps)
    _, g_ap_p = _dcos_f(p[row], a[row], eps)
    _, g_an_n = _dcos_f(n[row], a[row], eps)
    hinge = (1.0 - cos_ap) - (1.0 - cos_an) + ev.params["margin"]
    active = 1.0 if hinge > 0 else 0.0
    local_d = {"anchor": -g_ap_a[col] + g_an_a[col], "positive": -g_ap_p[col], "negative": g_an_n[col]}[name]
    fwd = [("d(a, p) = 1 - cos(a, p)", 1.0 - cos_ap), ("d(a, n) = 1 - cos(a, n)", 1.0 - cos_an), ("hinge", hinge)]
    formula, outer = outer_step(ev, a.shape[0])
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂(hinge)", "1 if violated else 0", active),
        (
            f"∂(hinge)/∂{name}_k",
            "-∂cos(a, p)/∂x_k + ∂cos(a, n)/∂x_k, ∂cos(u, v)/∂u = v/(‖u‖‖v‖) - cos·u/‖u‖²",
            local_d,
        ),
    ]


def triplet_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """No swap; p = 2 (euclidean): ∂ℓ/∂a = (a - p + ε)/d_ap - (a - n + ε)/d_an while the margin is
    violated; cosine: through ∂cos(u, v)/∂u."""
    if ev.params["swap"] or (ev.params["distance"] == "euclidean" and ev.params["p"] != 2):
        return None
    a, p, n = (_np_rows(inputs[k]) for k in ("anchor", "positive", "negative"))
    row, col = _row_col(inputs[name], index)
    if ev.params["distance"] == "cosine":
        return _triplet_cosine_chain(ev, a, p, n, name, row, col)
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


def dpo_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """ℓᵢ(Δᵢ), Δᵢ = (cᵢ - rᵢ) - (ref_cᵢ - ref_rᵢ): ∂L/∂ℓᵢ · ∂ℓᵢ/∂Δᵢ · ∂Δᵢ/∂(cᵢ or rᵢ)."""
    if name not in ("chosen_logps", "rejected_logps"):
        return None
    i = index[0]
    c, r, rc, rr = (float(inputs[k].reshape(-1)[i]) for k in _DPO_LOGPS)
    prm = ev.params
    beta, ls, kind = prm["beta"], prm["label_smoothing"], prm["loss_type"]
    delta = (c - r) if prm["reference_free"] else (c - r) - (rc - rr)
    z = beta * delta
    if kind == "sigmoid":
        ell = (1 - ls) * softplus_f(-z) + ls * softplus_f(z)
        step = ("-(1 - ε) β σ(-βΔ) + ε β σ(βΔ)", -(1 - ls) * beta * sigmoid_f(-z) + ls * beta * sigmoid_f(z))
    elif kind == "robust":
        ell = ((1 - ls) * softplus_f(-z) - ls * softplus_f(z)) / (1 - 2 * ls)
        step = (
            "(-(1 - ε) β σ(-βΔ) - ε β σ(βΔ)) / (1 - 2ε)",
            (-(1 - ls) * beta * sigmoid_f(-z) - ls * beta * sigmoid_f(z)) / (1 - 2 * ls),
        )
    elif kind == "hinge":
        ell = max(0.0, 1 - z)
        step = ("-β if βΔ < 1 else 0", -beta if z < 1 else 0.0)
    else:
        ell = (delta - 1 / (2 * beta)) ** 2
        step = ("2 (Δ - 1/(2β))", 2 * (delta - 1 / (2 * beta)))
    fwd = [("Δ = (c - r) - (ref_c - ref_r)" if not prm["reference_free"] else "Δ = c - r", delta), ("ℓ", ell)]
    formula, outer = outer_step(ev, inputs["chosen_logps"].size)
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂Δᵢ", *step),
        (f"∂Δᵢ/∂{name}", "+1 for chosen_logps, -1 for rejected_logps", 1.0 if name == "chosen_logps" else -1.0),
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
            Param(
                "margin", "float", 1.0, "required gap between d(a, n) and d(a, p) (torch: > 0)", low=0.0, low_open=True
            ),
            Param(
                "distance",
                "choice",
                "euclidean",
                "euclidean: torch pairwise_distance (TripletMarginLoss); cosine: 1 - cosine_similarity "
                "(TripletMarginWithDistanceLoss)",
                choices=("euclidean", "cosine"),
            ),
            Param("p", "float", 2.0, "norm degree of the euclidean distance", low=0.0, low_open=True),
            Param("eps", "float", 1e-6, "added to the difference before the euclidean norm (as torch)", low=0.0),
            Param("cosine_eps", "float", 1e-8, "cosine_similarity's floor on each norm (distance=cosine)", low=0.0),
            Param("swap", "bool", False, "use min(d(a, n), d(p, n)) as the negative distance (Balntas et al.)"),
        ),
        formula="euclidean: d(a, b) = ‖a - b + eps‖_p;  cosine: d(a, b) = 1 - a·b / (max(‖a‖, ε) max(‖b‖, ε)), "
        "ε = cosine_eps;  ℓᵢ = max(0, d(aᵢ, pᵢ) - d(aᵢ, nᵢ) + margin);  L = mean ℓ  "
        "(a 1-D input of d values is one triplet of d-vectors, as torch.nn.functional.triplet_margin_loss "
        "reads 1-D tensors, not d triplets)",
        derivative="for an active triplet (ℓᵢ > 0), p = 2: ∂ℓᵢ/∂pᵢ = -(aᵢ - pᵢ + eps)/d(aᵢ, pᵢ), "
        "∂ℓᵢ/∂nᵢ = (aᵢ - nᵢ + eps)/d(aᵢ, nᵢ), ∂ℓᵢ/∂aᵢ = -∂ℓᵢ/∂pᵢ - ∂ℓᵢ/∂nᵢ; cosine: ∂cos(u, v)/∂u = "
        "v/(‖u‖‖v‖) - cos(u, v) u/‖u‖² (the eps floor changes the value only, as torch); 0 when inactive",
        convention="torch.nn.TripletMarginLoss(margin=1.0, p=2, eps=1e-6, swap=False) "
        "(pairwise_distance adds eps to the difference); distance=cosine: torch.nn.TripletMarginWithDistanceLoss("
        "distance_function=lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1), margin=1.0, swap=False)",
        differs="optax triplet_margin_loss and many papers put eps elsewhere (or nowhere) and use margins "
        "of 0.05-0.2 on normalised embeddings; FaceNet uses squared distances; pytorch-metric-learning "
        "TripletMarginLoss mines every triplet of a labelled batch and averages the non-zero ones. "
        "torch's cosine_similarity floors each norm at eps without a gradient through the floor "
        "(F.normalize floors with one).",
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
    define(
        name="dpo",
        chain=Custom(dpo_chain),
        example=Example(("dpo_logps.csv",), what="8 preference pairs: policy and reference log-probabilities"),
        aliases=("dpo-loss", "direct-preference-optimization"),
        family=FAMILY,
        summary="direct preference optimisation (TRL DPOTrainer) on chosen/rejected log-probabilities",
        inputs=(
            Input("chosen_logps", "N", "policy log-probability log π(y_chosen | x) of each pair's chosen response"),
            Input("rejected_logps", "N", "policy log-probability of each pair's rejected response"),
            Input(
                "ref_chosen_logps",
                "N",
                "reference-model log-probability of the chosen response (frozen: no gradient, as TRL's no_grad)",
                differentiable=False,
            ),
            Input(
                "ref_rejected_logps",
                "N",
                "reference-model log-probability of the rejected response (frozen: no gradient)",
                differentiable=False,
            ),
        ),
        params=(
            Param(
                "beta", "float", 0.1, "β: strength of the implicit KL penalty (TRL default 0.1)", low=0.0, low_open=True
            ),
            Param(
                "loss_type",
                "choice",
                "sigmoid",
                "sigmoid (DPO / cDPO), robust (rDPO), hinge (SLiC), ipo (IPO)",
                choices=("sigmoid", "robust", "hinge", "ipo"),
            ),
            Param(
                "label_smoothing",
                "float",
                0.0,
                "ε: probability that a preference label is flipped (sigmoid, robust)",
                low=0.0,
                high=0.5,
            ),
            Param("reference_free", "bool", False, "ignore the reference log-ratio (a uniform reference model)"),
        ),
        formula="Δᵢ = (chosenᵢ - rejectedᵢ) - (ref_chosenᵢ - ref_rejectedᵢ);  sigmoid: ℓᵢ = (1 - ε) softplus(-βΔᵢ) "
        "+ ε softplus(βΔᵢ);  robust: ℓᵢ = ((1 - ε) softplus(-βΔᵢ) - ε softplus(βΔᵢ)) / (1 - 2ε);  "
        "hinge: ℓᵢ = max(0, 1 - βΔᵢ);  ipo: ℓᵢ = (Δᵢ - 1/(2β))²;  L = mean ℓ",
        derivative="∂ℓᵢ/∂chosenᵢ = -∂ℓᵢ/∂rejectedᵢ = ∂ℓᵢ/∂Δᵢ;  sigmoid: ∂ℓᵢ/∂Δᵢ = -(1 - ε) β σ(-βΔᵢ) + ε β σ(βΔᵢ);  "
        "hinge: -β while βΔᵢ < 1, else 0;  ipo: 2 (Δᵢ - 1/(2β));  the reference inputs get none (frozen)",
        convention="TRL DPOTrainer.dpo_loss (trl/trainer/dpo_trainer.py; beta=0.1, loss_type='sigmoid', "
        "label_smoothing=0, reference_free=False), inputs in its order: chosen_logps, rejected_logps, "
        "ref_chosen_logps, ref_rejected_logps; sigmoid with ε = 0 is BPR on the beta-scaled log-ratio "
        "differences: bpr(pos = β(chosen - ref_chosen), neg = β(rejected - ref_rejected))",
        differs="TRL computes the log-probabilities as sums of token log-probs, except for ipo, which it feeds "
        "per-token averages (so give averages for ipo); the newest TRL moves label smoothing from sigmoid to "
        "robust only; TRL's reported rewards are β(policy - reference) log-ratios, as here.",
        when="Preference fine-tuning of a language model against a frozen reference, from (chosen, rejected) "
        "pairs; check that the loss starts near log 2 (≈ 0.693) when policy = reference.",
        fn=dpo,
        validate=_validate_dpo,
        report=_report_dpo,
        element_note="per preference pair",
        mean_note="mean over pairs",
        references=(
            "Rafailov et al. 2023, Direct Preference Optimization",
            "Azar et al. 2023, A General Theoretical Paradigm to Understand Learning from Human Preferences (IPO)",
            "Mitchell 2023, A note on DPO with noisy preferences (cDPO)",
            "Chowdhury et al. 2024, Provably Robust DPO (robust)",
        ),
    ),
    define(
        name="infonce",
        example=Example(
            ("infonce_view1.csv", "infonce_view2.csv"), what="two augmented views of 8 samples, 4-d embeddings"
        ),
        aliases=("info-nce", "simclr", "nt-xent-views"),
        family=FAMILY,
        summary="InfoNCE / NT-Xent contrastive loss on two views of the same samples (SimCLR)",
        inputs=(
            Input("embeddings", "N x d", "embeddings of the first view, one sample per row"),
            Input("ref_emb", "N x d", "embeddings of the second view: its row i is the positive of row i"),
        ),
        params=(
            Param("temperature", "float", 0.07, "τ dividing the cosine similarities", low=0.0, low_open=True),
            Param(
                "symmetric",
                "bool",
                True,
                "every row of both views is an anchor (SimCLR); false: only the rows of embeddings, against "
                "ref_emb (SelfSupervisedLoss's symmetric)",
            ),
        ),
        formula="s_ij = cos(x_i, x_j)/τ over the 2N rows of both views;  per anchor a with positive p (its other "
        "view): ℓ_a = -log(e^{s_ap} / (e^{s_ap} + Σ_{n ≠ a, p} e^{s_an}) + tiny);  L = mean over the 2N anchors  "
        "(symmetric=false: the N rows of embeddings against the N of ref_emb, positive i ↔ i)",
        derivative="∂ℓ_a/∂s_ap = -(1 - q_ap), ∂ℓ_a/∂s_an = q_an for each negative n (q: the softmax over the "
        "positive and the negatives), then through s = x̂_a·x̂_j/τ and x̂ = x/‖x‖",
        convention="pytorch-metric-learning SelfSupervisedLoss(NTXentLoss(temperature=0.07), symmetric=True) "
        "with its CosineSimilarity (F.normalize, eps 1e-12)",
        differs="optax ntxent takes the two views as one batch with labels 0..N-1 twice (the loss ntxent here) "
        "and gives the same mean, its cosine_similarity flooring norms at finfo.eps (no gradient below it) and "
        "without the tiny inside the log; SimCLR's paper uses τ = 0.5; CLIP and MoCo average one direction "
        "only (symmetric=false).",
        when="Self-supervised contrastive learning (SimCLR, MoCo) from two augmentations of each sample.",
        fn=infonce,
        reduction=PAIR_MEAN,
        validate=_validate_infonce,
        element_note="per anchor (row of the first view, then of the second)",
        mean_note="mean over anchors",
        references=(
            "Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations (SimCLR)",
            "van den Oord et al. 2018, Representation Learning with Contrastive Predictive Coding (InfoNCE)",
        ),
    ),
    define(
        name="ntxent",
        example=Example(("ntxent_batch.json",), what="10 labelled 4-d embeddings of 3 classes"),
        aliases=("nt-xent", "ntxent-loss"),
        family=FAMILY,
        summary="NT-Xent contrastive loss on one batch of labelled embeddings (equal labels are positives)",
        inputs=(
            Input("embeddings", "N x d", "one embedding per row"),
            Input(
                "labels", "N", "class of each row: rows with the same label are positive pairs", differentiable=False
            ),
        ),
        params=(Param("temperature", "float", 0.07, "τ dividing the cosine similarities", low=0.0, low_open=True),),
        formula="s_ij = cos(x_i, x_j)/τ;  per positive pair (a, p), p ≠ a with a's label: ℓ_ap = -log(e^{s_ap} / "
        "(e^{s_ap} + Σ_{n: label_n ≠ label_a} e^{s_an}) + tiny);  L = mean over positive pairs",
        derivative="∂ℓ_ap/∂s_ap = -(1 - q_ap), ∂ℓ_ap/∂s_an = q_an for each negative n (q: the softmax over the "
        "positive and the negatives), then through s = x̂_a·x̂_j/τ and x̂ = x/‖x‖",
        convention="pytorch-metric-learning NTXentLoss(temperature=0.07)(embeddings, labels) with its "
        "CosineSimilarity (F.normalize, eps 1e-12) and MeanReducer over positive pairs",
        differs="optax ntxent(embeddings, labels, temperature=0.07) computes the same pairs and mean, its "
        "cosine_similarity flooring norms at finfo.eps (no gradient below it) instead of F.normalize's 1e-12 "
        "and without the tiny inside the log. Other positives of the anchor stay out of each pair's "
        "denominator (SupCon's denominator keeps them).",
        when="Contrastive learning from class labels, or from two views written as one batch with labels.",
        fn=infonce,
        reduction=PAIR_MEAN,
        validate=_validate_ntxent,
        element_note="per positive pair (anchor, positive), in row-major order",
        mean_note="mean over positive pairs",
        references=(
            "Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations (SimCLR)",
        ),
    ),
    define(
        name="supcon",
        example=Example(("supcon_batch.json",), what="10 labelled 4-d embeddings of 3 classes"),
        aliases=("supcon-loss", "supervised-contrastive"),
        family=FAMILY,
        summary="supervised contrastive loss (SupCon) on labelled embeddings",
        inputs=(
            Input("embeddings", "N x d", "one embedding per row"),
            Input(
                "labels", "N", "class of each row: the other rows of its class are its positives", differentiable=False
            ),
        ),
        params=(Param("temperature", "float", 0.1, "τ dividing the cosine similarities", low=0.0, low_open=True),),
        formula="s_ij = cos(x_i, x_j)/τ;  log p_aj = s_aj - log Σ_{k ≠ a} e^{s_ak};  ℓ_a = -Σ_{p ∈ P(a)} log p_ap / "
        "|P(a)|, P(a) = the other rows with a's label;  L = Σ ℓ_a / #{a: P(a) ≠ ∅}",
        derivative="∂ℓ_a/∂s_aj = q_aj - [j ∈ P(a)]/|P(a)| for j ≠ a (q: the softmax over k ≠ a), plus the terms "
        "where a is another anchor's positive or negative; then through s = x̂_a·x̂_j/τ and x̂ = x/‖x‖",
        convention="pytorch-metric-learning SupConLoss(temperature=0.1) with its CosineSimilarity and "
        "AvgNonZeroReducer (anchors without a positive give 0 and are not averaged)",
        differs="The Khosla et al. reference (HobbitLong/SupContrast SupConLoss) takes features of shape "
        "[bsz, n_views, d] already normalised (it does not normalise), multiplies by temperature/base_temperature "
        "(0.07/0.07 = 1 by default) and averages over every anchor (an anchor without a positive gives NaN "
        "there, or 0 in later versions).",
        when="Supervised representation learning: pull every same-class pair together at once.",
        fn=supcon,
        reduction=ANCHOR_MEAN,
        validate=_validate_supcon,
        element_note="per anchor (0 for an anchor without a positive)",
        mean_note="mean over anchors with a positive",
        references=("Khosla et al. 2020, Supervised Contrastive Learning",),
    ),
]
