"""Cases for the regularisation penalties (l1, l2, l2-half), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs
factory).  Weights stay away from 0 so l1 is differentiable where finite differences look.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)


def weight_vector(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"weights": _away_from_zero(rng, (9,))}


def weight_matrix(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"weights": _away_from_zero(rng, (4, 3))}


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "l1": [("vector", [], weight_vector), ("matrix", [], weight_matrix)],
    "l2": [("vector", [], weight_vector), ("matrix", [], weight_matrix)],
    "l2-half": [("vector", [], weight_vector), ("matrix", [], weight_matrix)],
}
