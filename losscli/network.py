"""The gradients of a network's parameters, layer by layer, and what is wrong with them.

:func:`run_model` applies a loaded network (:mod:`losscli.netload`) to the input arrays of each
*application* (one for ``grad LOSS --model M X Y``, several with ``--feed NAME=FILE,...``), gives
each output to the loss as the input it feeds, runs the loss through the one compute core
(:func:`losscli.core.evaluate`, torch backend) and calls ``backward()`` once: a parameter used
by several applications accumulates their gradients, as in eager torch.  It then reads every
parameter's ``.grad`` and measures it.

Scale-free measures (the verdicts use only these, so ``--reduction sum`` or a constant factor on
the loss changes no verdict):

* ``gain`` of a layer = RMS(∂L/∂θ_layer) / ‖∂L/∂ŷ‖₁, the gradient reaching the layer per unit of
  gradient leaving the loss (ŷ: every model output the loss reads).  Multiplying the loss by c
  multiplies both by c.
* ``relative`` = gain / gain of the *output-side layer* (the parameterised layer the forward
  pass runs last).

Verdicts of a layer: ``nonfinite`` (a NaN or inf in its gradient), ``vanishing`` (relative below
``vanishing_ratio``, default 1e-3, or gain below ``vanishing_gain``, 1e-6, or no gradient at all),
``exploding`` (relative above ``exploding_ratio``, 1e3, or gain above ``exploding_gain``, 1e3).
Dead units: per ReLU-like node (relu, relu6/hardtanh(0, ·)), the share of units (last axis of a
2-D or 3-D output; channels, axis 1, of a 4-D one) that are 0 for every sample of every
application; ``dead`` when that share is at least ``dead_fraction`` (0.5).
Non-finite origin: the first graph node, in execution order, whose forward output holds a NaN or
inf, else the first whose gradient does in backward, with its layer and operator (and, in
backward, ``via``: the operators using that output, whose backward made the NaN/inf).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.errors import InputError, UsageError

KINDS = ("nonfinite", "exploding", "vanishing", "dead")
_RELU_LIKE = {"aten.relu.default", "aten.relu_.default", "aten.relu6.default", "aten.hardtanh.default"}


@dataclass(frozen=True)
class ModelHealthOptions:
    """Thresholds of the model verdicts (see the module docstring)."""

    vanishing_ratio: float = 1e-3
    exploding_ratio: float = 1e3
    vanishing_gain: float = 1e-6
    exploding_gain: float = 1e3
    dead_fraction: float = 0.5
    lr: float | None = None

    def check(self) -> None:
        if not (0 < self.vanishing_ratio < 1 < self.exploding_ratio):
            raise UsageError("thresholds must satisfy 0 < --vanishing-ratio < 1 < --exploding-ratio")
        if not (0 < self.vanishing_gain < self.exploding_gain):
            raise UsageError("thresholds must satisfy 0 < --vanishing-gain < --exploding-gain")
        if not (0 < self.dead_fraction <= 1):
            raise UsageError("--dead-fraction must be in (0, 1]")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise UsageError("--lr must be a positive number")


@dataclass
class Application:
    """One use of the model: the loss input its output feeds and the model's input arrays."""

    feeds: str
    arrays: list[np.ndarray]
    sources: list[str]


@dataclass
class Stat:
    """The gradient of one parameter or one layer (aggregated over its parameters)."""

    name: str
    layer: str
    shape: tuple[int, ...]
    numel: int
    grad_norm: float | None
    grad_rms: float | None
    grad_max: float | None
    param_norm: float
    grad_to_param: float | None
    zero_share: float | None
    nonfinite: int
    gain: float | None = None
    relative: float | None = None
    update_ratio: float | None = None
    status: str = "ok"
    why: str = ""
    order: int = 0
    parameters: list[str] = field(default_factory=list)


