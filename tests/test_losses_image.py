"""Image losses (dice, iou, tversky, ssim, perceptual) and read_image against independent
references: formulas by hand in numpy, segmentation_models_pytorch's score functions (transcribed,
smp is not installed), pytorch_msssim and scikit-image (test extras), an independent
conv2d SSIM, and a tiny TorchScript network evaluated directly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_msssim as pm
import skimage.metrics as metrics
import torch
import torch.nn.functional as F
from PIL import Image

from losscli import losses
from losscli.core import evaluate
from losscli.errors import InputError, UsageError
from losscli.io.images import read_image
from losscli.losses import image as image_losses
from losscli.params import parse_params
from tests.cases import CASES
from tests.cases_image import make_feature_net, save_feature_net

DATA = Path(__file__).resolve().parent.parent / "losscli" / "data"
RTOL = 1e-12


def run(name: str, params: list[str], inputs: dict[str, np.ndarray], backend: str = "numpy", **kw):
    spec = losses.get(name)
    return evaluate(spec, inputs, parse_params(spec, params), backend=backend, **kw)


def case_inputs(loss: str, cid: str, seed: int = 21) -> tuple[list[str], dict[str, np.ndarray]]:
    params, factory = next((p, f) for c, p, f in CASES[loss] if c == cid)
    return params, factory(np.random.default_rng(seed))


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


# ============================================================================ region losses


def classes_last(a: np.ndarray) -> np.ndarray:
    """Independent class-axis rule: an M x C matrix (rows = every batch/pixel position)."""
    if a.ndim <= 2:
        return a.reshape(-1, 1)
    if a.ndim == 3:
        return a.reshape(a.shape[0], -1).T
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def region_by_hand(loss: str, p: np.ndarray, y: np.ndarray, prm: dict) -> np.ndarray:
    """Per-class losses by the issue's formulas, one class at a time."""
    if prm["from_logits"]:
        p = 1.0 / (1.0 + np.exp(-p))
    pm, ym = classes_last(p), classes_last(y)
    s = prm["smooth"]
    out = []
    for c in range(pm.shape[1]):
        pc, yc = pm[:, c], ym[:, c]
        tp = float(np.dot(pc, yc))
        fp = float(np.dot(pc, 1.0 - yc))
        fn = float(np.dot(1.0 - pc, yc))
        if loss == "dice":
            out.append(1.0 - (2.0 * tp + s) / (pc.sum() + yc.sum() + s))
        elif loss == "iou":
            out.append(1.0 - (tp + s) / (pc.sum() + yc.sum() - tp + s))
        else:
            out.append(1.0 - (tp + s) / (tp + prm["alpha"] * fp + prm["beta"] * fn + s))
    return np.array(out)


def smp_loss(loss: str, y_pred: torch.Tensor, y_true: torch.Tensor, prm: dict) -> torch.Tensor:
    """segmentation_models_pytorch DiceLoss / JaccardLoss / TverskyLoss(mode='multilabel'),
    as their source computes them (score functions with clamp_min(eps), dims=(0, 2) on an
    N x C x -1 view, from_logits by logsigmoid().exp()), minus the absent-class masking, which the
    caller checks is a no-op.  Layouts other than N x C x H x W are first put in that form."""

    def nchw(a: torch.Tensor) -> torch.Tensor:
        if a.ndim <= 2:
            return a.reshape(1, 1, 1, -1)
        if a.ndim == 3:
            return a.unsqueeze(0)
        return a

    y_pred, y_true = nchw(y_pred), nchw(y_true)
    if prm["from_logits"]:
        y_pred = F.logsigmoid(y_pred).exp()
    bs, num_classes = y_true.size(0), y_pred.size(1)
    output = y_pred.view(bs, num_classes, -1)
    target = y_true.view(bs, num_classes, -1).type_as(output)
    dims, smooth, eps = (0, 2), prm["smooth"], 1e-7
    intersection = torch.sum(output * target, dim=dims)
    if loss == "tversky":
        fp = torch.sum(output * (1.0 - target), dim=dims)
        fn = torch.sum((1 - output) * target, dim=dims)
        score = (intersection + smooth) / (intersection + prm["alpha"] * fp + prm["beta"] * fn + smooth).clamp_min(eps)
    else:
        cardinality = torch.sum(output + target, dim=dims)
        if loss == "dice":
            score = (2.0 * intersection + smooth) / (cardinality + smooth).clamp_min(eps)
        else:
            score = (intersection + smooth) / (cardinality - intersection + smooth).clamp_min(eps)
    assert bool((target.sum(dims) > 0).all()), "smp would zero the loss of an absent class"
    return (1.0 - score).mean()


