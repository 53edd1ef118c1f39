"""Cases for the regression and likelihood losses (losscli/losses/regression.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Data stays away from kinks: no zero residuals for mape, no zero vectors for cosine-similarity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


# ------------------------------------------------------------------ poisson-nll


def poisson_log_rates(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.normal(0.5, 1.0, size=12)
    return {"preds": x, "targets": rng.poisson(np.exp(x)).astype(float)}


def poisson_counts_matrix(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Counts 0, 1 and above (the Stirling term is masked where y ≤ 1)."""
    x = rng.normal(0.8, 0.8, size=(5, 3))
    y = rng.poisson(np.exp(x)).astype(float)
    y[0, :] = [0.0, 1.0, 7.0]
    return {"preds": x, "targets": y}


def poisson_rates(rng: np.random.Generator) -> dict[str, np.ndarray]:
    rate = rng.uniform(0.2, 6.0, size=(6, 2))
    y = rng.poisson(rate).astype(float)
    y[0, 0], y[1, 1] = 0.0, 1.0
    return {"preds": rate, "targets": y}


# ------------------------------------------------------------------ gaussian-nll


def _gaussian(rng: np.random.Generator, shape: tuple[int, ...], var_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    mu = rng.normal(size=shape)
    return {
        "preds": mu,
        "targets": mu + rng.normal(0, 1.2, size=shape),
        "var": rng.uniform(0.3, 2.5, size=var_shape),
    }


def gaussian_hetero(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _gaussian(rng, (6, 3), (6, 3))


def gaussian_one_fewer(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _gaussian(rng, (6, 3), (6,))


def gaussian_last_one(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _gaussian(rng, (5, 4), (5, 1))


def gaussian_vector(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _gaussian(rng, (10,), (10,))


def gaussian_scalar_var(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One variance for every element (torch's float var)."""
    return _gaussian(rng, (4, 3), (1,))


# ------------------------------------------------------------------ mape, tweedie, cosine-similarity


def percentage_regression(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Targets of both signs away from 0, residuals away from 0 (a zero target, which counts as ε, is in
    tests/test_family_likelihood.py: its 1e9-sized terms defeat central differences)."""
    y = rng.choice([-1.0, 1.0], size=(5, 3)) * rng.uniform(0.5, 20.0, size=(5, 3))
    p = y + rng.choice([-1.0, 1.0], size=(5, 3)) * rng.uniform(0.1, 3.0, size=(5, 3))
    return {"preds": p, "targets": y}


def percentage_vector(rng: np.random.Generator) -> dict[str, np.ndarray]:
    y = rng.uniform(1.0, 50.0, size=10)
    return {"preds": y * rng.choice([0.7, 1.25], size=10), "targets": y}


def tweedie_any(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Any real targets (power 0 and power < 0 take them), positive predictions."""
    return {"preds": rng.uniform(0.3, 4.0, size=12), "targets": rng.normal(1.0, 1.5, size=12)}


def tweedie_counts(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Non-negative targets with zeros (1 <= power < 2), positive predictions."""
    mu = rng.uniform(0.3, 5.0, size=(5, 3))
    y = rng.poisson(mu).astype(float)
    y[0, :2] = [0.0, 2.5]
    return {"preds": mu, "targets": y}


def tweedie_positive(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Positive targets (power >= 2)."""
    mu = rng.uniform(0.3, 5.0, size=10)
    return {"preds": mu, "targets": mu * np.exp(rng.normal(0, 0.5, size=10))}


def vectors(rng: np.random.Generator) -> dict[str, np.ndarray]:
    y = rng.normal(size=(6, 4))
    return {"preds": y + rng.normal(0, 0.8, size=(6, 4)), "targets": y}


def vector_sequences(rng: np.random.Generator) -> dict[str, np.ndarray]:
    y = rng.normal(size=(3, 2, 4))
    return {"preds": y + rng.normal(0, 0.8, size=(3, 2, 4)), "targets": y}


def small_vectors(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One preds row with Σp² = 1e-4 below optax epsilon = 1e-3 (its norm is clamped, far from the edge)."""
    d = vectors(rng)
    d["preds"][2] = [0.005, -0.005, 0.005, 0.005]
    return d


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "poisson-nll": [
        ("log_input", [], poisson_log_rates),
        ("full", ["full=true"], poisson_counts_matrix),
        ("rate", ["log_input=false"], poisson_rates),
        ("rate_full_eps", ["log_input=false", "full=true", "eps=0.001"], poisson_rates),
    ],
    "gaussian-nll": [
        ("hetero", [], gaussian_hetero),
        ("one_fewer_dim", [], gaussian_one_fewer),
        ("last_dim_1_full", ["full=true"], gaussian_last_one),
        ("unbatched_1d", [], gaussian_vector),
        ("scalar_var", [], gaussian_scalar_var),
    ],
    "mape": [("matrix", [], percentage_regression), ("positive_1d", [], percentage_vector)],
    "tweedie": [
        ("power0", [], tweedie_any),
        ("power_neg1", ["power=-1"], tweedie_any),
        ("power1", ["power=1"], tweedie_counts),
        ("power1.5", ["power=1.5"], tweedie_counts),
        ("power2", ["power=2"], tweedie_positive),
        ("power3", ["power=3"], tweedie_positive),
    ],
    "cosine-similarity": [
        ("keras", [], vectors),
        ("keras_3d", [], vector_sequences),
        ("optax", ["form=optax"], vectors),
        ("optax_clamped", ["form=optax", "epsilon=1e-3"], small_vectors),
    ],
}

# Losses with a hand-worked chain and one or three-plus inputs (tests/test_explain.py checks them).
OTHER_ARITY_CHAINS = {"gaussian-nll"}