@dataclass
class ModelHealth:
    """The verdict of a run: ``status`` (worst kind, or ``ok``), the layers each kind names,
    dead units per ReLU-like node and where the first non-finite value appeared."""

    status: str
    tripped: dict[str, list[str]]
    reasons: list[str]
    dead_units: list[dict[str, Any]]
    nonfinite_origin: dict[str, Any] | None
    reference_layer: str | None
    options: ModelHealthOptions

    def kinds(self) -> set[str]:
        return {k for k, layers in self.tripped.items() if layers}

    def reason(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "every layer's gradient is within the thresholds"

    def failed(self, fail_on: Sequence[str] | None) -> bool:
        return bool(self.kinds() & set(fail_on)) if fail_on else self.status != "ok"


@dataclass
class ModelRun:
    """What ``grad --model`` measured."""

    evaluation: Any
    parameters: list[Stat]
    layers: list[Stat]
    global_norm: float
    output_grad_l1: float
    health: ModelHealth
    gradients: dict[str, np.ndarray]
    dtype: str
    model: Any = None
    replay: Any = None  # replay(check, use=model, zero=True, record=None): forward, loss and backward again


# ----------------------------------------------------------------------------- running the graph


def _layer_of(node: Any) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    paths = [v[0] for v in stack.values() if isinstance(v, tuple)]
    return (paths[-1] if paths else "") or "(root)"


def _op_name(node: Any) -> str:
    target = node.target
    name = getattr(target, "name", None)
    return str(target) if callable(name) else str(getattr(target, "__name__", target))


class _Watch:
    """Per-node bookkeeping of one forward/backward: active units of ReLU-like nodes, and (when
    ``check``) the first non-finite value forward and backward."""

    def __init__(self, check: bool, record: dict[str, Any] | None = None) -> None:
        self.check = check
        self.runs = 0
        self.record = record  # --explain: every node's output, layer, operator and (after backward) gradient
        self.active: dict[str, Any] = {}
        self.nodes: dict[str, tuple[str, str]] = {}
        self.forward_origin: dict[str, Any] | None = None
        self.backward_origin: dict[str, Any] | None = None


def _interpreter(module: Any, watch: _Watch) -> Any:
    import torch

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            out = super().run_node(n)
            if n.op not in ("call_function", "get_attr") or not isinstance(out, torch.Tensor):
                return out
            op = _op_name(n) if n.op == "call_function" else "parameter"
            layer = _layer_of(n) if n.op == "call_function" else str(n.target).rsplit(".", 1)[0]
            if n.op == "call_function" and op in _RELU_LIKE and out.ndim >= 1:
                if op != "aten.hardtanh.default" or (len(n.args) > 1 and n.args[1] == 0):
                    dims = _unit_dims(out.ndim)
                    act = (out.detach() != 0).any(dim=dims) if dims else (out.detach() != 0).reshape(-1)
                    key = n.name
                    self_watch.nodes[key] = (layer, op)
                    prev = self_watch.active.get(key)
                    self_watch.active[key] = act if prev is None else (prev | act)
            if self_watch.record is not None and n.op == "call_function":
                entry = {"layer": layer, "op": op, "out": out.detach(), "node": n, "grad": None, "run": run_no}
                self_watch.record[f"{run_no}:{n.name}"] = entry
                if out.requires_grad:
                    out.register_hook(lambda g, e=entry: e.__setitem__("grad", g.detach()))
            if self_watch.check:
                if self_watch.forward_origin is None and not bool(torch.isfinite(out.detach()).all()):
                    self_watch.forward_origin = {"layer": layer, "op": op, "node": n.name, "phase": "forward"}
                if out.requires_grad:
                    via = sorted({_op_name(u) for u in n.users if u.op == "call_function"})
                    out.register_hook(_backward_hook(self_watch, layer, op, n.name, via))
            return out

    self_watch = watch
    watch.runs += 1
    run_no = watch.runs  # one per application of the model
    return Recorder(module)


def _backward_hook(watch: _Watch, layer: str, op: str, name: str, via: list[str]) -> Any:
    """Records the first node whose output's gradient is non-finite in backward; ``via``: the
    operators that use that output, one of whose backward made the NaN/inf (sqrt at 0, log at 0, ...)."""
    import torch

    def hook(grad: Any) -> None:
        if watch.backward_origin is None and not bool(torch.isfinite(grad).all()):
            watch.backward_origin = {"layer": layer, "op": op, "node": name, "phase": "backward", "via": via}

    return hook


def _unit_dims(ndim: int) -> tuple[int, ...]:
    """The axes reduced over to ask "is this unit ever active": all but the last (2-D, 3-D), all
    but the channels (4-D and more)."""
    if ndim <= 1:
        return ()
    if ndim <= 3:
        return tuple(range(ndim - 1))
    return (0,) + tuple(range(2, ndim))


def _forward(model: Any, app: Application, watch: _Watch | None, device_dtype: Any) -> Any:
    """The model's output on one application's arrays (torch tensors cast to the program's dtypes)."""
    import torch

    args = []
    for (_name, _shape, dtype), array in zip(model.inputs, app.arrays):
        want = getattr(torch, dtype, torch.float32)
        if device_dtype is not None and want.is_floating_point:
            want = device_dtype
        args.append(torch.from_numpy(np.ascontiguousarray(array)).to(want))
    if watch is not None and model.kind == "pt2":
        out = _interpreter(model.module, watch).run(*args)
    else:
        out = model.module(*args)
    if isinstance(out, (list, tuple)):
        if len(out) != 1:
            raise InputError(
                f"the model returns {len(out)} outputs; losscli feeds one output to the loss", source=model.path
            )
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise InputError("the model's output is not a tensor", source=model.path)
    return out


def check_inputs(model: Any, app: Application) -> None:
    """The application's arrays fit the program's signature (count, rank, fixed sizes)."""
    want = model.inputs
    if model.kind == "pt2" and len(app.arrays) != len(want):
        raise InputError(
            f"the model takes {len(want)} input(s) ({model.describe_inputs()}) but {len(app.arrays)} file(s) "
            f"feed it{' for ' + app.feeds if app.feeds else ''}",
            source=model.path,
        )
    if model.kind != "pt2":
        return
    for (name, shape, _dtype), array, source in zip(want, app.arrays, app.sources):
        dims = array.shape
        if len(shape) == 2 and array.ndim == 1 and isinstance(shape[1], int) and shape[1] == 1:
            continue
        if array.ndim != len(shape) or any(isinstance(s, int) and s != d for s, d in zip(shape, dims)):
            expected = " x ".join(str(s) for s in shape)
            got = " x ".join(map(str, dims))
            raise InputError(
                f"model input {name} expects shape {expected} (from the program's signature; names are free "
                f"sizes), got {got}",
                source=source,
            )


def _reshape_for(model: Any, app: Application) -> Application:
    """A 1-D column read for an (N, 1) input becomes N x 1."""
    if model.kind != "pt2":
        return app
    arrays = []
    for (_name, shape, _dtype), array in zip(model.inputs, app.arrays):
        arrays.append(array[:, None] if len(shape) == 2 and array.ndim == 1 else array)
    return Application(app.feeds, arrays, app.sources)


def run_model(
    model: Any,
    spec: Any,
    params: Mapping[str, Any],
    applications: list[Application],
    other_inputs: Mapping[str, np.ndarray],
    sources: Mapping[str, str],
    *,
    reduction: str = "mean",
    dtype: str | None = None,
    options: ModelHealthOptions | None = None,
) -> ModelRun:
    """Forward every application, the loss, one ``backward()``, and the measures of every parameter."""
    import torch

    from losscli.core import evaluate

    options = options or ModelHealthOptions()
    options.check()
    cast = getattr(torch, dtype) if dtype else None
    if cast is not None:
        model.module.to(cast)
    applications = [_reshape_for(model, a) for a in applications]
    for app in applications:
        check_inputs(model, app)

    def once(
        check: bool, use: Any = None, zero: bool = True, record: dict[str, Any] | None = None
    ) -> tuple[Any, _Watch, dict[str, Any]]:
        net = use or model
        as_dtype = cast if use is None else next(net.module.parameters()).dtype
        if zero:
            net.module.zero_grad(set_to_none=True)
        watch = _Watch(check, record)
        outs: dict[str, list[Any]] = {}
        for app in applications:
            outs.setdefault(app.feeds, []).append(_forward(net, app, watch, as_dtype))
        tensors = {name: (ts[0] if len(ts) == 1 else torch.cat(ts)) for name, ts in outs.items()}
        arrays = dict(other_inputs)
        for name, t in tensors.items():
            arrays[name] = t.detach().to(torch.float64).numpy()
        loss_dtype = str(next(iter(tensors.values())).dtype).replace("torch.", "")
        if loss_dtype not in ("float32", "float64"):
            raise InputError(
                f"the model's output is {loss_dtype}; the loss needs floating-point values", source=model.path
            )
        ev = evaluate(
            spec,
            arrays,
            params,
            reduction=reduction,
            dtype=loss_dtype,
            backend="torch",
            sources=sources,
            tensors=tensors,
        )
        return ev, watch, tensors

    ev, watch, _ = once(False)
    grads = {n: p.grad for n, p in model.module.named_parameters()}
    bad = not math.isfinite(float(np.sum(np.asarray(ev.value)))) or any(
        g is not None and not bool(torch.isfinite(g).all()) for g in grads.values()
    )
    origin = None
    if bad:  # a second, watched run finds where the first NaN/inf came from
        _, checked, _ = once(True)
        origin = checked.forward_origin or checked.backward_origin
        if origin is None and not all(np.isfinite(g).all() for n, g in ev.gradients.items()):
            origin = {"layer": "(loss)", "op": spec.name, "node": None, "phase": "backward"}
        model.module.zero_grad(set_to_none=True)
        ev, watch, _ = once(False)  # the reported gradients are those of the plain run
    out_l1 = float(sum(np.abs(g).sum() for n, g in ev.gradients.items() if n in {a.feeds for a in applications}))
    parameters, layers = _measure(model, watch, out_l1, options)
    grads_np = {
        n: (p.grad.detach().to(torch.float64).numpy() if p.grad is not None else np.zeros(tuple(p.shape)))
        for n, p in model.module.named_parameters()
    }
    present = [p.grad for p in model.module.parameters() if p.grad is not None]
    total = float(_total_norm(present)) if present else 0.0
    health = _verdict(layers, watch, origin, options)
    used_dtype = str(next(model.module.parameters()).dtype).replace("torch.", "") if parameters else ev.dtype
    return ModelRun(ev, parameters, layers, total, out_l1, health, grads_np, used_dtype, model, once)


def _total_norm(grads: list[Any]) -> Any:
    """The global 2-norm exactly as ``torch.nn.utils.clip_grad_norm_`` returns it."""
    import torch

    get = getattr(torch.nn.utils, "get_total_norm", None)
    if get is not None:
        return get(grads, 2.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g, 2.0) for g in grads]), 2.0)


