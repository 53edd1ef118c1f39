"""Box losses for detection on (x1, y1, x2, y2) boxes (torchvision.ops).

Shapes: ``preds`` and ``targets`` (N, 4).
"""

from __future__ import annotations

from losscli.spec import LossSpec

FAMILY = "image"

SPECS: list[LossSpec] = []
