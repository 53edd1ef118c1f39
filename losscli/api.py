"""The Python API: ``losscli.compute``, ``grad``, ``compare`` and ``inspect_model`` over arrays.

The commands of the CLI are a thin layer over the same application functions
(:func:`losscli.app.compute_loaded`, :func:`~losscli.app.grad_loaded`,
:func:`~losscli.app.compare_loaded`, :func:`losscli.network.run_model`): the CLI reads files
into arrays, the API takes them as they are.  Inputs may be numpy arrays, torch tensors,
pandas or polars Series / DataFrames, or nested lists of numbers; they are given in the loss's
input order (``losscli explain LOSS`` lists it) or by name::

    import losscli
    r = losscli.compute("huber", preds, targets, delta=0.5)
    r.value                      # float, exactly torch.nn.functional.huber_loss
    g = losscli.grad("cross-entropy", logits, labels, label_smoothing=0.1)
    g.gradients["preds"]         # ∂L/∂logits from torch autograd, a numpy array
    g.health.status              # 'ok' | 'vanishing' | 'exploding' | 'nonfinite'
    g.to_dict()                  # the JSON object `losscli grad --json` prints

Parameters are keyword arguments with their ``-p`` names (``delta=0.5``, ``weight=[1, 2, 3]``,
``from_logits=True``); they are checked as on the command line.  Bad input raises
:class:`losscli.InputError` and a bad call :class:`losscli.UsageError` (both
:class:`losscli.LossCliError`), with the message the CLI would print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.errors import InputError, UsageError
from losscli.options import HealthOptions


def _param_item(name: str, value: Any) -> str:
    """A Python value as the ``-p name=value`` text the parameter parser checks."""
    if value is None:
        text = "none"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple, np.ndarray)):
        text = ",".join(repr(float(v)) for v in np.asarray(value, dtype=np.float64).ravel())
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    return f"{name}={text}"


def as_array(value: Any, name: str, allow_nonfinite: bool = False) -> np.ndarray:
    """A numeric input as a float64 numpy array: torch tensors are detached and moved to the CPU,
    pandas/polars Series and DataFrames give their values (a DataFrame is rows x columns; one
    column gives a vector, as a one-column file does).  Empty data, and NaN/inf (nulls included)
    unless ``allow_nonfinite``, are refused as the CLI refuses them in a file."""
    module = type(value).__module__.split(".")[0]
    if value is None:
        raise InputError(f"{name} must be numbers (an array, tensor, Series or list), got None")
    if module == "torch":
        value = value.detach().cpu().numpy()
    elif module in ("pandas", "polars") and hasattr(value, "to_numpy"):
        frame = hasattr(value, "columns")
        value = value.to_numpy()
        if frame and value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]  # a one-column frame is one column of values, as a one-column file is
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be numbers (an array, tensor, Series or list), got {type(value).__name__}: {exc}"
        ) from None
    if arr.size == 0:
        raise InputError(f"{name} is empty: no values to compute a loss on")
    if not allow_nonfinite:
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            where = first[0] if len(first) == 1 else first
            raise InputError(
                f"{name} has a non-finite value {float(arr[first])!r} at index {where} ({int(bad.sum())} in all; "
                "a null becomes NaN); pass allow_nonfinite=True to compute with it"
            )
    return arr if arr.flags.writeable else arr.copy()  # polars/pandas may hand out read-only views


def _bind(
    names: Sequence[str],
    required: Sequence[str],
    arrays: Sequence[Any],
    named: Mapping[str, Any],
    what: str,
    allow_nonfinite: bool = False,
) -> dict[str, np.ndarray]:
    """Positional arrays in ``names`` order, then the named ones; every required input given once,
    and no name that is not an input."""
    if len(arrays) > len(names):
        raise UsageError(f"{what} takes {len(names)} input(s) ({', '.join(names)}), got {len(arrays)} arrays")
    unknown = [n for n in named if n not in names]
    if unknown:
        raise UsageError(
            f"{what} has no input or option {', '.join(map(repr, unknown))}; its inputs are {', '.join(names)}"
            + ("; parameters go inside each entry: 'huber(delta=0.5)'" if what == "compare" else "")
        )
    out = {n: as_array(a, n, allow_nonfinite) for n, a in zip(names, arrays)}
    for n, a in named.items():
        if n in out:
            raise UsageError(f"{what}: input {n} given twice (positionally and by name)")
        out[n] = as_array(a, n, allow_nonfinite)
    missing = [n for n in required if n not in out]
    if missing:
        raise UsageError(f"{what} needs input(s) {', '.join(missing)} (its inputs are {', '.join(names)})")
    return out


def _sources(bound: Mapping[str, Any]) -> dict[str, str]:
    """What error messages call each input (the CLI names the file)."""
    return {n: f"the {n} array" for n in bound}


def _split(target_text: str, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The resolved target and the keyword arguments that are inputs (the rest are parameters)."""
    from losscli.target import SingleLoss, resolve

    probe = resolve(target_text)
    inputs = {k: v for k, v in kwargs.items() if k in probe.input_names}
    params = {k: v for k, v in kwargs.items() if k not in inputs}
    if not params:
        return probe, inputs
    if not isinstance(probe, SingleLoss):
        raise UsageError(
            f"{', '.join(map(repr, params))}: parameters apply to a single loss; in an expression give them per "
            f"term ('0.5*huber(delta=2) + mse'); its inputs are {', '.join(probe.input_names)}"
        )
    unknown = [k for k in params if probe.spec.param(k) is None]
    if unknown:
        declared = ", ".join(p.name for p in probe.spec.params) or "none"
        raise UsageError(
            f"{probe.name} has no input or parameter {', '.join(map(repr, unknown))}; its inputs are "
            f"{', '.join(probe.input_names)}, its parameters {declared}"
        )
    return resolve(target_text, [_param_item(k, v) for k, v in params.items()]), inputs


