"""One gradient element worked by hand: forward values and local derivatives along the
chain rule, for the ``--explain`` narrative.

``worked_element`` returns a :class:`Chain` whose ``product`` (the local derivatives
multiplied) must equal the element autograd put in ``.grad``.  Each loss with a hand
derivation registers a function here; the derivations are written independently of the
loss code (scalar maths with ``math``), so agreement is a real check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.losses._ops import BCE_GRAD_EPS

Step = tuple[str, str, float]  # (symbol, formula, value)


@dataclass
class Chain:
    """Forward values and local derivatives for one element of one input."""

    input: str
    index: tuple[int, ...]
    forward: list[tuple[str, float]] = field(default_factory=list)
    local: list[Step] = field(default_factory=list)
    combine: str = "product"  # "sum" when the derivative is a sum of path contributions (MMD)

    @property
    def product(self) -> float:
        """The gradient the hand derivation gives: the local derivatives multiplied along the
        chain (or, for ``combine == "sum"``, the contributions of the paths added)."""
        if self.combine == "sum":
            return math.fsum(v for _, _, v in self.local)
        out = 1.0
        for _, _, v in self.local:
            out *= v
        return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _tie(a: float, b: float, da: float, db: float) -> float:
    """d max(a, b): the derivative of the larger branch; torch splits a tie evenly."""
    if a > b:
        return da
    if b > a:
        return db
    return 0.5 * (da + db)


# ------------------------------------------------------------------ elementwise (preds vs targets)

ElementRule = Callable[[float, float, Mapping[str, Any]], tuple[list[tuple[str, float]], list[Step]]]


def _residual(p: float, y: float) -> tuple[list[tuple[str, float]], float]:
    r = p - y
    return [("p", p), ("y", y), ("r = p - y", r)], r


def _mse(p: float, y: float, prm: Mapping[str, Any]):
    fwd, r = _residual(p, y)
    fwd.append(("ℓ = r²", r * r))
    return fwd, [("∂ℓ/∂r", "2r", 2 * r), ("∂r/∂p", "1", 1.0)]


def _mae(p: float, y: float, prm: Mapping[str, Any]):
    fwd, r = _residual(p, y)
    fwd.append(("ℓ = |r|", abs(r)))
    return fwd, [("∂ℓ/∂r", "sign(r)", _sign(r)), ("∂r/∂p", "1", 1.0)]


def _huber(p: float, y: float, prm: Mapping[str, Any]):
    d = prm["delta"]
    fwd, r = _residual(p, y)
    inside = abs(r) < d
    fwd.append(
        (
            "ℓ = ½r² (|r| < δ)" if inside else "ℓ = δ(|r| - ½δ) (|r| ≥ δ)",
            0.5 * r * r if inside else d * (abs(r) - 0.5 * d),
        )
    )
    return fwd, [("∂ℓ/∂r", "r" if inside else "δ·sign(r)", r if inside else d * _sign(r)), ("∂r/∂p", "1", 1.0)]


def _smooth_l1(p: float, y: float, prm: Mapping[str, Any]):
    b = prm["beta"]
    fwd, r = _residual(p, y)
    inside = b > 0 and abs(r) < b
    fwd.append(
        ("ℓ = ½r²/β (|r| < β)" if inside else "ℓ = |r| - ½β (|r| ≥ β)", 0.5 * r * r / b if inside else abs(r) - 0.5 * b)
    )
    return fwd, [("∂ℓ/∂r", "r/β" if inside else "sign(r)", r / b if inside else _sign(r)), ("∂r/∂p", "1", 1.0)]


def _log_cosh(p: float, y: float, prm: Mapping[str, Any]):
    fwd, r = _residual(p, y)
    fwd.append(("ℓ = log cosh r", r + _softplus(-2 * r) - math.log(2)))
    return fwd, [("∂ℓ/∂r", "tanh(r)", math.tanh(r)), ("∂r/∂p", "1", 1.0)]


def _quantile(p: float, y: float, prm: Mapping[str, Any]):
    q = prm["q"]
    d = y - p
    fwd = [("p", p), ("y", y), ("d = y - p", d), ("ℓ = max(q·d, (q-1)·d)", max(q * d, (q - 1) * d))]
    return fwd, [("∂ℓ/∂d", "q if d > 0, q - 1 if d < 0", _tie(q * d, (q - 1) * d, q, q - 1)), ("∂d/∂p", "-1", -1.0)]


def _bce(p: float, y: float, prm: Mapping[str, Any]):
    if prm["from_logits"]:
        w = 1.0 if prm["pos_weight"] is None else prm["pos_weight"][0]
        fwd = [
            ("x (logit)", p),
            ("y", y),
            ("σ(x)", _sigmoid(p)),
            ("ℓ = w·y·softplus(-x) + (1-y)·softplus(x)", w * y * _softplus(-p) + (1 - y) * _softplus(p)),
        ]
        return fwd, [("∂ℓ/∂x", "(1-y)·σ(x) - w·y·σ(-x)", (1 - y) * _sigmoid(p) - w * y * _sigmoid(-p))]
    log_p = max(math.log(p), -100.0) if p > 0 else -100.0
    log_q = max(math.log(1 - p), -100.0) if p < 1 else -100.0
    fwd = [
        ("p", p),
        ("y", y),
        ("log p (clamped at -100)", log_p),
        ("log(1-p) (clamped at -100)", log_q),
        ("ℓ = -(y log p + (1-y) log(1-p))", -(y * log_p + (1 - y) * log_q)),
    ]
    return fwd, [
        ("∂ℓ/∂p", "(p - y) / max(p(1-p), 1e-12)  (torch BCELoss backward)", (p - y) / max(p * (1 - p), BCE_GRAD_EPS))
    ]


def _hinge_labels(y_all: np.ndarray) -> Callable[[float], float]:
    zero_one = bool(np.all((y_all == 0) | (y_all == 1)))
    return (lambda y: 2 * y - 1) if zero_one else (lambda y: y)


def _hinge(p: float, y: float, prm: Mapping[str, Any], squared: bool = False):
    m = y * p
    h = max(0.0, 1 - m)
    fwd = [("p", p), ("y (±1)", y), ("m = y·p", m), ("h = max(0, 1 - m)", h)]
    local = [("∂h/∂m", "-1 if m < 1 else 0", _tie(0.0, 1 - m, 0.0, -1.0)), ("∂m/∂p", "y", y)]
    if squared:
        fwd.append(("ℓ = h²", h * h))
        local.insert(0, ("∂ℓ/∂h", "2h", 2 * h))
    return fwd, local


def _focal(x: float, y: float, prm: Mapping[str, Any]):
    a, g = prm["alpha"], prm["gamma"]
    s = _sigmoid(x)
    ce = y * _softplus(-x) + (1 - y) * _softplus(x)
    pt = s * y + (1 - s) * (1 - y)
    at = a * y + (1 - a) * (1 - y) if a >= 0 else 1.0
    mod = (1 - pt) ** g
    fwd = [
        ("x (logit)", x),
        ("y", y),
        ("p = σ(x)", s),
        ("ce = BCEWithLogits(x, y)", ce),
        ("pₜ", pt),
        ("αₜ", at),
        ("ℓ = αₜ (1-pₜ)^γ ce", at * mod * ce),
    ]
    dpt = (2 * y - 1) * s * (1 - s)
    dmod = -g * (1 - pt) ** (g - 1) * dpt if g != 0 else 0.0
    dce = (1 - y) * s - y * _sigmoid(-x)  # σ(x) - y without cancellation
    return fwd, [("∂ℓ/∂x", "αₜ[∂(1-pₜ)^γ/∂x · ce + (1-pₜ)^γ (σ(x) - y)]", at * (dmod * ce + mod * dce))]


ELEMENTWISE: dict[str, ElementRule] = {
    "mse": _mse,
    "rmse": _mse,
    "mae": _mae,
    "huber": _huber,
    "smooth-l1": _smooth_l1,
    "log-cosh": _log_cosh,
    "quantile": _quantile,
    "bce": _bce,
    "focal": _focal,
    "hinge": _hinge,
    "squared-hinge": lambda p, y, prm: _hinge(p, y, prm, squared=True),
}


# ------------------------------------------------------------------ row-wise (classes on the last axis)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _ce_row(z: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    """∂ℓᵢ/∂z_c for one row of cross-entropy (index or probability target)."""
    n_cls = z.size
    eps = prm["label_smoothing"]
    w = np.ones(n_cls) if prm["weight"] is None else np.asarray(prm["weight"], float)
    if not prm["from_logits"]:
        p = z
        fwd = [(f"p_{c}", float(p[c]))]
        if np.ndim(t) == 0:
            k = int(t)
            grad = -(1 - eps) * w[k] * (1.0 / p[c] if c == k else 0.0) - eps / n_cls * w[c] / p[c]
            return fwd + [("target class", k)], [("∂ℓᵢ/∂p_c", "-(1-ε) w_y [c = y]/p_c - (ε/C) w_c / p_c", grad)]
        ty = (1 - eps) * np.asarray(t) + eps / n_cls
        return fwd, [("∂ℓᵢ/∂p_c", "-w_c ỹ_c / p_c", float(-w[c] * ty[c] / p[c]))]
    s = _softmax(z)
    fwd = [(f"z_{c}", float(z[c])), (f"softmax(z)_{c}", float(s[c]))]
    if np.ndim(t) == 0:
        k = int(t)
        if k == prm["ignore_index"]:
            return fwd + [("target", k)], [("∂ℓᵢ/∂z_c", "0 (ignored target)", 0.0)]
        grad = (1 - eps) * w[k] * (s[c] - (c == k)) + eps / n_cls * (s[c] * w.sum() - w[c])
        fwd.append(("target class y", k))
        return fwd, [("∂ℓᵢ/∂z_c", "(1-ε) w_y (s_c - [c = y]) + (ε/C)(s_c Σw - w_c)", float(grad))]
    ty = (1 - eps) * np.asarray(t, float) + eps / n_cls
    grad = s[c] * np.sum(w * ty) - w[c] * ty[c]
    return fwd, [("∂ℓᵢ/∂z_c", "s_c Σ_k w_k ỹ_k - w_c ỹ_c", float(grad))]


def _multi_margin_row(x: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
    k, m, pw = int(t), prm["margin"], prm["p"]
    n_cls = x.size
    h = np.maximum(0.0, m - x[k] + x)
    h[k] = 0.0
    dh = pw * h ** (pw - 1) * (h > 0) / n_cls
    grad = -float(dh.sum()) if c == k else float(dh[c])
    fwd = [(f"x_{c}", float(x[c])), ("x_y (target score)", float(x[k])), ("violating classes", int((h > 0).sum()))]
    return fwd, [("∂ℓᵢ/∂x_c", "-Σ_j p hⱼ^(p-1)/C for c = y, else p h_c^(p-1)/C when violated", grad)]


def _kl_row(q: np.ndarray, p: np.ndarray, c: int, prm: Mapping[str, Any]):
    fwd = [(f"q_{c}" if not prm["log_input"] else f"log q_{c}", float(q[c])), (f"p_{c}", float(p[c]))]
    if prm["log_input"]:
        return fwd, [("∂ℓᵢ/∂(log q)_c", "-p_c", float(-p[c]))]
    return fwd, [("∂ℓᵢ/∂q_c", "-p_c / q_c", float(-p[c] / q[c]) if p[c] > 0 else 0.0)]


ROWWISE = {
    "cross-entropy": _ce_row,
    "sparse-cross-entropy": _ce_row,
    "multi-margin": _multi_margin_row,
    "kl-div": _kl_row,
}


# ------------------------------------------------------------------ other two-input losses
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ
# already included, or None when it has no derivation for that input.

Rule = Callable[[Any, Mapping[str, np.ndarray], str, tuple[int, ...]], Any]


def _outer(ev: Any, count: float) -> tuple[str, float]:
    return (f"1/{count:g}", 1.0 / count) if ev.reduction == "mean" else ("1 (sum)", 1.0)


def _gan_discriminator(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    x = float(inputs[name][index])
    formula, outer = _outer(ev, inputs[name].size)
    if name == "real":
        fwd = [("r (logit on a real sample)", x), ("ℓ = softplus(-r)", _softplus(-x))]
        return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂r", "-σ(-r)", -_sigmoid(-x))]
    fwd = [("f (logit on a fake sample)", x), ("ℓ = softplus(f)", _softplus(x))]
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "σ(f)", _sigmoid(x))]


def _wasserstein_critic(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    formula, outer = _outer(ev, inputs[name].size)
    sign = 1.0 if name == "fake" else -1.0
    fwd = [(f"{name} score", float(inputs[name][index]))]
    return fwd, [("∂L/∂(term)", formula, outer), (f"∂(±{name})/∂{name}", "+1 for fake, -1 for real", sign)]


def _bpr(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    pos, neg = inputs["pos"], inputs["neg"]
    if neg.ndim == 2 and pos.ndim == 1:  # K negatives per positive: pos is broadcast
        pos = np.broadcast_to(pos[:, None], neg.shape)
        if name == "pos":  # one path per negative k: the contributions add up
            formula, outer = _outer(ev, neg.size)
            d = pos[index[0]] - neg[index[0]]
            fwd = [(f"d_k = pos - neg_k (k = 0..{d.size - 1})", float(d[0]))]
            return (
                fwd,
                [
                    (
                        f"path k={k}: ∂L/∂ℓ_k · ∂ℓ_k/∂d_k · ∂d_k/∂pos",
                        f"{formula} · -σ(-d_k) · 1",
                        outer * -_sigmoid(-float(dk)),
                    )
                    for k, dk in enumerate(d)
                ],
                "sum",
            )
    d = float(pos[index] - neg[index])
    formula, outer = _outer(ev, neg.size)
    fwd = [("d = pos - neg", d), ("ℓ = softplus(-d) = -log σ(d)", _softplus(-d))]
    return fwd, [
        ("∂L/∂ℓ", formula, outer),
        ("∂ℓ/∂d", "-σ(-d)", -_sigmoid(-d)),
        (f"∂d/∂{name}", "+1 for pos, -1 for neg", 1.0 if name == "pos" else -1.0),
    ]


def _reconstruction(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    p_all, y_all = inputs["preds"], inputs["targets"]
    rows = p_all.shape[0]  # a 1-D input is N rows of one feature
    width = p_all.size // rows
    kind = ev.params["kind"]
    rule = {"mse": _mse, "mae": _mae, "bce": lambda p, y, prm: _bce(p, y, {"from_logits": False})}[kind]
    fwd, local = rule(float(p_all[index]), float(y_all[index]), ev.params)
    formula, outer = _outer(ev, rows)
    inner = (
        ("∂ℓᵢ/∂eᵢⱼ", "1 (features summed)", 1.0)
        if ev.params["feature_reduction"] == "sum"
        else ("∂ℓᵢ/∂eᵢⱼ", f"1/{width} (features averaged)", 1.0 / width)
    )
    return fwd, [("∂L/∂ℓᵢ", formula, outer), inner, *local]


def _seq2seq(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    z, t = inputs["preds"], inputs["targets"]
    classes = z.shape[-1]
    z2, t1 = z.reshape(-1, classes), t.reshape(-1)
    token = int(np.ravel_multi_index(index[:-1], z.shape[:-1]))
    params = {**ev.params, "from_logits": True, "weight": None}
    fwd, local = _ce_row(z2[token], t1[token], index[-1], params)
    formula, outer = _outer(ev, ev.denominator)
    return [("token", token), *fwd], [("∂L/∂ℓₜ", formula, outer), *local]


def _region(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
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
    formula, outer = _outer(ev, n_cls)
    local = [
        ("∂L/∂ℓ_c", formula, outer),
        ("∂ℓ_c/∂(ratio)", "-1", -1.0),
        ("∂(ratio)/∂p_j", "(num'·den - num·den')/den²", (dnum * den - num * dden) / den**2),
    ]
    if prm["from_logits"]:
        local.append(("∂p_j/∂x_j", "σ(x)(1 - σ(x))", pj * (1 - pj)))
    return fwd, local


def _mmd(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂MMD²/∂(one coordinate of one sample), kernel k(u, v) = exp(-γ‖u - v‖²), ∂k/∂u = -2γ(u - v)k."""
    x, y = (a.reshape(a.shape[0], -1) for a in (inputs["x"], inputs["y"]))
    own, other = (x, y) if name == "x" else (y, x)
    row, col = (index[0], index[1] if len(index) > 1 else 0)
    g = ev.params["gamma"]
    u = own[row]

    def dk(others: np.ndarray) -> np.ndarray:
        diff = u[None, :] - others
        return -2 * g * diff[:, col] * np.exp(-g * np.sum(diff * diff, axis=1))

    n, m = own.shape[0], other.shape[0]
    same = dk(own)
    if ev.params["estimator"] == "unbiased":
        same_term = 2 * (np.sum(same) - same[row]) / (n * (n - 1))
    else:
        same_term = 2 * np.sum(same) / (n * n)
    cross_term = -2 * np.sum(dk(other)) / (n * m)
    fwd = [
        (f"{name}[{row}, {col}]", float(u[col])),
        ("γ", g),
        ("Σ ∂k(self)", float(np.sum(same))),
        ("Σ ∂k(cross)", float(np.sum(dk(other)))),
    ]
    return (
        fwd,
        [
            ("∂MMD²/∂(within-sample term)", "2 Σ ∂k / n²  (n(n-1) unbiased)", same_term),
            ("∂MMD²/∂(cross term)", "-2 Σ ∂k / (n m)", cross_term),
        ],
        "sum",
    )


