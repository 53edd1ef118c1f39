"""Cases for the generative, distribution and sequence losses (generative.py, distribution.py, sequence.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).

``EXTRA_CASES`` (same format) are cases the lead's registry-wide tests cannot take as they stand:
kl-div's new options (log_target, batchmean=false, inputs of one or three axes), which
tests/test_losses.py's kl-div references (a batchmean, probability-target torch call and scipy
``entropy`` per row) do not read, and a single 1-D distribution, which tests/test_reduction.py
would cut into row chunks.  tests/test_family_generative.py runs the registry-wide checks
(numpy == torch for mean/sum/none, central differences, float32, the explain chain) on them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]

# Losses with one input and a hand chain, checked by tests/test_explain.py.
OTHER_ARITY_CHAINS = {"gan-hinge-generator", "lsgan-generator"}


def _simplex(rng: np.random.Generator, shape, low: float = 0.05, axis: int = -1) -> np.ndarray:
    a = rng.uniform(low, 1.0, size=shape)
    return a / a.sum(axis=axis, keepdims=True)


# ------------------------------------------------------------------------ distributions


def kl_log_target(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _simplex(rng, (5, 4)), "targets": np.log(_simplex(rng, (5, 4)))}


def kl_log_both(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": np.log(_simplex(rng, (4, 3))), "targets": np.log(_simplex(rng, (4, 3)))}


def kl_with_zero(rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = _simplex(rng, (6, 4))
    p[0, 1] = 0.0  # 0 log 0 = 0
    p[0] /= p[0].sum()
    return {"preds": _simplex(rng, (6, 4)), "targets": p}


def kl_unbatched(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _simplex(rng, 5), "targets": _simplex(rng, 5)}


def kl_spatial(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """N x C x d: a distribution over C at each of d positions (softmax over axis 1)."""
    return {"preds": _simplex(rng, (3, 4, 2), axis=1), "targets": _simplex(rng, (3, 4, 2), axis=1)}


KL_OPTION_CASES: list[tuple[str, list[str], Factory]] = [
    ("log_target", ["log_target=true"], kl_log_target),
    ("log_input_log_target", ["log_input=true", "log_target=true"], kl_log_both),
    ("torch_mean", ["batchmean=false"], kl_with_zero),
    ("torch_mean_log_target", ["batchmean=false", "log_target=true"], kl_log_target),
    ("unbatched", [], kl_unbatched),
    ("unbatched_torch_mean", ["batchmean=false"], kl_unbatched),
    ("spatial", [], kl_spatial),
    ("spatial_torch_mean", ["batchmean=false", "log_input=false"], kl_spatial),
]


def jsd_rows(rng: np.random.Generator) -> dict[str, np.ndarray]:
    p = _simplex(rng, (6, 4))
    p[2, 0] = 0.0  # a class p gives no mass: its ½ p log(p/m) term is 0
    p[2] /= p[2].sum()
    return {"preds": _simplex(rng, (6, 4)), "targets": p}


def jsd_one(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _simplex(rng, 5), "targets": _simplex(rng, 5)}


# ------------------------------------------------------------------------------ GAN


def _away(rng: np.random.Generator, size: int, centre: float, low: float = 0.1, high: float = 1.5) -> np.ndarray:
    """Values at least ``low`` from ``centre`` on either side (hinge GAN: no output on its hinge)."""
    return centre + rng.choice([-1.0, 1.0], size=size) * rng.uniform(low, high, size=size)


def hinge_unequal(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Real outputs on both sides of 1, fake on both sides of -1, n ≠ m."""
    return {"real": _away(rng, 7, 1.0), "fake": _away(rng, 5, -1.0)}


def hinge_fake(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"fake": rng.normal(-0.5, 2.0, size=8)}


def lsgan_unequal(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"real": rng.normal(0.8, 0.4, size=6), "fake": rng.normal(0.2, 0.4, size=9)}


def lsgan_fake(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"fake": rng.normal(0.3, 0.5, size=7)}


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "gan-hinge-discriminator": [("unequal", [], hinge_unequal)],
    "gan-hinge-generator": [("default", [], hinge_fake)],
    "lsgan-discriminator": [("zero_one", [], lsgan_unequal), ("minus_one_one", ["a=-1", "b=1"], lsgan_unequal)],
    "lsgan-generator": [("c1", [], lsgan_fake), ("c0", ["c=0"], lsgan_fake)],
    "jsd": [("rows", [], jsd_rows), ("base2", ["base=2"], jsd_rows)],
}

EXTRA_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "kl-div": KL_OPTION_CASES,
    "jsd": [("one_distribution", [], jsd_one), ("one_distribution_base10", ["base=10"], jsd_one)],
}
