"""Gradient health: is the gradient usable, and on what scale is that judged?

With ``reduction=mean`` every per-element gradient carries a 1/N factor (1/Σw for a
weighted mean), so raw magnitudes shrink as a file grows.  Verdicts are therefore
judged on the *per-sample* gradient gₛ = scale · g (scale = N, Σw, or 1 for sum/none),
summarised by its root mean square

    rms = √( (1/M) Σⱼ gₛⱼ² )      over the M elements of every differentiable input,

which does not change when the same rows are repeated.  Status, first match wins:

* ``nonfinite``  any gradient element is NaN or ±inf, or overflows to ±inf on the per-sample
  scale (scale · g beyond float64, e.g. MSE at a residual of 1e308: 2r/N is finite, 2r is not);
* ``exploding``  rms > ``exploding`` (default 1e4);
* ``vanishing``  rms < ``vanishing`` (default 1e-7);
* ``ok``         otherwise.

Element-level findings come on top of the status (each ``{kind, count, fraction,
examples}``): ``nonfinite``; ``dead`` (gradient exactly 0: MAE at a zero residual, a hinge
beyond its margin, a clamp, an ignored target); ``saturated`` (probabilities within
``saturation_eps`` of 0 or 1, logits whose sigmoid/softmax rounds to 0 or 1); and, for a
float32 run compared with float64, ``underflow`` (zero in float32, not in float64).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.core import Evaluation

VANISHING = 1e-7
EXPLODING = 1e4
SATURATION_EPS = 1e-7
FAIL_ON = ("vanishing", "exploding", "nonfinite", "dead", "saturated", "underflow")
EXAMPLES = 5


@dataclass
class Health:
    """Summary figures of all gradients together (raw and per-sample) and the verdict."""

    status: str
    norm: float
    max_abs: float
    min_abs: float
    mean_abs: float
    nonfinite: int
    elements: int
    scale: float
    per_sample_rms: float
    per_sample_max_abs: float
    fraction_vanishing: float
    vanishing_threshold: float
    exploding_threshold: float
    findings: list[dict[str, Any]] = field(default_factory=list)
    first: list[dict[str, Any]] = field(default_factory=list)
    largest: list[dict[str, Any]] = field(default_factory=list)
    smallest: list[dict[str, Any]] = field(default_factory=list)
    histogram: dict[str, Any] = field(default_factory=dict)
    overflow: int = 0  # of the nonfinite: finite gradients whose per-sample value overflows

    def reason(self) -> str:
        """One sentence saying why the status is what it is."""
        if self.status == "nonfinite":
            tail = (
                f" ({self.overflow} of them only per sample: scale × gradient overflows float64)"
                if self.overflow
                else ""
            )
            return f"{self.nonfinite} of {self.elements} gradient elements are NaN or infinite{tail}"
        if self.status == "exploding":
            return f"per-sample gradient RMS {self.per_sample_rms:.3g} > {self.exploding_threshold:g}"
        if self.status == "vanishing":
            return f"per-sample gradient RMS {self.per_sample_rms:.3g} < {self.vanishing_threshold:g}"
        return (
            f"per-sample gradient RMS {self.per_sample_rms:.3g} within "
            f"[{self.vanishing_threshold:g}, {self.exploding_threshold:g}]"
        )

    def kinds(self) -> set[str]:
        """The status (unless ok) and every finding kind present: what --fail-on matches."""
        return ({self.status} - {"ok"}) | {f["kind"] for f in self.findings}

    def failed(self, fail_on: tuple[str, ...] | None) -> bool:
        """``--strict`` verdict: any listed kind present (default: status not ok)."""
        if fail_on is None:
            return self.status != "ok"
        return bool(self.kinds() & set(fail_on))


def _locate(name: str, shape: tuple[int, ...], flat_index: int, grad: float, value: float | None) -> dict[str, Any]:
    """Element ``flat_index`` of an input as {input, row, column, grad, value} (0-based)."""
    width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    row, col = divmod(int(flat_index), width)
    out: dict[str, Any] = {"input": name, "row": row, "column": col, "grad": grad}
    if value is not None:
        out["value"] = value
    return out


class _Flat:
    """All gradients (and the matching input values) flattened into one index space."""

    def __init__(self, gradients: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray]) -> None:
        self.names = list(gradients)
        self.shapes = [gradients[n].shape for n in self.names]
        self.grad = (
            np.concatenate([gradients[n].astype(np.float64).ravel() for n in self.names]) if self.names else np.zeros(0)
        )
        self.value = (
            np.concatenate(
                [
                    np.asarray(inputs[n], dtype=np.float64).ravel()
                    if n in inputs
                    else np.full(gradients[n].size, np.nan)
                    for n in self.names
                ]
            )
            if self.names
            else np.zeros(0)
        )
        self.offsets = np.cumsum([0] + [int(np.prod(s)) for s in self.shapes])

    def where(self, i: int) -> dict[str, Any]:
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        v = float(self.value[i])
        return _locate(
            self.names[k], self.shapes[k], i - int(self.offsets[k]), float(self.grad[i]), None if math.isnan(v) else v
        )

    def mask(self, per_input: Mapping[str, np.ndarray]) -> np.ndarray:
        parts = [
            np.broadcast_to(per_input[n], s).ravel() if n in per_input else np.zeros(int(np.prod(s)), bool)
            for n, s in zip(self.names, self.shapes)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, bool)


def _finding(kind: str, mask: np.ndarray, flat: _Flat, message: str) -> dict[str, Any] | None:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return None
    return {
        "kind": kind,
        "count": int(idx.size),
        "fraction": idx.size / max(mask.size, 1),
        "message": message,
        "examples": [flat.where(int(i)) for i in idx[:EXAMPLES]],
    }


def stable_norm(values: np.ndarray) -> float:
    """The L2 norm of finite values without overflow: m·√Σ(x/m)² with m = max|x| (1e200 stays 1e200;
    inf only when the norm itself is beyond float64, as for two values of 1.5e308)."""
    values = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    top = float(values.max())
    if top == 0 or not math.isfinite(top):
        return top
    return top * math.sqrt(float(np.sum(np.square(values / top))))


def stable_rms(values: np.ndarray) -> float:
    """√(mean x²) of finite values, m·√mean(x/m)²: never overflows (it is at most max|x|)."""
    values = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    top = float(values.max())
    if top == 0 or not math.isfinite(top):
        return top
    return min(top * math.sqrt(float(np.mean(np.square(values / top)))), top)


def stable_mean(values: np.ndarray) -> float:
    """mean |x| of finite values, m·mean(|x|/m): no overflow in the sum (1e308 twice gives 1e308)."""
    values = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    top = float(values.max())
    if top == 0 or not math.isfinite(top):
        return top
    return min(top * float(np.mean(values / top)), top)


def _extremes(key: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` smallest ``key`` values, in order (ties by position).

    Finds the k-th value with ``np.partition`` and selects around it: linear time even when
    millions of gradients tie (``argpartition`` degrades badly there).
    """
    if k == 0:
        return []
    if k >= key.size:
        return [int(i) for i in np.argsort(key, kind="stable")[:k]]
    at_min = np.flatnonzero(key == key.min())
    if at_min.size >= k:  # saturated gradients: the extreme value itself is shared k times
        return [int(i) for i in at_min[:k]]
    kth = np.partition(key, k - 1)[k - 1]
    below = np.flatnonzero(key < kth)
    ties = np.flatnonzero(key == kth)[: k - below.size]
    chosen = np.concatenate([below, ties])
    return [int(i) for i in chosen[np.argsort(key[chosen], kind="stable")]]