REGION_CASES = [(loss, c[0]) for loss in ("dice", "iou", "tversky") for c in CASES[loss]]


@pytest.mark.parametrize("loss,cid", REGION_CASES)
def test_region_by_hand_and_smp(loss, cid):
    params, d = case_inputs(loss, cid)
    prm = parse_params(losses.get(loss), params)
    per_class = region_by_hand(loss, d["preds"], d["targets"], prm)
    x = torch.tensor(d["preds"], dtype=torch.float64, requires_grad=True)
    ref = smp_loss(loss, x, torch.tensor(d["targets"]), prm)
    ref.backward()
    assert ref.item() == pytest.approx(per_class.mean(), rel=1e-13)
    for backend in ("numpy", "torch"):
        ev = run(loss, params, d, backend, reduction="none")
        np.testing.assert_allclose(ev.value, per_class, rtol=RTOL, atol=1e-15)
        assert run(loss, params, d, backend).value == pytest.approx(per_class.mean(), rel=RTOL)
        assert run(loss, params, d, backend, reduction="sum").value == pytest.approx(per_class.sum(), rel=RTOL)
    grad = run(loss, params, d, "torch").gradients["preds"]
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=1e-10, atol=1e-16)


def test_class_axis_rule_and_reduction_none_layout():
    rng = np.random.default_rng(3)
    p4, y4 = rng.uniform(0.1, 0.9, (2, 3, 4, 5)), (rng.uniform(size=(2, 3, 4, 5)) < 0.5) * 1.0
    ev = run("dice", [], {"preds": p4, "targets": y4}, reduction="none")
    assert ev.value.shape == (3,) and ev.n == 3
    # class c of N x C x H x W = one mask made of both images' class-c planes side by side
    for c in range(3):
        one = {"preds": np.concatenate(list(p4[:, c]), axis=1), "targets": np.concatenate(list(y4[:, c]), axis=1)}
        assert run("dice", [], one).value == pytest.approx(ev.value[c], rel=RTOL)
    # C x H x W is one image with a class axis first
    ev3 = run("dice", [], {"preds": p4[0], "targets": y4[0]}, reduction="none")
    ev4 = run("dice", [], {"preds": p4[:1], "targets": y4[:1]}, reduction="none")
    np.testing.assert_allclose(ev3.value, ev4.value, rtol=RTOL)
    # a batch of binary masks is N x 1 x H x W: one Dice over the whole batch
    b = run("dice", [], {"preds": p4[:, :1], "targets": y4[:, :1]}, reduction="none")
    flat = run("dice", [], {"preds": p4[:, 0].ravel(), "targets": y4[:, 0].ravel()})
    assert b.value.shape == (1,) and b.value[0] == pytest.approx(flat.value, rel=RTOL)
    assert ev.extras["dice"] == pytest.approx(1 - ev.value.mean(), rel=RTOL)
    np.testing.assert_allclose(ev.extras["dice_per_class"], 1 - ev.value, rtol=RTOL)


def test_sample_weights_are_class_weights_for_region_losses_and_image_weights_for_ssim():
    _, d = case_inputs("dice", "nchw")
    per_class = run("dice", [], d, reduction="none").value
    w = np.array([2.0, 0.0, 1.5])
    ev = run("dice", [], d, sample_weights=w)
    assert ev.value == pytest.approx((w * per_class).sum() / w.sum(), rel=RTOL)
    assert ev.extras == {"dice": pytest.approx(1 - ev.value, rel=RTOL)}  # no per-class list of weighted values
    _, d = case_inputs("ssim", "nchw")
    per = run("ssim", [], d, reduction="none").value  # 2 images x 2 channels
    ev = run("ssim", [], d, sample_weights=np.array([3.0, 1.0]))
    assert ev.value == pytest.approx((3 * per[0].mean() + per[1].mean()) / 4, rel=RTOL)
    assert ev.extras["ssim"] == pytest.approx(1 - ev.value, rel=RTOL)


