"""Image losses: region overlap (Dice, IoU, Tversky), SSIM and a perceptual feature distance.

Region losses (``dice``, ``iou``, ``tversky``) take ``preds`` (probabilities, or logits with
``from_logits=true``) and ``targets`` (a mask in [0, 1]) of the same shape.  The class axis is
found from the number of dimensions:

* 1-D (M) or 2-D (H x W): one mask, one class;
* 3-D: C x H x W, one image with a class axis first;
* 4-D: N x C x H x W, a batch (a batch of binary masks is N x 1 x H x W).

Sums run over every axis except the class axis (batch and pixels together, as
segmentation_models_pytorch's ``multilabel`` mode does), giving one loss per class; the
elements are those C per-class losses (one for a single mask), so ``--reduction mean`` is the
mean over classes, ``sum`` the sum over classes and ``none`` the per-class vector.

Image losses (``ssim``, ``perceptual``) take images H x W, C x H x W or N x C x H x W.  Their
elements are an N x M matrix, one row per image: M = C channels for SSIM (1 - SSIM of each
channel), M = the number of feature maps for ``perceptual``.  ``--reduction mean`` is the loss
(every row and column counts the same), ``none`` gives the matrix.

No torch at module level: ``perceptual`` imports torch inside its functions and sets
``needs_torch=True`` so the core runs it on torch even for ``compute``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from losscli.chains import Custom, outer_step
from losscli.errors import InputError, UsageError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import log_softmax, sigmoid
from losscli.reduction import PIXEL_MEAN
from losscli.spec import Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "image"


# ----------------------------------------------------------------------------- region


def _class_view(xp: Any, a: Array) -> Array:
    """Any accepted layout as N x C x M (see the module docstring for the class-axis rule)."""
    if a.ndim <= 2:
        return xp.reshape(a, (1, 1, -1))
    if a.ndim == 3:
        return xp.reshape(a, (1, a.shape[0], -1))
    return xp.reshape(a, (a.shape[0], a.shape[1], -1))


def _region_sums(xp: Any, inputs: Inputs, params: Params) -> tuple[Array, Array, Array]:
    """Per-class (TP, Σp, Σy), each of shape (C,): TP = Σ p y, sums over batch and pixels."""
    x, y = inputs["preds"], inputs["targets"]
    p = sigmoid(xp, x) if params["from_logits"] else x
    p, y = _class_view(xp, p), _class_view(xp, y)
    axes = (0, 2)
    return xp.sum(p * y, axis=axes), xp.sum(p, axis=axes), xp.sum(y, axis=axes)


def dice(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Soft Dice loss per class: ℓ_c = 1 - (2 Σ p y + s) / (Σ p + Σ y + s).

    Shapes: preds and targets alike, H x W (one class), C x H x W or N x C x H x W
    (sums over N, H, W per class).  Elements: (C,) per-class losses.
    """
    s = params["smooth"]
    tp, sp, sy = _region_sums(xp, inputs, params)
    return Terms(1.0 - (2.0 * tp + s) / (sp + sy + s))


