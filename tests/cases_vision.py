"""Cases for the image and detection losses (losscli/losses/image.py, losscli/losses/detection.py), merged into tests.cases.CASES.

Same format as tests/cases.py: loss name -> list of (id, params as -p strings, inputs factory).

``EXTRA_CASES`` (same format) are cases the lead's registry-wide tests cannot take as they stand,
run by tests/test_family_vision.py through the same checks (numpy == torch for mean/sum/none,
central differences, float32, the explain chain):

* one unbatched box (4 values, torchvision's ``Tensor[4]``), which tests/test_reduction.py would
  cut into row chunks of 1 and 2 values;
* ``ciou`` on boxes whose aspect ratios differ: torchvision takes α under ``torch.no_grad()``,
  so its gradient is not the derivative of the value and central differences of the value
  cannot match it (tests/test_family_vision.py checks it against central differences with α
  frozen instead).  The registry-wide ``ciou`` cases use boxes of equal aspect ratio (v = 0),
  where both agree.

Box data is drawn so that no two corners tie (min/max) and no overlap rectangle sits at an edge.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Factory = Callable[[np.random.Generator], dict[str, np.ndarray]]


# ----------------------------------------------------------------------------- boxes


def _boxes(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    """N target boxes and predictions moved by up to ``shift`` box sizes (some do not overlap)."""
    c = rng.uniform(-5.0, 5.0, size=(n, 2))
    wh = rng.uniform(0.5, 3.0, size=(n, 2))
    target = np.concatenate([c - wh / 2, c + wh / 2], axis=1)
    cp = c + rng.uniform(-shift, shift, size=(n, 2)) * wh
    whp = wh * np.exp(rng.uniform(-0.4, 0.4, size=(n, 2)))
    pred = np.concatenate([cp - whp / 2, cp + whp / 2], axis=1)
    return {"preds": pred, "targets": target}


def boxes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _boxes(rng, 8, 0.4)


def far_boxes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Most pairs do not overlap (IoU 0): the enclosing-box / distance terms carry the gradient."""
    return _boxes(rng, 6, 1.5)


def one_box(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = _boxes(rng, 1, 0.3)
    return {k: v[0] for k, v in d.items()}


def same_aspect(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Predictions with their target's aspect ratio exactly (dyadic sizes): v = 0, so ciou's
    frozen α costs nothing and its gradient is the derivative of its value."""
    target = np.array(
        [[0.0, 0.0, 2.0, 1.0], [3.125, -1.0, 4.625, 2.0], [-2.0, 5.0, 1.0, 5.75], [10.0, 10.0, 11.0, 14.0]]
    )
    scale = np.array([1.25, 0.75, 1.5, 0.5])
    offset = np.array([[0.3125, -0.1875], [0.4375, 0.5625], [-0.6875, 0.1875], [0.0625, 5.5625]])
    w = (target[:, 2] - target[:, 0]) * scale
    h = (target[:, 3] - target[:, 1]) * scale
    x1, y1 = target[:, 0] + offset[:, 0], target[:, 1] + offset[:, 1]
    pred = np.stack([x1, y1, x1 + w, y1 + h], axis=1)
    return {"preds": pred, "targets": target}


# ----------------------------------------------------------------------------- generalized Dice


def _one_hot(rng: np.random.Generator, n: int, c: int, shape: tuple[int, ...]) -> np.ndarray:
    labels = rng.integers(0, c, size=(n, *shape))
    labels.reshape(n, -1)[:, :c] = np.arange(c)  # every class present in every sample
    return np.moveaxis(np.eye(c)[labels], -1, 1)


def gd_probs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    z = rng.normal(0, 1.5, size=(2, 3, 5, 6))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return {"preds": e / e.sum(axis=1, keepdims=True), "targets": _one_hot(rng, 2, 3, (5, 6))}


def gd_absent(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Class 2 absent from sample 0: its weight is that sample's largest (MONAI's inf rule)."""
    d = gd_probs(rng)
    t = d["targets"]
    t[0, 1] += t[0, 2]
    t[0, 2] = 0.0
    return d


def gd_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 2, size=(3, 4, 7)), "targets": _one_hot(rng, 3, 4, (7,))}


def gd_soft(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Soft targets on one spatial axis."""
    p = rng.uniform(0.05, 0.95, size=(5, 3, 4))
    return {"preds": p, "targets": rng.uniform(0.1, 1.0, size=(5, 3, 4))}


GD_CASES: list[tuple[str, list[str], Factory]] = [
    ("nchw", [], gd_probs),
    ("absent_class", [], gd_absent),
    ("batch_absent", ["batch=true"], gd_absent),
    ("simple", ["w_type=simple", "smooth_nr=0", "smooth_dr=0.5"], gd_probs),
    ("uniform", ["w_type=uniform"], gd_absent),
    ("softmax", ["softmax=true"], gd_logits),
    ("sigmoid_no_background", ["sigmoid=true", "include_background=false"], gd_logits),
    ("soft", [], gd_soft),
]

BOX_CASES: list[tuple[str, list[str], Factory]] = [
    ("boxes", [], boxes),
    ("apart", [], far_boxes),
    ("eps1e-3", ["eps=1e-3"], boxes),
]

FAMILY_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "giou": BOX_CASES,
    "diou": BOX_CASES,
    "ciou": [("same_aspect", [], same_aspect), ("same_aspect_eps0.01", ["eps=0.01"], same_aspect)],
    "generalized-dice": GD_CASES,
}

NO_CHAIN = {
    "generalized-dice": "one ratio of class-weighted sums over every pixel of a sample: no element or row of its own",
}

EXTRA_CASES: dict[str, list[tuple[str, list[str], Factory]]] = {
    "giou": [("one_box", [], one_box)],
    "diou": [("one_box", [], one_box)],
    "ciou": [
        ("boxes", [], boxes),
        ("apart", [], far_boxes),
        ("eps1e-3", ["eps=1e-3"], boxes),
        ("one_box", [], one_box),
    ],
}
