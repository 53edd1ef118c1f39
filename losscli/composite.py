"""Evaluate a loss expression (see :mod:`losscli.expr`) through the one compute core.

An expression is folded to Σ cᵢ·termᵢ, so every term is run on its own by
:func:`losscli.core.evaluate` (numpy for values, torch for gradients) and combined:

* value     = Σ cᵢ · valueᵢ;
* gradients = Σ cᵢ · ∇termᵢ, per data name, summed over the terms that read that data name
  as a differentiable input (a term that reads it as a non-differentiable input, e.g. as
  targets, adds nothing);
* shares    = how much of the gradient each term contributes: its ``grad_norm`` is the L2
  norm of cᵢ·∇termᵢ over all data inputs together, and ``fraction`` = grad_norm / Σⱼ
  grad_normⱼ (so fractions sum to 1; None when that sum is 0 or not finite).  Terms can
  point in opposite directions, so a fraction is a share of the gradient *effort*, not of
  the total gradient's norm.

This module never imports torch itself; ``core.evaluate`` does, on the torch backend only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.core import Evaluation, evaluate
from losscli.diagnose import stable_norm
from losscli.errors import LossCliError, UsageError
from losscli.expr import Expression, parse
from losscli.spec import Input, LossSpec, Terms, define

OUTLIER_FRACTION = 0.01


@dataclass
class CompositeEvaluation:
    """The result of :func:`evaluate_expression`.

    ``value``: Σ weight·term value (an array for ``reduction='none'``).  ``terms``:
    ``[{expr, weight, value}]`` in expression order (plus ``extras`` for a term whose loss
    reports some).  ``gradients``: data name -> array
    (torch backend only).  ``shares``: ``[{expr, weight, grad_norm, fraction}]`` (torch
    backend only; see the module docstring).  ``n`` and ``scale``: those of the first data
    term (the first term that is not a regulariser, else the first term), for display.
    ``per_sample``: data name -> Σ weight·scale·gradient, each term scaled by its own
    per-sample factor (N for a mean, 1 for a regulariser), which the health verdict judges.
    ``evaluations``: each term's own :class:`~losscli.core.Evaluation` (unweighted).
    """

    expression: Expression
    reduction: str
    dtype: str
    backend: str
    value: Any
    terms: list[dict[str, Any]]
    evaluations: list[Evaluation]
    n: int
    scale: float
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    per_sample: dict[str, np.ndarray] = field(default_factory=dict)
    shares: list[dict[str, Any]] = field(default_factory=list)

    @property
    def params(self) -> dict[str, dict[str, Any]]:
        """{term expr: every parameter of that term} for terms that have parameters."""
        return {t.expr: dict(t.params) for t in self.expression.terms if t.params}

    def as_evaluation(self) -> Evaluation:
        """A :class:`~losscli.core.Evaluation` of the whole expression, for ``diagnose`` and
        ``render``: its spec is a stand-in named after the expression (family ``expression``,
        inputs = the data names, no parameters), ``gradients`` the combined ones, ``n`` and
        ``scale`` as above, ``params`` empty."""
        elements = self.value if self.reduction == "none" else np.asarray([self.value], dtype=np.float64)
        return Evaluation(
            spec=_stand_in_spec(self),
            params={},
            reduction=self.reduction,
            dtype=self.dtype,
            value=self.value,
            elements=np.asarray(elements),
            n=self.n,
            scale=self.scale,
            gradients=dict(self.gradients),
            per_sample=dict(self.per_sample) if self.per_sample else None,
            backend=self.backend,
        )


def _no_fn(xp: Any, inputs: Any, params: Any) -> Terms:
    raise UsageError("an expression's stand-in spec cannot be evaluated directly; use evaluate_expression")


def _stand_in_spec(cev: CompositeEvaluation) -> LossSpec:
    ex = cev.expression
    return define(
        name=ex.text,
        family="expression",
        summary=f"weighted sum of {len(ex.terms)} term(s): {ex.normalised}",
        inputs=tuple(
            Input(d.name, "", "used by " + ", ".join(d.used_by), d.differentiable, d.required) for d in ex.inputs()
        ),
        params=(),
        formula=ex.normalised,
        derivative="∇L = Σ cᵢ ∇termᵢ",
        convention=f"weighted sum of {len(ex.terms)} term(s)",
        differs="",
        when="",
        fn=_no_fn,
        saturation=_combined_saturation(ex),
    )


def _combined_saturation(ex: Expression) -> Any:
    """A ``saturation`` hook over data names: each term's own hook on its renamed inputs, OR-ed."""

    def saturation(inputs: Mapping[str, Any], params: Any, dtype: str, eps: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for term in ex.terms:
            hook = term.spec.teaching.saturation
            if hook is None:
                continue
            names = term.data_names()
            own = {inp: inputs[data] for inp, data in names.items() if data in inputs}
            for inp, mask in (hook(own, term.params, dtype, eps) or {}).items():
                data = names.get(inp, inp)
                out[data] = np.asarray(mask) | out[data] if data in out else np.asarray(mask)
        return out

    return saturation


def _term_inputs(term: Any, inputs: Mapping[str, Any], sources: Mapping[str, str]) -> tuple[dict, dict]:
    names = term.data_names()
    arrays = {inp: inputs[data] for inp, data in names.items() if data in inputs}
    term_sources = {inp: sources.get(data, data) for inp, data in names.items()}
    return arrays, term_sources


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape)) if shape else "scalar"