@pytest.mark.parametrize("cid", ["mask", "nchw", "logits", "soft"])
def test_tversky_identities(cid):
    _, d = case_inputs("dice", cid)
    logits = ["from_logits=true"] if cid == "logits" else []
    for backend in ("numpy", "torch"):
        # α = β = ½ is Dice with smoothing 2s, and exactly Dice at s = 0
        t = run("tversky", logits + ["smooth=0.7"], d, backend, reduction="none").value
        dc = run("dice", logits + ["smooth=1.4"], d, backend, reduction="none").value
        np.testing.assert_allclose(t, dc, rtol=RTOL)
        t0 = run("tversky", logits + ["smooth=0"], d, backend, reduction="none").value
        d0 = run("dice", logits + ["smooth=0"], d, backend, reduction="none").value
        np.testing.assert_allclose(t0, d0, rtol=RTOL)
        # α = β = 1 is IoU with the same smoothing; at s = 0, IoU = Dice / (2 - Dice) per class
        t1 = run("tversky", logits + ["alpha=1", "beta=1", "smooth=0.3"], d, backend, reduction="none").value
        np.testing.assert_allclose(
            t1, run("iou", logits + ["smooth=0.3"], d, backend, reduction="none").value, rtol=RTOL
        )
        dice_c = 1 - d0
        np.testing.assert_allclose(
            1 - run("iou", logits + ["smooth=0"], d, backend, reduction="none").value, dice_c / (2 - dice_c), rtol=1e-12
        )
    g_t = run("tversky", logits + ["smooth=0"], d, "torch").gradients["preds"]
    g_d = run("dice", logits + ["smooth=0"], d, "torch").gradients["preds"]
    np.testing.assert_allclose(g_t, g_d, rtol=1e-12, atol=1e-17)


def test_tversky_beta_weights_false_negatives():
    y = np.array([1.0, 1.0, 0.0, 0.0])
    miss = {"preds": np.array([0.0, 0.0, 0.0, 0.0]), "targets": y}  # FN = 2, FP = 0
    over = {"preds": np.array([1.0, 1.0, 1.0, 1.0]), "targets": y}  # FN = 0, FP = 2
    p = ["alpha=0.2", "beta=0.8", "smooth=0"]
    assert run("tversky", p, miss).value == pytest.approx(1.0)
    assert run("tversky", p, over).value == pytest.approx(1 - 2 / (2 + 0.2 * 2), rel=RTOL)


# keras-team/keras keras/src/losses/losses_test.py, DiceTest and TverskyTest (float32 there): Keras's
# Tversky puts alpha on Σ y (1 - p) and beta on Σ p (1 - y) (keras/src/losses/losses.py ``tversky``:
# fp = sum((1 - y_pred) * y_true), fn = sum(y_pred * (1 - y_true)), ratio TP / (TP + fp·α + fn·β + 1e-7)),
# so Keras Tversky(alpha=a, beta=b) is losscli tversky alpha=b, beta=a, with smooth=0.
KERAS_INTEGERS = ([[1.0, 2], [1, 2]], [[4.0, 1], [6, 1]])  # (y_true, y_pred): values outside [0, 1]
KERAS_MASK = (
    [[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]],
    [[0.0, 1, 0, 1], [1, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 1]],
)
KERAS_AXIS = (  # two samples of 2 x 2 x 1, Keras axis=(1, 2, 3): one loss per sample
    [[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]],
    [[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]],
)
KERAS_VALUES = [  # (loss, Keras alpha, beta, data, expected)
    ("dice", None, None, KERAS_INTEGERS, -0.55555546),
    ("dice", None, None, KERAS_MASK, 0.77777773),
    ("dice", None, None, KERAS_AXIS, [0.5, 0.75757575]),
    ("tversky", 0.5, 0.5, KERAS_INTEGERS, -0.55555546),
    ("tversky", 0.2, 0.8, KERAS_INTEGERS, -0.29629636),
    ("tversky", 0.5, 0.5, KERAS_MASK, 0.77777773),
    ("tversky", 0.5, 0.5, KERAS_AXIS, [0.5, 0.75757575]),
    ("tversky", 0.2, 0.8, KERAS_MASK, 0.7916667),
    ("tversky", 0.2, 0.8, KERAS_AXIS, [0.5, 0.7222222]),
]


def keras_region(loss: str, y_true: np.ndarray, y_pred: np.ndarray, alpha: float, beta: float) -> float:
    """keras/src/losses/losses.py ``dice`` / ``tversky`` (axis=None), transcribed in numpy."""
    inputs, targets = y_true.reshape(-1), y_pred.reshape(-1)
    intersection = np.sum(inputs * targets)
    if loss == "dice":
        return 1 - 2.0 * intersection / (np.sum(y_true) + np.sum(y_pred) + 1e-7)
    fp = np.sum((1 - targets) * inputs)
    fn = np.sum(targets * (1 - inputs))
    return 1 - intersection / (intersection + fp * alpha + fn * beta + 1e-7)


