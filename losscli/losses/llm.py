"""The fused LLM-head loss: cross-entropy of hidden states through an output weight matrix,
computed in chunks of rows so that the N x V logits are never held at once.
"""

from __future__ import annotations

from losscli.spec import LossSpec

FAMILY = "classification"

SPECS: list[LossSpec] = []
