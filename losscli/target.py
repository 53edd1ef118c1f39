"""What the user asked to evaluate: one loss (with ``-p`` parameters) or a loss expression.

``resolve`` turns the LOSS argument into a :data:`Target` (a :class:`SingleLoss` or a
:class:`LossExpression`, one interface); ``run`` evaluates it
through the one compute core (a single loss directly, an expression term by term via
``composite``) and returns a :class:`Result` that ``render`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from losscli.core import Evaluation, evaluate
from losscli.errors import UsageError
from losscli.examples import Example
from losscli.params import parse_params
from losscli.spec import LossSpec

if TYPE_CHECKING:
    from losscli.expr import Expression

PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass
class Result:
    """``evaluation`` is what render/diagnose/explain read (for an expression, the combined
    stand-in); ``composite`` is the expression's evaluation with its terms and shares."""

    evaluation: Evaluation
    composite: Any = None
    notes: list[str] = field(default_factory=list)

    def evaluations(self) -> list[Evaluation]:
        """The single loss's evaluation, or each term's."""
        return list(self.composite.evaluations) if self.composite is not None else [self.evaluation]


@dataclass
class SingleLoss:
    """One registered loss with its parameters (``-p`` items and those written in the text)."""

    text: str
    spec: LossSpec
    params: dict[str, Any]
    given: frozenset[str] = frozenset()  # the parameters the user set (-p or in the text)

    @property
    def name(self) -> str:
        return self.spec.name

    def with_example_params(self, items: Sequence[str]) -> list[str]:
        """Apply a bundled example's ``-p`` items that the user did not set; the ones applied."""
        applied = [item for item in items if item.partition("=")[0].strip().replace("-", "_") not in self.given]
        self.params = parse_params(self.spec, applied, base=self.params)
        return applied

    @property
    def input_names(self) -> list[str]:
        return self.spec.input_names

    @property
    def required(self) -> list[str]:
        return [i.name for i in self.spec.inputs if i.required]

    @property
    def example(self) -> Example | None:
        """The bundled data this loss runs on when given no files."""
        return self.spec.teaching.example

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
        progress: Any = None,
    ) -> Result:
        """Evaluate on ``arrays`` (keyed by ``input_names``) through the core."""
        ev = evaluate(
            self.spec,
            arrays,
            self.params,
            reduction=reduction,
            dtype=dtype,
            backend=backend,
            sources=sources,
            sample_weights=sample_weights,
            keep_graph=keep_graph,
            progress=progress,
        )
        return Result(ev)


@dataclass
class LossExpression:
    """A weighted sum of losses (``0.7*bce + 0.3*dice``), each term run by the core."""

    text: str
    expression: Expression

    @property
    def name(self) -> str:
        return self.text

    @property
    def input_names(self) -> list[str]:
        return self.expression.input_names()

    @property
    def required(self) -> list[str]:
        return self.expression.required_inputs()

    @property
    def example(self) -> Example | None:
        """Expressions have no bundled data."""
        return None

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
        progress: Any = None,
    ) -> Result:
        """Evaluate every term on ``arrays`` and combine them (see :mod:`losscli.composite`);
        ``progress`` is not reported for expressions."""
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


Target = SingleLoss | LossExpression


def resolve(text: str, param_items: Sequence[str] = ()) -> Target:
    """A single loss when ``text`` is one loss (``huber`` or ``huber(delta=2)``) with no bound
    inputs, else an expression; ``-p`` items apply to a single loss only.  A bare registered name
    skips the expression parser (and its import): what most commands are given."""
    if PLAIN_NAME.fullmatch(text):
        from losscli import losses

        try:
            spec = losses.get(text)
        except UsageError:
            spec = None  # the parser says what is wrong, pointing at the character
        if spec is not None:
            params = parse_params(spec, param_items)
            given = {item.partition("=")[0].strip().replace("-", "_") for item in param_items}
            return SingleLoss(text, spec, params, frozenset(given))
    from losscli.expr import parse

    expression = parse(text)
    if expression.is_plain and not expression.terms[0].bindings:
        term = expression.terms[0]
        params = parse_params(term.spec, param_items, base=term.params)
        defaults = {p.name: p.default for p in term.spec.params}
        given = {item.partition("=")[0].strip().replace("-", "_") for item in param_items}
        given |= {k for k, v in term.params.items() if k in defaults and v != defaults[k]}
        return SingleLoss(text, term.spec, params, frozenset(given))
    if param_items:
        raise UsageError(
            "-p applies to a single loss; in an expression give parameters per term: '0.5*huber(delta=2) + mse'"
        )
    return LossExpression(text, expression)
