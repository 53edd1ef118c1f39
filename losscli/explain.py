"""The ``grad --explain`` narrative: formula, autograd graph, one element by hand, a
finite-difference check, the health verdict in plain words, and ``.grad`` accumulation.

Builds a list of (title, body) sections; ``render.render_narrative`` prints them as rich panels.
Needs the torch evaluation made with ``keep_graph=True``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import worked_element
from losscli.core import Evaluation, evaluate
from losscli.diagnose import Health
from losscli.i18n import loss_text, msg

MAX_GRAPH_LINES = 40
Section = tuple[str, str]


def graph_lines(root: Any, leaf_names: Mapping[int, str]) -> list[str]:
    """The autograd graph from ``root.grad_fn`` to the leaves, one node per line, as a tree.

    Nodes are named as torch names them (``MeanBackward0``, ``AccumulateGrad``); a node
    reached twice is printed once and then referred to.
    """
    lines: list[str] = []
    seen: set[int] = set()

    def label(fn: Any) -> str:
        name = type(fn).__name__
        if name == "AccumulateGrad":
            var = fn.variable
            who = leaf_names.get(id(var), "a leaf")
            return f"AccumulateGrad → {who}.grad ({' x '.join(map(str, var.shape)) or 'scalar'})"
        return name

    def walk(fn: Any, prefix: str, last: bool, depth: int) -> None:
        if len(lines) >= MAX_GRAPH_LINES:
            return
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        again = id(fn) in seen
        lines.append(f"{prefix}{branch}{label(fn)}{'  (shared: see above)' if again else ''}")
        if again:
            return
        seen.add(id(fn))
        children = [f for f, _ in fn.next_functions if f is not None]
        child_prefix = prefix + ("" if depth == 0 else ("   " if last else "│  "))
        for k, child in enumerate(children):
            walk(child, child_prefix, k == len(children) - 1, depth + 1)

    if root.grad_fn is not None:
        walk(root.grad_fn, "", True, 0)
    if len(lines) >= MAX_GRAPH_LINES:
        lines.append("… (graph truncated)")
    return lines


def choose_element(ev: Evaluation, name: str, element: tuple[int, ...] | None) -> tuple[int, ...]:
    """The element to work through: ``element`` if given, else the largest finite |grad|."""
    g = ev.gradients[name]
    if element is not None:
        return element if g.ndim == len(element) else tuple(element) + (0,) * (g.ndim - len(element))
    key = np.where(np.isfinite(g), np.abs(g), -1.0)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(key)), g.shape))


def finite_difference(
    ev: Evaluation, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]
) -> tuple[float, float]:
    """(central difference, step h) of the loss with respect to ``inputs[name][index]``, on numpy.

    h starts at 1e-6·max(1, |x|); where x ± h leaves the loss's domain (a probability next to 0 or
    1) it starts at 1e-6·|x|, or 1e-6 of the distance to 1.  The step then shrinks tenfold, up to
    three times, until two successive differences agree to 1e-6: a fixed step is too coarse where
    the loss curves on a scale smaller than h (a vector next to zero norm under a cosine).  NaN
    when no step stays inside the domain.
    """
    from losscli.errors import InputError

    x = float(inputs[name][index])

    def central(h: float) -> float:
        values = []
        for sign in (1.0, -1.0):
            moved = {k: np.array(v, dtype=np.float64, copy=True) for k, v in inputs.items()}
            moved[name][index] = x + sign * h
            out = evaluate(ev.spec, moved, ev.params, reduction=ev.reduction, dtype="float64", backend="numpy")
            values.append(float(np.sum(out.value)))
        return (values[0] - values[1]) / (2 * h)

    steps = [1e-6 * max(1.0, abs(x)), 1e-6 * abs(x), 1e-6 * abs(1.0 - x)]
    for h in (h for h in steps if h > 0):
        try:
            fd = central(h)
        except InputError:
            continue
        for _ in range(3):
            finer = central(h / 10)
            if abs(finer - fd) <= 1e-6 * max(abs(fd), abs(finer), 1e-300) or not math.isfinite(finer):
                break
            fd, h = finer, h / 10
        return fd, h
    return math.nan, math.nan


def _remedies(ev: Evaluation, health: Health, lang: str) -> list[str]:
    """The loss's own advice (``spec.teaching.advice``) that fits the verdict, then the generic
    advice for what no loss-specific advice covered."""
    zh = lang == "zh-TW"
    kinds = health.kinds()
    fired = [a for a in ev.spec.teaching.advice if a.when(ev.params, health)]
    out = [a.zh if zh else a.en for a in fired]
    covered = {status for a in fired for status in a.covers}
    if health.status == "exploding" and not out:
        out.append(
            "降低學習率、裁剪梯度，或把輸入與目標標準化。"
            if zh
            else "Lower the learning rate, clip gradients, or normalise inputs and targets."
        )
    if health.status == "nonfinite" and "nonfinite" not in covered:
        out.append(
            "找出輸入中的 NaN/inf，或是 log(0)、sqrt(0) 之類的運算。"
            if zh
            else "Look for NaN/inf in the inputs, or an operation such as log(0) or sqrt(0)."
        )
    if "dead" in kinds:
        out.append(
            "梯度恰為 0 的元素不會教模型任何東西：hinge 超過邊界、MAE 殘差為 0、被截斷的 log 或被忽略的目標。"
            "若這是設計使然（例如 SVM 式的邊界）則無妨。"
            if zh
            else "Elements with a gradient of exactly 0 teach the model nothing: a met hinge margin, a zero "
            "MAE residual, a clamped log or an ignored target. Fine when by design (SVM-style margins)."
        )
    raw_small = ev.reduction == "mean" and health.status == "ok" and health.norm < health.vanishing_threshold * 10
    if raw_small or (ev.reduction == "mean" and health.status == "ok" and health.scale > 100):
        out.append(msg(lang, "scale_note", scale=health.scale, norm=health.norm))
    return out


LOOP = """for x, y in loader:
    optimizer.zero_grad()        # clear .grad from the previous step
    loss = loss_fn(model(x), y)  # forward pass: records the autograd graph
    loss.backward()              # backward pass: fills .grad of every parameter
    optimizer.step()             # uses .grad to update the parameters"""


