"""Pictures, drawn by matplotlib (imported only here, only when a plot is asked for:
``pip install 'losscli[plot]'``).

* ``losscli plot LOSSES -o FILE``: each loss and its derivative against the residual or the
  prediction (the classic MSE vs MAE vs Huber picture), from :func:`losscli.app.loss_curves`.
* ``grad LOSS FILES --plot FILE``: the gradient distribution: a histogram of log₁₀|∂L/∂x| per
  sample, and |∂L/∂x| against the residual (losses of p - y) or the input value.
* ``grad --model --plot FILE``: per layer, in forward order, the mean and the max |grad| on a
  log axis (the well-known ``plot_grad_flow`` picture), vanishing/exploding/non-finite marked.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from losscli.errors import UsageError

FORMATS = (".png", ".svg", ".pdf")


def _pyplot(path: str, option: str = "--plot") -> Any:
    """matplotlib's pyplot on the Agg backend, after checking the file type."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{option} writes {', '.join(FORMATS)} files, got {path!r}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(
            f"{option} needs matplotlib: pip install 'losscli[plot]' (or pip install matplotlib)"
        ) from None
    return plt


def _save(plt: Any, fig: Any, path: str) -> None:
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise UsageError(f"cannot write the plot {path!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def plot_curves(curves: Any, path: str) -> None:
    """Two panels sharing the x axis: ℓ and ∂ℓ/∂p of every loss of ``curves`` (:class:`losscli.app.Curves`)."""
    plt = _pyplot(path, "-o")
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 6.5))
    for c in curves.curves:
        top.plot(curves.x, c.values, label=c.expr)
        bottom.plot(curves.x, c.derivative, label=c.expr)
    what = "residual r = p - y" if curves.axis == "residual" else "prediction p"
    top.set_ylabel("loss ℓ")
    top.set_title(f"loss and derivative against the {what.split(' ')[0]} (target y = {curves.target:g})")
    lows, highs = zip(*[_span(c.derivative) for c in curves.curves])
    if max(highs) - min(lows) > 0:
        pad = 0.05 * (max(highs) - min(lows))
        bottom.set_ylim(min(lows) - pad, max(highs) + pad)  # a derivative that runs off (1/p at 0) is cut
    bottom.set_ylabel("∂ℓ/∂p (torch autograd)")
    bottom.set_xlabel(what)
    for ax in (top, bottom):
        ax.axhline(0.0, color="#999999", linewidth=0.6)
        ax.grid(True, alpha=0.3)
    top.legend(loc="best")
    _save(plt, fig, path)