def histogram(per_sample_abs: np.ndarray, zeros: int, nonfinite: int, max_bins: int = 24) -> dict[str, Any]:
    """Counts of log10|g| in whole-decade bins (per-sample scale), plus zero and non-finite counts
    (non-finite values passed in are left out of the bins: ``nonfinite`` counts them)."""
    positive = per_sample_abs[(per_sample_abs > 0) & np.isfinite(per_sample_abs)]
    if positive.size == 0:
        return {"scale": "per-sample", "edges": [], "counts": [], "zeros": zeros, "nonfinite": nonfinite}
    logs = np.log10(positive)
    lo, hi = math.floor(float(logs.min())), math.ceil(float(logs.max()))
    hi = max(hi, lo + 1)
    step = max(1, math.ceil((hi - lo) / max_bins))
    edges = np.arange(lo, hi + step, step, dtype=np.float64)
    counts, _ = np.histogram(logs, bins=edges)
    return {
        "scale": "per-sample",
        "edges": edges.tolist(),
        "counts": counts.astype(int).tolist(),
        "zeros": zeros,
        "nonfinite": nonfinite,
    }


def diagnose(
    ev: Evaluation,
    inputs: Mapping[str, np.ndarray] | None = None,
    *,
    vanishing: float = VANISHING,
    exploding: float = EXPLODING,
    saturation_eps: float = SATURATION_EPS,
    top: int = EXAMPLES,
    reference: Evaluation | None = None,
) -> Health:
    """Summarise ``ev.gradients`` and give a verdict with findings (see the module docstring).

    ``inputs`` (the numpy inputs) give the saturation check and example values;
    ``reference`` is a float64 evaluation of the same data, compared with a float32 ``ev``
    for gradients that underflow to zero.
    """
    inputs = inputs or {}
    flat = _Flat(ev.gradients, inputs)
    g = flat.grad
    finite = np.isfinite(g)
    absg = np.abs(np.where(finite, g, 0.0))
    good = absg[finite]
    with np.errstate(over="ignore", invalid="ignore"):  # scale · g beyond float64 is inf: counted below
        if ev.per_sample is not None:
            per_sample_all = np.abs(_Flat(ev.per_sample, {}).grad)
        else:
            per_sample_all = absg * ev.scale
    overflowed = finite & ~np.isfinite(per_sample_all)
    bad = ~finite | overflowed
    nonfinite = int(bad.sum())
    per_sample = per_sample_all[~bad]
    rms = stable_rms(per_sample)
    if nonfinite:
        status = "nonfinite"
    elif rms > exploding:
        status = "exploding"
    elif rms < vanishing:
        status = "vanishing"
    else:
        status = "ok"

    findings = [
        _finding(
            "nonfinite",
            bad,
            flat,
            "gradient is NaN or ±inf"
            + (
                " (or finite, but its per-sample value, scale × gradient, overflows float64)"
                if overflowed.any()
                else ""
            ),
        ),
        _finding(
            "dead",
            finite & (g == 0),
            flat,
            "gradient exactly 0: these elements teach the model nothing (a zero residual under "
            "MAE, a met hinge margin, a clamp, an ignored target)",
        ),
    ]
    if ev.spec.teaching.saturation is not None and inputs:
        masks = ev.spec.teaching.saturation(inputs, ev.params, ev.dtype, saturation_eps)
        findings.append(
            _finding(
                "saturated",
                flat.mask(masks),
                flat,
                f"input at or within {saturation_eps:g} of 0/1 (probabilities) or past "
                "the point where the sigmoid/softmax rounds to 0/1 (logits)",
            )
        )
    if reference is not None and reference.gradients:
        ref = _Flat(reference.gradients, inputs).grad
        findings.append(
            _finding(
                "underflow",
                (g == 0) & (ref != 0) & np.isfinite(ref),
                flat,
                f"gradient is 0 in {ev.dtype} but not in {reference.dtype}: it underflowed",
            )
        )

    k = min(top, g.size)
    key = np.where(finite, absg, np.inf)  # non-finite elements rank as the largest
    largest = [flat.where(i) for i in _extremes(-key, k)]
    smallest = [flat.where(i) for i in _extremes(key, k)]

    def stat(fn: Any, arr: np.ndarray) -> float:
        return float(fn(arr)) if arr.size else 0.0

    return Health(
        status=status,
        norm=stable_norm(good),
        max_abs=stat(np.max, good),
        min_abs=stat(np.min, good),
        mean_abs=stable_mean(good),
        nonfinite=nonfinite,
        elements=int(g.size),
        scale=ev.scale,
        per_sample_rms=rms,
        per_sample_max_abs=stat(np.max, per_sample),
        fraction_vanishing=float(np.mean(per_sample < vanishing)) if per_sample.size else 0.0,
        vanishing_threshold=vanishing,
        exploding_threshold=exploding,
        findings=[f for f in findings if f is not None],
        first=[flat.where(i) for i in range(k)],
        largest=largest,
        smallest=smallest,
        histogram=histogram(per_sample, int(np.sum(good == 0)), nonfinite),
        overflow=int(overflowed.sum()),
    )