def narrative(
    ev: Evaluation,
    health: Health,
    inputs: Mapping[str, np.ndarray],
    *,
    lang: str = "en",
    element: tuple[int, ...] | None = None,
    header: str | None = None,
) -> list[Section]:
    """The six sections of ``--explain`` for an evaluation made with ``keep_graph=True``."""
    spec = ev.spec
    sections: list[Section] = []
    if header:
        sections.append(("", header))
    inputs_line = ", ".join(f"{i.name} ({i.shape})" for i in spec.inputs)
    sections.append(
        (
            msg(lang, "s1"),
            "\n".join(
                [
                    f"{spec.name}: {loss_text(spec, 'summary', lang)}",
                    f"L = {spec.formula}" if not spec.formula.startswith(("L", "ℓ")) else spec.formula,
                    loss_text(spec, "derivative", lang),
                    f"inputs: {inputs_line}",
                    f"convention: {loss_text(spec, 'convention', lang)}",
                    f"value: {np.sum(ev.value):.12g} (reduction {ev.reduction}, {ev.dtype})",
                ]
            ),
        )
    )
    leaf_names = {id(t): n for n, t in ev.leaves.items()}
    sections.append((msg(lang, "s2"), "\n".join(graph_lines(ev.graph, leaf_names)) + "\n\n" + msg(lang, "s2_note")))

    name = next(iter(ev.gradients))
    index = choose_element(ev, name, element)
    grad = float(ev.gradients[name][index])
    idx_text = ", ".join(map(str, index))
    chain = worked_element(ev, inputs, index, name)
    body = [msg(lang, "s3_why")] if element is None else []
    if chain is not None:
        body.append(f"{msg(lang, 'forward')}:")
        body += [f"  {label:<36} = {value:.12g}" for label, value in chain.forward]
        body.append(f"{msg(lang, 'backward' if chain.combine == 'backprop' else 'local')}:")
        body += [f"  {sym:<10} = {formula:<44} = {value:.12g}" for sym, formula, value in chain.local]
        product = chain.product
        diff = abs(product - grad)
        if chain.combine == "backprop":
            body.append(f"{msg(lang, 'backprop')}: {product:.15g}")
        else:
            joiner, key = (" + ", "path_sum") if chain.combine == "sum" else (" × ", "product")
            body.append(f"{msg(lang, key)}: {joiner.join(f'{v:.6g}' for _, _, v in chain.local)} = {product:.15g}")
        body.append(f"{msg(lang, 'autograd')}: {grad:.15g}")
        # the hand derivation runs in float64; autograd ran in ev.dtype
        rel = 1e-12 if ev.dtype == "float64" else 1e-5
        same = (
            diff <= rel * max(abs(grad), abs(product)) or (math.isnan(product) and math.isnan(grad)) or product == grad
        )
        body.append(msg(lang, "agree" if same else "disagree", diff=0.0 if product == grad else diff))
    else:
        body.append(msg(lang, "no_chain", loss=spec.name))
        body.append(f"{msg(lang, 'autograd')}: {grad:.15g}")
    sections.append((msg(lang, "s3", input=name, index=idx_text), "\n".join(body)))

    fd, h = finite_difference(ev, inputs, name, index)
    if math.isnan(h):
        sections.append((msg(lang, "s4"), msg(lang, "fd_none", x=float(inputs[name][index]))))
    else:
        denom = max(abs(fd), abs(grad), 1e-300)
        err = abs(fd - grad) / denom if math.isfinite(fd) and math.isfinite(grad) else math.inf
        verdict = "fd_good" if err < 1e-7 else ("fd_bad" if err > 1e-2 else "fd_ok")
        if verdict != "fd_good" and spec.teaching.gradient_by_convention:
            verdict = "fd_by_design"
        sections.append((msg(lang, "s4"), msg(lang, "fd", h=h, fd=fd, err=err) + "\n" + msg(lang, verdict)))

    status = msg(
        lang,
        f"status_{health.status}",
        rms=health.per_sample_rms,
        lo=health.vanishing_threshold,
        hi=health.exploding_threshold,
        count=health.nonfinite,
    )
    lines = [status]
    for f in health.findings:
        where = ", ".join(
            f"{e['input']}[{e['row']}"
            + (f", {e['column']}]" if ev.gradients[e["input"]].ndim > 1 else "]")
            + (f" = {e['value']:.6g}" if "value" in e else "")
            for e in f["examples"]
        )
        lines.append(
            msg(
                lang,
                "finding",
                kind=f["kind"],
                count=f["count"],
                fraction=f["fraction"],
                message=msg(lang, f"finding_{f['kind']}"),
            )
            + f" [{where}]"
        )
    remedies = _remedies(ev, health, lang)
    if remedies:
        lines.append("")
        lines.append(f"{msg(lang, 'remedies')}:")
        lines += [f"  • {r}" for r in remedies]
    sections.append((msg(lang, "s5"), "\n".join(lines)))

    leaf = ev.leaves[name]
    first = float(leaf.grad[index])
    ev.graph.backward(retain_graph=True)
    second = float(leaf.grad[index])
    if first:
        accum = msg(lang, "accum", input=name, index=idx_text, first=first, second=second, ratio=second / first)
    else:
        accum = msg(lang, "accum_zero", input=name, index=idx_text)
    sections.append((msg(lang, "s6"), accum + "\n" + msg(lang, "loop") + "\n\n" + LOOP))
    return sections