@pytest.mark.parametrize("loss,alpha,beta,data,expected", KERAS_VALUES)
def test_dice_and_tversky_match_keras(loss, alpha, beta, data, expected):
    """Keras's own test values, with its alpha and beta swapped for tversky; Keras's axis=(1, 2, 3)
    (one loss per sample) is one losscli call per sample.  Values outside [0, 1] are accepted."""
    y_true, y_pred = (np.array(a) for a in data)
    swapped = [] if loss == "dice" else [f"alpha={beta}", f"beta={alpha}"]
    params = [*swapped, "smooth=0"]
    samples = [(y_true, y_pred)] if y_true.ndim == 2 else [(a[..., 0], b[..., 0]) for a, b in zip(y_true, y_pred)]
    for (yt, yp), want in zip(samples, np.atleast_1d(expected)):
        ref = keras_region(loss, yt, yp, alpha, beta)
        assert ref == pytest.approx(want, abs=1e-6)  # the transcription gives Keras's number
        for backend in ("numpy", "torch"):
            ev = run(loss, params, {"preds": yp, "targets": yt}, backend)
            assert ev.value == pytest.approx(ref, rel=1e-6, abs=1e-7)  # Keras's 1e-7 in the denominator
    if loss == "tversky" and alpha != beta:  # unswapped, losscli (smp's alpha on Σ p (1 - y)) differs
        yt, yp = samples[-1]  # (the first axis sample has FP = FN)
        as_given = run("tversky", [f"alpha={alpha}", f"beta={beta}", "smooth=0"], {"preds": yp, "targets": yt})
        assert as_given.value != pytest.approx(keras_region(loss, yt, yp, alpha, beta), abs=1e-3)


def test_tversky_outside_unit_interval_gradient():
    """Values outside [0, 1] go through the same formula: the gradient is autograd's of it."""
    yt, yp = (np.array(a) for a in KERAS_INTEGERS)
    ev = run("tversky", ["alpha=0.8", "beta=0.2", "smooth=0"], {"preds": yp, "targets": yt}, "torch")
    x = torch.tensor(yp, requires_grad=True)
    y = torch.tensor(yt)
    tp = (x * y).sum()
    ref = 1 - tp / (tp + 0.8 * (x * (1 - y)).sum() + 0.2 * ((1 - x) * y).sum())
    ref.backward()
    assert ev.value == pytest.approx(ref.item(), rel=1e-14)
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=1e-12)


def test_empty_mask_and_prediction():
    z = {"preds": np.zeros((4, 4)), "targets": np.zeros((4, 4))}
    for loss in ("dice", "iou", "tversky"):
        assert run(loss, [], z).value == 0.0  # smoothing gives (0 + s) / (0 + s) = 1
        with pytest.raises(InputError) as exc:
            run(loss, ["smooth=0"], z, sources={"preds": "p.csv", "targets": "m.csv"})
        assert "0/0" in one_line(exc) and "m.csv" in str(exc.value)
    per_class = {"preds": np.zeros((2, 3, 3)), "targets": np.zeros((2, 3, 3))}
    per_class["preds"][0, 1, 1] = per_class["targets"][0, 1, 1] = 1.0
    with pytest.raises(InputError, match="class 1"):
        run("dice", ["smooth=0"], per_class)


@pytest.mark.parametrize("loss", ["dice", "iou", "tversky"])
def test_region_bad_inputs(loss):
    src = {"preds": "probs.csv", "targets": "mask.csv"}
    good = np.full((4, 4), 0.5)
    with pytest.raises(InputError) as exc:
        run(loss, [], {"preds": good, "targets": np.ones((4, 5))}, sources=src)
    assert "4 x 4" in one_line(exc) and "4 x 5" in str(exc.value)
    bad_t = np.ones((4, 4))
    bad_t[2, 1] = 2.0
    if loss == "iou":  # dice and tversky take any values, as Keras (test_dice_and_tversky_match_keras)
        with pytest.raises(InputError) as exc:
            run(loss, [], {"preds": good, "targets": bad_t}, sources=src)
        assert "mask.csv" in one_line(exc) and "targets must be in [0, 1]" in str(exc.value)
        with pytest.raises(InputError) as exc:
            run(loss, [], {"preds": good + 1.0, "targets": good}, sources=src)
        assert "probs.csv" in one_line(exc) and "from_logits" not in str(exc.value)
    assert run(loss, ["from_logits=true"], {"preds": good + 1.0, "targets": good}).value > 0
    with pytest.raises(InputError) as exc:
        run(loss, [], {"preds": np.full((1, 1, 1, 2, 2), 0.5), "targets": np.ones((1, 1, 1, 2, 2))})
    assert "N x C x H x W" in one_line(exc)


