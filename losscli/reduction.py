"""Reduction rules: how a loss's unreduced terms become its value, as named, mergeable objects.

A loss function returns :class:`~losscli.spec.Terms` (its unreduced elements, and the weights or
per-group parts its mean needs); its spec names one rule here.  A rule turns terms into a
:class:`State` of sums and counts (as torchmetrics keeps ``sum_squared_error`` and ``total``),
states of chunks merge by adding, and :meth:`Rule.finish` turns a state into the value of a
reduction (``mean``, ``sum``).  Evaluating chunk by chunk and merging gives the one-pass value
for every rule with ``chunkable=True``; rules over all rows at once (MMD's kernel means, Dice's
global sums) say ``chunkable=False``.

The rules:

* ``MEAN``          Σℓ / N  (torch ``reduction='mean'``);
* ``WEIGHTED_MEAN`` Σ wℓ / Σ w  (class-weighted cross-entropy; any rule with sample weights);
* ``SEQUENCE_MEAN`` mean over sequences of ℓ / target length (torch CTC ``'mean'``);
* ``TWO_MEANS``     mean over the first group + mean over the second (GAN real and fake terms);
* ``POOLED``        the sum of the terms for mean and sum alike (MMD's three kernel means);
* ``PENALTY``       the sum over parameters for mean and sum alike (a penalty has no samples);
* ``PIXEL_MEAN``    a mean over images/classes whose health scale is their pixels (Dice, SSIM);
* ``Root(rule)``    a finaliser: √ of the inner rule's value (RMSE).

Besides the value, a rule knows ``n`` (the samples reported), the per-sample ``scale`` the health
verdict multiplies gradients by (N for a mean: every gradient of a mean carries 1/N), and whether
sample weights apply.  This module never imports torch; it works on any array namespace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losscli.scalar import Scalar, op, sqrt
from losscli.types import Array


@dataclass
class State:
    """Partial sums of one evaluation (or of several chunks, merged).

    ``total``: Σ of the elements (what ``sum`` reports).  ``mean_total``: Σ of what the mean adds
    up (the elements, or each group's elements over its own count for a sum of means).
    ``denominator``: what the mean divides ``mean_total`` by (N, or Σw).  ``weighted``: the number
    of elements with a non-zero weight (the per-sample scale of a weighted mean).  ``groups``:
    {group: (Σ, count)} for rules that keep a mean per group.  Values are arrays of the namespace
    they came from (0-d), so torch keeps its graph; :meth:`merge` adds them.
    """

    total: Any
    mean_total: Any
    denominator: Any
    weighted: float
    groups: dict[str, tuple[Any, float]] = field(default_factory=dict)

    def merge(self, other: State) -> State:
        """The state of both chunks together."""
        groups = dict(self.groups)
        for key, (s, c) in other.groups.items():
            s0, c0 = groups.get(key, (0.0, 0.0))
            groups[key] = (s0 + s, c0 + c)
        return State(
            self.total + other.total,
            self.mean_total + other.mean_total,
            self.denominator + other.denominator,
            self.weighted + other.weighted,
            groups,
        )


def _size(a: Any) -> int:
    return math.prod(int(s) for s in a.shape)


def _to_float(a: Any) -> float:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return float(np.asarray(a))


@dataclass(frozen=True)
class Rule:
    """A named reduction rule (see the module docstring).

    ``kind`` selects the arithmetic: ``mean`` (Σ mean terms / denominator), ``groups`` (a sum of
    per-group means), ``total`` (the sum, for mean and sum alike).  ``samples`` and ``scale``
    override ``n`` and the per-sample health factor from the raw inputs when they are not the
    element count (MMD's pooled points, a Dice pixel's share); ``sample_weights`` says whether
    per-sample weights apply; ``chunkable`` whether row chunks merge to the one-pass value;
    ``has_samples`` is False for a penalty on parameters (an expression neither weights it by
    sample nor scales its gradient by N).
    """

    name: str
    kind: str = "mean"
    description: str = ""
    sample_weights: bool = True
    chunkable: bool = True
    has_samples: bool = True
    samples: Callable[[Mapping[str, np.ndarray]], int] | None = None
    scale: Callable[[Mapping[str, np.ndarray], str], float] | None = None

    def state(self, xp: Any, terms: Any) -> State:
        """The partial sums of ``terms`` (one chunk)."""
        elements = terms.elements
        total = xp.sum(elements)
        if self.kind == "groups":
            groups = {}
            start = 0
            for key, count in terms.parts:
                part = slice(start, start + count)
                weight = float(count) if terms.weights is None else xp.sum(terms.weights[part])
                groups[key] = (xp.sum(elements[part]), weight)
                start += count
            return State(total, total, float(_size(elements)), float(_size(elements)), groups)
        summed = elements if terms.mean_elements is None else terms.mean_elements
        if terms.weights is None:
            count = float(_size(summed))
            return State(total, xp.sum(summed), count, count)
        return State(total, xp.sum(summed), xp.sum(terms.weights), _nonzero(terms.weights))

    def finish(self, xp: Any, state: State, reduction: str) -> Any:
        """The value for ``reduction`` (``mean`` or ``sum``) from a state."""
        if reduction == "sum" or self.kind == "total":
            return state.total
        if self.kind == "groups":
            return sum((s / c for s, c in state.groups.values()), xp.zeros_like(state.total))
        return state.mean_total / state.denominator

    def finalise(self, xp: Any, value: Any) -> Any:
        """What the rule does to a reduced value last (nothing; RMSE's square root in :class:`Root`)."""
        return value

    @property
    def final_is_identity(self) -> bool:
        """Whether :meth:`finalise` leaves the value as it is (its derivative 1 wherever the value is):
        then a chunk's gradient needs no value of the whole data, only what the mean divides by."""
        return True

    def elementwise(self, xp: Any, elements: Any) -> Any:
        """``reduction='none'``: the elements, each finalised on its own."""
        return self.finalise(xp, elements)

    def denominator(self, state: State, reduction: str) -> float:
        """What the mean divided by (1 for sum/none and for rules that sum)."""
        if reduction != "mean" or self.kind == "total":
            return 1.0
        return _to_float(state.denominator)

    def per_sample_scale(self, state: State, inputs: Mapping[str, np.ndarray], reduction: str) -> float:
        """The factor that turns the reduced gradient into a per-sample one for the health verdict:
        N for a plain mean, the weighted elements for a weighted mean, 1 for sum/none, or the rule's
        own ``scale`` (a Dice pixel's share, MMD's pooled points).  A sum of means gives the first
        group's count here and every group's in :meth:`input_scales`."""
        if self.scale is not None:
            return self.scale(inputs, reduction)
        scales = self.input_scales(state, reduction)
        if scales:
            return next(iter(scales.values()))
        if reduction != "mean" or self.kind == "total":
            return 1.0
        return state.weighted

    def input_scales(self, state: State, reduction: str) -> dict[str, float] | None:
        """For a sum of means (GAN real and fake terms), each group's own per-sample factor, keyed
        by the group (= the input it came from); None for every other rule."""
        if self.kind != "groups":
            return None
        return {key: float(count) if reduction == "mean" else 1.0 for key, (_, count) in state.groups.items()}

    def n(self, inputs: Mapping[str, np.ndarray], elements: np.ndarray) -> int:
        """The samples reported as ``n``."""
        if self.samples is not None:
            return self.samples(inputs)
        return int(elements.shape[0]) if elements.ndim else 1

    def chain_outer(self, ell: Scalar, elements: np.ndarray, denominator: float, reduction: str) -> Scalar:
        """The reduced loss L as a Scalar of one element's ℓ, for the hand-worked chain rule:
        ``L = mean ℓ`` with ∂L/∂ℓ = 1/N, ``L = Σ ℓ`` with 1 (``none`` differentiates the sum).
        ``elements`` are every element's ℓ, ``denominator`` what the mean divides by."""
        total = float(np.sum(elements))
        if reduction == "mean" and self.kind == "mean":
            return op(total / denominator, [(ell, 1.0 / denominator, f"1/{denominator:g}")], "L = mean ℓ")
        label = "L = Σ ℓ" if reduction != "none" else "L = Σ ℓ (none: the gradient of the sum)"
        return op(total, [(ell, 1.0, "1")], label)

    def with_weights(self) -> Rule:
        """This rule once per-sample weights are folded in: a weighted mean of the same kind."""
        return self if self.kind != "mean" else replace(self, name=WEIGHTED_MEAN.name)


def _nonzero(weights: Array) -> float:
    """The per-sample scale of a weighted mean Σ wℓ / Σ w: the number of weighted elements.

    Then scale·g = wᵢ ℓᵢ' / mean(w), which does not change when every weight is multiplied
    by the same factor (Σw itself would turn healthy gradients "vanishing")."""
    w = weights.detach().cpu().numpy() if hasattr(weights, "detach") else np.asarray(weights)
    return float(np.count_nonzero(w))


@dataclass(frozen=True)
class Root(Rule):
    """A finaliser: the square root of the inner rule's value (RMSE); per element √ℓ under none."""

    inner: Rule = field(default_factory=lambda: Rule("mean", description="Σℓ / N"))

    def finish(self, xp: Any, state: State, reduction: str) -> Any:
        return self.finalise(xp, self.inner.finish(xp, state, reduction))

    def finalise(self, xp: Any, value: Any) -> Any:
        return xp.sqrt(value)

    @property
    def final_is_identity(self) -> bool:
        return False

    def chain_outer(self, ell: Scalar, elements: np.ndarray, denominator: float, reduction: str) -> Scalar:
        """L = √M with M = mean ℓ (or Σ ℓ); under ``none`` each element is √ℓ and the sum is
        differentiated."""
        total = float(np.sum(elements))
        if reduction == "none":
            root_ell = sqrt(ell).named("√ℓ")
            return op(
                float(np.sum(np.sqrt(elements))), [(root_ell, 1.0, "1")], "L = Σ √ℓ (none: the gradient of the sum)"
            )
        if reduction == "mean":
            m = op(total / denominator, [(ell, 1.0 / denominator, f"1/{denominator:g}")], "M = mean ℓ")
        else:
            m = op(total, [(ell, 1.0, "1")], "M = Σ ℓ")
        return sqrt(m).named("L = √M")


MEAN = Rule("mean", description="Σℓ / N")
WEIGHTED_MEAN = Rule("weighted mean", description="Σ wℓ / Σ w")
SEQUENCE_MEAN = Rule("sequence mean", description="mean over sequences of ℓ / target length")
TWO_MEANS = Rule(
    "two means", kind="groups", sample_weights=False, description="mean over one group + mean over the other"
)
POOLED = Rule("pooled", kind="total", chunkable=False, sample_weights=False, description="sum of the terms")
PENALTY = Rule("penalty", kind="total", sample_weights=False, has_samples=False, description="sum over parameters")
PIXEL_MEAN = Rule("pixel mean", chunkable=False, description="mean over maps; health scaled by pixels")


def root(inner: Rule = MEAN) -> Root:
    """√ of ``inner``'s value (RMSE)."""
    return Root(f"root of {inner.name}", kind=inner.kind, description=f"√({inner.description})", inner=inner)
