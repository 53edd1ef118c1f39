"""Cases for issue 4's losses, merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Data is seeded and kept away from the points where a loss is not differentiable (hinge
corners of triplet/contrastive, ties of triplet's swap, zero residuals of MAE).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def away_from_zero(rng: np.random.Generator, shape, low: float = 0.1, high: float = 2.0) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


# ------------------------------------------------------------------------- generative


def gan_unequal(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"real": rng.normal(1.0, 1.5, size=7), "fake": rng.normal(-1.0, 1.5, size=5)}


def gan_equal(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"real": rng.normal(0.5, 2.0, size=6), "fake": rng.normal(-0.5, 2.0, size=6)}


def gan_fake(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"fake": rng.normal(-0.5, 2.0, size=8)}


def critic_unequal(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"real": rng.normal(2.0, 1.0, size=6), "fake": rng.normal(-1.0, 1.0, size=9)}


def recon_real(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.normal(size=(5, 4))
    return {"preds": t + away_from_zero(rng, (5, 4)), "targets": t}


def recon_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "preds": rng.uniform(0.05, 0.95, size=(4, 6)),
        "targets": np.where(
            rng.uniform(size=(4, 6)) < 0.3, rng.uniform(size=(4, 6)), rng.integers(0, 2, size=(4, 6)).astype(float)
        ),
    }


def recon_vector(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.normal(size=9)
    return {"preds": t + away_from_zero(rng, 9), "targets": t}


def mmd_points(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"x": rng.normal(0.0, 1.0, size=(5, 3)), "y": rng.normal(0.7, 1.3, size=(6, 3))}


def mmd_vector(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"x": rng.normal(0.0, 1.0, size=6), "y": rng.normal(1.0, 1.0, size=4)}


# --------------------------------------------------------------------------- sequence


def ctc_single(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(8, 5))),
        "targets": np.array([2.0, 2.0, 4.0]),
    }  # a repeat needs a blank between


def ctc_batch_lengths(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(9, 3, 5))),
        # beyond target_lengths the values are ignored (7 and 3 are not labels there)
        "targets": np.array([[1.0, 3.0, 3.0, 2.0], [4.0, 1.0, 7.0, 7.0], [2.0, 3.0, 3.0, 0.0]]),
        "input_lengths": np.array([9.0, 6.0, 5.0]),
        "target_lengths": np.array([4.0, 2.0, 0.0]),
    }


def ctc_batch_padding(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(7, 2, 4))),
        "targets": np.array([[1.0, 2.0, 3.0], [3.0, -1.0, -1.0]]),
    }


def ctc_logits_blank_last(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "log_probs": rng.normal(0, 2.0, size=(6, 2, 4)),
        "targets": np.array([[0.0, 1.0, 1.0], [2.0, 0.0, 3.0]]),  # 3 = blank = padding
        "input_lengths": np.array([6.0, 4.0]),
    }


def ctc_impossible(rng: np.random.Generator) -> dict[str, np.ndarray]:
    # sequence 2: 1,1,1 needs 5 frames (blanks between repeats) but has 4;
    # sequence 3: 3 labels in 2 frames
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(6, 3, 4))),
        "targets": np.array([[1.0, 2.0, 0.0], [1.0, 1.0, 1.0], [3.0, 2.0, 1.0]]),
        "input_lengths": np.array([6.0, 4.0, 2.0]),
        "target_lengths": np.array([2.0, 3.0, 3.0]),
    }


def ctc_concatenated(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """torch's 1-D targets: the labels of 3 sequences one after another, cut by target_lengths."""
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(8, 3, 5))),
        "targets": np.array([1.0, 2.0, 2.0, 3.0, 4.0, 1.0, 3.0]),
        "input_lengths": np.array([8.0, 6.0, 7.0]),
        "target_lengths": np.array([3.0, 1.0, 3.0]),
    }


