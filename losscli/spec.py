"""Loss metadata: what a loss is called, what it takes and whose convention it follows.

A :class:`LossSpec` is pure data plus the loss function.  ``list``, ``explain`` and
``--help`` read only this metadata, so this module must never import torch (or numpy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

PARAM_TYPES = ("float", "int", "bool", "floats", "choice")


@dataclass(frozen=True)
class Param:
    """A loss parameter given on the command line as ``-p name=value``.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``floats`` (a comma list) or
    ``choice`` (one of ``choices``).  ``low``/``high`` bound numeric values
    (inclusive unless ``low_open``/``high_open``).
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def describe_range(self) -> str:
        """A short human description of the valid values, e.g. ``> 0`` or ``[0, 1]``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return " | ".join(self.choices)
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"{left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return "any number" if self.kind in ("float", "int") else "comma list of numbers"


@dataclass(frozen=True)
class Input:
    """A named input of a loss (``preds``, ``targets``, ...).

    ``shape`` is a human description ("N", "N x C"); ``differentiable`` says whether
    ``grad`` reports a gradient for it.
    """

    name: str
    shape: str
    help: str
    differentiable: bool = True


@dataclass(frozen=True)
class LossSpec:
    """Everything about one loss.

    ``fn(xp, inputs, params)`` returns ``(elements, weights)``: the unreduced loss
    (per element or per sample) and, when the mean is a weighted one, the weights
    whose sum is the mean's denominator (else ``None``).  ``finalize``, if set, is
    applied to the reduced value (RMSE's square root).  ``validate(inputs, params)``
    checks data the function cannot take and raises ``InputError``.
    """

    name: str
    family: str
    summary: str
    inputs: tuple[Input, ...]
    params: tuple[Param, ...]
    formula: str
    derivative: str
    convention: str
    differs: str
    when: str
    fn: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    validate: Callable[..., None] | None = None
    finalize: Callable[..., Any] | None = None
    element_note: str = "per element"
    mean_note: str = "mean over elements"
    references: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
