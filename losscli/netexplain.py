"""``grad --model --explain``: the backward pass walked through the user's own network.

Sections (English and zh-TW), all computed on the real model and data:

1. the loss and ∂L/∂output, the gradient that leaves the loss;
2. backward through the layers, output side first: the norm of the gradient arriving at each
   layer's output and why the next one is smaller or larger (a sigmoid's derivative is at most
   1/4, a ReLU passes only where its input was positive, a Linear multiplies by Wᵀ);
3. one weight of a Linear layer by hand: Σₙ δₙᵢ aₙⱼ (upstream gradient times input activation),
   checked against ``.grad`` and a central finite difference (float64 copy of the network);
4. accumulation: a second ``backward()`` doubles ``.grad``; ``zero_grad()`` clears it;
5. one optimizer step: SGD ``w - lr·g`` and Adam's first step (≈ ``w - lr·sign(g)``), run with
   torch.optim on copies.

Nothing here prints: :func:`model_narrative` returns ``(title, body)`` sections.
"""

from __future__ import annotations

import copy
import math
from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "sigmoid_s": "sigmoid, σ' mean {value:.3g}",
        "tanh_s": "tanh, 1 - tanh² mean {value:.3g}",
        "relu_s": "ReLU, {value:.0%} pass",
        "linear_s": "Linear, ‖W‖₂ = {value:.3g}",
        "s1": "1. The loss and the gradient leaving it",
        "s1_body": "{loss} = {value:.8g} ({reduction}, {dtype}) on the output of {model}.\n"
        "∂L/∂output: ‖·‖₂ = {norm:.4g}, ‖·‖₁ = {l1:.4g} over {n} values. This is the gradient backward() "
        "starts from; every parameter's gradient is this, carried back through the layers by the chain rule.",
        "s2": "2. Backward through the layers (output side first)",
        "s2_head": "‖δ‖ = ‖∂L/∂(layer output)‖₂ as backward() reaches each layer; xr = the norm it passes on to the "
        "layer before it, divided by ‖δ‖; and what the layer does to it:",
        "sigmoid": "sigmoid: multiplies by σ'(z) = σ(z)(1 - σ(z)) ≤ 1/4 (here mean {value:.3g}); "
        "a stack of them shrinks the gradient at least 4x per layer",
        "tanh": "tanh: multiplies by 1 - tanh²(z) ≤ 1 (here mean {value:.3g})",
        "relu": "ReLU: passes the gradient where z > 0 and zeroes it elsewhere ({value:.0%} of entries pass)",
        "linear": "Linear: the gradient to its input is δ W (Wᵀ applied to δ); ‖W‖₂ (largest singular value) = "
        "{value:.3g}, so it can grow or shrink by up to that factor",
        "other": "{op}",
        "s2_tail": "Shrinking by a constant factor per layer is vanishing; growing is exploding.",
        "s3": "3. One weight by hand: {name}[{i}, {j}]",
        "s3_body": "For y = a Wᵀ + b, ∂L/∂W_ij = Σₙ δₙᵢ · aₙⱼ: the upstream gradient δ = ∂L/∂y at output unit i "
        "times the input activation a at input unit j, summed over the {n} rows (and applications).\n"
        "by hand:            {hand:.10g}\n.grad:              {grad:.10g}\n"
        "finite difference:  {fd:.10g}  ((L(w + h) - L(w - h)) / 2h, h = {h:g}, float64 copy)",
        "s3_none": "The model has no Linear layer (aten.linear) to work by hand.",
        "s4": "4. Gradients accumulate",
        "s4_body": "{name}[{i}, {j}].grad after backward(): {g1:.10g}\nafter a second backward() without zero_grad(): "
        "{g2:.10g} ({ratio:.6g}x: backward() adds into .grad)\nafter zero_grad(): {g3}\n"
        "That is why a training loop calls optimizer.zero_grad() before each loss.backward().",
        "s5": "5. What one optimizer step does to it (lr = {lr:g})",
        "s5_body": "SGD: w ← w - lr·g = {w:.10g} - {lr:g}·{g:.6g} = {sgd:.10g} (torch.optim.SGD: {sgd_t:.10g})\n"
        "Adam, first step: m = (1-β₁)g, v = (1-β₂)g², bias-corrected m̂ = g, v̂ = g², so "
        "w ← w - lr·g/(|g| + ε) ≈ w - lr·sign(g) = {adam:.10g} (torch.optim.Adam: {adam_t:.10g}).\n"
        "Adam's first step has the same size for every weight, however small its gradient: it hides a vanishing "
        "gradient rather than curing it.",
    },
    "zh-TW": {
        "sigmoid_s": "sigmoid，σ' 平均 {value:.3g}",
        "tanh_s": "tanh，1 - tanh² 平均 {value:.3g}",
        "relu_s": "ReLU，{value:.0%} 通過",
        "linear_s": "Linear，‖W‖₂ = {value:.3g}",
        "s1": "1. 損失與離開損失的梯度",
        "s1_body": "{loss} = {value:.8g}（{reduction}，{dtype}），作用於 {model} 的輸出。\n"
        "∂L/∂output：‖·‖₂ = {norm:.4g}，‖·‖₁ = {l1:.4g}，共 {n} 個值。backward() 從這個梯度出發；"
        "每個參數的梯度，都是它依連鎖律一層層往回傳的結果。",
        "s2": "2. 反向穿過各層（從輸出端開始）",
        "s2_head": "‖δ‖ = backward() 抵達各層時的 ‖∂L/∂(該層輸出)‖₂；xr = 它傳給前一層的範數除以 ‖δ‖；"
        "以及該層對梯度做了什麼：",
        "sigmoid": "sigmoid：乘上 σ'(z) = σ(z)(1 - σ(z)) ≤ 1/4（此處平均 {value:.3g}）；層層堆疊時，每層至少縮小 4 倍",
        "tanh": "tanh：乘上 1 - tanh²(z) ≤ 1（此處平均 {value:.3g}）",
        "relu": "ReLU：z > 0 處讓梯度通過，其餘歸零（{value:.0%} 的元素通過）",
        "linear": "Linear：傳給輸入的梯度是 δ W（對 δ 施加 Wᵀ）；‖W‖₂（最大奇異值）= {value:.3g}，"
        "梯度最多按此倍數放大或縮小",
        "other": "{op}",
        "s2_tail": "每層按固定倍數縮小就是梯度消失；放大就是梯度爆炸。",
        "s3": "3. 手算一個權重：{name}[{i}, {j}]",
        "s3_body": "對 y = a Wᵀ + b，∂L/∂W_ij = Σₙ δₙᵢ · aₙⱼ：上游梯度 δ = ∂L/∂y 在輸出單元 i 的值，"
        "乘上輸入激活 a 在輸入單元 j 的值，對 {n} 列（及各次套用）求和。\n"
        "手算：      {hand:.10g}\n.grad：     {grad:.10g}\n"
        "有限差分：  {fd:.10g}（(L(w + h) - L(w - h)) / 2h，h = {h:g}，float64 副本）",
        "s3_none": "這個模型沒有可手算的 Linear 層（aten.linear）。",
        "s4": "4. 梯度會累加",
        "s4_body": "backward() 之後 {name}[{i}, {j}].grad：{g1:.10g}\n不呼叫 zero_grad() 再 backward() 一次："
        "{g2:.10g}（{ratio:.6g} 倍：backward() 是加進 .grad）\nzero_grad() 之後：{g3}\n"
        "所以訓練迴圈在每次 loss.backward() 之前都會呼叫 optimizer.zero_grad()。",
        "s5": "5. 一步最佳化對它做了什麼（lr = {lr:g}）",
        "s5_body": "SGD：w ← w - lr·g = {w:.10g} - {lr:g}·{g:.6g} = {sgd:.10g}（torch.optim.SGD：{sgd_t:.10g}）\n"
        "Adam 第一步：m = (1-β₁)g，v = (1-β₂)g²，偏差校正後 m̂ = g、v̂ = g²，所以 "
        "w ← w - lr·g/(|g| + ε) ≈ w - lr·sign(g) = {adam:.10g}（torch.optim.Adam：{adam_t:.10g}）。\n"
        "Adam 的第一步對每個權重大小相同，不論梯度多小：它掩蓋了梯度消失，而不是治好它。",
    },
}

