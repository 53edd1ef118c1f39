"""Bundled example data: what ``grad --explain`` (and ``compute``/``grad`` without files)
runs on.  The files ship inside the package (``losscli/data``), so they work after a
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

EXAMPLES: dict[str, Example] = {
    **{name: REGRESSION for name in ("mse", "rmse", "mae", "huber", "smooth-l1", "log-cosh", "quantile")},
    "bce": Example(("binary_probs.csv", "binary_labels.csv"), what="a binary classifier's probabilities and labels"),
    "focal": BINARY_LOGITS,
    "hinge": BINARY_LOGITS,
    "squared-hinge": BINARY_LOGITS,
    "cross-entropy": THREE_CLASS,
    "sparse-cross-entropy": THREE_CLASS,
    "multi-margin": THREE_CLASS,
    "kl-div": Example(("kl_preds.csv", "kl_targets.csv"), what="predicted and true distributions over 4 classes"),
    "gan-discriminator": Example(
        ("gan_real_logits.csv", "gan_fake_logits.csv"), what="discriminator logits on 16 real and 12 generated samples"
    ),
    "gan-generator": Example(("gan_fake_logits.csv",), what="discriminator logits on 12 generated samples"),
    "wasserstein-critic": Example(("gan_real_logits.csv", "gan_fake_logits.csv"), what="critic scores"),
    "wasserstein-generator": Example(("gan_fake_logits.csv",), what="critic scores on generated samples"),
    "reconstruction": Example(("recon.json",), what="an autoencoder's 6 x 8 output probabilities and binary inputs"),
    "mmd": Example(("mmd_x.csv", "mmd_y.csv"), what="two 2-D samples of 20 and 25 points"),
    "ctc": Example(("ctc_batch.json",), what="a batch of 3 utterances: log-probabilities, targets and lengths"),
    "seq2seq": Example(("seq2seq_batch.json",), what="decoder logits for 3 sequences, padding -100"),
    "dice": Example(("dice_probs.csv", "dice_mask.csv"), what="a 16 x 16 probability map and its mask"),
    "iou": Example(("dice_probs.csv", "dice_mask.csv"), what="a 16 x 16 probability map and its mask"),
    "tversky": Example(("dice_probs.csv", "dice_mask.csv"), what="a 16 x 16 probability map and its mask"),
    "ssim": Example(("img_distorted.png", "img_reference.png"), what="a blurred, noisy image and its reference"),
    "triplet": Example(
        ("triplet_anchor.csv", "triplet_positive.csv", "triplet_negative.csv"), what="8 embedding triplets of width 4"
    ),
    "contrastive": Example(("contrastive_pairs.json",), what="embedding pairs with similar/dissimilar labels"),
    "bpr": Example(("bpr_scores.csv",), what="scores of observed and sampled items"),
}


def example_for(loss: str) -> Example | None:
    """The bundled example for a canonical loss name, if there is one."""
    return EXAMPLES.get(loss)