def evaluate_expression(
    expression: Expression,
    inputs: Mapping[str, np.ndarray],
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    backend: str = "numpy",
    sources: Mapping[str, str] | None = None,
    sample_weights: np.ndarray | None = None,
) -> CompositeEvaluation:
    """Run every term of ``expression`` through ``core.evaluate`` and combine them.

    ``inputs`` maps data names (see ``expression.input_names()``) to numpy arrays;
    ``sources`` maps data names to the file they came from (for error messages).  Each
    term gets its inputs under the loss's declared names (``preds=box_pred`` reads the
    data ``box_pred`` as ``preds``).  ``reduction`` applies to every term; ``none`` needs
    every term's elements to have the same shape.  Missing data: UsageError naming the
    term.  Gradients and shares: torch backend only.  ``sample_weights`` apply to every
    data term (not to the regularisation penalties, which have no samples).
    """
    sources = dict(sources or {})
    expression.check_inputs(inputs)
    evaluations: list[Evaluation] = []
    for term in expression.terms:
        weights = sample_weights if term.spec.rule.has_samples else None
        ev, _ = _evaluate_term(term, inputs, sources, reduction, dtype, backend, weights)
        evaluations.append(ev)
    return combine(expression, evaluations, reduction=reduction, dtype=dtype, backend=backend)


def combine(
    expression: Expression, evaluations: list[Evaluation], *, reduction: str, dtype: str, backend: str
) -> CompositeEvaluation:
    """The expression from its terms' evaluations (one each, in order): the weighted value, and on
    torch the combined gradients and each term's share."""
    pairs = list(zip(expression.terms, evaluations))

    if reduction == "none":
        shapes = {np.shape(ev.value) for ev in evaluations}
        if len(shapes) > 1:
            listing = ", ".join(f"{t.expr} gives {_fmt_shape(np.shape(ev.value))}" for t, ev in pairs)
            raise UsageError(f"--reduction none needs every term to have the same element shape: {listing}")
        value: Any = sum(t.weight * np.asarray(ev.value) for t, ev in pairs)
    else:
        value = float(sum(t.weight * ev.value for t, ev in pairs))

    gradients: dict[str, np.ndarray] = {}
    per_sample: dict[str, np.ndarray] = {}
    shares: list[dict[str, Any]] = []
    if backend == "torch":
        norms = []
        for term, ev in pairs:
            parts = []
            for inp, grad in ev.gradients.items():
                part = term.weight * grad
                data = term.data_name(inp)
                gradients[data] = gradients[data] + part if data in gradients else part
                per_sample[data] = per_sample.get(data, 0.0) + part * ev.scale
                parts.append(part.ravel())
            norms.append(stable_norm(np.concatenate(parts)) if parts else 0.0)
        total = math.fsum(norms) if all(math.isfinite(x) for x in norms) else math.nan
        for (term, _), norm in zip(pairs, norms):
            fraction = norm / total if math.isfinite(total) and total > 0 else None
            shares.append({"expr": term.expr, "weight": term.weight, "grad_norm": norm, "fraction": fraction})

    lead = next((ev for t, ev in pairs if t.spec.rule.has_samples), evaluations[0])
    return CompositeEvaluation(
        expression=expression,
        reduction=reduction,
        dtype=dtype,
        backend=backend,
        value=value,
        terms=[
            {"expr": t.expr, "weight": t.weight, "value": ev.value, **({"extras": ev.extras} if ev.extras else {})}
            for t, ev in pairs
        ],
        evaluations=evaluations,
        n=lead.n,
        scale=lead.scale,
        gradients=gradients,
        per_sample=per_sample,
        shares=shares,
    )


# ----------------------------------------------------------------------------- compare