def iou(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Soft IoU (Jaccard) loss per class: ℓ_c = 1 - (Σ p y + s) / (Σ p + Σ y - Σ p y + s).

    Shapes and elements as :func:`dice`.
    """
    s = params["smooth"]
    tp, sp, sy = _region_sums(xp, inputs, params)
    return Terms(1.0 - (tp + s) / (sp + sy - tp + s))


def tversky(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Tversky loss per class: ℓ_c = 1 - (TP + s) / (TP + α FP + β FN + s).

    TP = Σ p y, FP = Σ p (1 - y) = Σp - TP, FN = Σ (1 - p) y = Σy - TP.  α = β = ½ is Dice
    with smoothing 2s; α = β = 1 is IoU.  Shapes and elements as :func:`dice`.
    """
    s, a, b = params["smooth"], params["alpha"], params["beta"]
    tp, sp, sy = _region_sums(xp, inputs, params)
    return Terms(1.0 - (tp + s) / (tp + a * (sp - tp) + b * (sy - tp) + s))


def _region_denominators(name: str, inputs: Mapping[str, np.ndarray], params: Params) -> np.ndarray:
    """The per-class denominators (without smoothing) in numpy, for the 0/0 check."""
    x = inputs["preds"]
    p = 1.0 / (1.0 + np.exp(-np.clip(x, -700, 700))) if params["from_logits"] else x
    y = inputs["targets"]
    p3, y3 = _class_view(np, p), _class_view(np, y)
    tp, sp, sy = (np.sum(a, axis=(0, 2)) for a in (p3 * y3, p3, y3))
    if name == "dice":
        return sp + sy
    if name == "iou":
        return sp + sy - tp
    return tp + params["alpha"] * (sp - tp) + params["beta"] * (sy - tp)


def _region_validator(name: str) -> Any:
    """Shapes; for ``iou`` values in [0, 1]; with smooth = 0 no class whose denominator is 0.

    ``dice`` and ``tversky`` take values outside [0, 1] and compute the same ratio on them, as
    Keras's Dice and Tversky do (its own tests use y_true = [[1, 2], [1, 2]]); Keras has no IoU
    loss and smp clamps the denominator at eps, so ``iou`` keeps [0, 1]."""

    def validate(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
        _checks.same_shape(inputs, sources, "preds", "targets")
        _checks.non_empty(inputs, sources)
        _checks.ndim_in(inputs, sources, "preds", (1, 2, 3, 4), "a mask (M or H x W), C x H x W or N x C x H x W")
        if name == "iou":
            _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
            if not params["from_logits"]:
                _checks.in_range(inputs, sources, "preds", 0.0, 1.0)
        if params["smooth"] == 0:
            den = _region_denominators(name, inputs, params)
            zero = np.flatnonzero(den == 0)
            if zero.size:
                c = int(zero[0])
                which = "the mask" if den.size == 1 else f"class {c} (0-based)"
                y = _class_view(np, inputs["targets"])[:, c]
                empty = not np.any(y) and (params["from_logits"] or not np.any(_class_view(np, inputs["preds"])[:, c]))
                why = "preds and targets are empty there" if empty else "its denominator is 0"
                raise InputError(
                    f"{name} is 0/0 for {which}: {why} and smooth=0; use -p smooth=1 (or any smooth > 0)",
                    source=sources.get("targets"),
                )

    return validate


def _region_scale(inputs: Mapping[str, np.ndarray], reduction: str) -> float:
    """Per-sample factor for the health verdict: a pixel's gradient is about 1/(Σp + Σy) of its
    class, so scale by the pixels per class (times the classes for the mean over classes)."""
    p = inputs["preds"]
    classes = 1 if p.ndim <= 2 else p.shape[-3]
    return float(p.size if reduction == "mean" else p.size // classes)


def _pixel_scale(inputs: Mapping[str, np.ndarray], reduction: str) -> float:
    """Per-sample factor for SSIM/perceptual: a pixel's gradient is about 1/(pixels per map)."""
    p = inputs["preds"]
    return float(p.size if reduction == "mean" else p.shape[-2] * p.shape[-1])


def _region_saturation(inputs: Inputs, params: Params, dtype: str, eps: float) -> dict[str, np.ndarray]:
    """Logits whose sigmoid rounds to exactly 0 or 1 (no gradient through σ); none for probabilities."""
    x = inputs["preds"]
    if not params["from_logits"]:
        return {"preds": np.zeros(x.shape, dtype=bool)}
    return {"preds": np.abs(x) > float(-np.log(np.finfo(dtype).eps / 2))}


def _scores(ev: Any) -> tuple[float, np.ndarray | None]:
    """(mean score, score per element) for a loss that is 1 - score.

    With --reduction mean the mean score is 1 - value, which stays right under sample weights
    (a weighted mean score).  ``ev.elements`` carries the sample weights when there are any, so the
    per-element scores are given only when they are consistent with the value.
    """
    el = np.asarray(ev.elements, dtype=np.float64)
    if ev.reduction == "mean":
        unweighted = math.isclose(float(ev.value), float(np.mean(el)), rel_tol=1e-9, abs_tol=1e-12)
        return 1.0 - float(ev.value), (1.0 - el) if unweighted else None
    return 1.0 - float(np.mean(el)), 1.0 - el


def _region_report(key: str) -> Any:
    def report(ev: Any, inputs: Inputs) -> dict[str, Any]:
        score, per_class = _scores(ev)
        out: dict[str, Any] = {key: score}
        if per_class is not None and per_class.size > 1:
            out[f"{key}_per_class"] = per_class
        return out

    return report


# ----------------------------------------------------------------------------- generalized Dice

GD_WEIGHTS = ("square", "simple", "uniform")


def _gd_weights(xp: Any, ground: Array, w_type: str, batch: bool) -> Array:
    """MONAI GeneralizedDiceLoss class weights from Σ y per (sample,) class: 1/g² (square), 1/g
    (simple) or 1 (uniform), computed in float32 as MONAI's ``w_func(ground_o.float())``; a class
    absent from the target (infinite weight) takes the largest weight of its sample (of the
    batch with batch=true), and all of them 0 when every class is absent."""
    if w_type == "uniform":
        return xp.ones_like(ground)
    g32 = xp.astype(ground, xp.float32)
    present = g32 > 0
    safe = xp.where(present, g32, xp.ones_like(g32))
    w = 1.0 / (safe * safe) if w_type == "square" else 1.0 / safe
    w = xp.where(present, w, xp.zeros_like(w))
    top = xp.max(w) if batch else xp.max(w, axis=1, keepdims=True)
    w = xp.where(present, w, top * xp.ones_like(w))
    return xp.astype(w, ground.dtype)


def generalized_dice(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Generalized Dice loss (Sudre et al. 2017) as MONAI ``GeneralizedDiceLoss``.

    With I_c, G_c, P_c = Σ p y, Σ y, Σ p over the spatial axes of each sample (and over the batch
    too with batch=true) and w_c the class weights (:func:`_gd_weights`):
    ℓ = 1 - (2 Σ_c w_c I_c + smooth_nr) / (Σ_c w_c (G_c + P_c) + smooth_dr).

    Shapes: preds and targets N x C x spatial... (C classes, one-hot or soft targets; MONAI's
    BNH[WD], at least one spatial axis: with none, its torch.sum over no axes sums everything).
    Elements: (N,) per-sample losses, or (1,) with batch=true.
    """
    x, y = inputs["preds"], inputs["targets"]
    if params["sigmoid"]:
        x = sigmoid(xp, x)
    elif params["softmax"]:
        x = xp.exp(log_softmax(xp, x, axis=1))
    if not params["include_background"] and x.shape[1] > 1:
        x, y = x[:, 1:, ...], y[:, 1:, ...]
    x = xp.reshape(x, (x.shape[0], x.shape[1], -1))
    y = xp.reshape(y, (y.shape[0], y.shape[1], -1))
    axes = (0, 2) if params["batch"] else (2,)
    inter = xp.sum(x * y, axis=axes)
    ground = xp.sum(y, axis=axes)
    denominator = ground + xp.sum(x, axis=axes)
    w = _gd_weights(xp, ground, params["w_type"], params["batch"])
    reduce = 0 if params["batch"] else 1
    numer = 2.0 * xp.sum(inter * w, axis=reduce) + params["smooth_nr"]
    denom = xp.sum(denominator * w, axis=reduce) + params["smooth_dr"]
    return Terms(xp.reshape(1.0 - numer / denom, (-1,)))


def _validate_generalized_dice(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.non_empty(inputs, sources)
    if inputs["preds"].ndim < 3:
        raise InputError(
            "preds must be N x C x spatial... (MONAI's BNH[WD] layout, at least one spatial axis), got shape "
            + " x ".join(map(str, inputs["preds"].shape)),
            source=sources.get("preds"),
        )
    if params["sigmoid"] and params["softmax"]:
        raise UsageError("generalized-dice: sigmoid=true and softmax=true cannot both be set (MONAI refuses them)")


def _gd_scale(inputs: Mapping[str, np.ndarray], reduction: str) -> float:
    """Per-sample factor for the health verdict: a pixel's gradient is about 1/(its sample's pixels)."""
    p = inputs["preds"]
    return float(p.size if reduction == "mean" else p.size // p.shape[0])


# ----------------------------------------------------------------------------- SSIM

SSIM_WIN = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _as_nchw(xp: Any, a: Array) -> Array:
    """H x W -> 1 x 1 x H x W; C x H x W -> 1 x C x H x W; N x C x H x W unchanged."""
    if a.ndim == 2:
        return xp.reshape(a, (1, 1, a.shape[0], a.shape[1]))
    if a.ndim == 3:
        return xp.reshape(a, (1, a.shape[0], a.shape[1], a.shape[2]))
    return a


def gaussian_window(size: int = SSIM_WIN, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian g_k ∝ exp(-(k - size//2)² / 2σ²), k = 0..size-1 (float64)."""
    coords = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def filter_matrix(n: int, size: int = SSIM_WIN, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The (n - size + 1) x n banded matrix K with K[i, i + k] = g_k: K @ v is 'valid' filtering."""
    g = gaussian_window(size, sigma)
    rows = np.arange(n - size + 1)
    k = np.zeros((rows.size, n))
    for tap in range(size):  # a loop over the 11 taps, not over pixels
        k[rows, rows + tap] = g[tap]
    return k


def _ssim_maps(
    xp: Any, x: Array, y: Array, kh: Array, kwt: Array, r: float, k: tuple[float, float]
) -> tuple[Array, Array]:
    """(SSIM map, contrast-structure map) of N x C x H x W images, pytorch_msssim ``_ssim``:
    blur = Kh · a · Kwᵀ (banded Gaussian matrices, :func:`filter_matrix`), C1 = (K1 R)², C2 = (K2 R)²."""

    def blur(a: Array) -> Array:
        return xp.matmul(xp.matmul(kh, a), kwt)

    c1 = (k[0] * r) ** 2
    c2 = (k[1] * r) ** 2
    mu1, mu2 = blur(x), blur(y)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s11 = blur(x * x) - mu1_sq
    s22 = blur(y * y) - mu2_sq
    s12 = blur(x * y) - mu12
    cs_map = (2.0 * s12 + c2) / (s11 + s22 + c2)
    ssim_map = (2.0 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map, cs_map


def ssim(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """1 - SSIM per image and channel (pytorch_msssim ``ssim``, Gaussian window, no padding).

    With G the 11-tap Gaussian (σ = 1.5) applied along H then W without padding,
    μx = G x, σx² = G x² - μx², σxy = G xy - μx μy, C1 = (0.01 R)², C2 = (0.03 R)²:
    SSIM map = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)), averaged over
    the (H - 10) x (W - 10) valid positions.  Filtering is a matrix product Kh · X · Kwᵀ
    with banded filter matrices, broadcast over the leading axes.

    Shapes: H x W, C x H x W or N x C x H x W (H, W >= 11).  Elements: N x C.
    """
    x = _as_nchw(xp, inputs["preds"])
    y = _as_nchw(xp, inputs["targets"])
    h, w = x.shape[-2], x.shape[-1]
    kh = xp.asarray(filter_matrix(h), dtype=x.dtype)
    kwt = xp.asarray(np.ascontiguousarray(filter_matrix(w).T), dtype=x.dtype)
    ssim_map, _ = _ssim_maps(xp, x, y, kh, kwt, params["data_range"], (SSIM_K1, SSIM_K2))
    return Terms(1.0 - xp.mean(ssim_map, axis=(-2, -1)))


def _validate_images(inputs: Mapping[str, np.ndarray], sources: Sources, *, min_side: int = 1) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.non_empty(inputs, sources)
    _checks.ndim_in(inputs, sources, "preds", (2, 3, 4), "an image: H x W, C x H x W or N x C x H x W")
    h, w = inputs["preds"].shape[-2:]
    if min(h, w) < min_side:
        raise InputError(
            f"preds is {h} x {w} pixels; SSIM needs images of at least {min_side} x {min_side} "
            f"(its Gaussian window is {SSIM_WIN} wide and there is no padding)",
            source=sources.get("preds"),
        )


def _validate_ssim(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    _validate_images(inputs, sources, min_side=SSIM_WIN)
    _check_data_range(inputs, params, sources)


def _check_data_range(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    """The targets' spread must fit in data_range (the constants C1, C2 scale with it)."""
    y = inputs["targets"]
    finite = y[np.isfinite(y)]
    if finite.size:
        spread = float(finite.max() - finite.min())
        r = params["data_range"]
        if spread > r * (1.0 + 1e-6):
            raise InputError(
                f"targets span {finite.min():g} to {finite.max():g}, wider than data_range {r:g}; "
                f"pass -p data_range=<max - min possible value> (255 for 8-bit images)",
                source=sources.get("targets"),
            )


def _ssim_report(ev: Any, inputs: Inputs) -> dict[str, Any]:
    score, per = _scores(ev)  # per: N x C SSIM values
    out: dict[str, Any] = {"ssim": score}
    if per is not None and per.shape[0] > 1:
        out["ssim_per_image"] = np.mean(per, axis=1)
    return out


# ----------------------------------------------------------------------------- MS-SSIM

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _blur_matrix(n: int, size: int, sigma: float) -> np.ndarray:
    """:func:`filter_matrix`, or the identity when the side n is shorter than the window
    (pytorch_msssim ``gaussian_filter`` then skips smoothing along that axis, with a warning)."""
    return filter_matrix(n, size, sigma) if n >= size else np.eye(n)


def pool_matrix(n: int) -> np.ndarray:
    """The ceil(n/2) x n matrix P with P @ v = torch ``avg_pool`` (kernel 2, stride 2) along one
    axis with pytorch_msssim's padding n % 2 on both sides, zeros counted (count_include_pad):
    row i averages v[2i], v[2i+1] (n even) or v[2i-1], v[2i] (n odd; v[-1] is the zero pad)."""
    odd = n % 2
    m = n // 2 + odd
    rows = np.arange(m)
    p = np.zeros((m, n))
    for tap in (0, 1):  # the two taps of the window, not a loop over pixels
        cols = 2 * rows + tap - odd
        keep = cols >= 0
        p[rows[keep], cols[keep]] = 0.5
    return p


def ms_ssim(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """1 - MS-SSIM per image (pytorch_msssim ``ms_ssim``, ``size_average=False``).

    At scale s = 1..L (L = len(weights), 5 by default) the images are filtered as :func:`ssim`
    (win_size taps, σ = win_sigma, no padding; an axis shorter than the window is not
    filtered), giving cs_s = mean of the contrast-structure map (2 σxy + C2) / (σx² + σy² + C2)
    and, at the last scale, SSIM_L; between scales both images are 2 x 2 average-pooled
    (odd sides padded by 1 with zeros, counted).  Per image n and channel c:
    MS-SSIM = Π_{s<L} relu(cs_s)^{w_s} · relu(SSIM_L)^{w_L}; ℓ_n = 1 - mean over channels.

    Shapes: H x W, C x H x W or N x C x H x W, min(H, W) > (win_size - 1) · 16.  Elements: (N,).
    """
    x = _as_nchw(xp, inputs["preds"])
    y = _as_nchw(xp, inputs["targets"])
    size, sigma = int(params["win_size"]), float(params["win_sigma"])
    k = (float(params["K"][0]), float(params["K"][1]))
    weights = tuple(float(w) for w in params["weights"])
    values = []
    for level in range(len(weights)):  # a loop over the few scales
        h, w = x.shape[-2], x.shape[-1]
        kh = xp.asarray(_blur_matrix(h, size, sigma), dtype=x.dtype)
        kwt = xp.asarray(np.ascontiguousarray(_blur_matrix(w, size, sigma).T), dtype=x.dtype)
        ssim_map, cs_map = _ssim_maps(xp, x, y, kh, kwt, params["data_range"], k)
        score = ssim_map if level == len(weights) - 1 else cs_map
        value = xp.mean(score, axis=(-2, -1))
        values.append(xp.maximum(value, xp.zeros_like(value)) ** weights[level])
        if level < len(weights) - 1:
            ph = xp.asarray(pool_matrix(h), dtype=x.dtype)
            pwt = xp.asarray(np.ascontiguousarray(pool_matrix(w).T), dtype=x.dtype)
            x = xp.matmul(xp.matmul(ph, x), pwt)
            y = xp.matmul(xp.matmul(ph, y), pwt)
    per_channel = xp.prod(xp.stack(values, axis=0), axis=0)  # N x C
    return Terms(1.0 - xp.mean(per_channel, axis=1))


def ms_ssim_min_side(win_size: int) -> int:
    """The smallest side pytorch_msssim takes: it asserts smaller_side > (win_size - 1) * 2**4."""
    return (win_size - 1) * 2**4 + 1


def _validate_ms_ssim(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    size = int(params["win_size"])
    if size % 2 != 1:
        raise UsageError(f"ms-ssim: win_size must be odd, got {size} (pytorch_msssim: 'Window size should be odd.')")
    if len(params["K"]) != 2:
        raise UsageError(f"ms-ssim: K must be two numbers K1,K2 (e.g. 0.01,0.03), got {len(params['K'])}")
    _validate_images(inputs, sources, min_side=1)
    h, w = inputs["preds"].shape[-2:]
    need = ms_ssim_min_side(size)
    if min(h, w) < need:
        raise InputError(
            f"preds is {h} x {w} pixels; ms-ssim with win_size={size} needs images of at least {need} x {need} "
            f"(pytorch_msssim asserts the smaller side > (win_size - 1) * 2**4 = {need - 1} for its 4 "
            "downsamplings; a smaller win_size allows smaller images)",
            source=sources.get("preds"),
        )
    _check_data_range(inputs, params, sources)


def _image_scale(inputs: Mapping[str, np.ndarray], reduction: str) -> float:
    """Per-sample factor for the health verdict: a pixel's gradient is about 1/(pixels per image)."""
    p = inputs["preds"]
    n = p.shape[0] if p.ndim == 4 else 1
    return float(p.size if reduction == "mean" else p.size // n)


def _ms_ssim_report(ev: Any, inputs: Inputs) -> dict[str, Any]:
    score, per = _scores(ev)  # per: (N,) MS-SSIM values
    out: dict[str, Any] = {"ms_ssim": score}
    if per is not None and per.size > 1:
        out["ms_ssim_per_image"] = per
    return out


# ----------------------------------------------------------------------------- Lovász

LOVASZ_CLASSES = ("present", "all")


def _lovasz_grad(xp: Any, gt_sorted: Array) -> Array:
    """smp ``_lovasz_grad`` along the last axis: with G = Σ gt, J_k = 1 - (G - Σ_{i<=k} gt_i) /
    (G + Σ_{i<=k} (1 - gt_i)), the Lovász gradient is J_1, J_2 - J_1, J_3 - J_2, ..."""
    gts = xp.sum(gt_sorted, axis=-1, keepdims=True)
    intersection = gts - xp.cumulative_sum(gt_sorted, axis=-1)
    union = gts + xp.cumulative_sum(1.0 - gt_sorted, axis=-1)
    jaccard = 1.0 - intersection / union
    return xp.concat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], axis=-1)


def _lovasz_sorted(xp: Any, errors: Array, gt: Array, valid: Array, hinge: bool = False) -> Array:
    """Σ_k e_(k) g_k along the last axis (relu(e_(k)) with ``hinge``), the errors sorted in
    decreasing order (torch.sort in smp; a stable argsort here: ties give the same value).
    Ignored positions (valid false) sort last with gt 0 and add nothing, and change no prefix
    sum before them."""
    key = xp.where(valid, -errors, xp.full_like(errors, math.inf))  # ascending in -e: decreasing errors
    perm = xp.argsort(key, axis=-1, stable=True)
    e_sorted = xp.take_along_axis(errors, perm, axis=-1)
    if hinge:
        e_sorted = xp.maximum(e_sorted, xp.zeros_like(e_sorted))
    e_sorted = xp.where(xp.take_along_axis(valid, perm, axis=-1), e_sorted, xp.zeros_like(e_sorted))
    gt_sorted = xp.take_along_axis(gt, perm, axis=-1)
    return xp.sum(e_sorted * _lovasz_grad(xp, gt_sorted), axis=-1)


def _valid(xp: Any, labels: Array, ignore: Any) -> Array:
    return labels == labels if ignore is None else labels != float(ignore)


def lovasz(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Binary Lovász hinge (smp ``_lovasz_hinge``; LovaszLoss(mode='binary' or 'multilabel')).

    Per image (per_image=true: the first axis; else the whole batch as one): signs s = 2y - 1,
    errors e = 1 - x s, sorted decreasingly; ℓ = Σ_k relu(e_(k)) g_k with g the Lovász gradient
    of the Jaccard loss at the sorted labels (:func:`_lovasz_grad`).  Pixels labelled
    ignore_index are dropped; an image with none left has ℓ = 0.

    Shapes: preds (logits) and targets ({0, 1} masks) alike, any shape.  Elements: (N,) with
    per_image=true, else (1,).
    """
    x, y = inputs["preds"], inputs["targets"]
    rows = x.shape[0] if params["per_image"] and x.ndim >= 1 else 1
    x = xp.reshape(x, (rows, -1))
    y = xp.reshape(y, (rows, -1))
    valid = _valid(xp, y, params["ignore_index"])
    gt = xp.where(valid, y, xp.zeros_like(y))
    errors = 1.0 - x * (2.0 * gt - 1.0)
    return Terms(_lovasz_sorted(xp, errors, gt, valid, hinge=True))


def _softmax_layout(xp: Any, a: Array) -> Array:
    """N x C x d1... -> N x C x (d1...) ; P x C -> 1 x C x P."""
    if a.ndim == 2:
        return xp.reshape(xp.permute_dims(a, (1, 0)), (1, a.shape[1], a.shape[0]))
    return xp.reshape(a, (a.shape[0], a.shape[1], -1))


def lovasz_softmax(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Multi-class Lovász-Softmax (smp ``_lovasz_softmax``; LovaszLoss(mode='multiclass') with
    from_logits=true, which applies a softmax over the class axis first).

    Per image (per_image=true; else the whole batch as one) and class c: fg = [label = c],
    errors e = |fg - p_c| over the pixels not labelled ignore_index, sorted decreasingly;
    ℓ_c = Σ_k e_(k) g_k (:func:`_lovasz_grad` on the sorted fg).  ℓ = mean of ℓ_c over the classes
    present in the image's labels (classes=present) or over all C (classes=all).

    Shapes: preds N x C x d1 x ... (at least 2 spatial axes) or P x C; targets N x d1 x ... (or P)
    class indices.  Elements: (N,) with per_image=true, else (1,).
    """
    p, labels = inputs["preds"], inputs["targets"]
    if params["from_logits"]:
        p = xp.exp(log_softmax(xp, p, axis=1))
    n_cls = p.shape[1]
    pc = _softmax_layout(xp, p)  # B x C x P
    lab = xp.reshape(labels, (1, -1) if p.ndim == 2 else (p.shape[0], -1))  # B x P
    if params["per_image"]:
        if p.ndim == 2:  # P x C: each row is its own image (smp's zip over the first axis)
            pc = xp.reshape(xp.permute_dims(pc, (2, 1, 0)), (pc.shape[2], n_cls, 1))
            lab = xp.reshape(lab, (-1, 1))
    else:
        pc = xp.reshape(xp.permute_dims(pc, (1, 0, 2)), (1, n_cls, -1))
        lab = xp.reshape(lab, (1, -1))
    valid = _valid(xp, lab, params["ignore_index"])[:, None, :]
    classes = xp.reshape(xp.arange(n_cls, dtype=pc.dtype), (1, n_cls, 1))
    fg = xp.astype((lab[:, None, :] == classes) & valid, pc.dtype)
    valid = valid & (fg == fg)  # broadcast to B x C x P
    per_class = _lovasz_sorted(xp, xp.abs(fg - pc), fg, valid)  # B x C
    if params["classes"] == "present":
        keep = xp.astype(xp.sum(fg, axis=-1) > 0, pc.dtype)
    else:
        keep = xp.ones_like(per_class)
    return Terms(xp.sum(per_class * keep, axis=1) / xp.sum(keep, axis=1))


def _label_set(inputs: Mapping[str, np.ndarray], sources: Sources, name: str, ok: np.ndarray, what: str) -> None:
    y = inputs[name]
    _checks.fail_at(sources, name, y, ~ok, what)


def _validate_lovasz(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.non_empty(inputs, sources)
    _checks.ndim_in(inputs, sources, "preds", tuple(range(1, 9)), "logits of any shape (N x ... with per_image=true)")
    y, ignore = inputs["targets"], params["ignore_index"]
    ok = (y == 0) | (y == 1)
    what = "0 or 1 (a binary mask)"
    if ignore is not None:
        ok |= y == ignore
        what = f"0, 1 or ignore_index {ignore}"
    _label_set(inputs, sources, "targets", ok, what)


def _validate_lovasz_softmax(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    _checks.non_empty(inputs, sources)
    p, y = inputs["preds"], inputs["targets"]
    if p.ndim == 3 or p.ndim < 2:
        raise InputError(
            "preds must be N x C x H x W (or N x C x d1 x d2 x ..., or P x C) class probabilities, got shape "
            + " x ".join(map(str, p.shape))
            + " (smp reads 3-D probabilities as B x H x W with one class, which lovasz_softmax refuses: "
            "'Sigmoid output possible only with 1 class'; use lovasz for binary masks)",
            source=sources.get("preds"),
        )
    if p.shape[1] < 2:
        raise InputError(
            "preds has 1 class; lovasz_softmax needs C >= 2 (smp raises 'Sigmoid output possible only with 1 class'); "
            "use lovasz for binary masks",
            source=sources.get("preds"),
        )
    want = (p.shape[0], *p.shape[2:])
    if y.shape != want:
        raise InputError(
            f"targets has shape {' x '.join(map(str, y.shape)) or 'scalar'} but preds "
            f"{' x '.join(map(str, p.shape))} needs class indices of shape {' x '.join(map(str, want))} "
            "(preds without its class axis 1)",
            source=sources.get("targets"),
        )
    c, ignore = p.shape[1], params["ignore_index"]
    ok = (y == np.round(y)) & (y >= 0) & (y < c)
    what = f"a class index 0..{c - 1}"
    if ignore is not None:
        ok |= y == ignore
        what += f" or ignore_index {ignore}"
    _label_set(inputs, sources, "targets", ok, what)
    if ignore is not None:
        valid = (y != ignore).reshape(y.shape[0], -1) if params["per_image"] else (y != ignore).reshape(1, -1)
        empty = np.flatnonzero(~valid.any(axis=1))
        if empty.size:
            where = f"image {int(empty[0])} (0-based)" if params["per_image"] else "the batch"
            raise InputError(
                f"every pixel of {where} is ignore_index {ignore}: lovasz_softmax has no class to average there "
                "(smp returns an empty tensor)",
                source=sources.get("targets"),
            )


def _lovasz_scale(inputs: Mapping[str, np.ndarray], reduction: str) -> float:
    """Per-sample factor for the health verdict: the Lovász gradient of an image spreads over its
    pixels (Σ|g| = 1 for a mask), so scale by the pixels (per image, as with per_image=true)."""
    p = inputs["preds"]
    return float(p.size if reduction == "mean" or p.ndim < 2 else p.size // p.shape[0])


# ----------------------------------------------------------------------------- perceptual

EXPORT_HINT = (
    "export one with torch.export.save(torch.export.export(torchvision.models.vgg16(weights='DEFAULT')"
    ".features[:16].eval(), (torch.rand(1, 3, 224, 224),), dynamic_shapes=...), 'vgg.pt2')"
)
_NETS: dict[tuple[Any, ...], Any] = {}


def _features_path(params: Params) -> str:
    path = params.get("features")
    if path is None or str(path).strip().lower() in ("", "none"):
        raise UsageError(
            "perceptual needs a feature network: -p features=net.pt2, a torch.export program mapping an "
            "N x C x H x W batch to a tensor or a list of tensors (no network ships with losscli); " + EXPORT_HINT
        )
    return str(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line.split(". ")[0].rstrip(".")


def load_features(path: str, dtype: Any = None, trust: bool = False) -> Any:
    """The network at ``path`` (a ``.pt2`` loaded without running code from it, see
    :mod:`losscli.netload`; TorchScript only with ``trust``), cast to ``dtype``, weights frozen (cached)."""
    import torch

    from losscli.netload import load_model

    if not os.path.isfile(path):
        raise InputError("feature network file not found (-p features=...)", source=path)
    stat = os.stat(path)
    dtype = torch.float64 if dtype is None else dtype
    key = (os.path.realpath(path), stat.st_mtime_ns, stat.st_size, str(dtype), trust)
    if key in _NETS:
        return _NETS[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        net = load_model(path, trust=trust).module
    net = net.to(dtype)
    if hasattr(net, "_c"):  # TorchScript: eval mode (an exported program's mode is fixed at export)
        net = net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    if len(_NETS) >= 8:
        _NETS.clear()
    _NETS[key] = net
    return net


def _feature_maps(net: Any, x: Any, name: str, path: str) -> list[Any]:
    import torch

    try:
        out = net(x)
    except Exception as exc:
        shape = " x ".join(str(s) for s in x.shape)
        raise InputError(
            f"the feature network failed on {name} of shape {shape} (N x C x H x W): {_first_line(exc)}", source=path
        ) from None
    maps = list(out) if isinstance(out, (list, tuple)) else [out]
    if not maps or not all(isinstance(m, torch.Tensor) for m in maps):
        raise InputError(
            f"the feature network must return a tensor or a list/tuple of tensors, got {type(out).__name__}",
            source=path,
        )
    n = x.shape[0]
    for i, m in enumerate(maps):
        if m.ndim == 0 or m.shape[0] != n:
            raise InputError(
                f"feature map {i} has shape {tuple(m.shape)}; its first axis must be the batch of {n} image(s)",
                source=path,
            )
    return maps


def perceptual(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Mean feature-space distance through a user-supplied network φ (``.pt2``; TorchScript with trust).

    φ maps an N x C x H x W batch to M feature maps F_m (a tensor or a list of tensors).
    d_{n,m} = mean over the map's elements of image n of (F_m(p) - F_m(y))² (distance=mse) or
    |F_m(p) - F_m(y)| (distance=l1).  Elements: N x M; the loss is their mean, i.e. the mean
    over maps of each map's mean distance.  Runs on torch only (``needs_torch``).
    """
    import torch

    path = _features_path(params)
    x = _as_nchw(xp, inputs["preds"])
    y = _as_nchw(xp, inputs["targets"])
    net = load_features(path, x.dtype, bool(params.get("trust_model")))
    fx = _feature_maps(net, x, "preds", path)
    with torch.no_grad():
        fy = _feature_maps(net, y, "targets", path)
    cols = []
    for a, b in zip(fx, fy):
        d = a - b
        d = d * d if params["distance"] == "mse" else xp.abs(d)
        cols.append(xp.mean(xp.reshape(d, (d.shape[0], -1)), axis=1))
    return Terms(xp.stack(cols, axis=1))


def _validate_perceptual(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
    path = _features_path(params)
    _validate_images(inputs, sources)
    load_features(path, trust=bool(params.get("trust_model")))


def _perceptual_report(ev: Any, inputs: Inputs) -> dict[str, Any]:
    el = np.asarray(ev.elements, dtype=np.float64)
    return {"per_map": np.mean(el, axis=0)} if el.ndim == 2 and el.shape[1] > 1 else {}


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ included
# (see losscli.chains), or None when it has no derivation for that input.


def region_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """Dice, IoU and Tversky for one element, by the quotient rule on the per-class sums."""
    x_all, y_all = inputs["preds"], inputs["targets"]
    prm = ev.params
    p_all = 1.0 / (1.0 + np.exp(-x_all)) if prm["from_logits"] else x_all
    if x_all.ndim <= 2:
        cls, mask = 0, np.ones(x_all.shape, bool)
    elif x_all.ndim == 3:
        cls = index[0]
        mask = np.zeros(x_all.shape, bool)
        mask[cls] = True
    else:
        cls = index[1]
        mask = np.zeros(x_all.shape, bool)
        mask[:, cls] = True
    n_cls = 1 if x_all.ndim <= 2 else x_all.shape[-3]
    p, y = p_all[mask], y_all[mask]
    pj, yj, s = float(p_all[index]), float(y_all[index]), prm["smooth"]
    tp, sp, sy = float(np.sum(p * y)), float(np.sum(p)), float(np.sum(y))
    fwd = [
        ("p_j" + (" = σ(x_j)" if prm["from_logits"] else ""), pj),
        ("y_j", yj),
        ("class", cls),
        ("I = Σ p y (class)", tp),
        ("Σ p", sp),
        ("Σ y", sy),
    ]
    if ev.spec.name == "dice":
        num, den = 2 * tp + s, sp + sy + s
        dnum, dden = 2 * yj, 1.0
        label = "D = (2I + s)/(Σp + Σy + s)"
    elif ev.spec.name == "iou":
        num, den = tp + s, sp + sy - tp + s
        dnum, dden = yj, 1.0 - yj
        label = "J = (I + s)/(Σp + Σy - I + s)"
    else:
        a, b = prm["alpha"], prm["beta"]
        fp, fn = sp - tp, sy - tp
        num, den = tp + s, tp + a * fp + b * fn + s
        dnum, dden = yj, yj + a * (1 - yj) - b * yj
        label = "T = (TP + s)/(TP + α FP + β FN + s)"
    fwd.append((label, num / den))
    formula, outer = outer_step(ev, n_cls)
    local = [
        ("∂L/∂ℓ_c", formula, outer),
        ("∂ℓ_c/∂(ratio)", "-1", -1.0),
        ("∂(ratio)/∂p_j", "(num'·den - num·den')/den²", (dnum * den - num * dden) / den**2),
    ]
    if prm["from_logits"]:
        local.append(("∂p_j/∂x_j", "σ(x)(1 - σ(x))", pj * (1 - pj)))
    return fwd, local


# ----------------------------------------------------------------------------- specs

REGION_PREDS = Input(
    "preds", "M, H x W, C x H x W or N x C x H x W", "probabilities in [0, 1], or logits with from_logits=true"
)
REGION_TARGETS = Input("targets", "same as preds", "mask in [0, 1] (0/1, or soft)", differentiable=False)
# dice and tversky take any values, as Keras (see _region_validator)
KERAS_PREDS = replace(
    REGION_PREDS, help="probabilities (any values are taken as given), or logits with from_logits=true"
)
KERAS_TARGETS = replace(REGION_TARGETS, help="mask (0/1 or soft; any values are taken as given)")
IMG_PREDS = Input("preds", "H x W, C x H x W or N x C x H x W", "predicted / distorted image(s)")
IMG_TARGETS = Input("targets", "same as preds", "reference image(s)", differentiable=False)

SMOOTH = Param("smooth", "float", 1.0, "s, added to numerator and denominator", low=0.0)
FROM_LOGITS = Param("from_logits", "bool", False, "preds are logits (sigmoid is applied)")

REGION_ELEMENT = "per class (summed over batch and pixels)"
REGION_MEAN = "mean over classes"
CLASS_RULE = (
    "Shapes: 1-D/2-D = one mask; 3-D = C x H x W; 4-D = N x C x H x W (a batch of binary masks is N x 1 x H x W)."
)

REGION_RULE = replace(PIXEL_MEAN, scale=_region_scale)
MAP_RULE = replace(PIXEL_MEAN, scale=_pixel_scale)
SEGMENTATION = Example(("dice_probs.csv", "dice_mask.csv"), what="a 16 x 16 probability map and its mask")

SPECS = [
    define(
        name="dice",
        chain=Custom(region_chain),
        example=SEGMENTATION,
        aliases=("dice-loss", "soft-dice"),
        family=FAMILY,
        summary="soft Dice loss for segmentation masks, per class",
        inputs=(KERAS_PREDS, KERAS_TARGETS),
        params=(SMOOTH, FROM_LOGITS),
        formula="ℓ_c = 1 - (2 Σ p y + s) / (Σ p + Σ y + s), sums over batch and pixels of class c;  "
        "L = mean over classes.  " + CLASS_RULE,
        derivative="∂ℓ_c/∂p = -(2 y (Σp + Σy + s) - (2 Σpy + s)) / (Σp + Σy + s)²;  with logits times σ(x)(1 - σ(x))",
        convention="segmentation_models_pytorch soft_dice_score (DiceLoss(mode='multilabel', smooth=s): "
        "per-class sums over N, H, W, s in numerator and denominator)",
        differs="smp defaults to smooth=0 with the denominator clamped at eps=1e-7 and zeroes the loss of "
        "classes absent from the target; Keras Dice uses 1e-7 in the denominator only and flattens the "
        "whole input (axis=None). Values outside [0, 1] are taken as given, as Keras does. With s > 0 an "
        "empty target and empty prediction give loss 0; with s = 0 losscli refuses that 0/0.",
        when="Segmentation with class imbalance: overlap-based, insensitive to the many true negatives.",
        fn=dice,
        validate=_region_validator("dice"),
        report=_region_report("dice"),
        saturation=_region_saturation,
        reduction=REGION_RULE,
        element_note=REGION_ELEMENT,
        mean_note=REGION_MEAN,
        references=("Milletari et al. 2016, V-Net (arXiv:1606.04797)",),
    ),
    define(
        name="iou",
        chain=Custom(region_chain),
        example=SEGMENTATION,
        aliases=("jaccard", "soft-iou", "jaccard-loss"),
        family=FAMILY,
        summary="soft IoU (Jaccard) loss for segmentation masks, per class",
        inputs=(REGION_PREDS, REGION_TARGETS),
        params=(SMOOTH, FROM_LOGITS),
        formula="ℓ_c = 1 - (Σ p y + s) / (Σ p + Σ y - Σ p y + s);  L = mean over classes.  " + CLASS_RULE,
        derivative="with I = Σpy + s, U = Σp + Σy - Σpy + s: ∂ℓ_c/∂p = -(y U - I (1 - y)) / U²",
        convention="segmentation_models_pytorch soft_jaccard_score (JaccardLoss(mode='multilabel', smooth=s))",
        differs="smp defaults to smooth=0 with the denominator clamped at eps=1e-7 and zeroes absent "
        "classes. IoU = Dice / (2 - Dice) per class, so it ranks like Dice but penalises more.",
        when="Segmentation judged by IoU (Jaccard index); a smooth surrogate of the metric.",
        fn=iou,
        validate=_region_validator("iou"),
        report=_region_report("iou"),
        saturation=_region_saturation,
        reduction=REGION_RULE,
        element_note=REGION_ELEMENT,
        mean_note=REGION_MEAN,
        references=("Rahman & Wang 2016, Optimizing Intersection-Over-Union in Deep Neural Networks",),
    ),
    define(
        name="tversky",
        chain=Custom(region_chain),
        example=SEGMENTATION,
        aliases=("tversky-loss",),
        family=FAMILY,
        summary="Tversky loss: Dice with separate weights for false positives and false negatives",
        inputs=(KERAS_PREDS, KERAS_TARGETS),
        params=(
            Param("alpha", "float", 0.5, "weight of false positives Σ p (1 - y)", low=0.0),
            Param("beta", "float", 0.5, "weight of false negatives Σ (1 - p) y", low=0.0),
            SMOOTH,
            FROM_LOGITS,
        ),
        formula="TP = Σ p y, FP = Σ p (1 - y), FN = Σ (1 - p) y;  "
        "ℓ_c = 1 - (TP + s) / (TP + α FP + β FN + s);  L = mean over classes.  " + CLASS_RULE,
        derivative="with D = TP + α FP + β FN + s: ∂ℓ_c/∂p = -(y D - (TP + s)((1 - α - β) y + α)) / D²",
        convention="segmentation_models_pytorch soft_tversky_score, the score inside TverskyLoss(alpha=0.5, "
        "beta=0.5, gamma=1, mode='multilabel', smooth=s): alpha on false positives Σ p (1 - y), beta on "
        "false negatives Σ (1 - p) y, as Salehi et al. 2017; every class counts",
        differs="Keras Tversky(alpha, beta) puts alpha on Σ y (1 - p) (false negatives) and beta on "
        "Σ p (1 - y) (false positives), the reverse of its docstring, on the whole input flattened (axis=None) "
        "with 1e-7 added to the denominator: Keras Tversky(alpha=a, beta=b) is -p alpha=b -p beta=a "
        "-p smooth=0 on a single mask (its test: 0.7917 for alpha=0.2, beta=0.8). Values outside [0, 1] "
        "are taken as given, as Keras does (smp clamps the denominator at 1e-7). smp's TverskyLoss (like its "
        "DiceLoss) also sets the loss of a class absent from the target to 0 before the mean; losscli keeps "
        "it (-p smooth=0 refuses a class whose denominator is 0). α = β = ½ equals Dice "
        "with smoothing 2s (the same at s = 0); α = β = 1 equals IoU.",
        when="Segmentation where missing the object costs more than over-segmenting: raise beta.",
        fn=tversky,
        validate=_region_validator("tversky"),
        report=_region_report("tversky_index"),
        saturation=_region_saturation,
        reduction=REGION_RULE,
        element_note=REGION_ELEMENT,
        mean_note=REGION_MEAN,
        references=("Salehi et al. 2017, Tversky loss function for image segmentation (arXiv:1706.05721)",),
    ),
    define(
        name="generalized-dice",
        example=Example(("seg_probs.npy", "seg_mask.npy"), what="2 images of 3-class softmax maps and one-hot masks"),
        aliases=("generalised-dice", "gdl", "generalized-dice-loss"),
        family=FAMILY,
        summary="generalized Dice loss: Dice with classes weighted by 1/(Σ target)²",
        inputs=(
            Input("preds", "N x C x spatial...", "probabilities, or logits with sigmoid/softmax=true"),
            Input("targets", "same as preds", "one-hot (or soft) masks, class axis 1", differentiable=False),
        ),
        params=(
            Param("w_type", "choice", "square", "class weights: 1/G², 1/G or 1 (G = Σ target)", choices=GD_WEIGHTS),
            Param("smooth_nr", "float", 1e-5, "added to the numerator", low=0.0),
            Param("smooth_dr", "float", 1e-5, "added to the denominator", low=0.0),
            Param("batch", "bool", False, "sum over the batch too: one loss for the batch"),
            Param("sigmoid", "bool", False, "apply a sigmoid to preds"),
            Param("softmax", "bool", False, "apply a softmax over the class axis to preds"),
            Param("include_background", "bool", True, "false drops class 0"),
        ),
        formula="ℓ_n = 1 - (2 Σ_c w_c Σ p y + smooth_nr) / (Σ_c w_c (Σ y + Σ p) + smooth_dr), sums over "
        "the spatial axes of sample n, w_c = 1/(Σ y)² (w_type=square; an absent class takes the "
        "sample's largest weight);  L = mean over samples",
        derivative="∂ℓ_n/∂p = -(2 w_c y D - N w_c) / D² for p of class c (N, D the numerator and "
        "denominator; the weights depend on the targets only)",
        convention="MONAI GeneralizedDiceLoss(include_background=True, w_type='square', smooth_nr=1e-5, "
        "smooth_dr=1e-5, batch=False, reduction='mean'); the weights are computed in float32 as MONAI's "
        "w_func(ground_o.float())",
        differs="optax multiclass_generalized_dice_loss is another loss: it weights the per-class Dice "
        "losses (with smooth=1) by 1/((Σ y)² + 1e-7) normalised to mean 1, then averages, instead of "
        "weighting the sums inside one ratio (Sudre et al.). MONAI's to_onehot_y (class-index targets) "
        "is not offered: give one-hot targets.",
        when="Multi-class segmentation with rare classes: each class counts about equally, however few pixels it has.",
        fn=generalized_dice,
        validate=_validate_generalized_dice,
        reduction=replace(PIXEL_MEAN, scale=_gd_scale),
        element_note="per sample (one value for the batch with batch=true)",
        mean_note="mean over samples",
        references=(
            "Sudre et al. 2017, Generalised Dice overlap as a deep learning loss function for highly "
            "unbalanced segmentations (arXiv:1707.03237)",
        ),
    ),
    define(
        name="ssim",
        example=Example(("img_distorted.png", "img_reference.png"), what="a blurred, noisy image and its reference"),
        aliases=("ssim-loss",),
        family=FAMILY,
        summary="1 - SSIM (structural similarity), Gaussian window, no padding",
        inputs=(IMG_PREDS, IMG_TARGETS),
        params=(
            Param(
                "data_range", "float", 1.0, "R: max - min possible pixel value (255 for 8-bit)", low=0.0, low_open=True
            ),
        ),
        formula="SSIM = mean over valid positions of (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)"
        "(σx² + σy² + C2)), μ, σ² from an 11-wide Gaussian (σ = 1.5) without padding, "
        "C1 = (0.01 R)², C2 = (0.03 R)²;  ℓ_{n,c} = 1 - SSIM of image n, channel c;  L = mean ℓ",
        derivative="by autograd through the filtering (a matrix product with a banded Gaussian matrix)",
        convention="pytorch_msssim ssim (loss = 1 - ssim(X, Y, data_range=R, size_average=True, win_size=11, "
        "win_sigma=1.5, K=(0.01, 0.03)); --reduction none gives 1 - its per-channel SSIM)",
        differs="pytorch_msssim defaults to data_range=255 and builds its window in float32 (values agree "
        "to ~1e-6); skimage structural_similarity(gaussian_weights=True, sigma=1.5, "
        "use_sample_covariance=False) filters with reflect padding then crops the 5-pixel border, which "
        "gives the same value; kornia SSIMLoss returns (1 - SSIM) / 2 and pads.",
        when="Image restoration / compression: compares local structure and contrast, not raw pixels.",
        fn=ssim,
        reduction=MAP_RULE,
        validate=_validate_ssim,
        report=_ssim_report,
        element_note="per image and channel (N x C; 1 x 1 for one H x W image)",
        mean_note="mean over images and channels (1 - SSIM)",
        references=(
            "Wang et al. 2004, Image quality assessment: from error visibility to structural "
            "similarity, IEEE TIP 13(4)",
        ),
    ),
    define(
        name="ms-ssim",
        example=Example(
            ("ms_ssim_distorted.png", "ms_ssim_reference.png"),
            what="a 176 x 176 grayscale image with noise added, and its reference",
        ),
        aliases=("msssim", "ms-ssim-loss", "multiscale-ssim"),
        family=FAMILY,
        summary="1 - MS-SSIM (multi-scale structural similarity), 5 scales, Gaussian window",
        inputs=(IMG_PREDS, IMG_TARGETS),
        params=(
            Param(
                "data_range", "float", 1.0, "R: max - min possible pixel value (255 for 8-bit)", low=0.0, low_open=True
            ),
            Param("win_size", "int", SSIM_WIN, "width of the Gaussian window (odd)", low=1),
            Param("win_sigma", "float", SSIM_SIGMA, "σ of the Gaussian window", low=0.0, low_open=True),
            Param("weights", "floats", MS_SSIM_WEIGHTS, "exponent of each scale (their count is the number of scales)"),
            Param("K", "floats", (SSIM_K1, SSIM_K2), "K1,K2: C1 = (K1 R)², C2 = (K2 R)²", low=0.0),
        ),
        formula="at scale s (images 2 x 2 average-pooled between scales): cs_s = mean of (2 σxy + C2) / "
        "(σx² + σy² + C2), SSIM_L as ssim at the last scale, μ, σ² from a win_size-wide Gaussian (σ = win_sigma) "
        "without padding;  MS-SSIM = Π_{s<L} relu(cs_s)^{w_s} · relu(SSIM_L)^{w_L} per image and channel;  "
        "ℓ_n = 1 - mean over channels of image n;  L = mean ℓ",
        derivative="by autograd through the filtering and pooling (matrix products with banded matrices) and "
        "the product of powers: ∂/∂cs_s of Π = w_s Π / cs_s",
        convention="pytorch_msssim ms_ssim (loss = 1 - ms_ssim(X, Y, data_range=R, size_average=True, "
        "win_size=11, win_sigma=1.5, weights=[0.0448, 0.2856, 0.3001, 0.2363, 0.1333], K=(0.01, 0.03)); "
        "--reduction none gives 1 - ms_ssim(..., size_average=False), one value per image)",
        differs="pytorch_msssim defaults to data_range=255 and builds its window in float32 (values agree to "
        "~1e-5 relative); it asserts min(H, W) > (win_size - 1) * 16 (161 for win_size=11), which losscli refuses with "
        "that minimum; its 5-D volumes (N x C x T x H x W) are not offered. The relu on each scale's cs and on "
        "the last SSIM is pytorch_msssim's (Wang et al. 2003 write the product without it); odd sides are "
        "zero-padded before pooling and the zeros counted, so other implementations that pad or crop "
        "differently give slightly different values on odd sides.",
        when="Image restoration and compression where structure at several resolutions matters "
        "(less sensitive than SSIM to the viewing scale); often mixed with L1 (Zhao et al. 2017).",
        fn=ms_ssim,
        reduction=replace(PIXEL_MEAN, scale=_image_scale),
        validate=_validate_ms_ssim,
        report=_ms_ssim_report,
        element_note="per image (1 - MS-SSIM averaged over its channels; one value for one image)",
        mean_note="mean over images (1 - MS-SSIM)",
        references=(
            "Wang, Simoncelli & Bovik 2003, Multiscale structural similarity for image quality "
            "assessment, Asilomar Conference on Signals, Systems and Computers",
        ),
    ),
    define(
        name="lovasz",
        example=Example(("lovasz_logits.csv", "dice_mask.csv"), what="a 16 x 16 map of logits and its binary mask"),
        aliases=("lovasz-hinge", "lovasz-loss"),
        family=FAMILY,
        summary="binary Lovász hinge: a convex surrogate of the Jaccard (IoU) loss on logits",
        inputs=(
            Input("preds", "any shape (N x ... with per_image=true)", "logits"),
            Input("targets", "same as preds", "binary mask {0, 1} (or ignore_index)", differentiable=False),
        ),
        params=(
            Param("per_image", "bool", False, "one loss per image (first axis), averaged; false: the batch as one"),
            Param("ignore_index", "int", None, "label of pixels to leave out (none: keep all)"),
        ),
        formula="e = 1 - x (2y - 1) per pixel, sorted decreasingly;  ℓ = Σ_k relu(e_(k)) g_k, g_k = J_k - J_{k-1}, "
        "J_k = 1 - (G - Σ_{i<=k} y_(i)) / (G + Σ_{i<=k} (1 - y_(i))), G = Σ y (the Jaccard loss of the k "
        "largest errors);  L = mean over images (per_image) or ℓ of the whole batch",
        derivative="∂ℓ/∂x_j = -(2 y_j - 1) g_{k(j)} for e_j > 0 (0 otherwise), k(j) the rank of e_j: the loss "
        "is linear between changes of the sort order",
        convention="segmentation_models_pytorch LovaszLoss(mode='binary', per_image=False, ignore_index=None) "
        "= _lovasz_hinge (Berman et al. 2018's lovasz_hinge); mode='multilabel' is the same on N x C x H x W",
        differs="smp's function _lovasz_hinge defaults to per_image=True, its LovaszLoss class to False "
        "(losscli: False, the class); an image whose pixels are all ignored adds 0 to the mean, as smp. "
        "Labels other than 0, 1 and ignore_index are refused (smp would read 2 as the sign 3). Ties in "
        "the sort give the same value in any order.",
        when="Binary segmentation judged by IoU: optimises the Jaccard index directly (often after a few "
        "epochs of BCE).",
        fn=lovasz,
        validate=_validate_lovasz,
        reduction=replace(PIXEL_MEAN, scale=_lovasz_scale),
        element_note="per image with per_image=true, else one value for the batch",
        mean_note="mean over images",
        references=(
            "Berman, Rannen Triki & Blaschko 2018, The Lovász-Softmax loss: a tractable surrogate for the "
            "optimization of the intersection-over-union measure in neural networks (arXiv:1705.08790)",
        ),
    ),
    define(
        name="lovasz-softmax",
        example=Example(
            ("seg_probs.npy", "lovasz_softmax_labels.npy"), what="2 images of 3-class softmax maps and their labels"
        ),
        aliases=("lovasz-softmax-loss",),
        family=FAMILY,
        summary="multi-class Lovász-Softmax: a surrogate of the mean per-class Jaccard (IoU) loss",
        inputs=(
            Input(
                "preds",
                "N x C x H x W (N x C x d1 x ..., or P x C)",
                "class probabilities, or logits with from_logits=true",
            ),
            Input(
                "targets",
                "N x H x W (preds without axis 1; P)",
                "class indices 0..C-1 (or ignore_index)",
                differentiable=False,
            ),
        ),
        params=(
            Param(
                "classes",
                "choice",
                "present",
                "classes averaged: those present in the labels, or all",
                choices=LOVASZ_CLASSES,
            ),
            Param("per_image", "bool", False, "one loss per image (first axis), averaged; false: the batch as one"),
            Param("ignore_index", "int", None, "label of pixels to leave out (none: keep all)"),
            Param(
                "from_logits",
                "bool",
                False,
                "preds are logits: softmax over axis 1 first (LovaszLoss mode='multiclass')",
            ),
        ),
        formula="per class c: fg = [y = c], e = |fg - p_c| per pixel, sorted decreasingly;  ℓ_c = Σ_k e_(k) g_k "
        "(g the Lovász gradient of the Jaccard loss at the sorted fg, as lovasz);  ℓ = mean of ℓ_c over the "
        "classes present in the labels (classes=present) or all;  L = mean over images (per_image) or ℓ",
        derivative="∂ℓ_c/∂p_{j,c} = -sign(fg_j - p_{j,c}) g_{k(j)} / (number of classes averaged), k(j) the rank of "
        "pixel j's error for class c; with from_logits times the softmax Jacobian",
        convention="segmentation_models_pytorch _lovasz_softmax(probas, labels, classes='present', per_image=False, "
        "ignore=None) (Berman et al. 2018's lovasz_softmax); from_logits=true is LovaszLoss(mode='multiclass'), "
        "which applies softmax(dim=1) first",
        differs="smp's classes may also be a list of class ids (not offered here). smp raises for one class "
        "('Sigmoid output possible only with 1 class') and for 3-D probabilities (read as B x H x W, one class): "
        "losscli refuses them and points to lovasz. smp returns an empty tensor when every pixel is ignored: "
        "refused. Labels outside 0..C-1 (smp counts them as background of every class) are refused. "
        "Probabilities are taken as given (not checked to sum to 1), as smp.",
        when="Multi-class semantic segmentation judged by mean IoU, fine-tuning after cross-entropy.",
        fn=lovasz_softmax,
        validate=_validate_lovasz_softmax,
        reduction=replace(PIXEL_MEAN, scale=_lovasz_scale),
        element_note="per image with per_image=true, else one value for the batch",
        mean_note="mean over images",
        references=(
            "Berman, Rannen Triki & Blaschko 2018, The Lovász-Softmax loss: a tractable surrogate for the "
            "optimization of the intersection-over-union measure in neural networks (arXiv:1705.08790)",
        ),
    ),
    define(
        name="perceptual",
        aliases=("feature-loss", "content-loss", "perceptual-loss"),
        family=FAMILY,
        summary="distance between feature maps of a network you supply (.pt2)",
        inputs=(IMG_PREDS, IMG_TARGETS),
        params=(
            Param("features", "str", None, "path of the feature network, a torch.export program (.pt2; required)"),
            Param(
                "trust_model",
                "bool",
                False,
                "also load TorchScript or archives losscli refuses (can run code from the file; as --trust-model)",
            ),
            Param("distance", "choice", "mse", "per-map distance", choices=("mse", "l1")),
        ),
        formula="F_1..F_M = φ(x) (φ: N x C x H x W -> tensor or list of tensors);  "
        "ℓ_{n,m} = mean over map m of image n of (F_m(p) - F_m(y))² (mse) or |F_m(p) - F_m(y)| (l1);  "
        "L = mean ℓ = mean over maps of the per-map mean distance",
        derivative="by autograd through φ (its weights are frozen): ∂L/∂p = Σ_m (∂F_m/∂p)ᵀ ∂d_m/∂F_m",
        convention="Johnson et al. 2016 feature reconstruction loss (with a torch.export network you export, "
        "e.g. VGG16 features[:16]; it runs in eval mode, cast to the input dtype, weights frozen)",
        differs="LPIPS normalises channels and applies learned weights (downloaded); no network ships "
        "with losscli. Inputs are passed as given: apply the network's own normalisation (e.g. ImageNet "
        "mean/std) before, or inside the scripted module.",
        when="Super-resolution, style transfer, image generation: penalise differences a network sees.",
        fn=perceptual,
        reduction=MAP_RULE,
        validate=_validate_perceptual,
        report=_perceptual_report,
        needs_torch=True,
        element_note="per image and feature map (N x M)",
        mean_note="mean over images and feature maps",
        references=(
            "Johnson, Alahi & Fei-Fei 2016, Perceptual losses for real-time style transfer and "
            "super-resolution (arXiv:1603.08155)",
        ),
    ),
]
