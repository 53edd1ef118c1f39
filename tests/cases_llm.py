"""Cases for the fused LLM-head loss (losscli/losses/llm.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]

FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {}