def outlier_rows(inputs: Mapping[str, np.ndarray], fraction: float = OUTLIER_FRACTION) -> np.ndarray | None:
    """Indices of the ⌈fraction·N⌉ rows (first axis; at least 1) with the largest residual
    ‖preds_row - targets_row‖₂; None unless ``preds`` and ``targets`` exist with one shape."""
    if "preds" not in inputs or "targets" not in inputs:
        return None
    p = np.asarray(inputs["preds"], dtype=np.float64)
    t = np.asarray(inputs["targets"], dtype=np.float64)
    if p.shape != t.shape or p.ndim == 0 or p.shape[0] == 0:
        return None
    r = (p - t).reshape(p.shape[0], -1)
    size = np.sqrt(np.sum(r * r, axis=1))
    k = max(1, math.ceil(fraction * p.shape[0]))
    return np.argsort(-size, kind="stable")[:k]


def outlier_share(gradient: np.ndarray, rows: np.ndarray) -> float | None:
    """Σ|g| over ``rows`` / Σ|g| over all rows (the gradient w.r.t. preds); None if Σ|g| is 0 or not finite."""
    g = np.abs(np.asarray(gradient, dtype=np.float64)).reshape(gradient.shape[0], -1)
    total = float(np.sum(g))
    if not math.isfinite(total) or total == 0:
        return None
    return float(np.sum(g[rows])) / total


def compare(
    names_or_exprs: Sequence[str],
    inputs: Mapping[str, np.ndarray],
    *,
    grad: bool = False,
    reduction: str = "mean",
    dtype: str = "float64",
    sources: Mapping[str, str] | None = None,
    sample_weights: np.ndarray | None = None,
    outlier_fraction: float = OUTLIER_FRACTION,
    **health_options: Any,
) -> list[CompareRow]:
    """Evaluate each loss name or expression on the same ``inputs``; one :class:`CompareRow` each.

    ``render.compare_dicts`` prints each as exactly what ``compute`` (or, with ``grad``, ``grad``)
    prints for that loss or expression, plus ``expr`` (the entry as given, whitespace collapsed:
    it tells ``huber(delta=0.5)`` from ``huber(delta=2)``) and, with ``grad``:

    * ``grad_norm``: the L2 norm of the whole gradient (all data inputs);
    * ``outlier_share``: Σ|∂L/∂preds| over the ⌈``outlier_fraction``·N⌉ rows (rows = first
      axis, at least one) with the largest residual ‖preds - targets‖ divided by Σ|∂L/∂preds|
      over all rows, i.e. the share of the absolute gradient mass those rows get.  A loss
      that treats every row alike gives about ``outlier_fraction`` (MAE gives exactly it);
      MSE with 1% outliers gives most of the mass to them.  Only for regression losses
      (a residual means nothing for logits against labels); None otherwise, and when the
      inputs have no preds/targets of one shape or no preds gradient;
    * ``outlier_rows``: how many rows that is (None likewise).

    ``health_options`` go to :func:`losscli.diagnose.diagnose` (vanishing, exploding, ...).
    All expressions are parsed before any is evaluated, so a typo fails fast.
    """

    expressions = [parse(text) for text in names_or_exprs]
    rows_idx = outlier_rows(inputs, outlier_fraction) if grad else None
    backend = "torch" if grad else "numpy"
    out: list[CompareRow] = []
    for ex in expressions:
        try:
            out.append(_compare_one(ex, inputs, grad, reduction, dtype, backend, sources, sample_weights, rows_idx,
                                    health_options))  # fmt: skip
        except LossCliError as exc:  # which entry the data did not suit
            if len(expressions) == 1:
                raise
            raise type(exc)(f"{exc} (compare entry {ex.text})") from None
    return out


def _compare_one(
    ex: Expression,
    inputs: Mapping[str, np.ndarray],
    grad: bool,
    reduction: str,
    dtype: str,
    backend: str,
    sources: Mapping[str, str] | None,
    sample_weights: np.ndarray | None,
    rows_idx: np.ndarray | None,
    health_options: Mapping[str, Any],
) -> CompareRow:
    """One entry of :func:`compare`."""
    from losscli.diagnose import diagnose

    result: Evaluation | CompositeEvaluation
    health = None
    if is_single(ex):
        result, arrays = _evaluate_term(
            ex.terms[0], inputs, dict(sources or {}), reduction, dtype, backend, sample_weights
        )
        if grad:
            health = diagnose(result, arrays, **health_options)
    else:
        result = evaluate_expression(
            ex,
            inputs,
            reduction=reduction,
            dtype=dtype,
            backend=backend,
            sources=sources,
            sample_weights=sample_weights,
        )
        if grad:
            data = {name: inputs[name] for name in ex.input_names() if name in inputs}
            health = diagnose(result.as_evaluation(), data, **health_options)
    row = CompareRow(ex.text, result, health)
    if grad:
        gradients = result.gradients
        flat = [np.asarray(g, dtype=np.float64).ravel() for g in gradients.values()]
        regression = all(t.spec.teaching.outliers or not t.spec.rule.has_samples for t in ex.terms)
        if rows_idx is not None and "preds" in gradients and regression:
            row.outlier_share = outlier_share(gradients["preds"], rows_idx)
            row.outlier_rows = int(rows_idx.size) if row.outlier_share is not None else None
        row.grad_norm = stable_norm(np.concatenate(flat)) if flat else 0.0
    return row


