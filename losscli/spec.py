"""Loss metadata: what a loss is called, what it takes and whose convention it follows.

A :class:`LossSpec` is pure data plus the loss function.  ``list``, ``explain`` and
``--help`` read only this metadata, so this module must never import torch (or numpy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """A loss parameter given on the command line as ``-p name=value``.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``floats`` (a comma list),
    ``choice`` (one of ``choices``) or ``str`` (free text such as a file path).  A
    numeric parameter whose default is ``None`` also accepts ``none``.  ``low``/``high`` bound numeric values
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
        if self.kind == "str":
            return "text"
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
    required: bool = True


@dataclass
class Terms:
    """What a loss function returns.

    ``elements``: the unreduced loss (per element or per sample); ``reduction='none'``
    and ``'sum'`` use it.  ``weights``: when the mean is a weighted one, Σ elements / Σ
    weights (class-weighted cross-entropy).  ``mean_elements``: when the mean is taken
    over different terms than the sum (CTC divides each sequence by its target length
    before averaging), the mean is mean(mean_elements).
    """

    elements: Any
    weights: Any = None
    mean_elements: Any = None


@dataclass(frozen=True)
class LossSpec:
    """Everything about one loss.

    ``fn(xp, inputs, params)`` returns :class:`Terms`.  ``finalize``, if set, is
    applied to the reduced value (RMSE's square root).  ``validate(inputs, params,
    sources)`` checks numpy data the function cannot take and raises ``InputError``.
    ``resolve_params(inputs, params)`` may fill data-dependent defaults (reported in the
    output).  ``report(evaluation)`` returns extra figures for the output (a dict).
    ``needs_torch`` makes even ``compute`` run on torch (losses that run a torch model).
    ``saturation(inputs, params, dtype, eps)`` returns ``{input name: boolean mask}`` of
    elements where a clamp or a flat sigmoid/softmax kills the gradient.
    ``scale(inputs, reduction)`` gives the per-sample factor of the gradient health check
    when it is not the number of loss elements (a pixel's share of a Dice or SSIM loss), or
    a dict of factors by input when each input has its own mean (GAN real and fake terms).
    ``samples(inputs)`` gives ``n`` when it is not the number of loss elements (MMD).
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
    resolve_params: Callable[..., dict[str, Any]] | None = None
    report: Callable[..., dict[str, Any]] | None = None
    needs_torch: bool = False
    saturation: Callable[..., dict[str, Any]] | None = None
    scale: Callable[..., float] | None = None
    samples: Callable[..., int] | None = None

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)