def test_dice_sample_files():
    p = np.loadtxt(DATA / "dice_probs.csv", delimiter=",")
    m = np.loadtxt(DATA / "dice_mask.csv", delimiter=",")
    assert p.shape == m.shape == (16, 16) and set(np.unique(m)) == {0.0, 1.0}
    ev = run("dice", [], {"preds": p, "targets": m})
    assert ev.value == pytest.approx(1 - (2 * (p * m).sum() + 1) / (p.sum() + m.sum() + 1), rel=RTOL)
    assert 0.1 < ev.value < 0.5
    sp, sm = np.load(DATA / "seg_probs.npy"), np.load(DATA / "seg_mask.npy")
    assert sp.shape == sm.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(sp.sum(axis=1), 1.0, atol=1e-5)
    ev = run("dice", [], {"preds": sp, "targets": sm}, reduction="none")
    np.testing.assert_allclose(
        ev.value, region_by_hand("dice", sp, sm, {"smooth": 1.0, "from_logits": False}), rtol=RTOL
    )


# ============================================================================ SSIM


def gauss_1d(dtype=torch.float64) -> torch.Tensor:
    coords = torch.arange(11, dtype=dtype) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    return g / g.sum()


def ssim_conv2d(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """pytorch_msssim's steps re-done with conv2d: separable window (H then W, groups=C),
    no padding; returns SSIM per image and channel (N x C)."""
    c = x.shape[1]
    g = gauss_1d(x.dtype)
    wh = g.view(1, 1, 11, 1).repeat(c, 1, 1, 1)
    ww = g.view(1, 1, 1, 11).repeat(c, 1, 1, 1)

    def filt(a):
        return F.conv2d(F.conv2d(a, wh, groups=c), ww, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu1, mu2 = filt(x), filt(y)
    sigma1_sq = filt(x * x) - mu1.pow(2)
    sigma2_sq = filt(y * y) - mu2.pow(2)
    sigma12 = filt(x * y) - mu1 * mu2
    cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
    ssim_map = ((2 * mu1 * mu2 + c1) / (mu1.pow(2) + mu2.pow(2) + c1)) * cs_map
    return ssim_map.flatten(2).mean(-1)


def nchw(a: np.ndarray) -> np.ndarray:
    return a.reshape((1,) * (4 - a.ndim) + a.shape)


SSIM_CASES = [c[0] for c in CASES["ssim"]]


@pytest.mark.parametrize("cid", SSIM_CASES)
def test_ssim_against_conv2d_reference(cid):
    params, d = case_inputs("ssim", cid)
    r = parse_params(losses.get("ssim"), params)["data_range"]
    x = torch.tensor(nchw(d["preds"]), requires_grad=True)
    per = ssim_conv2d(x, torch.tensor(nchw(d["targets"])), r)
    (1 - per.mean()).backward()
    for backend in ("numpy", "torch"):
        ev = run("ssim", params, d, backend, reduction="none")
        np.testing.assert_allclose(ev.value, 1 - per.detach().numpy(), rtol=RTOL, atol=1e-14)
        assert run("ssim", params, d, backend).value == pytest.approx(1 - per.mean().item(), rel=RTOL)
    ev = run("ssim", params, d, "torch")
    assert ev.extras["ssim"] == pytest.approx(per.mean().item(), rel=RTOL)
    np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy().reshape(d["preds"].shape), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("cid", SSIM_CASES)
def test_ssim_against_pytorch_msssim(cid):
    params, d = case_inputs("ssim", cid)
    r = parse_params(losses.get("ssim"), params)["data_range"]
    xt, yt = torch.tensor(nchw(d["preds"])), torch.tensor(nchw(d["targets"]))
    ev = run("ssim", params, d, "torch", reduction="none")
    # its default window is built in float32: agreement to ~1e-6
    default = pm.ssim(xt, yt, data_range=r, size_average=True).item()
    assert run("ssim", params, d).value == pytest.approx(1 - default, rel=1e-5)
    # the same call with the window in float64 agrees to rounding, value and gradient
    x = xt.clone().requires_grad_(True)
    win = gauss_1d().view(1, 1, 11).repeat(xt.shape[1], 1, 1, 1)
    exact = pm.ssim(x, yt, data_range=r, size_average=True, win=win)
    (1 - exact).backward()
    assert run("ssim", params, d).value == pytest.approx(1 - exact.item(), rel=RTOL)
    grad = run("ssim", params, d, "torch").gradients["preds"]
    np.testing.assert_allclose(grad, x.grad.numpy().reshape(d["preds"].shape), rtol=1e-9, atol=1e-15)
    per_image = pm.ssim(xt, yt, data_range=r, size_average=False, win=win).numpy()
    np.testing.assert_allclose(1 - np.asarray(ev.value).mean(axis=1), per_image, rtol=1e-12)


@pytest.mark.parametrize("cid", SSIM_CASES)
def test_ssim_against_skimage(cid):
    params, d = case_inputs("ssim", cid)
    r = parse_params(losses.get("ssim"), params)["data_range"]
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=r)
    x, y = nchw(d["preds"]), nchw(d["targets"])
    # skimage filters with reflect padding and crops the 5-pixel border: the valid region, same value
    ref = np.mean(
        [[metrics.structural_similarity(x[n, c], y[n, c], **kw) for c in range(x.shape[1])] for n in range(x.shape[0])]
    )
    assert run("ssim", params, d).value == pytest.approx(1 - ref, rel=1e-12)


def test_ssim_sample_images():
    ref = read_image(str(DATA / "img_reference.png"))
    dist = read_image(str(DATA / "img_distorted.png"))
    assert ref.shape == dist.shape == (3, 64, 64)
    ev = run("ssim", [], {"preds": dist, "targets": ref})
    assert 0.2 < ev.extras["ssim"] < 0.9
    sk = metrics.structural_similarity(
        dist, ref, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=0
    )
    assert ev.extras["ssim"] == pytest.approx(sk, rel=1e-12)


def test_ssim_identical_images_and_report():
    _, d = case_inputs("ssim", "nchw")
    same = {"preds": d["targets"].copy(), "targets": d["targets"]}
    ev = run("ssim", [], same, "torch")
    assert ev.value == pytest.approx(0.0, abs=1e-14)
    assert np.max(np.abs(ev.gradients["preds"])) < 1e-12
    ev = run("ssim", [], d)
    assert set(ev.extras) == {"ssim", "ssim_per_image"} and len(ev.extras["ssim_per_image"]) == 2
    assert ev.extras["ssim"] == pytest.approx(1 - ev.value, rel=RTOL)


def test_ssim_filter_matrix_is_valid_filtering():
    k = image_losses.filter_matrix(15)
    assert k.shape == (5, 15)
    np.testing.assert_allclose(k.sum(axis=1), 1.0, rtol=1e-15)
    v = np.random.default_rng(0).normal(size=15)
    np.testing.assert_allclose(k @ v, np.convolve(v, image_losses.gaussian_window(), mode="valid"), rtol=1e-13)


def test_ssim_bad_inputs():
    src = {"preds": "a.png", "targets": "b.png"}
    small = np.full((10, 12), 0.5)
    with pytest.raises(InputError) as exc:
        run("ssim", [], {"preds": small, "targets": small}, sources=src)
    assert "10 x 12" in one_line(exc) and "11 x 11" in str(exc.value) and "a.png" in str(exc.value)
    with pytest.raises(InputError) as exc:
        run("ssim", [], {"preds": np.zeros((3, 12, 12)), "targets": np.zeros((12, 12))}, sources=src)
    assert "3 x 12 x 12" in one_line(exc)
    with pytest.raises(InputError) as exc:
        run("ssim", [], {"preds": np.zeros(20), "targets": np.zeros(20)}, sources=src)
    assert "H x W" in one_line(exc)
    img = np.linspace(0, 255, 144).reshape(12, 12)
    with pytest.raises(InputError) as exc:
        run("ssim", [], {"preds": img, "targets": img}, sources=src)
    assert "data_range=" in one_line(exc) and "b.png" in str(exc.value)
    assert run("ssim", ["data_range=255"], {"preds": img, "targets": img}).value == pytest.approx(0, abs=1e-14)
    with pytest.raises(UsageError):
        parse_params(losses.get("ssim"), ["data_range=0"])


# ============================================================================ perceptual


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    """Two tiny 3-channel nets, scripted and saved once: a list of 2 maps, and a single tensor."""
    where = tmp_path_factory.mktemp("nets")
    multi, single = make_feature_net(channels=3, multi=True, seed=5), make_feature_net(channels=3, multi=False, seed=6)
    return {
        "multi": (save_feature_net(str(where / "multi.pt2"), multi), multi),
        "single": (save_feature_net(str(where / "single.pt2"), single), single),
    }


def perceptual_direct(module, p: np.ndarray, y: np.ndarray, distance: str):
    """The features computed directly by the eager module (float64 copy)."""
    import copy

    net = copy.deepcopy(module).double()
    x = torch.tensor(nchw(p), requires_grad=True)
    fx, fy = net(x), net(torch.tensor(nchw(y)))
    fx = fx if isinstance(fx, list) else [fx]
    fy = fy if isinstance(fy, list) else [fy]
    per_map = [((a - b) ** 2 if distance == "mse" else (a - b).abs()).mean() for a, b in zip(fx, fy)]
    loss = torch.stack(per_map).mean()
    loss.backward()
    return loss.item(), [m.item() for m in per_map], x.grad.numpy().reshape(p.shape)


@pytest.mark.parametrize("kind", ["multi", "single"])
@pytest.mark.parametrize("distance", ["mse", "l1"])
@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (3, 10, 10)])
def test_perceptual_against_direct_features(nets, kind, distance, shape):
    path, module = nets[kind]
    rng = np.random.default_rng(8)
    y = rng.uniform(0, 1, size=shape)
    d = {"preds": y + rng.normal(0, 0.1, size=shape), "targets": y}
    ref, per_map, grad = perceptual_direct(module, d["preds"], d["targets"], distance)
    params = [f"features={path}", f"distance={distance}"]
    ev = run("perceptual", params, d)  # the compute path: backend numpy, redirected to torch
    assert ev.backend == "torch"
    assert ev.value == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(ev.gradients["preds"], grad, rtol=1e-10, atol=1e-16)
    if kind == "multi":
        np.testing.assert_allclose(ev.extras["per_map"], per_map, rtol=1e-12)
    ev = run("perceptual", params, d, reduction="none")
    n = shape[0] if len(shape) == 4 else 1
    assert ev.value.shape == (n, 2 if kind == "multi" else 1)
    f32 = run("perceptual", params, d, dtype="float32")
    assert f32.value == pytest.approx(ref, rel=1e-5) and f32.gradients["preds"].dtype == np.float32


