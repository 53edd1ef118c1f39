"""Cases for the classification losses (losscli/losses/classification.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Case ids avoid "vector", "index", "ignored", "weighted" and "probs" (tests/test_losses.py picks its
sample-weight cases by those ids).  Probabilities stay inside Keras's clip [1e-7, 1 - 1e-7].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def _log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def kdim_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Segmentation form: N x C x H x W logits, N x H x W class indices, two positions ignored."""
    t = rng.integers(0, 3, size=(4, 2, 3)).astype(float)
    t[1, 0, 2] = t[3, 1, 1] = -100.0
    return {"preds": rng.normal(0, 1.5, size=(4, 3, 2, 3)), "targets": t}


def kdim_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """N x C x L logits with probability targets of the same shape (rows along axis 1)."""
    t = rng.uniform(0.05, 1, size=(4, 3, 5))
    return {"preds": rng.normal(0, 1.5, size=(4, 3, 5)), "targets": t / t.sum(axis=1, keepdims=True)}


def kdim_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = rng.uniform(0.05, 1, size=(4, 3, 5))
    return {"preds": p / p.sum(axis=1, keepdims=True), "targets": rng.integers(0, 3, size=(4, 5)).astype(float)}


def unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sample: C logits and one class index."""
    return {"preds": rng.normal(0, 1.5, size=5), "targets": np.array([3.0])}


def class_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 1.5, size=(8, 4)), "targets": rng.integers(0, 4, size=8).astype(float)}


def class_logits_some_ignored(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = class_logits(rng)
    d["targets"][[1, 5]] = -100.0
    return d


def unnormalised_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Probabilities whose rows do not sum to 1 (Keras normalises them)."""
    return {"preds": rng.uniform(0.05, 0.95, size=(8, 4)), "targets": rng.integers(0, 4, size=8).astype(float)}


def unnormalised_probs_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.uniform(0.05, 1, size=(6, 4))
    return {"preds": rng.uniform(0.05, 0.95, size=(6, 4)), "targets": t / t.sum(axis=1, keepdims=True)}


