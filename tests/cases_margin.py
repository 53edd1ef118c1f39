"""Cases for the margin losses (losscli/losses/margin.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Data is seeded and kept away from every hinge corner (a margin met exactly) and from ties in
a max, so central differences are meaningful.

multi-margin's ``weight`` option is not here: tests/test_losses.py's torch reference for
multi-margin does not pass ``weight`` on (tests/test_family_margin.py runs the registry-wide
checks on its weighted cases itself).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def _off_grid(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Scores on a 0.37 grid with a per-column offset: no two differ by a whole margin."""
    cols = shape[-1]
    return rng.integers(-4, 5, size=shape) * 0.37 + 0.011 * np.arange(cols)


def multi_margin_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sample of 5 class scores, its target a 0-d index (torch's unbatched form)."""
    x = _off_grid(rng, (5,))
    x[1] = x.max() - 0.2  # the target's score sits just below the best wrong one: violations
    return {"preds": x, "targets": np.array(1.0)}


def multi_margin_unbatched_column(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sample, its target as one value in a column (shape (1,), as a file gives it)."""
    d = multi_margin_unbatched(rng)
    return {"preds": d["preds"], "targets": np.array([1.0])}


def multi_margin_scores(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _off_grid(rng, (8, 4)), "targets": rng.integers(0, 4, size=8).astype(float)}


def two_label_scores(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Labels 2 and 5 (scikit-learn: 5 is +1), scores away from the margin y·p = 1."""
    y = rng.choice([-1.0, 1.0], size=12)
    margin = rng.choice([-1.0, 1.0], size=12) * rng.uniform(0.1, 0.8, size=12) + 1.0
    return {"preds": y * margin, "targets": np.where(y > 0, 5.0, 2.0)}


def minus_one_zero_scores(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Labels -1 and 0 (scikit-learn: 0 is +1; Keras would read 0 as 0)."""
    d = two_label_scores(rng)
    return {"preds": d["preds"], "targets": np.where(d["targets"] == 5.0, 0.0, -1.0)}


def _gap_rows(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """Rows of scores whose sorted values are at least 0.15 apart (no tie in a max)."""
    rows = []
    while len(rows) < n:
        r = rng.normal(0, 1.5, size=c)
        if np.min(np.diff(np.sort(r))) > 0.15:
            rows.append(r)
    return np.array(rows)


def _categorical_away_from_kink(p: np.ndarray, y: np.ndarray) -> bool:
    pos = np.sum(y * p, axis=-1)
    masked = (1 - y) * p
    neg = np.max(masked, axis=-1)
    second = np.sort(masked, axis=-1)[..., -2]
    return bool(np.all(np.abs(neg - pos + 1) > 0.1) and np.all(neg - second > 0.1))


def categorical_onehot(rng: np.random.Generator) -> dict[str, np.ndarray]:
    while True:
        p = _gap_rows(rng, 8, 4)
        y = np.eye(4)[rng.integers(0, 4, size=8)]
        if _categorical_away_from_kink(p, y):
            return {"preds": p, "targets": y}


def categorical_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    while True:
        p = _gap_rows(rng, 6, 3)
        y = rng.dirichlet(np.ones(3), size=6)
        if _categorical_away_from_kink(p, y):
            return {"preds": p, "targets": y}


def categorical_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = categorical_onehot(rng)
    return {"preds": d["preds"][0], "targets": d["targets"][0]}


def soft_margin_pm(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(5, 3)), "targets": rng.choice([-1.0, 1.0], size=(5, 3))}


def soft_margin_real_targets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Real-valued targets, as torch's own sample inputs give them (computed as given)."""
    return {"preds": rng.normal(0, 2, size=10), "targets": rng.uniform(-2, 2, size=10)}


def soft_margin_scalar(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": np.array(0.7), "targets": np.array(-1.0)}


def _hinge_embedding(rng: np.random.Generator, margin: float, shape: tuple[int, ...], labels=(-1.0, 1.0)):
    y = rng.choice(labels, size=shape)
    x = margin + rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 1.5, size=shape)
    return {"preds": x, "targets": y}


def hinge_embedding_default(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _hinge_embedding(rng, 1.0, (12,))


def hinge_embedding_negative_margin(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _hinge_embedding(rng, -2.5, (4, 3))


def hinge_embedding_other_targets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Targets other than ±1 get both terms, as ATen computes them."""
    return _hinge_embedding(rng, 0.5, (10,), labels=(-1.0, 1.0, 0.0, 2.5))


def _multilabel_targets(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    t = np.full((n, c), -1.0)
    for i in range(n):
        k = int(rng.integers(1, c))
        t[i, :k] = rng.choice(c, size=k, replace=False)
        if k + 1 < c:  # whatever follows the first -1 is ignored
            t[i, k + 1 :] = rng.integers(-1, c, size=c - k - 1)
    return t


def _multilabel_ok(x: np.ndarray, t: np.ndarray) -> bool:
    """No pair (j, c) with 1 - x_j + x_c within 0.05 of 0."""
    x2, t2 = np.atleast_2d(x), np.atleast_2d(t)
    for row, tr in zip(x2, t2):
        d = 1 - row[:, None] + row[None, :]
        if np.any(np.abs(d) < 0.05):
            return False
    return True


def multilabel_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    while True:
        x = rng.normal(0, 1.2, size=(6, 5))
        t = _multilabel_targets(rng, 6, 5)
        t[0, :3] = [2, 2, -1]  # a repeated index counts twice, as torch
        if _multilabel_ok(x, t):
            return {"preds": x, "targets": t}


def multilabel_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = multilabel_batch(rng)
    return {"preds": d["preds"][1], "targets": d["targets"][1]}


def _ranking(rng: np.random.Generator, margin: float, shape: tuple[int, ...], real: bool = False):
    while True:
        a, b = rng.normal(size=shape), rng.normal(size=shape)
        y = rng.uniform(-2, 2, size=shape) if real else rng.choice([-1.0, 1.0], size=shape)
        if np.all(np.abs(-y * (a - b) + margin) > 0.05):
            return {"input1": a, "input2": b, "target": y}


def ranking_default(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ranking(rng, 0.0, (12,))


def ranking_margin_matrix(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ranking(rng, 0.5, (4, 3))


def ranking_real_targets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ranking(rng, 0.3, (10,), real=True)


def _cosine(rng: np.random.Generator, margin: float, n: int | None):
    rows = 1 if n is None else n
    while True:
        a = rng.normal(size=(rows, 4))
        y = rng.choice([-1.0, 1.0], size=rows)
        b = np.where(y[:, None] > 0, a + rng.normal(0, 0.8, size=(rows, 4)), rng.normal(size=(rows, 4)))
        cos = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        if np.all(np.abs(cos - margin) > 0.05):
            if n is None:
                return {"input1": a[0], "input2": b[0], "target": y[:1]}
            return {"input1": a, "input2": b, "target": y}


def cosine_default(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _cosine(rng, 0.0, 8)


def cosine_margin(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _cosine(rng, -0.3, 10)


def cosine_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _cosine(rng, 0.2, None)


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "multi-margin": [
        ("margin_negative", ["margin=-0.6"], multi_margin_scores),
        ("p2_margin2", ["p=2", "margin=2.2"], multi_margin_scores),
        ("unbatched", [], multi_margin_unbatched),
        ("unbatched_p2", ["p=2", "margin=0.5"], multi_margin_unbatched_column),
    ],
    "hinge": [("labels_2_5", [], two_label_scores), ("labels_minus1_0", [], minus_one_zero_scores)],
    "categorical-hinge": [
        ("onehot", [], categorical_onehot),
        ("soft", [], categorical_soft),
        ("unbatched", [], categorical_unbatched),
    ],
    "soft-margin": [
        ("pm1", [], soft_margin_pm),
        ("real_targets", [], soft_margin_real_targets),
        ("scalar", [], soft_margin_scalar),
    ],
    "hinge-embedding": [
        ("margin1", [], hinge_embedding_default),
        ("margin_negative", ["margin=-2.5"], hinge_embedding_negative_margin),
        ("other_targets", ["margin=0.5"], hinge_embedding_other_targets),
    ],
    "multilabel-margin": [("batch", [], multilabel_batch), ("unbatched", [], multilabel_unbatched)],
    "margin-ranking": [
        ("margin0", [], ranking_default),
        ("margin_matrix", ["margin=0.5"], ranking_margin_matrix),
        ("real_targets", ["margin=0.3"], ranking_real_targets),
    ],
    "cosine-embedding": [
        ("margin0", [], cosine_default),
        ("margin_negative", ["margin=-0.3"], cosine_margin),
        ("unbatched", ["margin=0.2"], cosine_unbatched),
    ],
}

OTHER_ARITY_CHAINS = {"margin-ranking", "cosine-embedding"}
