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

# ----------------------------------------------------------------------------- MS-SSIM
# pytorch_msssim needs min(H, W) > (win_size - 1) * 16: 161 px at the default win_size=11 (25,921
# elements, too many for central differences), 33 px at win_size=3 and any size at win_size=1.
# The default window is checked against pytorch_msssim and its autograd in
# tests/test_family_vision.py instead.  Sides 33 and 34 pool to 17, 9, 5, 3 (odd: zero-padded).


def _ms_pair(rng: np.random.Generator, shape: tuple[int, ...], noise: float = 0.08, scale: float = 1.0):
    """A smooth image in [0.1, 0.9] and a noisy copy: every scale's cs stays well above 0 (relu inactive)."""
    h, w = shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.3 + 0.35 * xx * yy + 0.2 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) / 0.05)
    t = np.clip(base + rng.normal(0, 0.05, size=shape), 0.1, 0.9)
    p = t + rng.normal(0, noise, size=shape)
    return {"preds": p * scale, "targets": t * scale}


def ms_gray(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ms_pair(rng, (33, 34))


def ms_nchw(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ms_pair(rng, (2, 1, 33, 33))


def ms_chw(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ms_pair(rng, (2, 34, 33))


def ms_255(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _ms_pair(rng, (33, 33), scale=255.0)


def ms_tiny(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """win_size=1: no smoothing, any size; 7 x 10 pools to 4 x 5, 2 x 3, 1 x 2, 1 x 1."""
    return _ms_pair(rng, (2, 2, 7, 10))


MS_SSIM_CASES: list[tuple[str, list[str], Factory]] = [
    ("gray_win3", ["win_size=3"], ms_gray),
    ("nchw_win3_sigma1", ["win_size=3", "win_sigma=1.0"], ms_nchw),
    ("chw_three_scales", ["win_size=3", "weights=0.2,0.3,0.5", "K=0.02,0.05"], ms_chw),
    ("range255", ["win_size=3", "data_range=255"], ms_255),
    ("win1_six_scales", ["win_size=1", "weights=0.1,0.1,0.2,0.2,0.2,0.2"], ms_tiny),
]

# ----------------------------------------------------------------------------- Lovász
# Continuous random logits/probabilities: no two errors tie within central differences' step and
# no hinge error sits at 0.  Targets may hold the ignore label (255, or -1).


def _binary_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    m = (rng.uniform(size=shape) < 0.4).astype(float)
    m.reshape(-1)[:2] = (1.0, 0.0)  # both labels in the batch
    return m


def lovasz_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0, 1.5, size=(2, 1, 5, 6)), "targets": _binary_mask(rng, (2, 1, 5, 6))}


def lovasz_images(rng: np.random.Generator) -> dict[str, np.ndarray]:
    y = _binary_mask(rng, (3, 4, 5))
    y[2] = 0.0  # an image with no positive pixel: G = 0
    return {"preds": rng.normal(0, 1.5, size=(3, 4, 5)), "targets": y}


def lovasz_flat(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": rng.normal(0.3, 2.0, size=(40,)), "targets": _binary_mask(rng, (40,))}


def lovasz_ignore(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = lovasz_images(rng)
    d["targets"][rng.uniform(size=d["targets"].shape) < 0.25] = 255.0
    return d


def lovasz_ignored_image(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Image 1 is all ignore_index=-1: smp gives it loss 0, counted in the mean."""
    d = lovasz_images(rng)
    d["targets"][1] = -1.0
    return d


def _probs_nc(rng: np.random.Generator, shape: tuple[int, ...], axis: int = 1) -> np.ndarray:
    z = rng.normal(0, 1.5, size=shape)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def lovasz_softmax_images(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """2 images, 4 classes; class 3 absent from image 0 and class 2 from the whole batch."""
    labels = rng.integers(0, 2, size=(2, 4, 5)).astype(float)
    labels[1, 0, :2] = 3.0
    return {"preds": _probs_nc(rng, (2, 4, 4, 5)), "targets": labels}


def lovasz_softmax_logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = lovasz_softmax_images(rng)
    return {"preds": rng.normal(0, 2.0, size=d["preds"].shape), "targets": d["targets"]}


def lovasz_softmax_ignore(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d = lovasz_softmax_images(rng)
    d["targets"][rng.uniform(size=d["targets"].shape) < 0.3] = 255.0
    d["targets"][:, 0, 0] = 1.0  # every image keeps a pixel
    return d


def lovasz_softmax_pixels(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """P x C probabilities with P labels (smp's flattened form)."""
    return {"preds": _probs_nc(rng, (12, 3)), "targets": rng.integers(0, 3, size=12).astype(float)}


def lovasz_softmax_volume(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"preds": _probs_nc(rng, (2, 3, 2, 3, 4)), "targets": rng.integers(0, 3, size=(2, 2, 3, 4)).astype(float)}


LOVASZ_CASES: list[tuple[str, list[str], Factory]] = [
    ("batch", [], lovasz_batch),
    ("per_image", ["per_image=true"], lovasz_images),
    ("flat", [], lovasz_flat),
    ("ignore255", ["ignore_index=255"], lovasz_ignore),
    ("per_image_ignore255", ["per_image=true", "ignore_index=255"], lovasz_ignore),
    ("ignored_image", ["per_image=true", "ignore_index=-1"], lovasz_ignored_image),
]

LOVASZ_SOFTMAX_CASES: list[tuple[str, list[str], Factory]] = [
    ("present", [], lovasz_softmax_images),
    ("all", ["classes=all"], lovasz_softmax_images),
    ("per_image", ["per_image=true"], lovasz_softmax_images),
    ("per_image_all", ["per_image=true", "classes=all"], lovasz_softmax_images),
    ("ignore255", ["ignore_index=255"], lovasz_softmax_ignore),
    ("per_image_ignore255", ["per_image=true", "ignore_index=255"], lovasz_softmax_ignore),
    ("from_logits", ["from_logits=true"], lovasz_softmax_logits),
    ("pixels", [], lovasz_softmax_pixels),
    ("pixels_per_image", ["per_image=true", "classes=all"], lovasz_softmax_pixels),
    ("volume", ["per_image=true"], lovasz_softmax_volume),
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
    "ms-ssim": MS_SSIM_CASES,
    "lovasz": LOVASZ_CASES,
    "lovasz-softmax": LOVASZ_SOFTMAX_CASES,
}

NO_CHAIN = {
    "generalized-dice": "one ratio of class-weighted sums over every pixel of a sample: no element or row of its own",
    "ms-ssim": "a product over scales of window statistics of every pixel of the image, pooled between scales: "
    "no element or row of its own (autograd, as ssim)",
    "lovasz": "one element is a whole image: each pixel's factor g_k is the Jaccard increment at its rank in "
    "the sort of every error of the image, which no per-element rule sees (autograd through the sort)",
    "lovasz-softmax": "one element is a whole image: each pixel's factor is the Jaccard increment at its rank "
    "among every pixel's error for its class, averaged over the classes present (autograd through the sort)",
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
