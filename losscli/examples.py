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


@dataclass(frozen=True)
class ModelExample:
    """A bundled example network (``losscli/data/models``, built by ``scripts/build_example_models.py``):
    the loss it is run with, its ``-p`` parameters, the files that feed it and the loss, or its feeds."""

    loss: str
    files: tuple[str, ...] = ()
    feeds: tuple[tuple[str, tuple[str, ...]], ...] = ()
    params: tuple[str, ...] = ()
    what: str = ""

    def model_path(self, name: str) -> str:
        return str(DATA / "models" / f"{name}.pt2")

    def paths(self) -> list[str]:
        return [str(DATA / "models" / f) for f in self.files]

    def feed_paths(self) -> list[tuple[str, list[str]]]:
        return [(name, [str(DATA / "models" / f) for f in files]) for name, files in self.feeds]


MODEL_EXAMPLES = {
    "recommender": ModelExample(
        "bpr",
        feeds=(("pos", ("users.csv", "liked.csv")), ("neg", ("users.csv", "unliked.csv"))),
        what="a 2-layer Transformer-encoder scorer of (user, item) vectors under BPR (healthy)",
    ),
    "sigmoid_mlp": ModelExample(
        "mse", ("features.csv", "targets.csv"), what="8 sigmoid layers: the early layers' gradients vanish"
    ),
    "exploding_mlp": ModelExample(
        "mse", ("features.csv", "targets.csv"), what="8 ReLU layers at 4x He initialisation: gradients explode"
    ),
    "dead_relu": ModelExample(
        "bce",
        ("features.csv", "labels.csv"),
        params=("from_logits=true",),
        what="a ReLU layer whose biases keep 12 of 16 units at 0",
    ),
    "nan_layer": ModelExample(
        "mse", ("features.csv", "targets.csv"), what="a normalisation dividing by sqrt(mean): NaN in forward"
    ),
}
DEFAULT_MODEL = "sigmoid_mlp"
