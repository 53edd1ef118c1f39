"""What the user asked to evaluate: one loss (with ``-p`` parameters) or a loss expression.

``resolve`` turns the LOSS argument into a :class:`Target`; ``Target.run`` evaluates it
through the one compute core (a single loss directly, an expression term by term via
``composite``) and returns a :class:`Result` that ``render`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from losscli.core import Evaluation, evaluate
from losscli.errors import UsageError
from losscli.expr import Expression, parse
from losscli.params import parse_params
from losscli.spec import LossSpec


@dataclass
class Result:
    """``evaluation`` is what render/diagnose/explain read (for an expression, the combined
    stand-in); ``composite`` is the expression's evaluation with its terms and shares."""

    evaluation: Evaluation
    composite: Any = None


@dataclass
class Target:
    """A single loss (``spec`` and ``params``) or an ``expression`` of several."""

    text: str
    spec: LossSpec | None = None
    params: dict[str, Any] | None = None
    expression: Expression | None = None

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else self.text

    @property
    def input_names(self) -> list[str]:
        return self.spec.input_names if self.spec is not None else self.expression.input_names()

    @property
    def required(self) -> list[str]:
        if self.spec is not None:
            return [i.name for i in self.spec.inputs if i.required]
        return self.expression.required_inputs()

    def run(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        backend: str,
        reduction: str = "mean",
        dtype: str = "float64",
        sources: Mapping[str, str] | None = None,
        sample_weights: np.ndarray | None = None,
        keep_graph: bool = False,
    ) -> Result:
        """Evaluate on ``arrays`` (keyed by ``input_names``)."""
        if self.spec is not None:
            return Result(
                evaluate(
                    self.spec,
                    arrays,
                    self.params,
                    reduction=reduction,
                    dtype=dtype,
                    backend=backend,
                    sources=sources,
                    sample_weights=sample_weights,
                    keep_graph=keep_graph,
                )
            )
        if keep_graph:
            raise UsageError("--explain takes a single loss, not an expression")
        from losscli.composite import evaluate_expression

        cev = evaluate_expression(
            self.expression,
            arrays,
            reduction=reduction,
            dtype=dtype,
            backend=backend,
            sources=sources,
            sample_weights=sample_weights,
        )
        return Result(cev.as_evaluation(), cev)


def resolve(text: str, param_items: Sequence[str] = ()) -> Target:
    """A single loss when ``text`` is one loss (``huber`` or ``huber(delta=2)``) with no bound
    inputs, else an expression; ``-p`` items apply to a single loss only."""
    expression = parse(text)
    if expression.is_plain and not expression.terms[0].bindings:
        term = expression.terms[0]
        return Target(text, spec=term.spec, params=parse_params(term.spec, param_items, base=term.params))
    if param_items:
        raise UsageError(
            "-p applies to a single loss; in an expression give parameters per term: '0.5*huber(delta=2) + mse'"
        )
    return Target(text, expression=expression)
