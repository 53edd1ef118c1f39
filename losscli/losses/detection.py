"""Box losses for detection on (x1, y1, x2, y2) boxes, as torchvision.ops computes them.

Shapes: ``preds`` and ``targets`` N x 4 (one box a row, columns x1, y1, x2, y2), or one box
of 4 values (torchvision's unbatched ``Tensor[4]``).  The elements are the N per-box losses
(a 0-d loss for one unbatched box), so ``--reduction mean`` is the mean over boxes, ``sum`` the
sum and ``none`` the per-box vector, as torchvision's ``reduction``.

All three share torchvision's pieces (``torchvision/ops/_utils.py`` ``_loss_inter_union``,
``diou_loss.py`` ``_diou_iou_loss``): the intersection is the overlap rectangle's area where
both its sides are positive and exactly 0 otherwise (a masked assignment: no gradient through
boxes that do not overlap), the union ``area₁ + area₂ - intersection``, and the smallest
enclosing box C.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from losscli import scalar as S
from losscli.chains import Chain, Custom
from losscli.errors import InputError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.scalar import Scalar
from losscli.spec import Input, LossSpec, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "image"

TV_EPS = 1e-7  # torchvision's default eps; ciou's IoU and distance terms always use it


def _stop_gradient(a: Array) -> Array:
    """``with torch.no_grad()``: the value without its graph (numpy arrays have none)."""
    return a.detach() if hasattr(a, "detach") else a


def _corners(a: Array) -> tuple[Array, Array, Array, Array]:
    return a[..., 0], a[..., 1], a[..., 2], a[..., 3]


def _inter_union(xp: Any, p: Array, g: Array) -> tuple[Array, Array]:
    """torchvision ``_loss_inter_union``: (intersection, union) per box pair."""
    x1, y1, x2, y2 = _corners(p)
    x1g, y1g, x2g, y2g = _corners(g)
    xkis1, ykis1 = xp.maximum(x1, x1g), xp.maximum(y1, y1g)
    xkis2, ykis2 = xp.minimum(x2, x2g), xp.minimum(y2, y2g)
    overlap = (ykis2 > ykis1) & (xkis2 > xkis1)
    inter = xp.where(overlap, (xkis2 - xkis1) * (ykis2 - ykis1), xp.zeros_like(x1))
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def _enclosing(xp: Any, p: Array, g: Array) -> tuple[Array, Array, Array, Array]:
    x1, y1, x2, y2 = _corners(p)
    x1g, y1g, x2g, y2g = _corners(g)
    return xp.minimum(x1, x1g), xp.minimum(y1, y1g), xp.maximum(x2, x2g), xp.maximum(y2, y2g)


def _diou_iou(xp: Any, p: Array, g: Array, eps: float) -> tuple[Array, Array]:
    """torchvision ``_diou_iou_loss``: (1 - IoU + ρ²/(c² + eps), IoU), IoU = I/(U + eps)."""
    inter, union = _inter_union(xp, p, g)
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = _enclosing(xp, p, g)
    diag = (xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + eps
    x1, y1, x2, y2 = _corners(p)
    x1g, y1g, x2g, y2g = _corners(g)
    centres = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + centres / diag, iou


def giou(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Generalized IoU loss per box: ℓ = 1 - (IoU - (|C| - U)/(|C| + eps)), IoU = I/(U + eps).

    torchvision.ops.generalized_box_iou_loss (``giou_loss.py``).  Shapes: preds, targets N x 4
    or 4.  Elements: (N,) per-box losses (0-d for one box).
    """
    p, g, eps = inputs["preds"], inputs["targets"], params["eps"]
    inter, union = _inter_union(xp, p, g)
    iou = inter / (union + eps)
    xc1, yc1, xc2, yc2 = _enclosing(xp, p, g)
    area_c = (xc2 - xc1) * (yc2 - yc1)
    return Terms(1 - (iou - (area_c - union) / (area_c + eps)))


