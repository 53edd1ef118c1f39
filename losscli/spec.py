"""The loss spec: everything about one loss in one object.

A :class:`LossSpec` holds its text (:class:`LossInfo`), inputs, parameters, the array-API
function, validation, its reduction rule and its teaching (bundled example, saturation rule,
advice, hand-worked chain).  ``list``, ``explain`` and
``--help`` read only this metadata, so this module must never import torch (or numpy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    before averaging), the mean is mean(mean_elements).  ``parts``: for a sum of means
    (``reduction.TWO_MEANS``), the groups of consecutive elements as (name, count).
    """

    elements: Any
    weights: Any = None
    mean_elements: Any = None
    parts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class LossInfo:
    """The text-only record of a loss that ``list``, ``explain`` and ``--help`` read.

    ``formula`` and ``derivative`` in plain text; ``convention``: whose definition it matches;
    ``differs``: how the other libraries differ; ``when``: when to use it.  ``element_note`` and
    ``mean_note`` say what one unreduced element is and what ``--reduction mean`` averages.
    """

    name: str
    family: str
    summary: str
    formula: str
    derivative: str
    convention: str
    differs: str
    when: str
    aliases: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    element_note: str = "per element"
    mean_note: str = "mean over elements"


@dataclass(frozen=True)
class Advice:
    """A loss-specific remedy in ``--explain``: shown when ``when(params, health)`` is true.

    ``covers`` names the statuses this advice answers, so the generic advice for them is left
    out (RMSE's own account of its NaN replaces "look for NaN in the inputs")."""

    when: Callable[[Mapping[str, Any], Any], bool]
    en: str
    zh: str
    covers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Teaching:
    """What ``grad --explain`` and the health check know about a loss.

    ``example``: the bundled data it runs on without files (:class:`losscli.examples.Example`).
    ``saturation(inputs, params, dtype, eps)``: ``{input: boolean mask}`` of elements where a
    clamp or a flat sigmoid/softmax kills the gradient.  ``advice``: remedies.  ``chain``: the
    hand-worked chain rule for one element (:mod:`losscli.chains`), or None.  ``outliers``: the
    loss is a function of the residual preds - targets, so ``compare --grad`` reports the share
    of the gradient its largest residuals take.  ``gradient_by_convention``: the defining library's
    gradient is not the derivative of the value (ciou's α held constant), so ``--explain`` does not
    judge it by a finite difference.
    """

    example: Any = None
    saturation: Callable[..., dict[str, Any]] | None = None
    advice: tuple[Advice, ...] = ()
    chain: Any = None
    outliers: bool = False
    gradient_by_convention: bool = False


@dataclass(frozen=True)
class LossSpec:
    """Everything about one loss, in one object (built in the loss's family module).

    ``info``: its text (:class:`LossInfo`).  ``inputs``/``params``: what it takes.
    ``fn(xp, inputs, params)`` returns :class:`Terms`, on any array-API namespace.
    ``validate(inputs, params, sources)`` checks numpy data the function cannot take and raises
    ``InputError``; it may return the params with data-dependent defaults resolved (reported in
    the output), or None.  ``reduction``: its rule (:mod:`losscli.reduction`).  ``report(ev, inputs)``:
    extra figures for the output.  ``needs_torch``: even ``compute`` runs on torch (a torch
    model inside).  ``row_local``: the first axis of every input is the rows and each row's loss
    depends on that row alone, so large data may be evaluated a chunk of rows at a time (declared
    per loss: CTC's first axis is time, hinge reads its two labels off all rows).  ``report_adds``:
    the report's figures are counts that add up over chunks of rows (so the loss may stream).
    ``teaching``: what ``--explain`` and the health check use.
    """

    info: LossInfo
    inputs: tuple[Input, ...]
    params: tuple[Param, ...]
    fn: Callable[..., Terms]
    reduction: Any = None  # a losscli.reduction.Rule; MEAN when None
    validate: Callable[..., dict[str, Any] | None] | None = None
    report: Callable[..., dict[str, Any]] | None = None
    needs_torch: bool = False
    row_local: bool = False
    report_adds: bool = False
    teaching: Teaching = field(default_factory=Teaching)

    # the text fields, read through the spec
    @property
    def name(self) -> str:
        return self.info.name

    @property
    def family(self) -> str:
        return self.info.family

    @property
    def summary(self) -> str:
        return self.info.summary

    @property
    def formula(self) -> str:
        return self.info.formula

    @property
    def derivative(self) -> str:
        return self.info.derivative

    @property
    def convention(self) -> str:
        return self.info.convention

    @property
    def differs(self) -> str:
        return self.info.differs

    @property
    def when(self) -> str:
        return self.info.when

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.info.aliases

    @property
    def references(self) -> tuple[str, ...]:
        return self.info.references

    @property
    def element_note(self) -> str:
        return self.info.element_note

    @property
    def mean_note(self) -> str:
        return self.info.mean_note

    @property
    def rule(self) -> Any:
        """The reduction rule (``reduction.MEAN`` unless the spec names another)."""
        if self.reduction is None:
            from losscli.reduction import MEAN

            return MEAN
        return self.reduction

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


_INFO_FIELDS = tuple(f for f in LossInfo.__dataclass_fields__)
_TEACHING_FIELDS = tuple(f for f in Teaching.__dataclass_fields__)


def define(**fields: Any) -> LossSpec:
    """A :class:`LossSpec` from flat keywords: the text fields go to its :class:`LossInfo`, the
    teaching fields (``example``, ``saturation``, ``advice``, ``chain``, ``outliers``) to its
    :class:`Teaching`, the rest to the spec itself."""
    info = LossInfo(**{k: fields.pop(k) for k in _INFO_FIELDS if k in fields})
    teaching = Teaching(**{k: fields.pop(k) for k in _TEACHING_FIELDS if k in fields})
    fields.setdefault("params", ())
    return LossSpec(info=info, teaching=teaching, **fields)
