"""Gradient health: is the gradient usable, and on what scale is that judged?

With ``reduction=mean`` every per-element gradient carries a 1/N factor (1/Σw for a
weighted mean), so raw magnitudes shrink as a file grows.  Verdicts are therefore
judged on the *per-sample* gradient gₛ = scale · g (scale = N, Σw, or 1 for sum/none),
summarised by its root mean square

    rms = √( (1/M) Σⱼ gₛⱼ² )      over the M elements of every differentiable input,

which does not change when the same rows are repeated.  Status, first match wins:

* ``nonfinite``  any gradient element is NaN or ±inf;
* ``exploding``  rms > ``exploding`` (default 1e4);
* ``vanishing``  rms < ``vanishing`` (default 1e-7);
* ``ok``         otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from losscli.core import Evaluation

VANISHING = 1e-7
EXPLODING = 1e4
STATUSES = ("ok", "vanishing", "exploding", "nonfinite")


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
    vanishing_threshold: float
    exploding_threshold: float

    def reason(self) -> str:
        """One sentence saying why the status is what it is."""
        if self.status == "nonfinite":
            return f"{self.nonfinite} of {self.elements} gradient elements are NaN or infinite"
        if self.status == "exploding":
            return f"per-sample gradient RMS {self.per_sample_rms:.3g} > {self.exploding_threshold:g}"
        if self.status == "vanishing":
            return f"per-sample gradient RMS {self.per_sample_rms:.3g} < {self.vanishing_threshold:g}"
        return (f"per-sample gradient RMS {self.per_sample_rms:.3g} within "
                f"[{self.vanishing_threshold:g}, {self.exploding_threshold:g}]")


def diagnose(ev: Evaluation, *, vanishing: float = VANISHING, exploding: float = EXPLODING) -> Health:
    """Summarise ``ev.gradients`` and give a verdict (see the module docstring)."""
    flat = np.concatenate([g.astype(np.float64).ravel() for g in ev.gradients.values()]) \
        if ev.gradients else np.zeros(0)
    finite = np.isfinite(flat)
    nonfinite = int(flat.size - finite.sum())
    good = np.abs(flat[finite])
    per_sample = good * ev.scale

    def stat(fn, arr: np.ndarray) -> float:
        return float(fn(arr)) if arr.size else 0.0

    rms = float(np.sqrt(np.mean(per_sample**2))) if per_sample.size else 0.0
    if nonfinite:
        status = "nonfinite"
    elif rms > exploding:
        status = "exploding"
    elif rms < vanishing:
        status = "vanishing"
    else:
        status = "ok"
    return Health(
        status=status,
        norm=float(np.sqrt(np.sum(good**2))) if good.size else 0.0,
        max_abs=stat(np.max, good),
        min_abs=stat(np.min, good),
        mean_abs=stat(np.mean, good),
        nonfinite=nonfinite,
        elements=int(flat.size),
        scale=ev.scale,
        per_sample_rms=rms,
        per_sample_max_abs=stat(np.max, per_sample),
        vanishing_threshold=vanishing,
        exploding_threshold=exploding,
    )