def diou(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Distance IoU loss per box: ℓ = 1 - IoU + ρ²/(c² + eps), ρ the distance between the box
    centres, c the enclosing box's diagonal.

    torchvision.ops.distance_box_iou_loss (``diou_loss.py``).  Shapes and elements as :func:`giou`.
    """
    loss, _ = _diou_iou(xp, inputs["preds"], inputs["targets"], params["eps"])
    return Terms(loss)


def ciou(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Complete IoU loss per box: ℓ = DIoU loss + α v, v = (4/π²)(atan(w_g/h_g) - atan(w/h))²,
    α = v/(1 - IoU + v + eps) taken as a constant (no gradient: torchvision's ``torch.no_grad()``).

    torchvision.ops.complete_box_iou_loss (``ciou_loss.py``): its DIoU part and IoU use the
    default eps 1e-7 whatever ``eps`` is (it calls ``_diou_iou_loss(boxes1, boxes2)``); ``eps``
    enters α only.  Shapes and elements as :func:`giou`.
    """
    p, g, eps = inputs["preds"], inputs["targets"], params["eps"]
    diou_loss, iou = _diou_iou(xp, p, g, TV_EPS)
    x1, y1, x2, y2 = _corners(p)
    x1g, y1g, x2g, y2g = _corners(g)
    d = xp.atan((x2g - x1g) / (y2g - y1g)) - xp.atan((x2 - x1) / (y2 - y1))
    v = (4 / math.pi**2) * (d * d)
    alpha = _stop_gradient(v / (1 - iou + v + eps))
    return Terms(diou_loss + alpha * v)


# ----------------------------------------------------------------------------- checks

_COORDS = ("x1", "y1", "x2", "y2")


def _validator(name: str) -> Any:
    def validate(inputs: Mapping[str, np.ndarray], params: Params, sources: Sources) -> None:
        _checks.same_shape(inputs, sources, "preds", "targets")
        _checks.non_empty(inputs, sources)
        for inp in ("preds", "targets"):
            a = inputs[inp]
            if a.ndim not in (1, 2) or a.shape[-1] != 4:
                raise InputError(
                    f"{inp} must be boxes (x1, y1, x2, y2): N x 4, or 4 values for one box, got shape "
                    f"{' x '.join(map(str, a.shape))}",
                    source=sources.get(inp, inp),
                )
        for inp in ("preds", "targets"):
            rows = inputs[inp].reshape(-1, 4)
            for lo, hi in ((0, 2), (1, 3)):
                bad = np.flatnonzero(rows[:, hi] < rows[:, lo])
                if bad.size:
                    r = int(bad[0])
                    raise InputError(
                        f"data row {r + 1}: {inp} box has {_COORDS[hi]} = {rows[r, hi]:g} < {_COORDS[lo]} = "
                        f"{rows[r, lo]:g}; boxes are (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1 "
                        f"(torchvision asserts 'bad box: {_COORDS[lo]} larger than {_COORDS[hi]}')",
                        source=sources.get(inp, inp),
                    )
            if name == "ciou":
                flat = np.flatnonzero(rows[:, 3] == rows[:, 1])
                if flat.size:
                    r = int(flat[0])
                    raise InputError(
                        f"data row {r + 1}: {inp} box has height 0 (y1 = y2 = {rows[r, 1]:g}); ciou takes "
                        "atan(width / height), which has no gradient there",
                        source=sources.get(inp, inp),
                    )

    return validate


# ----------------------------------------------------------------------------- the chain rule for --explain


def _smin(a: Scalar, b: Scalar) -> Scalar:
    """min(a, b) as torch.minimum: ∂/∂a = 1 where a < b, 0 where a > b, ½ on a tie."""
    va, vb = a.value, b.value
    da = 0.5 if va == vb else float(va < vb)
    return S.op(min(va, vb), [(a, da, f"{da:g}"), (b, 1.0 - da, f"{1.0 - da:g}")], f"min({a.symbol}, {b.symbol})")


def _atan(x: Scalar) -> Scalar:
    return S.op(math.atan(x.value), [(x, 1.0 / (1.0 + x.value**2), f"1/(1 + {x.symbol}²)")], f"atan({x.symbol})")


def box_scalar(name: str, p: list[Scalar], g: list[Scalar], eps: float) -> Scalar:
    """One box pair's loss over Scalars, step by step as torchvision's source."""
    x1, y1, x2, y2 = p
    x1g, y1g, x2g, y2g = g
    xk1 = S.maximum(x1, x1g).named("xkis1 = max(x1, x1g)")
    yk1 = S.maximum(y1, y1g).named("ykis1 = max(y1, y1g)")
    xk2 = _smin(x2, x2g).named("xkis2 = min(x2, x2g)")
    yk2 = _smin(y2, y2g).named("ykis2 = min(y2, y2g)")
    if yk2.value > yk1.value and xk2.value > xk1.value:
        inter = ((xk2 - xk1) * (yk2 - yk1)).named("I = (xkis2 - xkis1)(ykis2 - ykis1)")
    else:
        inter = S.op(0.0, [(xk1, 0.0, "0 (no overlap)")], "I = 0 (no overlap)")
    w, h = (x2 - x1).named("w = x2 - x1"), (y2 - y1).named("h = y2 - y1")
    wg, hg = (x2g - x1g).named("w_g = x2g - x1g"), (y2g - y1g).named("h_g = y2g - y1g")
    union = ((w * h).named("area = w·h") + (wg * hg).named("area_g = w_g·h_g") - inter).named("U = area + area_g - I")
    iou_eps = TV_EPS if name == "ciou" else eps
    iou = (inter / (union + iou_eps)).named(f"IoU = I/(U + {iou_eps:g})")
    xc1 = _smin(x1, x1g).named("xc1 = min(x1, x1g)")
    yc1 = _smin(y1, y1g).named("yc1 = min(y1, y1g)")
    xc2 = S.maximum(x2, x2g).named("xc2 = max(x2, x2g)")
    yc2 = S.maximum(y2, y2g).named("yc2 = max(y2, y2g)")
    if name == "giou":
        area_c = ((xc2 - xc1) * (yc2 - yc1)).named("|C| = (xc2 - xc1)(yc2 - yc1)")
        return (1 - (iou - (area_c - union) / (area_c + eps))).named("ℓ = 1 - (IoU - (|C| - U)/(|C| + eps))")
    diag = ((xc2 - xc1) ** 2 + (yc2 - yc1) ** 2 + iou_eps).named("c² = diagonal² + eps")
    dx = ((x2 + x1) / 2 - (x1g + x2g) / 2).named("Δx = (x2 + x1)/2 - (x1g + x2g)/2")
    dy = ((y2 + y1) / 2 - (y1g + y2g) / 2).named("Δy = (y2 + y1)/2 - (y1g + y2g)/2")
    rho = (dx * dx + dy * dy).named("ρ² = Δx² + Δy²")
    d_loss = (1 - iou + rho / diag).named("ℓ_D = 1 - IoU + ρ²/c²")
    if name == "diou":
        return d_loss.named("ℓ = 1 - IoU + ρ²/c²")
    a_g = _atan(wg / hg).named("atan(w_g/h_g)")
    a_p = _atan(w / h).named("atan(w/h)")
    diff = (a_g - a_p).named("Δ = atan(w_g/h_g) - atan(w/h)")
    v = ((4 / math.pi**2) * diff * diff).named("v = (4/π²) Δ²")
    alpha = v.value / (1 - iou.value + v.value + eps)  # no_grad: a constant
    return (d_loss + alpha * v).named(f"ℓ = ℓ_D + α v (α = {alpha:.6g}, no gradient)")


@dataclass(frozen=True)
class BoxChain(Custom):
    """The worked element of a box loss: the box's loss over Scalars, the reduction's 1/N on top,
    and the backward pass node by node (a corner reaches the loss by several paths)."""

    rule: Any = None
    loss: str = "giou"

    def work(self, ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]) -> Chain | None:
        if name != "preds":
            return None
        row = index[0] if inputs["preds"].ndim == 2 else None
        p_row = inputs["preds"][row] if row is not None else inputs["preds"]
        g_row = inputs["targets"][row] if row is not None else inputs["targets"]
        p = [Scalar.leaf(float(v), c) for v, c in zip(p_row, _COORDS)]
        g = [Scalar.leaf(float(v), c + "g") for v, c in zip(g_row, _COORDS)]
        ell = box_scalar(self.loss, p, g, ev.params["eps"])
        top = ev.spec.rule.chain_outer(ell, np.atleast_1d(ev.elements), ev.denominator, ev.reduction)
        d = S.derivation(top, p[index[-1]])
        return Chain(name, index, d.forward, d.steps, d.combine, d.gradient)