def _loaded(
    target: Any, arrays: Sequence[Any], named: Mapping[str, Any], sample_weights: Any, allow_nonfinite: bool
) -> Any:
    from losscli.app import Loaded

    bound = _bind(target.input_names, target.required, arrays, named, target.name, allow_nonfinite)
    weights = None if sample_weights is None else as_array(sample_weights, "sample_weights")
    return Loaded(bound, _sources(bound), weights)


@dataclass
class LossResult:
    """What :func:`compute` and :func:`grad` return: the fields of the JSON contract.

    ``value``: the reduced loss (a float; an array for ``reduction='none'``).  ``elements``: the
    unreduced loss.  ``gradients``: ∂L/∂input for every differentiable input (``grad`` only).
    ``health``: the gradient verdict (:class:`losscli.diagnose.Health`: ``.status``, ``.reason()``,
    ``.findings``; ``grad`` only).  ``extras``: figures a loss reports besides its value."""

    loss: str
    value: Any
    reduction: str
    dtype: str
    n: int
    params: dict[str, Any]
    elements: np.ndarray
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    health: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _result: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The object ``losscli compute --json`` (or ``grad --json``) prints for the same data."""
        from losscli.render import result_dict

        return result_dict(self._result, self.health)

    def __float__(self) -> float:
        return float(self.value)


def _result(target: Any, result: Any, health: Any = None) -> LossResult:
    return _from_evaluation(target.name, result.evaluation, health, notes=list(result.notes), result=result)


def _from_evaluation(
    name: str, ev: Any, health: Any = None, *, notes: list[str] | None = None, result: Any = None
) -> LossResult:
    return LossResult(
        loss=name,
        value=ev.value,
        reduction=ev.reduction,
        dtype=ev.dtype,
        n=ev.n,
        params=dict(ev.params),
        elements=ev.elements,
        gradients=dict(ev.gradients),
        health=health,
        extras=dict(ev.extras),
        notes=notes or [],
        _result=result,
    )


def compute(
    loss: str,
    *arrays: Any,
    reduction: str = "mean",
    dtype: str = "float64",
    sample_weights: Any = None,
    allow_nonfinite: bool = False,
    **kwargs: Any,
) -> LossResult:
    """The value of ``loss`` (a name, alias or expression such as ``"0.7*bce+0.3*dice"``) on the
    arrays, computed as ``losscli compute`` does (numpy; torch is not imported).

    ``compute("mse", preds, targets)``; keyword arguments are inputs by name (``targets=y``) or
    the loss's parameters (``delta=0.5``)."""
    from losscli.app import compute_loaded

    target, named = _split(loss, kwargs)
    loaded = _loaded(target, arrays, named, sample_weights, allow_nonfinite)
    done = compute_loaded(target, loaded, reduction=reduction, dtype=dtype)
    return _result(target, done.result)