Section = tuple[str, str]


def _m(lang: str, key: str, **kw: Any) -> str:
    return MESSAGES[lang][key].format(**kw)


def model_narrative(run: Any, lang: str = "en", lr: float | None = None) -> list[Section]:
    """The five sections for a :class:`losscli.network.ModelRun` of a ``.pt2`` network."""

    ev, model = run.evaluation, run.model
    record: dict[str, Any] = {}
    ev2, _, tensors = run.replay(False, record=record)
    out_grads = [t.grad for t in tensors.values() if t.grad is not None]
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in out_grads))
    count = sum(int(g.numel()) for g in out_grads)
    sections: list[Section] = [
        (
            _m(lang, "s1"),
            _m(
                lang,
                "s1_body",
                loss=ev.spec.name,
                value=float(ev2.value),
                reduction=ev.reduction,
                dtype=run.dtype,
                model=model.path,
                norm=norm,
                l1=run.output_grad_l1,
                n=count,
            ),
        )  # fmt: skip
    ]
    sections.append((_m(lang, "s2"), _flow(record, lang)))
    sections += _one_weight(run, record, lang, lr)
    return sections


def _layer_kind(entry: dict[str, Any], lang: str, short: bool = False) -> str:
    op = entry["op"]
    out = entry["out"]
    tail = "_s" if short else ""
    if op.startswith("aten.sigmoid"):
        return _m(lang, "sigmoid" + tail, value=float((out * (1 - out)).double().mean()))
    if op.startswith("aten.tanh"):
        return _m(lang, "tanh" + tail, value=float((1 - out * out).double().mean()))
    if op.startswith("aten.relu"):
        return _m(lang, "relu" + tail, value=float((out > 0).double().mean()))
    return _m(lang, "other", op=op)