# ----------------------------------------------------------------------------- measures and verdicts


def _layer_order(model: Any) -> dict[str, int]:
    """Each parameter's place in the forward pass: the index of the first graph node that reads it
    (by parameter name; empty for TorchScript, which keeps named_parameters() order)."""
    order: dict[str, int] = {}
    graph = getattr(model.module, "graph", None)
    if graph is None or model.kind != "pt2":
        return order
    index = {node: i for i, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        if node.op == "get_attr":
            users = [index[u] for u in node.users]
            order[str(node.target)] = min(users) if users else index[node]
    return order


def _stat(name: str, layer: str, tensors: list[tuple[Any, Any]]) -> Stat:
    """Measures of the gradients of ``tensors`` ((param, grad or None) pairs) taken together."""
    import torch

    numel = sum(int(p.numel()) for p, _ in tensors)
    param_sq = sum(float(torch.sum(p.detach().double() ** 2)) for p, _ in tensors)
    with_grad = [(p, g) for p, g in tensors if g is not None]
    shape = tuple(tensors[0][0].shape) if len(tensors) == 1 else (numel,)
    if not with_grad:
        return Stat(name, layer, shape, numel, None, None, None, math.sqrt(param_sq), None, None, 0)
    nonfinite = sum(int((~torch.isfinite(g)).sum()) for _, g in with_grad)
    sq = 0.0
    mx = 0.0
    zeros = 0
    counted = 0
    for _, g in with_grad:
        d = g.detach().double()
        sq += float(torch.sum(d * d))  # NaN when an entry is: never a norm of the finite part only
        mx = max(mx, float(d.abs().max())) if d.numel() else mx
        zeros += int((d == 0).sum())
        counted += int(d.numel())
    norm = math.sqrt(sq)
    rms = math.sqrt(sq / counted) if counted else 0.0
    pnorm = math.sqrt(param_sq)
    return Stat(
        name,
        layer,
        shape,
        numel,
        norm,
        rms,
        mx,
        pnorm,
        norm / pnorm if pnorm > 0 else None,
        zeros / counted if counted else None,
        nonfinite,
    )


def _measure(model: Any, watch: _Watch, out_l1: float, options: ModelHealthOptions) -> tuple[list[Stat], list[Stat]]:
    order = _layer_order(model)
    parameters: list[Stat] = []
    by_layer: dict[str, list[tuple[str, Any, Any]]] = {}
    for index, (name, p) in enumerate(model.module.named_parameters()):
        layer = name.rsplit(".", 1)[0] if "." in name else "(root)"
        s = _stat(name, layer, [(p, p.grad)])
        s.order = order.get(name, 10**9 + index)
        if not p.requires_grad:
            s.status, s.why = "frozen", "requires_grad is False"
        parameters.append(s)
        by_layer.setdefault(layer, []).append((name, p, p.grad))
    layers = []
    for layer, items in by_layer.items():
        s = _stat(layer, layer, [(p, g) for _, p, g in items])
        s.parameters = [n for n, _, _ in items]
        s.order = min(q.order for q in parameters if q.layer == layer)
        s.shape = (s.numel,)
        if all(not p.requires_grad for _, p, _ in items):
            s.status, s.why = "frozen", "requires_grad is False"
        layers.append(s)
    layers.sort(key=lambda s: s.order)
    live = [s for s in layers if s.status != "frozen"]
    reference = live[-1] if live else None
    for s in parameters + layers:
        if s.status == "frozen":
            continue
        if s.grad_rms is not None and out_l1 > 0:
            s.gain = s.grad_rms / out_l1
        ref_gain = reference.grad_rms / out_l1 if reference is not None and reference.grad_rms and out_l1 > 0 else None
        if s.gain is not None and ref_gain:
            s.relative = s.gain / ref_gain
        if options.lr is not None and s.grad_to_param is not None:
            s.update_ratio = options.lr * s.grad_to_param
        s.status, s.why = _status(s, options, out_l1)
    return parameters, layers


def _status(s: Stat, o: ModelHealthOptions, out_l1: float) -> tuple[str, str]:
    if s.nonfinite:
        return "nonfinite", f"{s.nonfinite} non-finite gradient entries"
    if s.grad_norm is None:
        return "vanishing", "gets no gradient (not on the path from the loss)"
    if out_l1 == 0:
        return "vanishing", "the loss sends no gradient into the model (∂L/∂output is 0)"
    if s.grad_norm == 0:
        return "vanishing", "every gradient entry is exactly 0"
    assert s.gain is not None
    if s.relative is not None and s.relative < o.vanishing_ratio:
        return "vanishing", f"{s.relative:.2g} of the output-side layer's gradient (< {o.vanishing_ratio:g})"
    if s.gain < o.vanishing_gain:
        return "vanishing", f"gain {s.gain:.2g} < {o.vanishing_gain:g}"
    if s.relative is not None and s.relative > o.exploding_ratio:
        return "exploding", f"{s.relative:.2g} times the output-side layer's gradient (> {o.exploding_ratio:g})"
    if s.gain > o.exploding_gain:
        return "exploding", f"gain {s.gain:.2g} > {o.exploding_gain:g}"
    return "ok", ""


def _verdict(layers: list[Stat], watch: _Watch, origin: dict[str, Any] | None, o: ModelHealthOptions) -> ModelHealth:
    tripped: dict[str, list[str]] = {k: [] for k in KINDS}
    for s in layers:
        if s.status in tripped:
            tripped[s.status].append(s.name)
    dead: list[dict[str, Any]] = []
    for key, act in watch.active.items():
        layer, op = watch.nodes[key]
        units = int(act.numel())
        n_dead = units - int(act.sum())
        frac = n_dead / units if units else 0.0
        dead.append({"layer": layer, "node": key, "op": op, "units": units, "dead": n_dead, "fraction": frac})
        if frac >= o.dead_fraction:
            tripped["dead"].append(layer)
    reasons = []
    for kind in KINDS:
        names = tripped[kind]
        if not names:
            continue
        if kind == "dead":
            worst = max((d for d in dead if d["layer"] in names), key=lambda d: float(d["fraction"]))
            reasons.append(
                f"dead: {worst['dead']} of {worst['units']} units after {worst['layer']} are 0 for every sample"
                + (f" (and {len(names) - 1} more layer(s))" if len(names) > 1 else "")
            )
            continue
        first = next(s for s in layers if s.name == names[0])
        listed = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        reasons.append(f"{kind}: {listed} ({first.name}: {first.why})")
    if origin is not None:
        where = f"{origin['phase']} of {origin['op']} in {origin['layer']}"
        if origin.get("via"):
            where = f"backward, in the gradient of {origin['op']}'s output in {origin['layer']} (made by the backward of {', '.join(origin['via'])})"
        reasons.append(f"first non-finite value: {where}")
    status = next((k for k in KINDS if tripped[k]), "ok")
    if origin is not None:
        status = "nonfinite"
        if not tripped["nonfinite"]:
            tripped["nonfinite"].append(origin["layer"])
    reference = next((s.name for s in reversed(layers) if s.status != "frozen"), None)
    return ModelHealth(status, tripped, reasons, dead, origin, reference, o)
