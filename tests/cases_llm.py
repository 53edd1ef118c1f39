"""Cases for the fused LLM-head loss (losscli/losses/llm.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
Small heads (N rows, H features, V classes); chunk_rows is set below N so the registry-wide
tests run the chunked path (several chunks, the last one short).  N differs from V so that
tests/test_reduction.py does not take linear_weight for a row-aligned input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


def head(rng: np.random.Generator, n: int = 7, dim: int = 4, vocab: int = 6, ignored: int = 0) -> dict[str, np.ndarray]:
    targets = rng.integers(0, vocab, size=n).astype(np.float64)
    targets[n - ignored :] = -100.0
    return {
        "hidden": rng.normal(size=(n, dim)),
        "linear_weight": rng.normal(scale=0.7, size=(vocab, dim)),
        "targets": targets,
    }


FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "linear-cross-entropy": [
        ("default", ["chunk_rows=3"], lambda rng: head(rng)),
        (
            "padding-smoothing-weights",
            ["chunk_rows=2", "label_smoothing=0.1", "weight=1,0.5,2,1,0,1.5"],
            lambda rng: head(rng, n=8, dim=3, ignored=2),
        ),
    ],
}