def _flow(record: dict[str, Any], lang: str) -> str:
    """One line per layer, output side first: the gradient arriving at its last node's output."""
    last: dict[str, dict[str, Any]] = {}
    for entry in record.values():
        if entry["grad"] is not None:
            if entry["run"] == 1:  # the first application (a shared layer's gradient is per application)
                last[entry["layer"]] = entry  # forward order: the layer's last node wins
    lines = [_m(lang, "s2_head")]
    width = max((len(k) for k in last), default=5)
    seen: set[str] = set()
    rows = list(reversed(list(last.items())))
    norms = [float(entry["grad"].double().norm()) for _, entry in rows]
    for k, (layer, entry) in enumerate(rows):
        passed = norms[k + 1] / norms[k] if k + 1 < len(rows) and norms[k] else None
        change = "" if passed is None else f"x{passed:.3g}"
        kind = entry["op"].split(".")[1] if "." in entry["op"] else entry["op"]
        text = _describe(entry, record, lang, short=kind in seen)
        seen.add(kind)
        lines.append(f"  {layer:<{width}}  ‖δ‖ = {norms[k]:<10.4g} {change:<8} {text}")
    lines.append(_m(lang, "s2_tail"))
    return "\n".join(lines)


def _describe(entry: dict[str, Any], record: dict[str, Any], lang: str, short: bool = False) -> str:
    import torch

    op = entry["op"]
    if op.startswith("aten.linear"):
        w = _arg_tensor(entry["node"].args[1], record, entry["run"])
        if w is not None:
            value = float(torch.linalg.matrix_norm(w.double(), ord=2))
            return _m(lang, "linear_s" if short else "linear", value=value)
    return _layer_kind(entry, lang, short)


def _arg_tensor(arg: Any, record: dict[str, Any], run: int) -> Any:
    """The value of a node argument: a parameter (get_attr) or a recorded output."""
    if getattr(arg, "op", None) == "get_attr":
        module = arg.graph.owning_module
        value = module
        for part in str(arg.target).split("."):
            value = getattr(value, part)
        return value.detach()
    key = f"{run}:{getattr(arg, 'name', None)}"
    return record[key]["out"] if key in record else None