@dataclass
class CompareRow:
    """One entry of :func:`compare`: ``expr`` as given (whitespace collapsed), its ``result``
    (an :class:`~losscli.core.Evaluation` for a single loss, a :class:`CompositeEvaluation` for
    an expression), and with gradients its ``health``, ``grad_norm``, ``outlier_share`` and
    ``outlier_rows`` (None where they do not apply)."""

    expr: str
    result: Evaluation | CompositeEvaluation
    health: Any = None
    grad_norm: float | None = None
    outlier_share: float | None = None
    outlier_rows: int | None = None


def _evaluate_term(
    term: Any,
    inputs: Mapping[str, np.ndarray],
    sources: Mapping[str, str],
    reduction: str,
    dtype: str,
    backend: str,
    sample_weights: np.ndarray | None,
) -> tuple[Evaluation, dict[str, np.ndarray]]:
    """One term of an expression through the core, on the data its inputs are bound to."""
    arrays, term_sources = _term_inputs(term, inputs, sources)
    ev = evaluate(
        term.spec,
        arrays,
        term.params,
        reduction=reduction,
        dtype=dtype,
        backend=backend,
        sources=term_sources,
        sample_weights=sample_weights,
    )
    return ev, arrays


def is_single(ex: Expression) -> bool:
    """One term, weight 1, no bound inputs: the loss itself, run directly by the core."""
    return ex.is_plain and not ex.terms[0].bindings


# ----------------------------------------------------------------------------- streamed data


def streams(ex: Expression, reduction: str) -> bool:
    """Whether every term of ``ex`` may be evaluated over data read a chunk of rows at a time."""
    from losscli.core import streams as term_streams

    return all(term_streams(t.spec, reduction) for t in ex.terms)


def stream_values(
    expressions: Sequence[Expression],
    chunks: Any,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    sources: Mapping[str, str] | None = None,
    progress: Any = None,
    total_rows: int | None = None,
) -> list[list[Evaluation]]:
    """Every term of every expression over the same chunks ``(first row, {data name: rows})`` in one
    pass (one :class:`~losscli.core.ChunkReducer` per term); each term's :class:`Evaluation` (values
    only), by expression.  An error names the compare entry when there are several."""
    from losscli.core import ChunkReducer, first_rows_checked, streamed_evaluation

    sources = dict(sources or {})
    reducers = []
    for ex in expressions:
        row = []
        for term in ex.terms:
            _, term_sources = _term_inputs(term, {}, sources)
            if "sample_weights" in sources:
                term_sources["sample_weights"] = sources["sample_weights"]
            row.append(ChunkReducer(term.spec, term.params, reduction=reduction, dtype=dtype, sources=term_sources))
        reducers.append(row)

    def entry(ex: Expression, exc: LossCliError) -> LossCliError:
        if len(expressions) == 1:
            return exc
        return type(exc)(f"{exc} (compare entry {ex.text})")

    for start, chunk in first_rows_checked(chunks):
        weights = chunk.get("sample_weights")
        rows = 0
        for ex, row in zip(expressions, reducers):
            for term, reducer in zip(ex.terms, row):
                arrays, _ = _term_inputs(term, chunk, sources)
                if weights is not None and term.spec.rule.has_samples:
                    arrays["sample_weights"] = weights
                try:
                    rows = reducer.add(start, arrays)
                except LossCliError as exc:
                    raise entry(ex, exc) from None
        if progress is not None:
            progress(start + rows, total_rows)
    out = []
    for ex, row in zip(expressions, reducers):
        try:
            out.append([
                streamed_evaluation(t.spec, r.done(), reduction=reduction, dtype=dtype) for t, r in zip(ex.terms, row)
            ])  # fmt: skip
        except LossCliError as exc:
            raise entry(ex, exc) from None
    return out


def streamed_result(
    ex: Expression, evaluations: list[Evaluation], *, reduction: str, dtype: str
) -> Evaluation | CompositeEvaluation:
    """A single loss's own evaluation, or the expression combined from its terms' (values only)."""
    if is_single(ex):
        return evaluations[0]
    return combine(ex, evaluations, reduction=reduction, dtype=dtype, backend="numpy")