# ----------------------------------------------------------------------------- specs

PREDS = Input("preds", "N x 4 (or 4)", "predicted boxes (x1, y1, x2, y2), one a row")
TARGETS = Input("targets", "same as preds", "ground-truth boxes (x1, y1, x2, y2)", differentiable=False)
EPS = Param("eps", "float", 1e-7, "small number against division by zero (torchvision eps)", low=0.0)
BOXES = Example(("boxes_pred.csv", "boxes_true.csv"), what="6 predicted boxes and their ground truth (pixels)")
ELEMENT = "per box (row)"
MEAN = "mean over boxes"
SHAPES = "Boxes are rows (x1, y1, x2, y2), x2 >= x1, y2 >= y1; N x 4, or 4 values for one box."
SHARED = (
    "IoU = I/(U + eps), I = overlap area (0 without overlap), U = area(p) + area(g) - I, "
    "C = the smallest box enclosing both"
)


def _spec(**kw: Any) -> LossSpec:
    name = kw["name"]
    kw.setdefault("inputs", (PREDS, TARGETS))
    kw.setdefault("params", (EPS,))
    kw.setdefault("validate", _validator(name))
    kw.setdefault("example", BOXES)
    kw.setdefault("chain", BoxChain(loss=name))
    kw.setdefault("element_note", ELEMENT)
    kw.setdefault("mean_note", MEAN)
    return define(family=FAMILY, **kw)