def ctc_concatenated_edge(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Concatenated, with an empty target on no frames (loss 0, as torch) and an impossible one
    (3 labels in 2 frames: zero_infinity)."""
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(5, 3, 4))),
        "targets": np.array([2.0, 1.0, 3.0, 1.0, 2.0]),
        "input_lengths": np.array([5.0, 0.0, 2.0]),
        "target_lengths": np.array([2.0, 0.0, 3.0]),
    }


def ctc_unbatched_lengths(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sequence without a batch axis (T x C), with its lengths given (torch's unbatched form)."""
    return {
        "log_probs": log_softmax(rng.normal(0, 1.5, size=(7, 4))),
        "targets": np.array([3.0, 1.0]),
        "input_lengths": np.array([6.0]),
        "target_lengths": np.array([2.0]),
    }


def ctc_concatenated_blank_last(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "log_probs": rng.normal(0, 2.0, size=(6, 2, 5)),
        "targets": np.array([0.0, 1.0, 1.0, 3.0, 2.0]),
        "target_lengths": np.array([3.0, 2.0]),
    }


def seq_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.integers(0, 6, size=(3, 5)).astype(float)
    t[0, 4] = t[1, 3:] = -100.0  # right padding
    return {"preds": rng.normal(0, 1.5, size=(3, 5, 6)), "targets": t}


def seq_flat(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.integers(0, 5, size=12).astype(float)
    t[[3, 7, 8]] = -100.0
    return {"preds": rng.normal(0, 1.5, size=(12, 5)), "targets": t}


def seq_pad_zero(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.integers(1, 4, size=(2, 6)).astype(float)
    t[0, 4:] = t[1, 2:] = 0.0
    return {"preds": rng.normal(0, 1.5, size=(2, 6, 4)), "targets": t}


# ----------------------------------------------------------------------------- metric


def contrastive_pairs(rng: np.random.Generator, margin: float = 1.0) -> dict[str, np.ndarray]:
    n, d = 10, 3
    x1 = rng.normal(size=(n, d))
    direction = rng.normal(size=(n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    # distances on both sides of the margin, never within 0.1 of it (the hinge corner)
    dist = np.where(rng.uniform(size=n) < 0.5, rng.uniform(0.1, 0.9, size=n), rng.uniform(1.1, 2.0, size=n))
    dist = dist * margin
    x2 = x1 + dist[:, None] * direction
    label = np.array([1, 0] * (n // 2), dtype=float)
    x2[0] = x1[0]  # an identical similar pair: D = 0, the gradient must stay finite
    return {"x1": x1, "x2": x2, "label": label}


def contrastive_margin2(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return contrastive_pairs(rng, margin=2.0)


def _triplets(rng: np.random.Generator, n: int, d: int, margin: float, p: float, swap: bool):
    def dist(a, b):
        return np.sum(np.abs(a - b + 1e-6) ** p, axis=1) ** (1.0 / p)

    a = rng.normal(size=(n, d))
    pos = a + rng.normal(0, 0.6, size=(n, d))
    neg = a + rng.normal(0, 0.9, size=(n, d))
    for _ in range(100):  # resample rows sitting near a hinge corner or a swap tie
        d_an = dist(a, neg)
        d_pn = dist(pos, neg)
        eff = np.minimum(d_an, d_pn) if swap else d_an
        h = dist(a, pos) - eff + margin
        bad = (np.abs(h) < 0.05) | (swap & (np.abs(d_an - d_pn) < 0.05))
        if not bad.any():
            break
        neg[bad] = a[bad] + rng.normal(0, 0.9, size=(int(bad.sum()), d))
    return {"anchor": a, "positive": pos, "negative": neg}


def triplet_default(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _triplets(rng, 8, 4, 1.0, 2.0, False)


def triplet_p1_swap(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _triplets(rng, 8, 3, 0.5, 1.0, True)


def triplet_p3(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _triplets(rng, 6, 3, 1.0, 3.0, False)


def bpr_pairs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"pos": rng.normal(1.0, 1.5, size=10), "neg": rng.normal(-0.5, 1.5, size=10)}


def bpr_k_negatives(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"pos": rng.normal(1.0, 1.5, size=6), "neg": rng.normal(-0.5, 1.5, size=(6, 3))}


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "gan-discriminator": [("unequal", [], gan_unequal), ("equal", [], gan_equal)],
    "gan-generator": [("non_saturating", [], gan_fake), ("minimax", ["mode=minimax"], gan_fake)],
    "wasserstein-critic": [("unequal", [], critic_unequal), ("equal", [], gan_equal)],
    "wasserstein-generator": [("default", [], gan_fake)],
    "reconstruction": [
        ("mse", [], recon_real),
        ("mae_mean", ["kind=mae", "feature_reduction=mean"], recon_real),
        ("bce", ["kind=bce"], recon_probs),
        ("mse_vector", [], recon_vector),
    ],
    "mmd": [
        ("biased", ["gamma=0.5"], mmd_points),
        ("unbiased", ["gamma=0.2", "estimator=unbiased"], mmd_points),
        ("one_dim", ["gamma=1"], mmd_vector),
    ],
    "ctc": [
        ("single", [], ctc_single),
        ("batch_lengths", [], ctc_batch_lengths),
        ("batch_padding", [], ctc_batch_padding),
        ("logits_blank_last", ["from_logits=true", "blank=3"], ctc_logits_blank_last),
        ("zero_infinity", ["zero_infinity=true"], ctc_impossible),
        ("concatenated", [], ctc_concatenated),
        ("concatenated_edge", ["zero_infinity=true"], ctc_concatenated_edge),
        ("concatenated_logits", ["from_logits=true", "blank=4"], ctc_concatenated_blank_last),
        ("unbatched_lengths", [], ctc_unbatched_lengths),
    ],
    "seq2seq": [
        ("batch", [], seq_batch),
        ("flat_smooth", ["label_smoothing=0.1"], seq_flat),
        ("pad_zero", ["ignore_index=0"], seq_pad_zero),
    ],
    "contrastive": [("margin1", [], contrastive_pairs), ("margin2", ["margin=2"], contrastive_margin2)],
    "triplet": [
        ("default", [], triplet_default),
        ("p1_swap", ["p=1", "swap=true", "margin=0.5"], triplet_p1_swap),
        ("p3", ["p=3"], triplet_p3),
    ],
    "bpr": [("pairs", [], bpr_pairs), ("k_negatives", [], bpr_k_negatives)],
}
