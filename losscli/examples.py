"""Bundled example data: what ``grad --explain`` (and ``compute``/``grad`` without files)
runs on.  Each loss names its example on its spec (``spec.teaching.example``); the examples
shared by several losses of a family are defined here.  The files ship inside the package (``losscli/data``), so they work after a
plain install; ``sample_data/`` in the repository points at the same folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Example:
    files: tuple[str, ...]
    params: tuple[str, ...] = ()
    what: str = ""

    def paths(self) -> list[str]:
        return [str(DATA / f) for f in self.files]


REGRESSION = Example(("preds.csv", "targets.csv"), what="house-price predictions and targets (two outliers)")
BINARY_LOGITS = Example(("binary_logits.csv", "binary_labels.csv"), what="a binary classifier's logits and labels")
THREE_CLASS = Example(("logits_3class.csv", "labels_3class.csv"), what="3-class logits and labels")

# The example `losscli grad --explain` runs when given no loss and no files.
DEFAULT_LOSS = "bce"
DEFAULT = Example(
    ("explain_probs.csv", "explain_labels.csv"),
    what="BCE on 8 probabilities, two of them saturated: 1e-12 for a positive label and 1 - 1e-10 for a negative one",
)
