"""One gradient element worked by hand: forward values and local derivatives along the
chain rule, for the ``--explain`` narrative.

``worked_element`` returns a :class:`Chain` whose ``product`` (the local derivatives
multiplied) must equal the element autograd put in ``.grad``.  Each loss with a hand
derivation registers a function here; the derivations are written independently of the
loss code (scalar maths with ``math``), so agreement is a real check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

Step = tuple[str, str, float]  # (symbol, formula, value)


@dataclass
class Chain:
    """Forward values and local derivatives for one element of one input."""

    input: str
    index: tuple[int, ...]
    forward: list[tuple[str, float]] = field(default_factory=list)
    local: list[Step] = field(default_factory=list)

    @property
    def product(self) -> float:
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
    fwd.append(("ℓ = ½r² (|r| < δ)" if inside else "ℓ = δ(|r| - ½δ) (|r| ≥ δ)",
                0.5 * r * r if inside else d * (abs(r) - 0.5 * d)))
    return fwd, [("∂ℓ/∂r", "r" if inside else "δ·sign(r)", r if inside else d * _sign(r)), ("∂r/∂p", "1", 1.0)]


def _smooth_l1(p: float, y: float, prm: Mapping[str, Any]):
    b = prm["beta"]
    fwd, r = _residual(p, y)
    inside = b > 0 and abs(r) < b
    fwd.append(("ℓ = ½r²/β (|r| < β)" if inside else "ℓ = |r| - ½β (|r| ≥ β)",
                0.5 * r * r / b if inside else abs(r) - 0.5 * b))
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
        lw = 1.0 + (w - 1.0) * y
        fwd = [("x (logit)", p), ("y", y), ("σ(x)", _sigmoid(p)),
               ("ℓ = (1-y)x + (1+(w-1)y)·softplus(-x)", (1 - y) * p + lw * _softplus(-p))]
        return fwd, [("∂ℓ/∂x", "(1-y) - (1+(w-1)y)·σ(-x)", (1 - y) - lw * _sigmoid(-p))]
    log_p = max(math.log(p), -100.0) if p > 0 else -100.0
    log_q = max(math.log(1 - p), -100.0) if p < 1 else -100.0
    fwd = [("p", p), ("y", y), ("log p (clamped at -100)", log_p), ("log(1-p) (clamped at -100)", log_q),
           ("ℓ = -(y log p + (1-y) log(1-p))", -(y * log_p + (1 - y) * log_q))]
    dlogp = 1 / p if p > 0 and math.log(p) > -100 else 0.0
    dlogq = -1 / (1 - p) if p < 1 and math.log(1 - p) > -100 else 0.0
    return fwd, [("∂ℓ/∂p", "-y/p + (1-y)/(1-p) (0 where a log is clamped)", -(y * dlogp + (1 - y) * dlogq))]


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
    ce = (1 - y) * x + _softplus(-x)
    pt = s * y + (1 - s) * (1 - y)
    at = a * y + (1 - a) * (1 - y) if a >= 0 else 1.0
    mod = (1 - pt) ** g
    fwd = [("x (logit)", x), ("y", y), ("p = σ(x)", s), ("ce = BCEWithLogits(x, y)", ce), ("pₜ", pt),
           ("αₜ", at), ("ℓ = αₜ (1-pₜ)^γ ce", at * mod * ce)]
    dpt = (2 * y - 1) * s * (1 - s)
    dmod = -g * (1 - pt) ** (g - 1) * dpt if g != 0 else 0.0
    return fwd, [("∂ℓ/∂x", "αₜ[∂(1-pₜ)^γ/∂x · ce + (1-pₜ)^γ (σ(x) - y)]", at * (dmod * ce + mod * (s - y)))]


ELEMENTWISE: dict[str, ElementRule] = {
    "mse": _mse, "rmse": _mse, "mae": _mae, "huber": _huber, "smooth-l1": _smooth_l1,
    "log-cosh": _log_cosh, "quantile": _quantile, "bce": _bce, "focal": _focal,
    "hinge": _hinge, "squared-hinge": lambda p, y, prm: _hinge(p, y, prm, squared=True),
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


ROWWISE = {"cross-entropy": _ce_row, "sparse-cross-entropy": _ce_row, "multi-margin": _multi_margin_row,
           "kl-div": _kl_row}


def has_chain(name: str) -> bool:
    return name in ELEMENTWISE or name in ROWWISE


def worked_element(ev: Any, inputs: Mapping[str, np.ndarray], index: tuple[int, ...]) -> Chain | None:
    """The chain rule for ``preds[index]`` of a two-input loss, or None without a hand derivation."""
    name = ev.spec.name
    p_all, y_all = inputs["preds"], inputs["targets"]
    outer = 1.0 / ev.scale if ev.reduction == "mean" else 1.0
    outer_formula = f"1/{ev.scale:g}" if ev.reduction == "mean" else "1 (sum)"
    chain = Chain("preds", index)
    if name in ELEMENTWISE:
        y = float(y_all[index])
        if name in ("hinge", "squared-hinge"):
            y = _hinge_labels(y_all)(y)
        params = dict(ev.params)
        if params.get("pos_weight") and len(params["pos_weight"]) > 1:  # one weight per column
            params["pos_weight"] = (params["pos_weight"][index[-1]],)
        fwd, local = ELEMENTWISE[name](float(p_all[index]), y, params)
        chain.forward = fwd
        if name == "rmse":
            mean_sq = float(np.mean((p_all - y_all) ** 2)) if ev.reduction == "mean" else float(np.sum((p_all - y_all) ** 2))
            value = math.sqrt(mean_sq)
            chain.forward.append(("M = mean ℓ" if ev.reduction == "mean" else "M = Σ ℓ", mean_sq))
            chain.forward.append(("L = √M", value))
            local = [("∂L/∂M", "1/(2√M)", 1 / (2 * value) if value else math.inf), ("∂M/∂ℓ", outer_formula, outer),
                     *local]
        else:
            local = [("∂L/∂ℓ", outer_formula, outer), *local]
        chain.local = local
        return chain
    if name in ROWWISE:
        row, col = (0, index[0]) if p_all.ndim == 1 else index
        first = p_all if p_all.ndim == 1 else p_all[row]
        second = y_all if y_all.ndim == 1 and p_all.ndim == 1 else y_all[row]
        fwd, local = ROWWISE[name](first, second, col, ev.params)
        chain.forward = fwd
        chain.local = [("∂L/∂ℓᵢ", outer_formula, outer), *local]
        return chain
    return None
