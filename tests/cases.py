"""Valid example inputs for every registered loss, used by the registry-wide tests.

Each entry: loss name -> list of (id, params as -p strings, inputs factory).  Data is
random but seeded, kept away from points where a loss is not differentiable (zero
residuals, hinge margins) so finite differences are meaningful.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def regression(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.normal(size=12)
    r = rng.choice([-1.0, 1.0], size=12) * rng.uniform(0.1, 2.5, size=12)
    return {"preds": t + r, "targets": t}


def regression_matrix(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.normal(size=(5, 3))
    r = rng.choice([-1.0, 1.0], size=(5, 3)) * rng.uniform(0.1, 2.5, size=(5, 3))
    return {"preds": t + r, "targets": t}


def positive_regression(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.uniform(0.1, 50.0, size=(6, 2))
    return {
        "preds": t * np.exp(rng.choice([-1.0, 1.0], size=(6, 2)) * rng.uniform(0.1, 0.8, size=(6, 2))),
        "targets": t,
    }


def clipped_regression(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Some preds and targets below Keras's ε = 1e-7 (they count as ε), away from the kink."""
    d = positive_regression(rng)
    d["preds"][0, 0], d["targets"][1, 1] = -0.5, -3.0
    return d


def binary_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.uniform(0.05, 0.95, size=10), "targets": rng.integers(0, 2, size=10).astype(float)}


def binary_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.uniform(0.05, 0.95, size=(4, 3)), "targets": rng.uniform(0, 1, size=(4, 3))}


def binary_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=10), "targets": rng.integers(0, 2, size=10).astype(float)}


def multilabel_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(5, 3)), "targets": rng.integers(0, 2, size=(5, 3)).astype(float)}


def pm_scores(rng: np.random.Generator) -> dict[str, np.ndarray]:
    y = rng.choice([-1.0, 1.0], size=12)
    margin = rng.choice([-1.0, 1.0], size=12) * rng.uniform(0.1, 0.8, size=12) + 1.0
    return {"preds": y * margin, "targets": y}


def zero_one_scores(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = pm_scores(rng)
    return {"preds": d["preds"], "targets": (d["targets"] + 1.0) / 2.0}


def class_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 1.5, size=(8, 4)), "targets": rng.integers(0, 4, size=8).astype(float)}