def _one_weight(run: Any, record: dict[str, Any], lang: str, lr: float | None) -> list[Section]:
    import torch

    linears = [e for e in record.values() if e["op"] == "aten.linear.default" and e["grad"] is not None]
    if not linears:
        return [(_m(lang, "s3", name="—", i=0, j=0), _m(lang, "s3_none"))]
    entry = linears[-1]
    node = entry["node"]
    weight_node = node.args[1]
    if getattr(weight_node, "op", None) != "get_attr":
        return [(_m(lang, "s3", name="—", i=0, j=0), _m(lang, "s3_none"))]
    name = str(weight_node.target)
    params = dict(run.model.module.named_parameters())
    p = params[name]
    grad = p.grad
    i, j = (int(v) for v in torch.unravel_index(torch.argmax(grad.abs()), grad.shape))
    # the same weight across every application of the model: sum δₙᵢ aₙⱼ over all of them
    hand = 0.0
    rows = 0
    for e in record.values():
        if (
            e["op"] != "aten.linear.default"
            or e["grad"] is None
            or str(getattr(e["node"].args[1], "target", "")) != name
        ):
            continue
        a = _arg_tensor(e["node"].args[0], record, e["run"])
        if a is None:
            continue
        delta = e["grad"].double().reshape(-1, e["grad"].shape[-1])
        act = a.double().reshape(-1, a.shape[-1])
        hand += float((delta[:, i] * act[:, j]).sum())
        rows += int(delta.shape[0])
    g1 = float(grad[i, j])
    fd, h = _finite_difference(run, name, (i, j))
    sections = [
        (
            _m(lang, "s3", name=name, i=i, j=j),
            _m(lang, "s3_body", n=rows, hand=hand, grad=g1, fd=fd, h=h),
        )
    ]
    # accumulation on the real parameters
    run.replay(False, zero=False)
    g2 = float(p.grad[i, j])
    run.model.module.zero_grad(set_to_none=True)
    g3 = "None (set_to_none=True)" if p.grad is None else f"{float(p.grad[i, j]):.10g}"
    run.replay(False)  # leave .grad as one backward() made it
    sections.append(
        (_m(lang, "s4"), _m(lang, "s4_body", name=name, i=i, j=j, g1=g1, g2=g2, ratio=g2 / g1 if g1 else 0.0, g3=g3))
    )
    step = 0.01 if lr is None else lr
    w = float(p.detach()[i, j])
    sgd_t = _optimizer_step(run, name, (i, j), torch.optim.SGD, step)
    adam_t = _optimizer_step(run, name, (i, j), torch.optim.Adam, step)
    adam = w - step * g1 / (abs(g1) + 1e-8)
    sections.append(
        (
            _m(lang, "s5", lr=step),
            _m(lang, "s5_body", w=w, lr=step, g=g1, sgd=w - step * g1, sgd_t=sgd_t, adam=adam, adam_t=adam_t),
        )
    )
    return sections


def _copy(run: Any, dtype: Any = None) -> Any:
    import warnings

    clone = copy.copy(run.model)
    with warnings.catch_warnings():  # torch's pytree deprecation notice on deepcopy of a graph module
        warnings.simplefilter("ignore")
        clone.module = copy.deepcopy(run.model.module)
    if dtype is not None:
        clone.module.to(dtype)
    return clone


def _finite_difference(run: Any, name: str, index: tuple[int, int]) -> tuple[float, float]:
    """(L(w + h) - L(w - h)) / 2h for one weight, on a float64 copy of the network."""
    import torch

    clone = _copy(run, torch.float64)
    p = dict(clone.module.named_parameters())[name]
    w = float(p.detach()[index])
    h = 1e-6 * max(1.0, abs(w))
    values = []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            p[index] = w + sign * h
        ev, _, _ = run.replay(False, use=clone)
        values.append(float(ev.value))
    return (values[0] - values[1]) / (2 * h), h


def _optimizer_step(run: Any, name: str, index: tuple[int, int], optimizer: Any, lr: float) -> float:
    """The weight after one step of ``optimizer`` on a copy with the same gradients."""
    clone = _copy(run)
    source = dict(run.model.module.named_parameters())
    params = dict(clone.module.named_parameters())
    for n, q in params.items():
        g = source[n].grad
        q.grad = None if g is None else g.detach().clone()
    opt = optimizer([q for q in params.values() if q.grad is not None], lr=lr)
    opt.step()
    return float(params[name].detach()[index])
