"""Classification losses: binary (BCE, focal) and multi-class (cross-entropy);
hinge losses live in margin.py, KL in distribution.py.

Binary shapes: ``preds`` and ``targets`` (N,) or (N, K) for K independent labels.
Multi-class shapes: ``preds`` (N, C); ``targets`` (N,) class indices or (N, C) rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli import scalar as S
from losscli.chains import Elementwise, RowWise, softmax_f
from losscli.errors import InputError
from losscli.examples import BINARY_LOGITS, THREE_CLASS, Example
from losscli.losses import _checks
from losscli.losses._ops import (
    BCE_GRAD_EPS,
    LOG_CLAMP,
    bce_clamped,
    bce_logits,
    bce_probabilities,
    class_index,
    clip_bound,
    log_softmax,
    quiet,
    safe_log,
    sigmoid,
    take_class,
    weighted_row_sum,
)
from losscli.scalar import Scalar
from losscli.spec import Advice, Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "classification"

FROM_LOGITS_FALSE = Param("from_logits", "bool", False, "preds are logits instead of probabilities")
CLIP = Param(
    "clip",
    "float",
    None,
    "probabilities only. none: torch (log clamped at -100); eps or sklearn: clip p to [eps, 1 - eps], "
    "eps the dtype's machine epsilon (scikit-learn log_loss); keras or c: clip p to [c, 1 - c] "
    "(keras = 1e-7, Keras BinaryCrossentropy)",
    low=float(np.finfo(np.float64).eps),  # below it 1 - c rounds to 1: nothing clipped at the top
    high=0.5,
    high_open=True,
    choices=("eps", "sklearn", "keras"),
)
CLAMPED = "clamped"  # ev.extras key: elements whose value torch's -100 clamp of the log changed
LOGITS_HINT = "if these are logits, pass -p from_logits=true"


# ----------------------------------------------------------------------------- binary


def _binary_labels(xp: Any, y: Array) -> Array:
    """Hinge labels: {0, 1} becomes {-1, 1} when every label is 0 or 1 (Keras), else as given."""
    if bool(xp.all((y == 0) | (y == 1))):
        return 2.0 * y - 1.0
    return y


def bce(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Binary cross-entropy.

    Probabilities (torch ``BCELoss``): ℓ = -[y log p + (1 - y) log(1 - p)], logs clamped at -100,
    with torch's backward (p - y) / max(p(1 - p), 1e-12); with ``clip`` c, p is clipped to
    [c, 1 - c] first and there is no clamp (Keras, scikit-learn; see ``_ops.bce_probabilities``).
    Logits (torch ``BCEWithLogitsLoss``): ℓ = (1 - y) x + (1 + (w - 1) y) softplus(-x), w = pos_weight.
    """
    x, y = inputs["preds"], inputs["targets"]
    if params["from_logits"]:
        pw = params["pos_weight"]
        return Terms(bce_logits(xp, x, y, 1.0 if pw is None else xp.asarray(pw, dtype=x.dtype)))
    return Terms(bce_probabilities(xp, x, y, params.get("clip")))


def report_clamped(ev: Any, inputs: Inputs) -> dict[str, Any]:
    """``{"clamped": n}`` when torch's clamp of the log at -100 changed n > 0 elements (a probability
    of exactly 0 or 1, or below e⁻¹⁰⁰, on the side its label weighs), else nothing.  Only for
    probabilities without a clip (the clip replaces the clamp)."""
    if ev.params.get("from_logits") or ev.params.get("clip") is not None or ev.params.get("kind", "bce") != "bce":
        return {}
    count = bce_clamped(inputs["preds"], inputs["targets"])
    return {CLAMPED: int(count)} if count else {}


def _validate_bce(inputs: Inputs, params: Params, sources: Sources) -> dict[str, Any] | None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
    pw = params["pos_weight"]
    if pw is not None and len(pw) not in (1, _last_dim(inputs["preds"])):
        raise InputError(f"pos_weight has {len(pw)} values; preds have {_last_dim(inputs['preds'])} columns")
    if params["from_logits"]:
        if params.get("clip") is not None:
            raise InputError("clip applies to probabilities; with -p from_logits=true there is nothing to clip")
        return None
    if pw is not None:
        raise InputError("pos_weight needs -p from_logits=true (torch BCELoss has no pos_weight)")
    _checks.in_range(inputs, sources, "preds", 0.0, 1.0, hint=LOGITS_HINT)
    return None


