"""``--plot FILE.png|svg``: the gradient-flow picture of ``grad --model``.

Per layer, in forward order, the mean and the max |grad| on a log axis (the well-known
``plot_grad_flow`` picture), with vanishing/exploding/non-finite layers marked.  matplotlib is
imported only here, only when a plot is asked for (``pip install 'losscli[plot]'``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from losscli.errors import UsageError

FORMATS = (".png", ".svg", ".pdf")


def plot_gradient_flow(run: Any, path: str) -> None:
    """Draw the per-layer mean and max |grad| of ``run`` (a ModelRun) into ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"--plot writes {', '.join(FORMATS)} files, got {path!r}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'losscli[plot]' (or pip install matplotlib)") from None
    layers = [s for s in run.layers if s.status != "frozen"]
    names = [s.name for s in layers]
    mean_abs = [_positive(_mean_abs(run, s)) for s in layers]
    max_abs = [_positive(s.grad_max) for s in layers]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 4.5))
    xs = range(len(names))
    ax.bar(xs, max_abs, color="#9ecae1", label="max |grad|")
    ax.bar(xs, mean_abs, color="#3182bd", label="mean |grad|")
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("|∂L/∂θ| (log scale)")
    ax.set_title(f"gradient flow: {run.evaluation.spec.name} ({run.health.status})")
    for x, s in zip(xs, layers):
        if s.status != "ok":
            ax.annotate(s.status, (x, max_abs[x]), ha="center", va="bottom", fontsize=7, color="#b30000")
    ax.legend(loc="best")
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise UsageError(f"cannot write the plot {path!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def _mean_abs(run: Any, layer: Any) -> float | None:
    import numpy as np

    total, count = 0.0, 0
    for name in layer.parameters:
        g = run.gradients.get(name)
        if g is not None:
            total += float(np.abs(g).sum())
            count += int(g.size)
    return total / count if count else None


def _positive(x: float | None) -> float:
    """A value a log axis can draw (0, None and NaN sit at the floor)."""
    return x if x is not None and math.isfinite(x) and x > 0 else 1e-30