def normalised_probs_index(rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = rng.uniform(0.05, 1, size=(8, 4))
    return {"preds": p / p.sum(axis=1, keepdims=True), "targets": rng.integers(0, 4, size=8).astype(float)}


def normalised_probs_onehot(rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = rng.uniform(0.05, 1, size=(6, 4))
    return {"preds": p / p.sum(axis=1, keepdims=True), "targets": np.eye(4)[rng.integers(0, 4, size=6)]}


def class_logits_onehot(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 1.5, size=(6, 4)), "targets": np.eye(4)[rng.integers(0, 4, size=6)]}


def class_logits_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.uniform(0.05, 1, size=(6, 4))
    return {"preds": rng.normal(0, 1.5, size=(6, 4)), "targets": t / t.sum(axis=1, keepdims=True)}


def log_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = class_logits_some_ignored(rng)
    return {"preds": _log_softmax(d["preds"], 1), "targets": d["targets"]}


def log_probs_ignore_two(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ignore_index=2: the -100 targets become 2, so every 2 is ignored."""
    d = log_probs(rng)
    d["targets"][d["targets"] == -100.0] = 2.0
    return d


def log_probs_kdim(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = kdim_logits(rng)
    return {"preds": _log_softmax(d["preds"], 1), "targets": d["targets"]}


def log_probs_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = unbatched(rng)
    return {"preds": _log_softmax(d["preds"], 0), "targets": d["targets"]}


def multilabel_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(5, 3)), "targets": rng.integers(0, 2, size=(5, 3)).astype(float)}


def multilabel_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.uniform(0.05, 0.95, size=(5, 3)), "targets": rng.integers(0, 2, size=(5, 3)).astype(float)}


def logits_wide_targets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """BCEWithLogitsLoss takes any real target (torch does not check them)."""
    return {"preds": rng.normal(0, 2, size=(5, 3)), "targets": rng.uniform(-1.5, 2.5, size=(5, 3))}


def binary_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=10), "targets": rng.integers(0, 2, size=10).astype(float)}


def soft_binary_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(4, 3)), "targets": rng.uniform(0.05, 0.95, size=(4, 3))}


def multilabel_one_sample(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=4), "targets": np.array([1.0, 0.0, 0.0, 1.0])}


def multilabel_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(5, 4)), "targets": rng.uniform(0, 1, size=(5, 4))}


def logits_only(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(6, 4))}


def logits_only_kdim(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(4, 3, 2, 2))}


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "cross-entropy": [
        ("negative_weights", ["weight=-0.5,1,2,0.7"], class_logits_some_ignored),
        ("kdim", [], kdim_logits),
        ("kdim_weighted_smooth", ["weight=0.3,1,2", "label_smoothing=0.1"], kdim_logits),
        ("kdim_probabilities", ["from_logits=false"], kdim_probs),
        # last: tests/test_losses.py::test_cross_entropy_against_sklearn_log_loss takes the last
        # cross-entropy case's data as N x C probabilities with class indices
        ("probabilities_negative_weights", ["from_logits=false", "weight=-0.5,1,2,0.7"], normalised_probs_index),
    ],
    "sparse-cross-entropy": [("kdim", ["weight=1,2,3"], kdim_logits)],
    "nll": [
        ("plain", [], log_probs),
        ("class_weights", ["weight=0.2,1,2,0.7"], log_probs),
        ("negative_weights", ["weight=-0.5,1,2,0.7", "ignore_index=2"], log_probs_ignore_two),
        ("kdim", ["weight=1,0.5,2"], log_probs_kdim),
        ("unbatched", [], log_probs_unbatched),
    ],
    "bce": [("logits_targets_outside_0_1", ["from_logits=true", "pos_weight=0.5,1,3"], logits_wide_targets)],
    "focal": [
        ("gamma_half", ["gamma=0.5"], binary_logits),
        ("gamma_half_soft", ["gamma=0.5", "alpha=0.4"], soft_binary_logits),
    ],
    "categorical-focal": [
        ("keras_default", [], normalised_probs_onehot),
        ("unnormalised_index", ["gamma=1.5"], unnormalised_probs),
        ("logits_smooth", ["from_logits=true", "label_smoothing=0.1"], class_logits_onehot),
        ("alpha_per_class_gamma_half", ["from_logits=true", "alpha=0.1,0.2,0.3,0.4", "gamma=0.5"], class_logits),
    ],
    "poly1": [
        ("default", [], class_logits),
        ("soft_targets", ["epsilon=-1"], class_logits_soft),
        ("onehot", ["epsilon=1"], class_logits_onehot),
    ],
    "z-loss": [
        ("default", [], logits_only),
        ("palm", ["z_loss=1e-4"], logits_only),
        ("kdim", [], logits_only_kdim),
    ],
    "multilabel-soft-margin": [
        ("default", [], multilabel_logits),
        ("class_weights", ["weight=0.5,2,1.5"], multilabel_logits),
        ("soft_targets", [], multilabel_soft),
    ],
}

OTHER_ARITY_CHAINS: set[str] = {"z-loss"}

# Cases of cross-entropy and bce with options the shared torch references in tests/test_losses.py
# (TORCH_REFERENCES) do not pass on (bce's weight and label_smoothing, cross-entropy's normalize,
# its unbatched form and K-dimensional probability targets), and one unbatched sample of
# multilabel-soft-margin (tests/test_reduction.py would cut its C labels as if they were rows): tests/test_family_classification.py
# runs the registry-wide checks (parity, gradient, float32, the explain chain) and the torch or
# Keras reference on them itself.
OWN_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "cross-entropy": [
        ("kdim_soft_smooth", ["weight=0.3,1,2", "label_smoothing=0.05"], kdim_soft),
        ("unbatched", ["label_smoothing=0.1"], unbatched),
        ("keras_normalize", ["from_logits=false", "normalize=true"], unnormalised_probs),
        (
            "keras_normalize_soft_smooth",
            ["from_logits=false", "normalize=true", "label_smoothing=0.1", "weight=1,2,0.5,1"],
            unnormalised_probs_soft,
        ),
    ],
    "multilabel-soft-margin": [("one_sample", ["weight=1,2,3,4"], multilabel_one_sample)],
    "bce": [
        ("weight_cols", ["weight=0.5,2,1.5"], multilabel_probs),
        (
            "logits_weight_label_smoothing",
            ["from_logits=true", "weight=2,0.5,1", "label_smoothing=0.1"],
            multilabel_logits,
        ),
        ("label_smoothing", ["label_smoothing=0.2"], multilabel_probs),
    ],
}