def _span(values: Any) -> tuple[float, float]:
    """The 1st to 99th percentile of the finite values: the derivative panel's range."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 0.0
    return float(np.percentile(v, 1)), float(np.percentile(v, 99))


def gradient_plot_data(ev: Any, inputs: Any) -> dict[str, Any]:
    """What ``grad --plot`` draws, per differentiable input: the per-sample gradient (``ev.scale``
    times ``.grad``, as the health verdict reads it), and the x of the scatter (the residual
    p - y for losses of the residual, else the input's value)."""
    import numpy as np

    out: dict[str, Any] = {}
    residual = ev.spec.teaching.outliers and "targets" in inputs
    for name, g in ev.gradients.items():
        per_sample = np.abs(np.asarray(g, dtype=np.float64).ravel() * ev.scale)
        if residual and name == "preds":
            x, label = (np.asarray(inputs["preds"]) - np.asarray(inputs["targets"])).ravel(), "residual p - y"
        else:
            x, label = np.asarray(inputs[name], dtype=np.float64).ravel(), f"{name} value"
        out[name] = {"abs_grad": per_sample, "x": x, "x_label": label}
    return out


def plot_gradients(ev: Any, inputs: Any, path: str) -> None:
    """Left: histogram of log₁₀|per-sample gradient| (zeros and non-finite counted in the title);
    right: |gradient| against the residual or the input value, on a log axis."""
    import numpy as np

    plt = _pyplot(path)
    data = gradient_plot_data(ev, inputs)
    fig, (hist, scatter) = plt.subplots(1, 2, figsize=(10.0, 4.2))
    zeros = nonfinite = 0
    for name, d in data.items():
        g = d["abs_grad"]
        finite = np.isfinite(g)
        nonfinite += int((~finite).sum())
        good = finite & (g > 0)
        zeros += int((finite & (g == 0)).sum())
        if good.any():
            hist.hist(np.log10(g[good]), bins=30, alpha=0.7, label=name)
            scatter.scatter(d["x"][good], g[good], s=8, alpha=0.6, label=f"{name} ({d['x_label']})")
    hist.set_xlabel("log₁₀ |∂L/∂x| per sample")
    hist.set_ylabel("elements")
    import textwrap

    from matplotlib.ticker import MaxNLocator

    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    hist.set_title(
        textwrap.fill(f"{ev.spec.name}: gradient distribution ({zeros} zero, {nonfinite} non-finite)", 50),
        fontsize=10,
        loc="left",
    )
    scatter.set_yscale("log")
    scatter.set_ylabel("|∂L/∂x| per sample")
    scatter.set_xlabel(" / ".join(sorted({d["x_label"] for d in data.values()})))
    for ax in (hist, scatter):
        ax.grid(True, alpha=0.3)
        if len(data) > 1:
            ax.legend(loc="best")
    _save(plt, fig, path)


def plot_gradient_flow(run: Any, path: str) -> None:
    """Draw the per-layer mean and max |grad| of ``run`` (a ModelRun) into ``path``: layers whose
    gradient is NaN/inf get no bar but a red band marked ``NaN/inf``, and every non-ok verdict
    (a dead ReLU node too) is written over its layer and in the title."""
    import textwrap

    plt = _pyplot(path)
    layers = [s for s in run.layers if s.status != "frozen"]
    names = [s.name for s in layers]
    bad = [s.nonfinite > 0 or not _finite(s.grad_max) for s in layers]
    mean_abs = [None if b else _positive(_mean_abs(run, s)) for s, b in zip(layers, bad)]
    max_abs = [None if b else _positive(s.grad_max) for s, b in zip(layers, bad)]
    width = max(6.0, 0.45 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(width, 4.8))
    xs = list(range(len(names)))
    good = [x for x in xs if not bad[x]]
    ax.bar(good, [max_abs[x] for x in good], color="#9ecae1", label="max |grad|")
    ax.bar(good, [mean_abs[x] for x in good], color="#3182bd", label="mean |grad|")
    ax.set_yscale("log")
    drawn = [v for v in max_abs + mean_abs if v is not None and v > 1e-30]
    if drawn:
        ax.set_ylim(min(drawn) / 10, max(drawn) * 10)
    else:
        ax.set_ylim(1e-12, 1.0)
    low, high = ax.get_ylim()
    middle = math.sqrt(low * high)
    dead = {d.get("layer") for d in getattr(run.health, "dead_units", []) if isinstance(d, dict)}
    for x, s in zip(xs, layers):
        if bad[x]:
            ax.axvspan(x - 0.4, x + 0.4, color="#b30000", alpha=0.15)
            ax.annotate("NaN/inf", (x, middle), ha="center", va="center", fontsize=9, color="#b30000", rotation=90)
        status = s.status if s.status != "ok" else ("dead" if s.name in dead else "ok")
        if status != "ok" and not bad[x]:
            ax.annotate(status, (x, max_abs[x]), ha="center", va="bottom", fontsize=7, color="#b30000")
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("|∂L/∂θ| (log scale)")
    verdict = run.health.reason() if run.health.status != "ok" else "ok"
    title = f"gradient flow: {run.evaluation.spec.name}: {verdict}"
    ax.set_title(textwrap.fill(title, int(width * 12)), fontsize=9, loc="left")
    ax.legend(loc="best")
    _save(plt, fig, path)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


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