def grad(
    loss: str,
    *arrays: Any,
    reduction: str = "mean",
    dtype: str = "float64",
    sample_weights: Any = None,
    allow_nonfinite: bool = False,
    vanishing: float = 1e-7,
    exploding: float = 1e4,
    **kwargs: Any,
) -> LossResult:
    """Value, torch-autograd gradient of every differentiable input, and their health, as
    ``losscli grad`` computes them (``vanishing``/``exploding``: the per-sample RMS bounds of the
    verdict, as ``--vanishing``/``--exploding``)."""
    from losscli.app import grad_loaded

    target, named = _split(loss, kwargs)
    done = grad_loaded(
        target,
        _loaded(target, arrays, named, sample_weights, allow_nonfinite),
        reduction=reduction,
        dtype=dtype,
        health=HealthOptions(vanishing=vanishing, exploding=exploding),
    )
    return _result(target, done.result, done.health)


@dataclass
class CompareResult:
    """One entry of :func:`compare`: its expression, its :class:`LossResult`, and with gradients
    the gradient norm and the share of it the largest residuals take (``compare --grad``)."""

    expr: str
    result: LossResult
    grad_norm: float | None = None
    outlier_share: float | None = None
    _row: Any = field(default=None, repr=False)

    @property
    def value(self) -> Any:
        return self.result.value

    def to_dict(self) -> dict[str, Any]:
        """This entry's object in ``losscli compare --json``'s list."""
        from losscli.render import compare_dicts

        return compare_dicts([self._row])[0]


def compare(
    losses: str | Sequence[str],
    *arrays: Any,
    with_grad: bool = False,
    reduction: str = "mean",
    dtype: str = "float64",
    sample_weights: Any = None,
    allow_nonfinite: bool = False,
    **named: Any,
) -> list[CompareResult]:
    """Several losses or expressions on the same arrays, as ``losscli compare`` (a comma list or
    a list of strings; parameters go inside each entry: ``"huber(delta=0.5)"``)."""
    from losscli.app import Loaded, compare_loaded, compare_needs

    text = losses if isinstance(losses, str) else ",".join(losses)
    needs = compare_needs(text, reduction)
    bound = _bind(needs.input_names, needs.required, arrays, named, "compare", allow_nonfinite)
    weights = None if sample_weights is None else as_array(sample_weights, "sample_weights")
    done = compare_loaded(
        text, Loaded(bound, _sources(bound), weights), with_grad=with_grad, reduction=reduction, dtype=dtype
    )
    out = []
    for row in done.rows:
        ev = row.result.as_evaluation() if hasattr(row.result, "as_evaluation") else row.result
        result = _from_evaluation(row.expr, ev, row.health)
        out.append(CompareResult(row.expr, result, row.grad_norm, row.outlier_share, row))
    return out


def _model_options(thresholds: Mapping[str, float] | None, lr: float | None) -> Any:
    from dataclasses import fields

    from losscli.network import ModelHealthOptions

    known = [f.name for f in fields(ModelHealthOptions) if f.name != "lr"]
    unknown = [k for k in (thresholds or {}) if k not in known]
    if unknown:
        raise UsageError(f"thresholds: no threshold {', '.join(map(repr, unknown))}; they are {', '.join(known)}")
    return ModelHealthOptions(**dict(thresholds or {}), lr=lr)


