"""One gradient element worked by hand for ``grad --explain``: forward values and local
derivatives along the chain rule, compared with what autograd put in ``.grad``.

Each loss names its rule on its spec (``spec.teaching.chain``), in its family module:

* :class:`Elementwise`: the loss ℓ(p, y) written once as scalar maths over
  :class:`losscli.scalar.Scalar`; the forward steps, the local derivatives and their product
  come from that one definition, and the reduction rule adds its own outer step (1/N, or
  RMSE's 1/(2√M)).  Plain :mod:`math`, independent of the array-API code, so agreement with
  autograd is a real check.
* :class:`RowWise`: a rule over one row with the classes on the last axis (cross-entropy),
  ``rule(row_preds, row_targets, column, params) -> (forward, local)``.
* :class:`Custom`: any other loss, ``rule(ev, inputs, name, index) -> (forward, local[,
  combine])`` with the outer ∂L/∂ℓ included, or None when it has no derivation for that input.

``worked_element`` returns a :class:`Chain` whose ``product`` must equal ``.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli import scalar
from losscli.scalar import Scalar

Step = tuple[str, str, float]  # (symbol, formula, value)
Index = tuple[int, ...]
Work = tuple[list[tuple[str, Any]], list[Step]] | tuple[list[tuple[str, Any]], list[Step], str]


@dataclass
class Chain:
    """Forward values and local derivatives for one element of one input.

    ``combine``: ``product`` (one path: the local derivatives multiplied), ``sum`` (the
    contributions of several paths added, MMD), or ``backprop`` (the backward pass node by
    node; ``gradient`` holds its result)."""

    input: str
    index: Index
    forward: list[tuple[str, Any]] = field(default_factory=list)
    local: list[Step] = field(default_factory=list)
    combine: str = "product"
    gradient: float | None = None

    @property
    def product(self) -> float:
        """The gradient the hand derivation gives."""
        if self.combine == "backprop" and self.gradient is not None:
            return self.gradient
        if self.combine == "sum":
            return math.fsum(v for _, _, v in self.local)
        out = 1.0
        for _, _, v in self.local:
            out *= v
        return out


# ------------------------------------------------------------------ float helpers the rules share


def sigmoid_f(x: float) -> float:
    """σ(x) without overflow."""
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def softplus_f(x: float) -> float:
    """log(1 + eˣ) without overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def softmax_f(z: np.ndarray) -> np.ndarray:
    """softmax of one row."""
    e = np.exp(z - z.max())
    return e / e.sum()


def rows_of(a: np.ndarray) -> np.ndarray:
    """A 1-D input as N rows of one column; more dimensions flattened after the first."""
    return a.reshape(-1, 1) if a.ndim == 1 else a.reshape(a.shape[0], -1)


def outer_step(ev: Any, count: float) -> tuple[str, float]:
    """∂L/∂ℓ of a mean over ``count`` terms (1 for a sum): (formula, value)."""
    return (f"1/{count:g}", 1.0 / count) if ev.reduction == "mean" else ("1 (sum)", 1.0)


# ------------------------------------------------------------------ the three kinds of rule

ScalarLoss = Callable[[Scalar, Scalar, Mapping[str, Any]], Scalar]
Prepare = Callable[[Mapping[str, np.ndarray], Mapping[str, Any], Index], tuple[float, float, Mapping[str, Any]]]


def _at(inputs: Mapping[str, np.ndarray], params: Mapping[str, Any], index: Index) -> tuple[float, float, Any]:
    return float(inputs["preds"][index]), float(inputs["targets"][index]), params


@dataclass(frozen=True)
class Elementwise:
    """ℓ(p, y) over Scalars; ``prepare`` picks (p, y, params) for an element when the element's
    target or parameters need the whole data (hinge's {0, 1} labels, a per-column pos_weight)."""

    forward: ScalarLoss
    prepare: Prepare = _at
    leaf: str = "p"

    def work(self, ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: Index) -> Chain | None:
        if name != "preds" or "targets" not in inputs:
            return None
        p, y, params = self.prepare(inputs, ev.params, index)
        leaf = Scalar.leaf(p, self.leaf)
        ell = self.forward(leaf, Scalar.leaf(y, "y"), params)
        top = ev.spec.rule.chain_outer(ell, ev.elements, ev.denominator, ev.reduction)
        d = scalar.derivation(top, leaf)
        return Chain(name, index, d.forward, d.steps, d.combine, d.gradient)


@dataclass(frozen=True)
class RowWise:
    """A rule over one row (classes on the last axis); the mean's 1/N is added here."""

    rule: Callable[[np.ndarray, Any, int, Mapping[str, Any]], tuple[list[tuple[str, Any]], list[Step]]]

    def work(self, ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: Index) -> Chain | None:
        if name != "preds" or "targets" not in inputs:
            return None
        p_all, y_all = inputs["preds"], inputs["targets"]
        row, col = (0, index[0]) if p_all.ndim == 1 else index
        first = p_all if p_all.ndim == 1 else p_all[row]
        second = y_all if y_all.ndim == 1 and p_all.ndim == 1 else y_all[row]
        fwd, local = self.rule(first, second, col, ev.params)
        outer = 1.0 / ev.denominator if ev.reduction == "mean" else 1.0
        formula = f"1/{ev.denominator:g}" if ev.reduction == "mean" else "1 (sum)"
        return Chain(name, index, fwd, [("∂L/∂ℓᵢ", formula, outer), *local])


@dataclass(frozen=True)
class Custom:
    """Any other rule: ``rule(ev, inputs, name, index)`` gives (forward, local[, combine]) or None."""

    rule: Callable[[Any, Mapping[str, np.ndarray], str, Index], Work | None]

    def work(self, ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: Index) -> Chain | None:
        out = self.rule(ev, inputs, name, index)
        if out is None:
            return None
        return Chain(name, index, out[0], out[1], out[2] if len(out) > 2 else "product")


def worked_element(ev: Any, inputs: Mapping[str, np.ndarray], index: Index, name: str = "preds") -> Chain | None:
    """The chain rule for ``inputs[name][index]``, or None without a hand derivation."""
    rule = ev.spec.teaching.chain
    return None if rule is None else rule.work(ev, inputs, name, index)