def class_logits_ignored(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = class_logits(rng)
    d["targets"][[1, 5]] = -100.0
    return d


def class_soft_targets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.uniform(0.05, 1, size=(6, 4))
    return {"preds": rng.normal(0, 1.5, size=(6, 4)), "targets": t / t.sum(axis=1, keepdims=True)}


def class_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = rng.uniform(0.05, 1, size=(8, 4))
    return {"preds": p / p.sum(axis=1, keepdims=True), "targets": rng.integers(0, 4, size=8).astype(float)}


def margin_scores(rng: np.random.Generator) -> dict[str, np.ndarray]:
    # scores on a 0.37 grid offset so no hinge sits exactly at its margin
    x = rng.integers(-4, 5, size=(8, 4)) * 0.37 + 0.011 * np.arange(4)
    return {"preds": x, "targets": rng.integers(0, 4, size=8).astype(float)}


def distributions(rng: np.random.Generator) -> dict[str, np.ndarray]:
    q = rng.uniform(0.05, 1, size=(5, 4))
    p = rng.uniform(0.05, 1, size=(5, 4))
    p[0, 1] = 0.0  # exercises 0 log 0 = 0
    return {"preds": q / q.sum(axis=1, keepdims=True), "targets": p / p.sum(axis=1, keepdims=True)}


def log_distributions(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = distributions(rng)
    return {"preds": np.log(d["preds"]), "targets": d["targets"]}


CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "mse": [("vector", [], regression), ("matrix", [], regression_matrix)],
    "rmse": [("vector", [], regression), ("matrix", [], regression_matrix)],
    "mae": [("vector", [], regression), ("matrix", [], regression_matrix)],
    "huber": [("delta1", [], regression), ("delta0.5", ["delta=0.5"], regression_matrix)],
    "smooth-l1": [
        ("beta1", [], regression),
        ("beta0.3", ["beta=0.3"], regression_matrix),
        ("beta0", ["beta=0"], regression),
    ],
    "log-cosh": [("vector", [], regression), ("matrix", [], regression_matrix)],
    "quantile": [("q0.5", [], regression), ("q0.9", ["q=0.9"], regression_matrix), ("q0.1", ["q=0.1"], regression)],
    "msle": [("positive", [], positive_regression), ("clipped", [], clipped_regression)],
    "bce": [
        ("probs", [], binary_probs),
        ("soft", [], binary_soft),
        ("logits", ["from_logits=true"], binary_logits),
        ("pos_weight", ["from_logits=true", "pos_weight=2.5"], binary_logits),
        ("pos_weight_cols", ["from_logits=true", "pos_weight=0.5,1,3"], multilabel_logits),
    ],
    "cross-entropy": [
        ("index", [], class_logits),
        ("ignored", [], class_logits_ignored),
        ("smooth", ["label_smoothing=0.1"], class_logits_ignored),
        ("weighted", ["weight=0.2,1,2,0.7"], class_logits_ignored),
        ("weighted_smooth", ["weight=0.2,1,2,0.7", "label_smoothing=0.15"], class_logits_ignored),
        ("soft", [], class_soft_targets),
        ("soft_weighted_smooth", ["weight=0.2,1,2,0.7", "label_smoothing=0.05"], class_soft_targets),
        ("probs", ["from_logits=false"], class_probs),
    ],
    "sparse-cross-entropy": [("index", [], class_logits), ("weighted", ["weight=1,2,3,4"], class_logits_ignored)],
    "multi-margin": [("p1", [], margin_scores), ("p2_m0.5", ["p=2", "margin=0.5"], margin_scores)],
    "hinge": [("pm1", [], pm_scores), ("zero_one", [], zero_one_scores)],
    "squared-hinge": [("pm1", [], pm_scores), ("zero_one", [], zero_one_scores)],
    "focal": [
        ("default", [], binary_logits),
        ("no_alpha", ["alpha=-1", "gamma=1.5"], multilabel_logits),
        ("gamma0", ["alpha=0.6", "gamma=0"], binary_logits),
    ],
    "kl-div": [("probs", [], distributions), ("log_input", ["log_input=true"], log_distributions)],
}


# A family part may declare, beside FAMILY_CASES:
#   NO_CHAIN: {loss: why}, losses with no hand-worked chain for --explain (autograd and the
#     finite difference only), and
#   OTHER_ARITY_CHAINS: losses with one or three-plus inputs whose chain tests/test_explain.py checks.
NO_CHAIN: dict[str, str] = {}
OTHER_ARITY_CHAINS: set[str] = set()

from tests import (  # noqa: E402
    cases_classification,
    cases_generative,
    cases_image,
    cases_likelihood,
    cases_llm,
    cases_margin,
    cases_ranking,
    cases_reg,
    cases_seqgen,
    cases_vision,
)

for _part in (
    cases_seqgen,
    cases_image,
    cases_reg,
    cases_likelihood,
    cases_classification,
    cases_margin,
    cases_ranking,
    cases_vision,
    cases_generative,
    cases_llm,
):
    for _loss, _cases in _part.FAMILY_CASES.items():  # a part may add cases to a loss named elsewhere
        CASES.setdefault(_loss, []).extend(_cases)
    NO_CHAIN.update(getattr(_part, "NO_CHAIN", {}))
    OTHER_ARITY_CHAINS.update(getattr(_part, "OTHER_ARITY_CHAINS", ()))


def all_cases() -> list[tuple[str, str, list[str], Factory]]:
    """(loss, case id, params, factory) for every case, flattened for parametrize."""
    return [(loss, cid, params, fac) for loss, cases in CASES.items() for cid, params, fac in cases]