def _gan_generator(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    f = float(inputs["fake"][index])
    formula, outer = _outer(ev, inputs["fake"].size)
    if ev.params["mode"] == "minimax":
        fwd = [("f (logit on a fake sample)", f), ("ℓ = -softplus(f) = log(1 - σ(f))", -_softplus(f))]
        return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "-σ(f)", -_sigmoid(f))]
    fwd = [("f (logit on a fake sample)", f), ("ℓ = softplus(-f) = -log σ(f)", _softplus(-f))]
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "-σ(-f)", -_sigmoid(-f))]


def _wasserstein_generator(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    formula, outer = _outer(ev, inputs["fake"].size)
    return [("fake score", float(inputs["fake"][index]))], [("∂L/∂(-fake)", formula, outer), ("∂(-f)/∂f", "-1", -1.0)]


def _rows_of(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, 1) if a.ndim == 1 else a.reshape(a.shape[0], -1)


def _contrastive(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    x1, x2 = _rows_of(inputs["x1"]), _rows_of(inputs["x2"])
    row, col = index[0], (index[1] if len(index) > 1 else 0)
    y, m = float(inputs["label"].reshape(-1)[row]), ev.params["margin"]
    diff = x1[row] - x2[row]
    d = float(np.sqrt(np.sum(diff * diff)))
    sign = 1.0 if name == "x1" else -1.0
    gap = max(0.0, m - d)
    fwd = [("D = ‖x1ᵢ - x2ᵢ‖", d), ("label (1 = similar)", y), ("max(0, m - D)", gap)]
    formula, outer = _outer(ev, x1.shape[0])
    dd = y * diff[col] - (1 - y) * gap * (diff[col] / d if d > 0 else 0.0)
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂(x1ᵢ - x2ᵢ)_k", "y (x1 - x2)_k - (1 - y) max(0, m - D) (x1 - x2)_k / D", dd),
        (f"∂(x1 - x2)/∂{name}", "+1 for x1, -1 for x2", sign),
    ]


def _triplet(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """p = 2, no swap: ∂ℓ/∂a = (a - p + ε)/d_ap - (a - n + ε)/d_an while the margin is violated."""
    if ev.params["p"] != 2 or ev.params["swap"]:
        return None
    a, p, n = (_rows_of(inputs[k]) for k in ("anchor", "positive", "negative"))
    row, col = index[0], (index[1] if len(index) > 1 else 0)
    eps = ev.params["eps"]
    u, v = a[row] - p[row] + eps, a[row] - n[row] + eps
    d_ap, d_an = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    hinge = d_ap - d_an + ev.params["margin"]
    active = 1.0 if hinge > 0 else 0.0
    local_d = {"anchor": u[col] / d_ap - v[col] / d_an, "positive": -u[col] / d_ap, "negative": v[col] / d_an}[name]
    fwd = [("d(a, p) = ‖a - p + ε‖", d_ap), ("d(a, n) = ‖a - n + ε‖", d_an), ("d(a,p) - d(a,n) + margin", hinge)]
    formula, outer = _outer(ev, a.shape[0])
    return fwd, [
        ("∂L/∂ℓᵢ", formula, outer),
        ("∂ℓᵢ/∂(hinge)", "1 if violated else 0", active),
        (f"∂(hinge)/∂{name}_k", "(a - p + ε)_k/d_ap - (a - n + ε)_k/d_an for the anchor", local_d),
    ]


OTHERS: dict[str, Rule] = {
    "gan-discriminator": _gan_discriminator,
    "wasserstein-critic": _wasserstein_critic,
    "bpr": _bpr,
    "reconstruction": _reconstruction,
    "seq2seq": _seq2seq,
    "dice": _region,
    "iou": _region,
    "tversky": _region,
    "mmd": _mmd,
    "gan-generator": _gan_generator,
    "wasserstein-generator": _wasserstein_generator,
    "contrastive": _contrastive,
    "triplet": _triplet,
}


def worked_element(
    ev: Any, inputs: Mapping[str, np.ndarray], index: tuple[int, ...], name: str = "preds"
) -> Chain | None:
    """The chain rule for ``inputs[name][index]``, or None without a hand derivation."""
    loss = ev.spec.name
    if loss in OTHERS:
        out = OTHERS[loss](ev, inputs, name, index)
        if out is None:
            return None
        chain = Chain(name, index, forward=out[0], local=out[1])
        chain.combine = out[2] if len(out) > 2 else "product"
        return chain
    if name != "preds" or "targets" not in inputs:
        return None
    p_all, y_all = inputs["preds"], inputs["targets"]
    outer = 1.0 / ev.denominator if ev.reduction == "mean" else 1.0
    outer_formula = f"1/{ev.denominator:g}" if ev.reduction == "mean" else "1 (sum)"
    chain = Chain("preds", index)
    if loss in ELEMENTWISE:
        y = float(y_all[index])
        if loss in ("hinge", "squared-hinge"):
            y = _hinge_labels(y_all)(y)
        params = dict(ev.params)
        if params.get("pos_weight") and len(params["pos_weight"]) > 1:  # one weight per column
            params["pos_weight"] = (params["pos_weight"][index[-1]],)
        fwd, local = ELEMENTWISE[loss](float(p_all[index]), y, params)
        chain.forward = fwd
        if loss == "rmse" and ev.reduction == "none":  # the square root per element: ℓ = √(r²) = |r|
            fwd, local = _mae(float(p_all[index]), y, params)
            chain.forward, chain.local = fwd, [("∂(Σℓ)/∂ℓ", "1 (none: gradient of the sum)", 1.0), *local]
            return chain
        if loss == "rmse":
            mean_sq = (
                float(np.mean((p_all - y_all) ** 2)) if ev.reduction == "mean" else float(np.sum((p_all - y_all) ** 2))
            )
            value = math.sqrt(mean_sq)
            chain.forward.append(("M = mean ℓ" if ev.reduction == "mean" else "M = Σ ℓ", mean_sq))
            chain.forward.append(("L = √M", value))
            local = [
                ("∂L/∂M", "1/(2√M)", 1 / (2 * value) if value else math.inf),
                ("∂M/∂ℓ", outer_formula, outer),
                *local,
            ]
        else:
            local = [("∂L/∂ℓ", outer_formula, outer), *local]
        chain.local = local
        return chain
    if loss in ROWWISE:
        row, col = (0, index[0]) if p_all.ndim == 1 else index
        first = p_all if p_all.ndim == 1 else p_all[row]
        second = y_all if y_all.ndim == 1 and p_all.ndim == 1 else y_all[row]
        fwd, local = ROWWISE[loss](first, second, col, ev.params)
        chain.forward = fwd
        chain.local = [("∂L/∂ℓᵢ", outer_formula, outer), *local]
        return chain
    return None