SPECS: list[LossSpec] = [
    _spec(
        name="giou",
        aliases=("giou-loss", "generalized-box-iou"),
        summary="generalized IoU loss for (x1, y1, x2, y2) boxes",
        formula=f"ℓ = 1 - (IoU - (|C| - U)/(|C| + eps)),  {SHARED};  L = mean ℓ.  " + SHAPES,
        derivative="by the chain rule through min/max of the corners (torch's tie rule: ½ each); "
        "no gradient through I for boxes that do not overlap",
        convention="torchvision.ops.generalized_box_iou_loss(boxes1=preds, boxes2=targets, reduction, eps=1e-7)",
        differs="torchvision's default reduction is 'none' (losscli's is mean) and it gives 0 for no boxes "
        "(losscli refuses empty input); fvcore giou_loss is the same formula; DETR's pairwise "
        "generalized_box_iou has no eps. The loss is symmetric; only preds gets a gradient here.",
        when="Box regression where predicted and true boxes may not overlap: unlike 1 - IoU it still "
        "has a gradient then, pulling the box towards the target.",
        fn=giou,
        references=("Rezatofighi et al. 2019, Generalized Intersection over Union (arXiv:1902.09630)",),
    ),
    _spec(
        name="diou",
        aliases=("diou-loss", "distance-box-iou"),
        summary="distance IoU loss for (x1, y1, x2, y2) boxes",
        formula=f"ℓ = 1 - IoU + ρ²/c²,  ρ² = squared distance of the box centres, c² = squared diagonal "
        f"of C + eps,  {SHARED};  L = mean ℓ.  " + SHAPES,
        derivative="by the chain rule through min/max of the corners (torch's tie rule: ½ each); "
        "∂(ρ²/c²) moves the centre towards the target's",
        convention="torchvision.ops.distance_box_iou_loss(boxes1=preds, boxes2=targets, reduction, eps=1e-7)",
        differs="torchvision's default reduction is 'none' (losscli's is mean) and it gives 0 for no boxes "
        "(losscli refuses empty input). Same formula as detectron2's diou_loss, from which torchvision took it.",
        when="Box regression that should converge faster than GIoU: the centre-distance term acts even "
        "when one box contains the other.",
        fn=diou,
        references=("Zheng et al. 2020, Distance-IoU Loss (arXiv:1911.08287)",),
    ),
    _spec(
        name="ciou",
        gradient_by_convention=True,  # torchvision holds α constant (torch.no_grad)
        aliases=("ciou-loss", "complete-box-iou"),
        summary="complete IoU loss for (x1, y1, x2, y2) boxes (DIoU plus an aspect-ratio term)",
        formula="ℓ = (DIoU loss with eps = 1e-7) + α v,  v = (4/π²)(atan(w_g/h_g) - atan(w/h))²,  "
        "α = v / (1 - IoU + v + eps);  L = mean ℓ.  " + SHAPES + " Heights must be > 0.",
        derivative="as diou, plus α ∂v/∂p with α held constant (torchvision computes α under "
        "torch.no_grad()): the gradient is not the derivative of the value through α",
        convention="torchvision.ops.complete_box_iou_loss(boxes1=preds, boxes2=targets, reduction, eps=1e-7); "
        "as there, eps enters α only (the IoU and distance terms use 1e-7)",
        differs="ultralytics bbox_iou(CIoU=True) also holds α without gradient but adds eps to the heights "
        "(w/(h + eps)); detectron2's ciou_loss is the source torchvision took. "
        "torchvision's default reduction is 'none' (losscli's is mean). Boxes of height 0 are refused "
        "(atan(w/0)), which torchvision does not check.",
        when="Box regression that also matches the aspect ratio of the target box (YOLO-style detectors).",
        fn=ciou,
        references=("Zheng et al. 2020, Distance-IoU Loss (arXiv:1911.08287)",),
    ),
]