@dataclass
class ModelResult:
    """What :func:`inspect_model` returns: the loss ``value``, per-parameter and per-layer
    figures (:class:`losscli.network.Stat`: ``name``, ``grad_norm``, ``gain``, ``status``, ``why``...),
    ``gradients`` by parameter name, the ``global_norm`` (what ``clip_grad_norm_`` returns) and the
    ``health`` verdict (``.status``, ``.layers``, ``.nonfinite_origin``)."""

    value: float
    parameters: list[Any]
    layers: list[Any]
    gradients: dict[str, np.ndarray]
    global_norm: float
    health: Any
    _run: Any = field(default=None, repr=False)
    _binding: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The object ``losscli grad LOSS --model FILE --json`` prints."""
        from losscli.render import model_grad_dict

        return model_grad_dict(self._run, self._binding)


def inspect_model(
    model: str,
    *arrays: Any,
    loss: str,
    feeds: Mapping[str, Sequence[Any]] | None = None,
    trust_model: bool = False,
    reduction: str = "mean",
    dtype: str | None = None,
    lr: float | None = None,
    thresholds: Mapping[str, float] | None = None,
    allow_nonfinite: bool = False,
    **kwargs: Any,
) -> ModelResult:
    """The gradients of a network's parameters, layer by layer, after one ``loss.backward()``,
    as ``losscli grad LOSS --model FILE`` (the model a ``torch.export`` ``.pt2``, loaded safely;
    TorchScript only with ``trust_model=True``; or the name of a bundled example network, as
    ``--model sigmoid_mlp``).

    Without ``feeds`` the first arrays feed the model's inputs and its output is the loss's first
    input; the remaining arrays (or keyword inputs) are the loss's other inputs.  With ``feeds``
    (``{"pos": (users, liked), "neg": (users, unliked)}``) each entry is one application of the
    model whose output becomes that loss input; gradients accumulate as in eager torch.
    ``lr`` gives each parameter's update ratio; ``thresholds`` the verdicts' bounds by their option
    names (``{"vanishing_ratio": 1e-4, "dead_fraction": 0.8}``)."""
    from losscli.app import ModelBinding
    from losscli.netload import load_model
    from losscli.network import Application, run_model
    from losscli.target import SingleLoss

    target, named = _split(loss, kwargs)
    if not isinstance(target, SingleLoss):
        raise UsageError("inspect_model takes a single loss, not an expression")
    if reduction == "none":
        raise UsageError("inspect_model needs one loss value to differentiate: use reduction 'mean' or 'sum'")
    spec = target.spec
    from losscli.examples import MODEL_EXAMPLES

    model = str(model)
    if model in MODEL_EXAMPLES:  # a bundled example network, as `--model NAME`
        model = MODEL_EXAMPLES[model].model_path(model)
    net = load_model(model, trust=trust_model)
    k = len(net.inputs)
    rest_arrays = list(arrays)
    plan: list[tuple[str, list[Any]]] = []
    if feeds:
        for name, fed in feeds.items():
            if name not in spec.input_names:
                raise UsageError(
                    f"feeds: {spec.name} has no input {name}; its inputs are {', '.join(spec.input_names)}"
                )
            plan.append((name, list(fed)))
    else:
        if len(rest_arrays) < k:
            raise UsageError(
                f"the model takes {k} input(s) ({net.describe_inputs()}) but {len(rest_arrays)} were given"
            )
        plan.append((spec.input_names[0], rest_arrays[:k]))
        rest_arrays = rest_arrays[k:]
    names = [n for n, _s, _d in net.inputs] or [f"input{i}" for i in range(k)]
    applications = []
    for name, fed in plan:
        if len(fed) != k:
            raise UsageError(f"feeds {name}: the model takes {k} input(s) ({net.describe_inputs()}), got {len(fed)}")
        applications.append(
            Application(
                name, [as_array(a, n, allow_nonfinite) for a, n in zip(fed, names)], [f"{name}[{n}]" for n in names]
            )
        )
    fed_names = {name for name, _ in plan}
    rest = [n for n in spec.input_names if n not in fed_names]
    required = [i.name for i in spec.inputs if i.required and i.name not in fed_names]
    bound = _bind(rest, required, rest_arrays, named, spec.name, allow_nonfinite)
    sources = _sources(bound) | {name: f"{model} applied to {name}" for name in fed_names}
    run = run_model(
        net,
        spec,
        target.params,
        applications,
        bound,
        sources,
        reduction=reduction,
        dtype=dtype,
        options=_model_options(thresholds, lr),
    )
    binding = ModelBinding(net, applications, bound, sources)
    return ModelResult(
        value=float(run.evaluation.value),
        parameters=run.parameters,
        layers=run.layers,
        gradients=dict(run.gradients),
        global_norm=run.global_norm,
        health=run.health,
        _run=run,
        _binding=binding,
    )