def test_perceptual_missing_features_explains_export():
    d = {"preds": np.zeros((3, 8, 8)), "targets": np.zeros((3, 8, 8))}
    with pytest.raises(UsageError) as exc:
        run("perceptual", [], d)
    msg = one_line(exc)
    assert "-p features=" in msg and "torch.export.save(torch.export.export(" in msg and "vgg16" in msg


def test_perceptual_bad_feature_files(tmp_path, nets):
    d = {"preds": np.zeros((3, 8, 8)), "targets": np.zeros((3, 8, 8))}
    missing = tmp_path / "nope.pt"
    with pytest.raises(InputError) as exc:
        run("perceptual", [f"features={missing}"], d)
    assert str(missing) in one_line(exc) and "not found" in str(exc.value)
    text = tmp_path / "text.pt"
    text.write_text("not a network")
    state = tmp_path / "state_dict.pt"
    torch.save(make_feature_net(channels=3).state_dict(), state)
    for bad, why in ((text, "not a torch.export program"), (state, "torch.save pickle")):
        with pytest.raises(InputError) as exc:
            run("perceptual", [f"features={bad}"], d)
        assert str(bad) in one_line(exc) and why in str(exc.value)
    path, _ = nets["multi"]
    gray = {"preds": np.zeros((8, 8)), "targets": np.zeros((8, 8))}  # 1 channel into a 3-channel net
    with pytest.raises(InputError) as exc:
        run("perceptual", [f"features={path}"], gray)
    assert "1 x 1 x 8 x 8" in one_line(exc) and path in str(exc.value)
    with pytest.raises(InputError):
        run("perceptual", [f"features={path}"], {"preds": np.zeros((3, 8, 8)), "targets": np.zeros((3, 8, 9))})