def _last_dim(a: np.ndarray) -> int:
    return a.shape[-1] if a.ndim > 1 else 1


def focal(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Sigmoid focal loss on logits (torchvision ``sigmoid_focal_loss``).

    p = σ(x), ce = BCEWithLogits(x, y), pₜ = p y + (1 - p)(1 - y),
    ℓ = αₜ · ce · (1 - pₜ)^γ with αₜ = α y + (1 - α)(1 - y) (no αₜ when α < 0).
    """
    x, y = inputs["preds"], inputs["targets"]
    alpha, gamma = params["alpha"], params["gamma"]
    p = sigmoid(xp, x)
    ce = bce_logits(xp, x, y)
    p_t = p * y + (1.0 - p) * (1.0 - y)
    loss = ce * (1.0 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * y + (1.0 - alpha) * (1.0 - y)) * loss
    return Terms(loss)


def _validate_focal(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0)


def logit_saturation_limit(dtype: str) -> float:
    """|x| beyond which σ(x) rounds to exactly 0 or 1 in ``dtype`` (36.7 in float64, 16.6 in float32)."""
    return float(-np.log(np.finfo(dtype).eps / 2))


def _probability_saturation(p: np.ndarray, eps: float) -> np.ndarray:
    return (p <= eps) | (p >= 1.0 - eps)


def _bce_saturation(inputs: Inputs, params: Params, dtype: str, eps: float) -> dict[str, np.ndarray]:
    """Probabilities within ``eps`` of 0 or 1, or logits whose sigmoid rounds to 0 or 1."""
    x = inputs["preds"]
    if params.get("from_logits", True):
        return {"preds": np.abs(x) > logit_saturation_limit(dtype)}
    return {"preds": _probability_saturation(x, eps)}


def _ce_saturation(inputs: Inputs, params: Params, dtype: str, eps: float) -> dict[str, np.ndarray]:
    """Probability inputs within ``eps`` of 0 or 1; logit rows whose softmax rounds to one-hot."""
    z = inputs["preds"]
    if not params["from_logits"]:
        return {"preds": _probability_saturation(z, eps)}
    top2 = np.sort(z, axis=-1)[:, -2:]
    flat = (top2[:, 1] - top2[:, 0]) > logit_saturation_limit(dtype)
    return {"preds": np.broadcast_to(flat[:, None], z.shape)}


# ------------------------------------------------------------------------- multi-class


def _log_probs(xp: Any, preds: Array, from_logits: bool) -> Array:
    return log_softmax(xp, preds, axis=-1) if from_logits else safe_log(xp, preds)


@quiet
def cross_entropy(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Cross-entropy per sample (torch ``cross_entropy``).

    Index targets yᵢ: ℓᵢ = (1 - ε) w_{yᵢ} (-log p_{i,yᵢ}) + (ε / C) Σ_c w_c (-log p_{ic}),
    mean = Σᵢ ℓᵢ / Σᵢ w_{yᵢ} over samples whose target is not ``ignore_index``.
    Probability targets: ℓᵢ = -Σ_c w_c ((1 - ε) y_{ic} + ε / C) log p_{ic}, mean over N.

    log p by log-sum-exp, the target's term by a gather (no one-hot product), and a zero
    weight or target probability contributes 0 even where log p = -inf (a logit of ±1e308):
    no 0·inf anywhere, so no NaN where torch is finite.  Ignored rows are replaced by zeros
    before the softmax, so whatever they hold gives them a zero gradient.
    """
    z, t = inputs["preds"], inputs["targets"]
    n_classes = z.shape[-1]
    eps = params["label_smoothing"]
    w = params["weight"]
    w_c = None if w is None else xp.asarray(w, dtype=z.dtype)
    if t.ndim == 2:
        logp = _log_probs(xp, z, params["from_logits"])
        y = (1.0 - eps) * t + eps / n_classes
        return Terms(-weighted_row_sum(xp, y if w_c is None else w_c * y, logp))
    keep = t != params["ignore_index"]
    if params["from_logits"]:
        z = xp.where(keep[:, None], z, xp.zeros_like(z))
    logp = _log_probs(xp, z, params["from_logits"])
    k = class_index(xp, t, keep)
    zero = xp.zeros_like(logp[:, 0])
    w_y = xp.where(keep, xp.ones_like(zero) if w_c is None else xp.take(w_c, k), zero)
    nll = -take_class(xp, logp, k)
    loss = xp.where(w_y != 0, (1.0 - eps) * w_y * nll, zero)
    if eps > 0:
        loss = loss + xp.where(keep, (eps / n_classes) * -weighted_row_sum(xp, w_c, logp), zero)
    return Terms(loss, weights=w_y)


def _validate_ce(inputs: Inputs, params: Params, sources: Sources, *, sparse: bool = False) -> None:
    z, t = inputs["preds"], inputs["targets"]
    _checks.ndim_in(inputs, sources, "preds", (2,), "an N x C matrix of scores (one column per class)")
    n, c = z.shape
    if c < 2:
        raise InputError(
            f"preds has {c} column; cross-entropy needs one column per class (>= 2)", source=sources.get("preds")
        )
    if not params["from_logits"]:
        _checks.in_range(inputs, sources, "preds", 0.0, 1.0, hint="if these are logits, leave out -p from_logits=false")
    w = params["weight"]
    if w is not None and len(w) != c:
        raise InputError(f"weight has {len(w)} values but preds have {c} classes")
    if t.ndim == 2 and not sparse:
        if t.shape != z.shape:
            _checks.same_shape(inputs, sources, "preds", "targets")
        _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
        return
    _checks.ndim_in(inputs, sources, "targets", (1,), "N class indices" + ("" if sparse else " or an N x C matrix"))
    if t.shape[0] != n:
        raise InputError(
            f"preds has {n} rows ({sources.get('preds', 'preds')}) but targets has "
            f"{t.shape[0]} ({sources.get('targets', 'targets')}); they must match"
        )
    ignore = params["ignore_index"]
    valid = t != ignore
    _checks.fail_at(sources, "targets", t, valid & (t != np.round(t)), "whole class indices")
    _checks.fail_at(
        sources, "targets", t, valid & ((t < 0) | (t >= c)), f"a class index in [0, {c - 1}] (or ignore_index {ignore})"
    )
    if not valid.any():
        raise InputError(
            f"every target equals ignore_index {ignore}: nothing to average (torch would return NaN)",
            source=sources.get("targets"),
        )
    if w is not None and not np.any(np.asarray(w)[t[valid].astype(int)] > 0):
        raise InputError(
            "the class weights of every target are 0: nothing to average (torch would return NaN)",
            source=sources.get("targets"),
        )


def _validate_sparse_ce(inputs: Inputs, params: Params, sources: Sources) -> None:
    _validate_ce(inputs, params, sources, sparse=True)


# ----------------------------------------------------------------------------- the chain rule for --explain
# The binary losses once more as scalar maths over losscli.scalar.Scalar (plain math, not the array
# code above); the multi-class ones as rules over one row.  --explain checks both against autograd.


def bce_scalar(p: Scalar, y: Scalar, params: Params) -> Scalar:
    """Probabilities: torch BCELoss, its forward with logs clamped at -100 and its hand-written
    backward (p - y)/max(p(1 - p), 1e-12), or with a clip c the log loss of q = clip(p, c, 1 - c)
    (float64: clip=eps is 2.2e-16); logits: w·y·softplus(-x) + (1 - y)·softplus(x)."""
    if params["from_logits"]:
        w = 1.0 if params["pos_weight"] is None else params["pos_weight"][0]
        x = p
        return (w * y * S.softplus(-x) + (1.0 - y) * S.softplus(x)).named("ℓ = w·y·softplus(-x) + (1-y)·softplus(x)")
    pv, yv = p.value, y.value
    low = clip_bound(np, np.float64(pv), params.get("clip"))
    if low is not None:
        inside = low <= pv <= 1.0 - low
        q = S.op(
            min(max(pv, low), 1.0 - low),
            [(p, 1.0 if inside else 0.0, f"1 ({low:g} ≤ p ≤ 1 - {low:g})" if inside else "0 (p clipped)")],
            f"q = clip(p, {low:g}, 1 - {low:g})",
        )
        qv = q.value
        return S.op(
            -(yv * math.log(qv) + (1.0 - yv) * math.log(1.0 - qv)),
            [(q, (qv - yv) / (qv * (1.0 - qv)), "(q - y) / (q (1-q))")],
            "ℓ = -(y log q + (1-y) log(1-q))",
        )
    log_p = S.op(max(math.log(pv), LOG_CLAMP) if pv > 0 else LOG_CLAMP, [], "log p (clamped at -100)")
    log_q = S.op(max(math.log(1 - pv), LOG_CLAMP) if pv < 1 else LOG_CLAMP, [], "log(1-p) (clamped at -100)")
    value = -(yv * log_p.value + (1 - yv) * log_q.value)
    backward = (pv - yv) / max(pv * (1 - pv), BCE_GRAD_EPS)
    return S.op(
        value,
        [
            (p, backward, "(p - y) / max(p(1-p), 1e-12)  (torch BCELoss backward)"),
            (y, 0.0, "0"),
            (log_p, 0.0, "0"),
            (log_q, 0.0, "0"),
        ],
        "ℓ = -(y log p + (1-y) log(1-p))",
    )


def _bce_element(inputs: Inputs, params: Params, index: tuple[int, ...]) -> tuple[float, float, Params]:
    """One weight per column: the element's own pos_weight."""
    pw = params.get("pos_weight")
    if pw and len(pw) > 1:
        params = {**params, "pos_weight": (pw[index[-1]],)}
    return float(inputs["preds"][index]), float(inputs["targets"][index]), params


def focal_scalar(x: Scalar, y: Scalar, params: Params) -> Scalar:
    """torchvision sigmoid_focal_loss: αₜ (1 - pₜ)^γ · BCEWithLogits(x, y), σ(x) = exp(-softplus(-x))."""
    a, g = params["alpha"], params["gamma"]
    not_y = (1.0 - y).named("1 - y")
    sp_neg = S.softplus(-x).named("softplus(-x)")
    prob = S.exp(-sp_neg).named("p = σ(x)")
    ce = (y * sp_neg + not_y * S.softplus(x)).named("ce = BCEWithLogits(x, y)")
    p_t = (prob * y + (1.0 - prob) * not_y).named("pₜ = p·y + (1-p)(1-y)")
    loss = (ce * (1.0 - p_t) ** g).named("ce·(1-pₜ)^γ")
    if a < 0:
        return loss.named("ℓ = ce·(1-pₜ)^γ")
    alpha_t = (a * y + (1.0 - a) * not_y).named("αₜ")
    return (alpha_t * loss).named("ℓ = αₜ (1-pₜ)^γ ce")


# ----------------------------------------------------------------------------- advice for --explain


def _on_probabilities(params: Params) -> bool:
    return not params.get("from_logits")


BCE_CONVENTION = Advice(
    lambda params, health: _on_probabilities(params) and params.get("clip") is None and "saturated" in health.kinds(),
    en="BCE's gradient on probabilities is (p - y)/(p(1 - p)): it grows without bound as p nears "
    "0 or 1 (about 1e12/N at p = 1e-12), and at exactly 0 or 1 torch clamps the log at -100 "
    "and p(1 - p) at 1e-12, so the gradient there is a convention. Upstream, the sigmoid "
    "multiplies it by p(1 - p) ≈ 0, and the two cancel in rounding error.",
    zh="BCE 對機率的梯度是 (p - y)/(p(1 - p))：機率越接近 0 或 1，它就越大（p = 1e-12 時約為 1e12/N）；"
    "機率恰為 0 或 1 時，torch 把 log 截斷在 -100、把 p(1 - p) 截斷在 1e-12，梯度只是約定值。"
    "上游的 sigmoid 會再乘上 p(1 - p) ≈ 0，兩者相抵時就會失去精度。",
)
BCE_USE_LOGITS = Advice(
    lambda params, health: _on_probabilities(params) and ("saturated" in health.kinds() or health.status != "ok"),
    en="BCE on probabilities saturates: pass logits with -p from_logits=true (BCEWithLogitsLoss), "
    "which computes σ inside the loss stably; its gradient σ(x) - y is always bounded.",
    zh="BCE 作用在機率上會飽和：請改傳 logits 並加上 -p from_logits=true（即 BCEWithLogitsLoss），"
    "它在損失內部穩定地計算 σ，梯度 σ(x) - y 永遠有界。",
)
CONFIDENTLY_RIGHT = Advice(
    lambda params, health: health.status == "vanishing" and params.get("from_logits", True),
    en="The model is confidently right on these samples: there is nothing left to learn, so "
    "the gradient is tiny. If you expected mistakes, check the labels.",
    zh="模型對這些樣本既有信心又正確：沒有東西可學，梯度自然很小。若你預期會有錯誤，請檢查標籤。",
)


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ included
# (see losscli.chains), or None when it has no derivation for that input.


def ce_row_chain(z: np.ndarray, t: Any, c: int, prm: Mapping[str, Any]):
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
    s = softmax_f(z)
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


# ----------------------------------------------------------------------------- specs

BIN_PREDS = Input("preds", "N or N x K", "probabilities in [0, 1], or logits with from_logits=true")
BIN_TARGETS = Input("targets", "same as preds", "labels in [0, 1] (soft labels allowed)", differentiable=False)
LOGITS = Input("preds", "N or N x K", "raw scores (logits)")
SCORES = Input("preds", "N or N x K", "raw scores (decision values)")
PM_TARGETS = Input("targets", "same as preds", "labels in {-1, 1}, or {0, 1} (mapped to {-1, 1})", differentiable=False)
CE_PREDS = Input("preds", "N x C", "logits (or probabilities with from_logits=false)")
CE_TARGETS = Input("targets", "N or N x C", "class indices, or probability / one-hot rows", differentiable=False)
CE_PARAMS = (
    Param("from_logits", "bool", True, "preds are logits; false for probabilities (log clamped at -100)"),
    Param("label_smoothing", "float", 0.0, "ε: mix targets with the uniform distribution", low=0.0, high=1.0),
    Param("ignore_index", "int", -100, "index targets equal to this are skipped"),
    Param("weight", "floats", None, "per-class weights w_c as a comma list"),
)

SPECS = [
    define(
        name="bce",
        chain=Elementwise(bce_scalar, _bce_element, leaf="p"),
        advice=(BCE_CONVENTION, BCE_USE_LOGITS, CONFIDENTLY_RIGHT),
        example=Example(
            ("binary_probs.csv", "binary_labels.csv"), what="a binary classifier's probabilities and labels"
        ),
        aliases=("binary-cross-entropy", "log-loss", "logloss", "binary-crossentropy"),
        family=FAMILY,
        summary="binary cross-entropy on probabilities or logits",
        inputs=(BIN_PREDS, BIN_TARGETS),
        params=(
            FROM_LOGITS_FALSE,
            Param("pos_weight", "floats", None, "weight of positives (per column), logits only", low=0.0),
            CLIP,
        ),
        formula="ℓ = -[y log p + (1 - y) log(1 - p)], logs clamped at -100 (torch; the count of "
        "elements the clamp changed is reported as 'clamped');  with -p clip=c: q = clip(p, c, 1 - c), "
        "ℓ = -[y log q + (1 - y) log(1 - q)], ∂ℓ/∂p = (q - y)/(q (1 - q)) inside [c, 1 - c] and 0 outside "
        "(clip=keras: c = 1e-7, Keras BinaryCrossentropy; clip=eps: c = finfo(dtype).eps, scikit-learn "
        "log_loss; a wrong p = 0 costs 100, 16.1 and 36.0 in float64);  with logits x: "
        "ℓ = (1 - y) x + (1 + (w - 1) y) · softplus(-x);  L = mean ℓ",
        derivative="∂ℓ/∂p = (p - y) / max(p (1 - p), 1e-12) (torch's backward: finite at p = 0 or 1);  "
        "with logits ∂ℓ/∂x = σ(x) - y (w = 1)",
        convention="torch.nn.BCELoss (probabilities, log clamped at -100); BCEWithLogitsLoss(pos_weight) "
        "with from_logits=true",
        differs="Keras clips probabilities to [1e-7, 1 - 1e-7] instead of clamping the log, and "
        "averages over the last axis first; scikit-learn log_loss clips at machine epsilon.",
        when="Binary or multi-label classification. Prefer logits: BCE on probabilities saturates "
        "(gradients vanish once σ is rounded to 0 or 1).",
        fn=bce,
        validate=_validate_bce,
        report=report_clamped,
        saturation=_bce_saturation,
    ),
    define(
        name="cross-entropy",
        chain=RowWise(ce_row_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=THREE_CLASS,
        aliases=("ce", "categorical-cross-entropy", "softmax", "categorical-crossentropy"),
        family=FAMILY,
        summary="softmax cross-entropy over C classes",
        inputs=(CE_PREDS, CE_TARGETS),
        params=CE_PARAMS,
        formula="ℓᵢ = -Σ_c w_c ỹ_{ic} log softmax(zᵢ)_c,  ỹ = (1 - ε) y + ε / C;  "
        "L = Σᵢ ℓᵢ / Σᵢ w_{yᵢ} (index targets) or (1/N) Σᵢ ℓᵢ (probability targets);  log softmax by "
        "log-sum-exp, the target's term by a gather: a zero ỹ_{ic} or w_c times log p = -inf (a logit of "
        "±1e308) counts 0 (torch: NaN); wherever torch is finite the two agree",
        derivative="∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic} (unweighted)",
        convention="torch.nn.functional.cross_entropy (weight, ignore_index=-100, label_smoothing), "
        "including its weighted mean",
        differs="Keras CategoricalCrossentropy takes probabilities by default and divides by N even "
        "with class weights; with every target ignored torch returns NaN (losscli refuses the input).",
        when="Single-label multi-class classification from logits.",
        fn=cross_entropy,
        validate=_validate_ce,
        saturation=_ce_saturation,
        element_note="per sample",
        mean_note="weighted mean over samples",
    ),
    define(
        name="sparse-cross-entropy",
        chain=RowWise(ce_row_chain),
        advice=(CONFIDENTLY_RIGHT,),
        example=THREE_CLASS,
        aliases=("sparse-categorical-cross-entropy", "sparse-ce"),
        family=FAMILY,
        summary="cross-entropy that insists on class-index targets",
        inputs=(CE_PREDS, Input("targets", "N", "class indices in [0, C - 1]", differentiable=False)),
        params=CE_PARAMS,
        formula="ℓᵢ = -(1 - ε) w_{yᵢ} log softmax(zᵢ)_{yᵢ} - (ε / C) Σ_c w_c log softmax(zᵢ)_c;  L = Σᵢ ℓᵢ / Σᵢ w_{yᵢ}",
        derivative="∂ℓᵢ/∂z_{ic} = softmax(zᵢ)_c - ỹ_{ic} (unweighted)",
        convention="torch.nn.functional.cross_entropy with index targets",
        differs="Keras SparseCategoricalCrossentropy takes probabilities by default.",
        when="Multi-class classification with integer labels; refuses one-hot targets.",
        fn=cross_entropy,
        validate=_validate_sparse_ce,
        saturation=_ce_saturation,
        element_note="per sample",
        mean_note="weighted mean over samples",
    ),
    define(
        name="focal",
        chain=Elementwise(focal_scalar, leaf="x"),
        advice=(CONFIDENTLY_RIGHT,),
        example=BINARY_LOGITS,
        aliases=("sigmoid-focal", "focal-loss"),
        family=FAMILY,
        summary="binary focal loss on logits",
        inputs=(LOGITS, BIN_TARGETS),
        params=(
            Param("alpha", "float", 0.25, "weight of positives; negative disables it", high=1.0),
            Param("gamma", "float", 2.0, "focusing exponent", low=0.0),
        ),
        formula="p = σ(x), pₜ = p y + (1 - p)(1 - y), αₜ = α y + (1 - α)(1 - y);  "
        "ℓ = αₜ (1 - pₜ)^γ · BCEWithLogits(x, y);  L = mean ℓ",
        derivative="∂ℓ/∂x = αₜ [γ (1 - pₜ)^(γ-1) ∂(-pₜ)/∂x · ce + (1 - pₜ)^γ (σ(x) - y)]",
        convention="torchvision.ops.sigmoid_focal_loss(alpha=0.25, gamma=2), reduction mean",
        differs="optax sigmoid_focal_loss defaults to alpha=None; Keras BinaryFocalCrossentropy applies "
        "alpha only with apply_class_balancing=True.",
        when="Dense detection and heavy class imbalance: down-weights easy examples.",
        fn=focal,
        validate=_validate_focal,
        saturation=_bce_saturation,
    ),
]
