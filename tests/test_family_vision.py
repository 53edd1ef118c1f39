"""The box losses (giou, diou, ciou) and the image losses of issue 11 against their defining
libraries, float64, every reduction each offers; plus the registry-wide checks on the cases
tests/cases_vision.EXTRA_CASES keeps apart, and the CLI as a person runs it.

torchvision does not import beside this torch wheel: its box losses are transcribed below from
pytorch/vision ``torchvision/ops/_utils.py`` (``_loss_inter_union``), ``giou_loss.py``,
``diou_loss.py`` (``_diou_iou_loss``) and ``ciou_loss.py``, and checked against the expected
values of torchvision's own tests (``test/test_ops.py``, ``TestGeneralizedBoxIouLoss``,
``TestDistanceBoxIouLoss``, ``TestCompleteBoxIouLoss``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from losscli import losses
from losscli.params import parse_params
from tests import test_explain, test_losses
from tests.cases_vision import EXTRA_CASES, FAMILY_CASES
from tests.test_cli import one_error_line
from tests.test_losses import refuses, run, t

RTOL = 1e-12
ATOL = 1e-14
GRAD_RTOL = 1e-10
GRAD_ATOL = 1e-13
BACKENDS = ("numpy", "torch")


def central_differences(loss: str, params: list[str], inputs: dict[str, np.ndarray], value=None) -> np.ndarray:
    """∂L/∂preds by central differences of ``value(inputs)`` (the loss's mean value by default)."""
    value = value or (lambda d: run(loss, params, d).value)
    h = 1e-6
    numeric = np.zeros_like(inputs["preds"])
    for idx in np.ndindex(inputs["preds"].shape):
        plus = {k: v.copy() for k, v in inputs.items()}
        minus = {k: v.copy() for k, v in inputs.items()}
        plus["preds"][idx] += h
        minus["preds"][idx] -= h
        numeric[idx] = (value(plus) - value(minus)) / (2 * h)
    return numeric


# ------------------------------------------------------- registry-wide checks on EXTRA_CASES

EXTRA = [(loss, cid, params, fac) for loss, cs in EXTRA_CASES.items() for cid, params, fac in cs]


def extra_id(case) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_extra_cases_backend_parity(case, reduction):
    test_losses.test_backend_parity(case, reduction)


def frozen_alpha_value(params: list[str], reference: dict[str, np.ndarray]):
    """ciou's value with α fixed at its value on ``reference``: the function whose derivative
    torchvision's gradient is (it computes α under torch.no_grad())."""
    eps = parse_params(losses.get("ciou"), params)["eps"]
    alpha = tv_ciou_alpha(t(reference["preds"]), t(reference["targets"]), eps)

    def value(d: dict[str, np.ndarray]) -> float:
        return float(tv_complete_box_iou_loss(t(d["preds"]), t(d["targets"]), "mean", eps, alpha=alpha))

    return value


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
def test_extra_cases_gradient_matches_central_differences(case):
    loss, _, params, factory = case
    if loss != "ciou":
        test_losses.test_gradient_matches_central_differences(case)
        return
    inputs = factory(np.random.default_rng(2))
    ev = run(loss, params, inputs, "torch")
    numeric = central_differences(loss, params, inputs, frozen_alpha_value(params, inputs))
    np.testing.assert_allclose(ev.gradients["preds"], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
def test_extra_cases_float32_close_to_float64(case):
    test_losses.test_float32_close_to_float64(case)


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_extra_cases_worked_element_equals_autograd(case, reduction):
    test_explain.test_worked_element_equals_autograd(case, reduction)


def test_ciou_gradient_is_not_the_derivative_of_its_value():
    """The reason general ciou cases are kept apart: with α under no_grad the gradient differs
    from central differences of the value (here by far more than their 1e-6 tolerance)."""
    inputs = FAMILY_CASES["giou"][0][2](np.random.default_rng(2))
    ev = run("ciou", [], inputs, "torch")
    numeric = central_differences("ciou", [], inputs)
    assert not np.allclose(ev.gradients["preds"], numeric, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------- boxes
# torchvision's source, transcribed (pytorch/vision, torchvision/ops): reduction as torchvision's
# ("none" | "mean" | "sum"); float64 inputs, so _upcast_non_float does nothing.


def tv_loss_inter_union(boxes1: torch.Tensor, boxes2: torch.Tensor):
    """torchvision/ops/_utils.py ``_loss_inter_union``."""
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1 = torch.max(x1, x1g)
    ykis1 = torch.max(y1, y1g)
    xkis2 = torch.min(x2, x2g)
    ykis2 = torch.min(y2, y2g)
    intsctk = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
    return intsctk, unionk


def tv_reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    return loss


def tv_generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """torchvision/ops/giou_loss.py ``generalized_box_iou_loss``."""
    intsctk, unionk = tv_loss_inter_union(boxes1, boxes2)
    iouk = intsctk / (unionk + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    miouk = iouk - ((area_c - unionk) / (area_c + eps))
    return tv_reduce(1 - miouk, reduction)


def tv_diou_iou_loss(boxes1, boxes2, eps=1e-7):
    """torchvision/ops/diou_loss.py ``_diou_iou_loss``."""
    intsct, union = tv_loss_inter_union(boxes1, boxes2)
    iou = intsct / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xc1 = torch.min(x1, x1g)
    yc1 = torch.min(y1, y1g)
    xc2 = torch.max(x2, x2g)
    yc2 = torch.max(y2, y2g)
    diagonal_distance_squared = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
    x_p = (x2 + x1) / 2
    y_p = (y2 + y1) / 2
    x_g = (x1g + x2g) / 2
    y_g = (y1g + y2g) / 2
    centers_distance_squared = ((x_p - x_g) ** 2) + ((y_p - y_g) ** 2)
    loss = 1 - iou + (centers_distance_squared / diagonal_distance_squared)
    return loss, iou


def tv_distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """torchvision/ops/diou_loss.py ``distance_box_iou_loss``."""
    loss, _ = tv_diou_iou_loss(boxes1, boxes2, eps)
    return tv_reduce(loss, reduction)


def _tv_ciou_v(boxes1, boxes2):
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    w_pred = x2 - x1
    h_pred = y2 - y1
    w_gt = x2g - x1g
    h_gt = y2g - y1g
    return (4 / (torch.pi**2)) * torch.pow((torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred)), 2)


def tv_ciou_alpha(boxes1, boxes2, eps=1e-7):
    _, iou = tv_diou_iou_loss(boxes1, boxes2)
    v = _tv_ciou_v(boxes1, boxes2)
    with torch.no_grad():
        return v / (1 - iou + v + eps)


def tv_complete_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7, alpha=None):
    """torchvision/ops/ciou_loss.py ``complete_box_iou_loss`` (``alpha``, when given, replaces the
    no_grad α: for central differences of the function torchvision differentiates)."""
    diou_loss, iou = tv_diou_iou_loss(boxes1, boxes2)  # as torchvision: without eps
    v = _tv_ciou_v(boxes1, boxes2)
    if alpha is None:
        with torch.no_grad():
            alpha = v / (1 - iou + v + eps)
    loss = diou_loss + alpha * v
    return tv_reduce(loss, reduction)


TORCHVISION = {
    "giou": tv_generalized_box_iou_loss,
    "diou": tv_distance_box_iou_loss,
    "ciou": tv_complete_box_iou_loss,
}
BOX_CASES = {
    loss: [(cid, params, fac) for cid, params, fac in FAMILY_CASES[loss] + EXTRA_CASES[loss]]
    for loss in ("giou", "diou", "ciou")
}


def check_box_loss(loss: str, case) -> None:
    cid, params, factory = case
    d = factory(np.random.default_rng(4))
    eps = parse_params(losses.get(loss), params)["eps"]
    for reduction in ("none", "mean", "sum"):
        x = t(d["preds"], grad=True)
        ref = TORCHVISION[loss](x, t(d["targets"]), reduction=reduction, eps=eps)
        ref.sum().backward()
        for backend in BACKENDS:
            ev = run(loss, params, d, backend, reduction=reduction)
            np.testing.assert_allclose(ev.value, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
        assert np.shape(ev.value) == tuple(ref.shape)
        np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("case", BOX_CASES["giou"], ids=lambda c: c[0])
def test_giou_matches_torchvision(case):
    check_box_loss("giou", case)


@pytest.mark.parametrize("case", BOX_CASES["diou"], ids=lambda c: c[0])
def test_diou_matches_torchvision(case):
    check_box_loss("diou", case)


@pytest.mark.parametrize("case", BOX_CASES["ciou"], ids=lambda c: c[0])
def test_ciou_matches_torchvision(case):
    check_box_loss("ciou", case)


# torchvision test/test_ops.py get_boxes() and its expected losses (float32 there, 4-5 digits).
TV_BOX1, TV_BOX2 = [-1.0, -1, 1, 1], [0.0, 0, 1, 1]
TV_BOX3, TV_BOX4 = [0.0, 1, 1, 2], [1.0, 1, 2, 2]
TV_EXPECTED = {
    "giou": [(TV_BOX1, TV_BOX1, 0.0), (TV_BOX1, TV_BOX2, 0.75), (TV_BOX2, TV_BOX3, 1.0), (TV_BOX2, TV_BOX4, 1.5)],
    "diou": [(TV_BOX1, TV_BOX1, 0.0), (TV_BOX1, TV_BOX2, 0.8125), (TV_BOX1, TV_BOX3, 1.1923), (TV_BOX1, TV_BOX4, 1.25)],
    "ciou": [(TV_BOX1, TV_BOX1, 0.0), (TV_BOX1, TV_BOX2, 0.8125), (TV_BOX1, TV_BOX3, 1.1923), (TV_BOX1, TV_BOX4, 1.25)],
}
TV_BATCHED = {"giou": (1.25, 2.5), "diou": (1.225, 2.45), "ciou": (1.225, 2.45)}  # (mean, sum)


@pytest.mark.parametrize("loss", ["giou", "diou", "ciou"])
def test_box_losses_reproduce_torchvision_test_values(loss):
    for a, b, expected in TV_EXPECTED[loss]:
        for backend in BACKENDS:
            ev = run(loss, [], {"preds": np.array(a), "targets": np.array(b)}, backend, reduction="none")
            assert np.shape(ev.value) == ()  # one unbatched box: a 0-d loss, as torchvision's
            assert float(ev.value) == pytest.approx(expected, abs=1e-4)
    batched = {"preds": np.array([TV_BOX2, TV_BOX2]), "targets": np.array([TV_BOX3, TV_BOX4])}
    mean, total = TV_BATCHED[loss]
    assert run(loss, [], batched).value == pytest.approx(mean, abs=1e-4)
    assert run(loss, [], batched, reduction="sum").value == pytest.approx(total, abs=1e-4)


def test_box_losses_by_hand():
    """Two unit squares side by side, the prediction shifted by 1 in x: I = 0, U = 2, |C| = 2,
    centres 1 apart, enclosing diagonal² = 4 + 1 = 5, same aspect ratio (v = 0)."""
    d = {"preds": np.array([[1.0, 0, 2, 1]]), "targets": np.array([[0.0, 0, 1, 1]])}
    assert run("giou", [], d).value == pytest.approx(1 - (0 - 0 / (2 + 1e-7)), rel=1e-15)
    assert run("diou", [], d).value == pytest.approx(1 + 1 / (5 + 1e-7), rel=1e-15)
    assert run("ciou", [], d).value == pytest.approx(1 + 1 / (5 + 1e-7), rel=1e-15)
    inside = {"preds": np.array([[0.0, 0, 2, 2]]), "targets": np.array([[0.5, 0.5, 1.5, 1.5]])}
    assert run("giou", ["eps=0"], inside).value == pytest.approx(0.75, rel=1e-15)  # IoU 1/4, C = U


def test_ciou_eps_enters_alpha_only():
    """torchvision calls _diou_iou_loss(boxes1, boxes2) without eps: a large eps changes only α."""
    d = {"preds": np.array([[0.0, 0, 3, 1]]), "targets": np.array([[0.5, 0.2, 2, 2]])}
    p, g = t(d["preds"]), t(d["targets"])
    diou_part = tv_diou_iou_loss(p, g)[0].item()
    v = _tv_ciou_v(p, g).item()
    iou = tv_diou_iou_loss(p, g)[1].item()
    for eps in (1e-7, 0.5):
        assert run("ciou", [f"eps={eps}"], d).value == pytest.approx(diou_part + v / (1 - iou + v + eps) * v, rel=1e-14)
    assert run("diou", ["eps=0.5"], d).value != pytest.approx(diou_part, rel=1e-6)


def test_box_losses_bad_inputs():
    good = FAMILY_CASES["giou"][0][2](np.random.default_rng(0))
    for loss in ("giou", "diou", "ciou"):
        flipped = {k: v.copy() for k, v in good.items()}
        flipped["preds"][2, [0, 2]] = flipped["preds"][2, [2, 0]]
        message = refuses(loss, [], flipped, "data row 3: preds box has x2 = ")
        assert message.startswith("preds.csv: ")
        assert message.endswith("(torchvision asserts 'bad box: x1 larger than x2')")
        tall = {k: v.copy() for k, v in good.items()}
        tall["targets"][4, [1, 3]] = tall["targets"][4, [3, 1]]
        refuses(loss, [], tall, r"data row 5: targets box has y2 = .* < y1 = ")
        refuses(loss, [], {"preds": good["preds"][:, :3], "targets": good["targets"][:, :3]}, "must be boxes")
        refuses(loss, [], {"preds": good["preds"], "targets": good["targets"][:5]}, "they must match")
    flat = {k: v.copy() for k, v in good.items()}
    flat["preds"][1, 3] = flat["preds"][1, 1]
    refuses("ciou", [], flat, r"data row 2: preds box has height 0 \(y1 = y2 = ")
    assert run("giou", [], flat).value == pytest.approx(run("giou", [], flat, "torch").value, rel=1e-14)


def test_box_losses_cli(cli, write):
    for loss in ("giou", "diou", "ciou"):
        r = cli("compute", loss, "--format", "json")
        assert r.exit_code == 0, r.stderr
        r = cli("grad", loss, "--explain")
        assert r.exit_code == 0, r.stderr
        assert "they agree" in r.stdout
    p = write("p.csv", "x1,y1,x2,y2\n0,0,2,2\n5,1,3,4\n")
    g = write("g.csv", "x1,y1,x2,y2\n0,0,1,1\n3,1,4,4\n")
    r = cli("compute", "giou", p, g)
    assert r.exit_code == 2
    line = one_error_line(r)
    assert "p.csv" in line and "data row 2: preds box has x2 = 3 < x1 = 5" in line
    r = cli("compute", "giou", g, g, "--format", "plain")
    assert r.exit_code == 0 and float(r.stdout.strip()) == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------------ generalized Dice


def monai_generalized_dice_loss(
    input,
    target,
    *,
    include_background=True,
    sigmoid=False,
    softmax=False,
    w_type="square",
    reduction="mean",
    smooth_nr=1e-5,
    smooth_dr=1e-5,
    batch=False,
):
    """Project-MONAI/MONAI monai/losses/dice.py ``GeneralizedDiceLoss.forward`` (to_onehot_y=False,
    other_act=None), transcribed: w_func is reciprocal(g * g), reciprocal(g) or ones_like(g)."""
    if sigmoid:
        input = torch.sigmoid(input)
    n_pred_ch = input.shape[1]
    if softmax and n_pred_ch != 1:
        input = torch.softmax(input, 1)
    if not include_background and n_pred_ch != 1:
        target = target[:, 1:]
        input = input[:, 1:]
    reduce_axis = torch.arange(2, len(input.shape)).tolist()
    if batch:
        reduce_axis = [0] + reduce_axis
    intersection = torch.sum(target * input, reduce_axis)
    ground_o = torch.sum(target, reduce_axis)
    pred_o = torch.sum(input, reduce_axis)
    denominator = ground_o + pred_o
    g = ground_o.float()
    w = {"square": lambda: torch.reciprocal(g * g), "simple": lambda: torch.reciprocal(g)}.get(
        w_type, lambda: torch.ones_like(g)
    )()
    infs = torch.isinf(w)
    if batch:
        w[infs] = 0.0
        w = w + infs * torch.max(w)
    else:
        w[infs] = 0.0
        max_values = torch.max(w, dim=1)[0].unsqueeze(dim=1)
        w = w + infs * max_values
    final_reduce_dim = 0 if batch else 1
    numer = 2.0 * (intersection * w).sum(final_reduce_dim, keepdim=True) + smooth_nr
    denom = (denominator * w).sum(final_reduce_dim, keepdim=True) + smooth_dr
    f = 1.0 - (numer / denom)
    if reduction == "mean":
        return torch.mean(f)
    if reduction == "sum":
        return torch.sum(f)
    return f


GD_PARAMS = ("include_background", "sigmoid", "softmax", "w_type", "smooth_nr", "smooth_dr", "batch")


@pytest.mark.parametrize("case", FAMILY_CASES["generalized-dice"], ids=lambda c: c[0])
def test_generalized_dice_matches_monai(case):
    cid, params, factory = case
    d = factory(np.random.default_rng(4))
    prm = parse_params(losses.get("generalized-dice"), params)
    kw = {k: prm[k] for k in GD_PARAMS}
    for reduction in ("none", "mean", "sum"):
        x = t(d["preds"], grad=True)
        ref = monai_generalized_dice_loss(x, t(d["targets"]), reduction=reduction, **kw)
        ref.sum().backward()
        for backend in BACKENDS:
            ev = run("generalized-dice", params, d, backend, reduction=reduction)
            np.testing.assert_allclose(ev.value, ref.detach().numpy().reshape(np.shape(ev.value)), rtol=RTOL, atol=ATOL)
        assert np.size(ev.value) == ref.numel()
        np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_generalized_dice_by_hand():
    """One sample, two classes, no smoothing: class sizes 1 and 3 give weights 1 and 1/9 (in float32)."""
    y = np.array([[[1.0, 0, 0, 0], [0, 1, 1, 1]]])
    p = np.array([[[0.5, 0.25, 0, 0.25], [0.5, 0.75, 1, 0.75]]])
    inter, ground, pred = np.array([0.5, 2.5]), np.array([1.0, 3.0]), np.array([1.0, 3.0])
    w = (1 / ground.astype(np.float32) ** 2).astype(np.float64)  # in float32, as MONAI's ground_o.float()
    want = 1 - 2 * np.sum(w * inter) / np.sum(w * (ground + pred))
    got = run("generalized-dice", ["smooth_nr=0", "smooth_dr=0"], {"preds": p, "targets": y}).value
    assert got == pytest.approx(want, rel=1e-14)
    assert run(
        "generalized-dice", ["smooth_nr=0", "smooth_dr=0", "w_type=uniform"], {"preds": p, "targets": y}
    ).value == (pytest.approx(1 - 2 * 3.0 / 8.0, rel=1e-14))


def test_generalized_dice_bad_inputs(cli):
    d = FAMILY_CASES["generalized-dice"][0][2](np.random.default_rng(0))
    flat = {"preds": d["preds"][:, :, 0, 0], "targets": d["targets"][:, :, 0, 0]}  # N x C: MONAI sums it all
    refuses("generalized-dice", [], flat, r"N x C x spatial\.\.\. \(MONAI's BNH\[WD\] layout")
    refuses("generalized-dice", [], {"preds": d["preds"], "targets": d["targets"][:1]}, "they must match")
    r = cli("compute", "generalized-dice", "-p", "sigmoid=true", "-p", "softmax=true")
    assert r.exit_code == 2 and "cannot both be set" in one_error_line(r)
    r = cli("compute", "generalized-dice", "--format", "json")
    assert r.exit_code == 0, r.stderr
    r = cli("grad", "generalized-dice", "--explain")
    assert r.exit_code == 0, r.stderr


# --------------------------------------------------------------------------------- MS-SSIM
# pytorch_msssim (installed) called directly; its window is built in float32, so the exact
# comparisons pass it a float64 window made by its own formula (``_fspecial_gauss_1d`` in float64).

import pytorch_msssim  # noqa: E402

from losscli.examples import DATA  # noqa: E402
from losscli.io.images import read_image  # noqa: E402
from losscli.losses.image import ms_ssim_min_side, pool_matrix  # noqa: E402
from tests.cases_vision import _ms_pair  # noqa: E402


def msssim_window(size: int, sigma: float, channels: int) -> torch.Tensor:
    """pytorch_msssim ``_fspecial_gauss_1d(size, sigma).repeat([C, 1, 1, 1])`` (as ms_ssim builds it
    for 4-D images), in float64."""
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = (g / g.sum()).reshape(1, 1, -1)
    return g.repeat([channels, 1, 1, 1])


def nchw(a: np.ndarray) -> np.ndarray:
    return a.reshape((1,) * (4 - a.ndim) + a.shape)


def check_ms_ssim(params: list[str], d: dict[str, np.ndarray]) -> None:
    """1 - pytorch_msssim.ms_ssim: size_average=True for mean, 1 - size_average=False for none
    (one value per image), their sum for sum; the gradient by torch autograd of ms_ssim."""
    prm = parse_params(losses.get("ms-ssim"), params)
    x4, y4 = nchw(d["preds"]), nchw(d["targets"])
    win = msssim_window(prm["win_size"], prm["win_sigma"], x4.shape[1])
    kw = {"data_range": prm["data_range"], "win": win, "weights": list(prm["weights"]), "K": tuple(prm["K"])}
    x = t(x4, grad=True)
    mean = 1 - pytorch_msssim.ms_ssim(x, t(y4), size_average=True, **kw)
    mean.backward()
    per_image = 1 - pytorch_msssim.ms_ssim(t(x4), t(y4), size_average=False, **kw).numpy()
    for backend in BACKENDS:
        assert run("ms-ssim", params, d, backend).value == pytest.approx(mean.item(), rel=RTOL)
        ev = run("ms-ssim", params, d, backend, reduction="none")
        np.testing.assert_allclose(ev.value, per_image, rtol=RTOL, atol=ATOL)
        assert run("ms-ssim", params, d, backend, reduction="sum").value == pytest.approx(per_image.sum(), rel=RTOL)
    grad = run("ms-ssim", params, d, "torch").gradients["preds"]
    np.testing.assert_allclose(grad, x.grad.numpy().reshape(grad.shape), rtol=GRAD_RTOL, atol=GRAD_ATOL)


def ms_default_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Two 3-channel images of 161 x 170: the smallest side the default win_size=11 takes."""
    return _ms_pair(rng, (2, 3, 161, 170))


MS_SSIM_REFERENCE_CASES = [
    *FAMILY_CASES["ms-ssim"],
    ("default_161x170", [], ms_default_batch),
    ("default_k_weights", ["K=0.02,0.04", "weights=0.3,0.3,0.4", "win_sigma=2"], ms_default_batch),
    ("win5_range255", ["win_size=5", "data_range=255"], lambda rng: _ms_pair(rng, (65, 70), scale=255.0)),
]


@pytest.mark.parametrize("case", MS_SSIM_REFERENCE_CASES, ids=lambda c: c[0])
def test_ms_ssim_matches_pytorch_msssim(case):
    cid, params, factory = case
    check_ms_ssim(params, factory(np.random.default_rng(4)))


def test_ms_ssim_bundled_example_matches_pytorch_msssim_defaults():
    """The bundled 176 x 176 pair against ms_ssim with every default but data_range (its float32
    window, whose sum is not 1 in float64, moves σ² by ~1e-7: 1.1e-5 relative here), and exactly
    with the float64 window."""
    p = read_image(str(DATA / "ms_ssim_distorted.png"))
    y = read_image(str(DATA / "ms_ssim_reference.png"))
    ours = run("ms-ssim", [], {"preds": p, "targets": y}).value
    ref = pytorch_msssim.ms_ssim(t(p)[None, None], t(y)[None, None], data_range=1.0).item()
    assert ours == pytest.approx(1 - ref, rel=3e-5)
    check_ms_ssim([], {"preds": p, "targets": y})
    assert 0.1 < ours < 0.3


def test_ms_ssim_pool_matrix_is_avg_pool_with_msssim_padding():
    a = torch.arange(7 * 6, dtype=torch.float64).reshape(1, 1, 7, 6) + 1
    want = torch.nn.functional.avg_pool2d(a, kernel_size=2, padding=[1, 0]).numpy()[0, 0]
    got = pool_matrix(7) @ a.numpy()[0, 0] @ pool_matrix(6).T
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert got[0, 0] == (1 + 2) / 4  # the top row averages with the zero pad, counted


def test_ms_ssim_bad_inputs(cli, write):
    assert ms_ssim_min_side(11) == 161 and ms_ssim_min_side(3) == 33
    d = _ms_pair(np.random.default_rng(0), (2, 1, 160, 170))
    message = refuses("ms-ssim", [], d, "ms-ssim with win_size=11 needs images of at least 161 x 161")
    assert message == (
        "preds.csv: preds is 160 x 170 pixels; ms-ssim with win_size=11 needs images of at least 161 x 161 "
        "(pytorch_msssim asserts the smaller side > (win_size - 1) * 2**4 = 160 for its 4 downsamplings; "
        "a smaller win_size allows smaller images)"
    )
    with pytest.raises(AssertionError, match="Image size should be larger than 160"):
        pytorch_msssim.ms_ssim(t(d["preds"]), t(d["targets"]), data_range=1.0)
    small = _ms_pair(np.random.default_rng(0), (32, 40))
    refuses("ms-ssim", ["win_size=3"], small, "at least 33 x 33")
    assert run("ms-ssim", ["win_size=3"], _ms_pair(np.random.default_rng(0), (33, 40))).value > 0
    refuses("ms-ssim", ["win_size=3"], {"preds": small["preds"], "targets": small["targets"][:, :39]}, "must match")
    wide = _ms_pair(np.random.default_rng(0), (33, 33), scale=255.0)
    refuses("ms-ssim", ["win_size=3"], wide, "wider than data_range 1; pass -p data_range=")
    # usage errors: an even window, K of the wrong length
    r = cli("compute", "ms-ssim", "-p", "win_size=4")
    assert r.exit_code == 2 and "win_size must be odd, got 4" in one_error_line(r)
    r = cli("compute", "ms-ssim", "-p", "K=0.01")
    assert r.exit_code == 2 and "K must be two numbers K1,K2" in one_error_line(r)
    # a file too small, through the CLI: one line naming the file and the minimum
    rows = "\n".join(",".join("0.5" for _ in range(20)) for _ in range(20)) + "\n"
    f = write("small.csv", rows)
    r = cli("compute", "ms-ssim", f, f)
    assert r.exit_code == 2
    line = one_error_line(r)
    assert "small.csv" in line and "needs images of at least 161 x 161" in line


def test_ms_ssim_cli(cli):
    r = cli("compute", "ms-ssim", "--format", "json")
    assert r.exit_code == 0, r.stderr
    import json

    out = json.loads(r.stdout)
    assert out["extras"]["ms_ssim"] == pytest.approx(1 - out["value"], rel=1e-12)
    assert out["value"] == pytest.approx(0.196361061446, rel=1e-10)  # pytorch_msssim: 0.1963589 (float32 window)
    r = cli("grad", "ms-ssim", "--explain")
    assert r.exit_code == 0, r.stderr


# ---------------------------------------------------------------------------------- Lovász
# segmentation_models_pytorch is not installed: its source, transcribed line for line from
# qubvel/segmentation_models_pytorch segmentation_models_pytorch/losses/lovasz.py (functions
# _lovasz_grad, _lovasz_hinge, _lovasz_hinge_flat, _flatten_binary_scores, _lovasz_softmax,
# _lovasz_softmax_flat, _flatten_probas, mean; LovaszLoss.forward for mode='multiclass').
# One change, for float64: smp's _lovasz_grad casts with .float(), so the Lovász gradient is float32
# and its torch.dot with float64 errors raises (test_smp_lovasz_grad_is_float32 shows both);
# ``SMP_CAST`` is float32 for the verbatim code and float64 for the reference comparisons.

import torch.nn.functional as F  # noqa: E402

SMP_CAST = {"dtype": torch.float64}


def smp_lovasz_grad(gt_sorted):
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.to(**SMP_CAST).cumsum(0)  # smp: gt_sorted.float()
    union = gts + (1 - gt_sorted).to(**SMP_CAST).cumsum(0)  # smp: (1 - gt_sorted).float()
    jaccard = 1.0 - intersection / union
    if p > 1:  # cover 1-pixel case
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def smp_mean(values, empty=0):
    values = iter(values)
    try:
        n = 1
        acc = next(values)
    except StopIteration:
        return empty
    for n, v in enumerate(values, 2):
        acc += v
    if n == 1:
        return acc
    return acc / n


def smp_flatten_binary_scores(scores, labels, ignore=None):
    scores = scores.view(-1)
    labels = labels.view(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    return scores[valid], labels[valid]


def smp_lovasz_hinge_flat(logits, labels):
    if len(labels) == 0:
        return logits.sum() * 0.0
    signs = 2.0 * labels.float() - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    perm = perm.data
    gt_sorted = labels[perm]
    grad = smp_lovasz_grad(gt_sorted)
    return torch.dot(F.relu(errors_sorted), grad)


def smp_lovasz_hinge(logits, labels, per_image=True, ignore=None):
    if per_image:
        return smp_mean(
            smp_lovasz_hinge_flat(*smp_flatten_binary_scores(log.unsqueeze(0), lab.unsqueeze(0), ignore))
            for log, lab in zip(logits, labels)
        )
    return smp_lovasz_hinge_flat(*smp_flatten_binary_scores(logits, labels, ignore))


def smp_flatten_probas(probas, labels, ignore=None):
    if probas.dim() == 3:
        B, H, W = probas.size()
        probas = probas.view(B, 1, H, W)
    C = probas.size(1)
    probas = torch.movedim(probas, 1, -1)
    probas = probas.contiguous().view(-1, C)
    labels = labels.view(-1)
    if ignore is None:
        return probas, labels
    valid = labels != ignore
    return probas[valid], labels[valid]


def smp_lovasz_softmax_flat(probas, labels, classes="present"):
    if probas.numel() == 0:
        return probas * 0.0
    C = probas.size(1)
    losses_ = []
    class_to_sum = list(range(C)) if classes in ["all", "present"] else classes
    for c in class_to_sum:
        fg = (labels == c).type_as(probas)
        if classes == "present" and fg.sum() == 0:
            continue
        if C == 1:
            if len(classes) > 1:
                raise ValueError("Sigmoid output possible only with 1 class")
            class_pred = probas[:, 0]
        else:
            class_pred = probas[:, c]
        errors = (fg - class_pred).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        perm = perm.data
        fg_sorted = fg[perm]
        losses_.append(torch.dot(errors_sorted, smp_lovasz_grad(fg_sorted)))
    return smp_mean(losses_)


def smp_lovasz_softmax(probas, labels, classes="present", per_image=False, ignore=None):
    if per_image:
        return smp_mean(
            smp_lovasz_softmax_flat(*smp_flatten_probas(prob.unsqueeze(0), lab.unsqueeze(0), ignore), classes=classes)
            for prob, lab in zip(probas, labels)
        )
    return smp_lovasz_softmax_flat(*smp_flatten_probas(probas, labels, ignore), classes=classes)


def check_lovasz(loss: str, params: list[str], d: dict[str, np.ndarray]) -> None:
    """smp's loss (one scalar: the mean over images with per_image) against --reduction mean, and
    per image (smp on each image alone, per_image=False) against --reduction none / sum; the
    gradient of smp's scalar by torch autograd against losscli's."""
    prm = parse_params(losses.get(loss), params)
    ignore = prm["ignore_index"]

    def reference(x: torch.Tensor, y: torch.Tensor, per_image: bool) -> torch.Tensor:
        if loss == "lovasz":
            return smp_lovasz_hinge(x, y, per_image=per_image, ignore=ignore)
        if prm["from_logits"]:
            x = x.softmax(dim=1)  # LovaszLoss.forward, mode='multiclass'
        if x.ndim == 2 and per_image:  # zip over the rows of P x C: each row is a 1 x C image
            return smp_mean(
                smp_lovasz_softmax(r[None], lab[None], prm["classes"], False, ignore) for r, lab in zip(x, y)
            )
        return smp_lovasz_softmax(x, y, classes=prm["classes"], per_image=per_image, ignore=ignore)

    x = t(d["preds"], grad=True)
    y = torch.tensor(d["targets"]).to(torch.int64 if loss == "lovasz-softmax" else torch.float64)
    ref = reference(x, y, prm["per_image"])
    ref.backward()
    if prm["per_image"]:
        per = [reference(t(xi[None]), yi[None], False).item() for xi, yi in zip(d["preds"], y)]
    else:
        per = [ref.item()]
    for backend in BACKENDS:
        assert run(loss, params, d, backend).value == pytest.approx(ref.item(), rel=RTOL, abs=ATOL)
        ev = run(loss, params, d, backend, reduction="none")
        np.testing.assert_allclose(ev.value, per, rtol=RTOL, atol=ATOL)
        assert run(loss, params, d, backend, reduction="sum").value == pytest.approx(sum(per), rel=RTOL, abs=ATOL)
    grad = run(loss, params, d, "torch").gradients["preds"]
    np.testing.assert_allclose(grad, x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


def lovasz_big(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """4 images of 32 x 32: more pixels than the registry cases."""
    return {"preds": rng.normal(0, 2, size=(4, 1, 32, 32)), "targets": (rng.uniform(size=(4, 1, 32, 32)) < 0.3) * 1.0}


@pytest.mark.parametrize(
    "case",
    [*FAMILY_CASES["lovasz"], ("big", [], lovasz_big), ("big_per_image", ["per_image=true"], lovasz_big)],
    ids=lambda c: c[0],
)
def test_lovasz_matches_smp(case):
    cid, params, factory = case
    check_lovasz("lovasz", params, factory(np.random.default_rng(4)))


@pytest.mark.parametrize("case", FAMILY_CASES["lovasz-softmax"], ids=lambda c: c[0])
def test_lovasz_softmax_matches_smp(case):
    cid, params, factory = case
    check_lovasz("lovasz-softmax", params, factory(np.random.default_rng(4)))


def test_lovasz_by_hand():
    """Three pixels, labels 1, 0, 1, logits 2, 0.5, -1: errors 1 - x s = -1, 1.5, 2, sorted 2 (y=1),
    1.5 (y=0), -1 (y=1); G = 2: J = 1 - 1/2 = 0.5, 1 - 1/3, 1 - 0/3 = 1; g = 0.5, 1/6, 1/3;
    ℓ = 2·0.5 + 1.5/6 + 0 = 1.25."""
    d = {"preds": np.array([2.0, 0.5, -1.0]), "targets": np.array([1.0, 0.0, 1.0])}
    for backend in BACKENDS:
        assert run("lovasz", [], d, backend).value == pytest.approx(1.25, rel=1e-15)
    grad = run("lovasz", [], d, "torch").gradients["preds"]
    np.testing.assert_allclose(grad, [0.0, 1 / 6, -0.5], rtol=1e-15)  # -(2y - 1) g at each rank, 0 where e < 0


def test_lovasz_bad_inputs(cli, write):
    d = FAMILY_CASES["lovasz"][0][2](np.random.default_rng(0))
    bad = {k: v.copy() for k, v in d.items()}
    bad["targets"][0, 0, 1, 2] = 2.0
    message = refuses("lovasz", [], bad, "data row 1, column 9: targets must be 0 or 1")
    assert message == "targets.csv: data row 1, column 9: targets must be 0 or 1 (a binary mask), got 2"
    refuses("lovasz", ["ignore_index=255"], bad, "must be 0, 1 or ignore_index 255, got 2")
    refuses("lovasz", [], {"preds": d["preds"], "targets": d["targets"][:1]}, "they must match")
    p = write("logits.csv", "0.5,-1\n2,0.1\n")
    y = write("mask.csv", "1,0\n1,3\n")
    r = cli("compute", "lovasz", p, y)
    assert r.exit_code == 2
    assert one_error_line(r).endswith("mask.csv: data row 2, column 2: targets must be 0 or 1 (a binary mask), got 3")
    r = cli("compute", "lovasz", "--format", "json")
    assert r.exit_code == 0, r.stderr
    r = cli("grad", "lovasz", "--explain")
    assert r.exit_code == 0, r.stderr


def test_lovasz_softmax_bad_inputs(cli):
    d = FAMILY_CASES["lovasz-softmax"][0][2](np.random.default_rng(0))
    three = {"preds": d["preds"][:, 0], "targets": d["targets"]}
    message = refuses("lovasz-softmax", [], three, "preds must be N x C x H x W")
    assert "'Sigmoid output possible only with 1 class'; use lovasz for binary masks" in message
    with pytest.raises(ValueError, match="Sigmoid output possible only with 1 class"):
        smp_lovasz_softmax(t(three["preds"]), torch.tensor(three["targets"]).long())
    one = {"preds": d["preds"][:, :1], "targets": np.zeros_like(d["targets"])}
    refuses("lovasz-softmax", [], one, "preds has 1 class; lovasz_softmax needs C >= 2")
    refuses(
        "lovasz-softmax",
        [],
        {"preds": d["preds"], "targets": d["targets"][:, :3]},
        "needs class indices of shape 2 x 4 x 5",
    )
    bad = {k: v.copy() for k, v in d.items()}
    bad["targets"][1, 2, 3] = 4.0
    message = refuses("lovasz-softmax", [], bad, "targets must be a class index 0..3, got 4")
    assert message.startswith("targets.csv: data row 2, column 14: ")
    refuses("lovasz-softmax", ["ignore_index=-1"], bad, "a class index 0..3 or ignore_index -1, got 4")
    gone = {k: v.copy() for k, v in d.items()}
    gone["targets"][1] = 255.0
    message = refuses("lovasz-softmax", ["per_image=true", "ignore_index=255"], gone, "every pixel of image 1")
    assert message.endswith("lovasz_softmax has no class to average there (smp returns an empty tensor)")
    assert run("lovasz-softmax", ["ignore_index=255"], gone).value > 0  # the batch as one keeps image 0
    r = cli("compute", "lovasz-softmax", "--format", "json")
    assert r.exit_code == 0, r.stderr
    r = cli("grad", "lovasz-softmax", "--explain")
    assert r.exit_code == 0, r.stderr


def test_smp_lovasz_grad_is_float32(monkeypatch):
    """Verbatim smp (.float()) fails on float64 inputs and on float32 inputs agrees with losscli's
    float64 value to float32 precision."""
    d = FAMILY_CASES["lovasz-softmax"][0][2](np.random.default_rng(5))
    monkeypatch.setitem(SMP_CAST, "dtype", torch.float32)
    labels = torch.tensor(d["targets"]).long()
    with pytest.raises(RuntimeError, match="expected both vectors to have same dtype"):
        smp_lovasz_softmax(t(d["preds"]), labels)
    ref32 = smp_lovasz_softmax(torch.tensor(d["preds"], dtype=torch.float32), labels).item()
    assert run("lovasz-softmax", [], d).value == pytest.approx(ref32, rel=1e-6)
    b = FAMILY_CASES["lovasz"][0][2](np.random.default_rng(5))
    ref32 = smp_lovasz_hinge(
        torch.tensor(b["preds"], dtype=torch.float32), torch.tensor(b["targets"], dtype=torch.float32), per_image=False
    )
    assert run("lovasz", [], b).value == pytest.approx(ref32.item(), rel=1e-6)