def test_perceptual_cli_compute(tmp_path, nets, cli):
    path, module = nets["single"]
    rng = np.random.default_rng(9)
    y = rng.uniform(0, 1, size=(3, 10, 10))
    p = y + rng.normal(0, 0.1, size=y.shape)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "y.npy", y)
    res = cli(
        "compute", "perceptual", tmp_path / "p.npy", tmp_path / "y.npy", "-p", f"features={path}", "--format", "plain"
    )
    assert res.exit_code == 0, res.output
    assert float(res.stdout.strip()) == pytest.approx(perceptual_direct(module, p, y, "mse")[0], rel=1e-12)
    res = cli("compute", "perceptual", tmp_path / "p.npy", tmp_path / "y.npy")
    assert res.exit_code == 2 and "torch.export.save" in res.stderr


def test_cli_reads_png_images(cli):
    res = cli("compute", "ssim", DATA / "img_distorted.png", DATA / "img_reference.png", "--format", "json")
    assert res.exit_code == 0, res.output
    ref = read_image(str(DATA / "img_reference.png"))
    dist = read_image(str(DATA / "img_distorted.png"))
    obj = __import__("json").loads(res.stdout)
    ev = run("ssim", [], {"preds": dist, "targets": ref})
    assert obj["value"] == pytest.approx(ev.value, rel=1e-12)
    assert obj["extras"] == {"ssim": pytest.approx(ev.extras["ssim"], rel=1e-12)}
    assert {k: v["shape"] for k, v in obj["inputs"].items()} == {"preds": [3, 64, 64], "targets": [3, 64, 64]}


