"""Cases for the embedding, ranking and preference losses (losscli/losses/metric.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Data is kept away from the kinks: hinge corners of triplet and DPO's hinge, swap ties.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


# ----------------------------------------------------------------------------- triplet, cosine distance


def _cosine_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    na = np.maximum(np.linalg.norm(a, axis=-1), eps)
    nb = np.maximum(np.linalg.norm(b, axis=-1), eps)
    return 1.0 - np.sum(a * b, axis=-1) / (na * nb)


def _cosine_triplets(rng: np.random.Generator, shape: tuple[int, ...], margin: float, swap: bool):
    a = rng.normal(size=shape)
    pos = a + rng.normal(0, 0.7, size=shape)
    neg = rng.normal(size=shape)
    for _ in range(200):  # resample rows near a hinge corner or a swap tie
        d_an, d_pn = _cosine_distance(a, neg), _cosine_distance(pos, neg)
        eff = np.minimum(d_an, d_pn) if swap else d_an
        bad = np.atleast_1d(
            (np.abs(_cosine_distance(a, pos) - eff + margin) < 0.05) | (swap & (np.abs(d_an - d_pn) < 0.05))
        )
        if not bad.any():
            break
        if len(shape) == 1:
            neg = rng.normal(size=shape)
        else:
            neg[bad] = rng.normal(size=(int(bad.sum()), shape[1]))
    return {"anchor": a, "positive": pos, "negative": neg}


def triplet_cosine(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _cosine_triplets(rng, (8, 4), 1.0, False)


def triplet_cosine_swap(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _cosine_triplets(rng, (8, 3), 0.3, True)


def triplet_cosine_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _cosine_triplets(rng, (5,), 1.0, False)


def triplet_euclidean_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One triplet of 6-vectors (torch reads 1-D tensors as one embedding), active: hinge > 0.2."""
    a = rng.normal(size=6)
    return {"anchor": a, "positive": a + rng.normal(0, 0.8, size=6), "negative": a + rng.normal(0, 0.3, size=6)}


# ----------------------------------------------------------------------------------------- DPO


def _dpo(rng: np.random.Generator, n: int = 8, spread: float = 3.0) -> dict[str, np.ndarray]:
    ref_c, ref_r = -rng.uniform(20, 120, n), -rng.uniform(20, 120, n)
    return {
        "chosen_logps": ref_c + rng.normal(1.0, spread, n),
        "rejected_logps": ref_r + rng.normal(-1.0, spread, n),
        "ref_chosen_logps": ref_c,
        "ref_rejected_logps": ref_r,
    }


def dpo_pairs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _dpo(rng)


def dpo_hinge(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """beta = 0.5: βΔ kept at least 0.1 away from the hinge corner βΔ = 1."""
    d = _dpo(rng)
    delta = (d["chosen_logps"] - d["rejected_logps"]) - (d["ref_chosen_logps"] - d["ref_rejected_logps"])
    near = np.abs(0.5 * delta - 1.0) < 0.1
    d["chosen_logps"][near] += 1.0
    return d


def dpo_average_logps(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """IPO is fed per-token average log-probabilities (TRL divides by the completion length)."""
    return {k: v / 40.0 for k, v in _dpo(rng).items()}


# ----------------------------------------------------------------------------- InfoNCE, SupCon


def two_views(rng: np.random.Generator) -> dict[str, np.ndarray]:
    z = rng.normal(size=(6, 4))
    return {"embeddings": z + rng.normal(0, 0.5, size=(6, 4)), "ref_emb": z + rng.normal(0, 0.5, size=(6, 4))}


def labelled_embeddings(rng: np.random.Generator) -> dict[str, np.ndarray]:
    labels = np.array([0, 1, 0, 2, 1, 0, 3, 2, 1])  # class 3 has no positive (an anchor left out)
    centers = rng.normal(size=(4, 3))
    return {"embeddings": centers[labels] + rng.normal(0, 0.7, size=(9, 3)), "labels": labels.astype(float)}


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "triplet": [
        ("unbatched", [], triplet_euclidean_unbatched),
        ("cosine", ["distance=cosine"], triplet_cosine),
        ("cosine_swap", ["distance=cosine", "swap=true", "margin=0.3"], triplet_cosine_swap),
        ("cosine_unbatched_eps", ["distance=cosine", "cosine_eps=1e-3"], triplet_cosine_unbatched),
    ],
    "dpo": [
        ("sigmoid", [], dpo_pairs),
        ("cdpo", ["beta=0.2", "label_smoothing=0.1"], dpo_pairs),
        ("robust", ["label_smoothing=0.2", "loss_type=robust"], dpo_pairs),
        ("hinge", ["beta=0.5", "loss_type=hinge"], dpo_hinge),
        ("ipo", ["beta=0.3", "loss_type=ipo"], dpo_average_logps),
        ("reference_free", ["reference_free=true", "beta=0.05"], dpo_pairs),
    ],
    "infonce": [("views", [], two_views), ("one_direction", ["symmetric=false", "temperature=0.2"], two_views)],
    "ntxent": [("labels", [], labelled_embeddings), ("t0.5", ["temperature=0.5"], labelled_embeddings)],
    "supcon": [("default", [], labelled_embeddings), ("t0.5", ["temperature=0.5"], labelled_embeddings)],
}

# Batch losses: every term depends on every embedding through a softmax over the batch.
NO_CHAIN = {
    "infonce": "each anchor's softmax runs over both views: autograd and the finite difference only",
    "ntxent": "each pair's softmax runs over the whole batch: autograd and the finite difference only",
    "supcon": "each anchor's softmax runs over the whole batch: autograd and the finite difference only",
}
# DPO's chain (four inputs, two of them frozen) is checked against autograd by tests/test_explain.py.
OTHER_ARITY_CHAINS = {"dpo"}