def test_compute_of_numpy_image_losses_never_imports_torch():
    code = (
        "import sys, numpy as np\n"
        "from losscli import losses\n"
        "from losscli.core import evaluate\n"
        "from losscli.io.images import read_image\n"
        "r = np.random.default_rng(0).uniform(size=(3, 12, 12))\n"
        "for name, params in (('dice', {'smooth': 1.0, 'from_logits': False}),"
        " ('iou', {'smooth': 1.0, 'from_logits': False}),"
        " ('tversky', {'smooth': 1.0, 'from_logits': True, 'alpha': 0.5, 'beta': 0.5}),"
        " ('ssim', {'data_range': 1.0})):\n"
        "    evaluate(losses.get(name), {'preds': r, 'targets': (r > 0.5) * 1.0}, params)\n"
        "read_image(sys.argv[1])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DATA / "img_reference.png")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.returncode == 0, out.stderr


# ============================================================================ read_image


def test_read_image_modes(tmp_path):
    rng = np.random.default_rng(10)
    gray = rng.integers(0, 256, size=(5, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, size=(5, 7, 1), dtype=np.uint8)
    g16 = rng.integers(0, 65536, size=(5, 7)).astype(np.uint16)

    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "g.png")), gray / 255.0)
    Image.fromarray(rgb, "RGB").save(tmp_path / "c.png")
    out = read_image(str(tmp_path / "c.png"))
    assert out.shape == (3, 5, 7) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.moveaxis(rgb, -1, 0) / 255.0)
    Image.fromarray(np.concatenate([rgb, alpha], axis=-1), "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "a.png")), np.moveaxis(rgb, -1, 0) / 255.0)
    Image.fromarray(np.concatenate([gray[..., None], alpha], axis=-1), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "la.png")), gray / 255.0)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    np.testing.assert_array_equal(read_image(str(tmp_path / "g16.png")), g16 / 65535.0)
    Image.fromarray(gray > 127).save(tmp_path / "bw.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "bw.png")), (gray > 127) * 1.0)
    Image.fromarray(rgb, "RGB").convert("P").save(tmp_path / "p.png")
    pal = Image.open(tmp_path / "p.png").convert("RGB")
    np.testing.assert_array_equal(read_image(str(tmp_path / "p.png")), np.moveaxis(np.asarray(pal), -1, 0) / 255.0)
    for name, im in (("c.jpg", Image.fromarray(rgb, "RGB")), ("g.jpeg", Image.fromarray(gray, "L"))):
        im.save(tmp_path / name, quality=95)
        out = read_image(str(tmp_path / name))
        expect = np.asarray(Image.open(tmp_path / name), dtype=np.float64) / 255.0
        np.testing.assert_array_equal(out, expect if expect.ndim == 2 else np.moveaxis(expect, -1, 0))
    assert read_image(str(tmp_path / "c.jpg")).shape == (3, 5, 7)
    assert read_image(str(tmp_path / "g.jpeg")).shape == (5, 7)


def test_read_image_errors(tmp_path):
    with pytest.raises(InputError) as exc:
        read_image(str(tmp_path / "missing.png"))
    assert "missing.png" in one_line(exc)
    (tmp_path / "text.png").write_text("this is not a png")
    with pytest.raises(InputError) as exc:
        read_image(str(tmp_path / "text.png"))
    assert "text.png" in one_line(exc) and "PNG or JPEG" in str(exc.value)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8) + 100, "RGB").save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as exc:
        read_image(str(tmp_path / "cut.png"))
    assert "cut.png" in one_line(exc)
