"""The one place where a loss is run, reduced and differentiated.

``evaluate`` takes numpy inputs, checks them against the loss, and runs the loss's
single array-API function on

* numpy (``backend="numpy"``): the value only; torch is never imported;
* torch (``backend="torch"``): inputs become leaf tensors with ``requires_grad=True``,
  the reduced loss gets ``.backward()`` and every differentiable input's ``.grad`` is
  read back.

Reductions: ``mean`` (Σℓ / N, or Σℓ / Σw for losses with a weighted mean such as
class-weighted cross-entropy), ``sum`` (Σℓ) and ``none`` (ℓ itself).  With ``none``,
gradients are those of Σℓ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losscli.errors import InputError, UsageError
from losscli.reduction import State
from losscli.spec import LossSpec, Terms

REDUCTIONS = ("mean", "sum", "none")
DTYPES = ("float64", "float32")
BACKENDS = ("numpy", "torch")


@dataclass
class Evaluation:
    """The result of one evaluation.

    ``value`` is a float (an array for ``reduction='none'``); ``elements`` the
    unreduced loss as numpy; ``gradients`` maps each differentiable input to a numpy
    array of its shape (torch backend only); ``scale`` is the factor that turns the
    reduced gradient into a per-sample one (N for a plain mean, Σw for a weighted mean,
    1 for sum/none); ``denominator`` is what the mean divided by (N or Σw; 1 for sum/none);
    ``extras`` holds figures a loss reports besides its value
    (SSIM itself, perplexity, a resolved kernel width).  ``per_sample``, when set (a
    weighted sum of losses), holds the per-sample gradients directly, each term scaled by
    its own factor.
    """

    spec: LossSpec
    params: dict[str, Any]
    reduction: str
    dtype: str
    value: Any
    elements: np.ndarray
    n: int
    scale: float
    denominator: float = 1.0
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    backend: str = "numpy"
    extras: dict[str, Any] = field(default_factory=dict)
    per_sample: dict[str, np.ndarray] | None = None
    graph: Any = None
    leaves: dict[str, Any] = field(default_factory=dict)
    chunk_rows: int | None = None  # set when the data was read and evaluated this many rows at a time


def _namespace(backend: str) -> Any:
    """The array namespace for a backend: torch through array_api_compat; numpy itself from
    2.1 on (its main namespace implements the array API standard, and skipping the compat
    wrapper saves ~50 ms of a small ``compute``), array_api_compat.numpy before."""
    if backend == "torch":
        import array_api_compat.torch

        return array_api_compat.torch
    if hasattr(np, "astype"):  # numpy >= 2.1
        return np
    import array_api_compat.numpy

    return array_api_compat.numpy


def _broadcast(xp: Any, w: Any, like: Any) -> Any:
    """Per-sample weights (N,) shaped to broadcast against ``like`` (N, ...)."""
    return xp.reshape(w, (w.shape[0],) + (1,) * (len(like.shape) - 1))


def _apply_sample_weights(xp: Any, terms: Terms, s: Any) -> Terms:
    """Fold per-sample weights sᵢ into the terms: the mean becomes Σ sᵢ ℓᵢ / Σ sᵢ (times wᵢ
    for losses that already have a weighted mean)."""
    se = _broadcast(xp, s, terms.elements)
    if terms.mean_elements is not None:
        sm = _broadcast(xp, s, terms.mean_elements)
        ones = xp.ones_like(terms.mean_elements)
        return Terms(terms.elements * se, weights=sm * ones, mean_elements=terms.mean_elements * sm, parts=terms.parts)
    weights = xp.ones_like(terms.elements) if terms.weights is None else terms.weights
    return Terms(terms.elements * se, weights=weights * se, parts=terms.parts)


def _leaf(given: np.ndarray, torch_dtype: Any, differentiable: bool, leaves: dict[str, Any], name: str) -> Any:
    """An input as a torch tensor of ``torch_dtype``; a differentiable one is a leaf with
    ``requires_grad`` (recorded in ``leaves``).  A memory-mapped or read-only array is copied first:
    torch wants its own."""
    import torch

    if not given.flags.writeable:
        given = np.array(given)
    tensor = torch.from_numpy(given).to(torch_dtype)
    if differentiable:
        tensor.requires_grad_(True)
        leaves[name] = tensor
    return tensor


def _torch_tensor(a: np.ndarray, dtype: str) -> Any:
    import torch

    a = np.ascontiguousarray(a)
    if not a.flags.writeable:  # a memory-mapped or read-only array: torch wants its own
        a = np.array(a)
    return torch.from_numpy(a).to(getattr(torch, dtype))


def _check_sample_weights(
    spec: LossSpec, s: np.ndarray, terms: Terms, sources: Mapping[str, str], *, whole: bool = True
) -> np.ndarray:
    """Sample weights must be a finite, non-negative vector with one value per sample (and, for all
    rows at once, not all 0; a chunk of a streamed run is checked for that at the end)."""
    from losscli.errors import InputError

    s = np.asarray(s, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    where = sources.get("sample_weights", "sample weights")
    ref = terms.mean_elements if terms.mean_elements is not None else terms.elements
    n = ref.shape[0] if len(ref.shape) else 1
    if s.ndim != 1 or s.shape[0] != n:
        raise InputError(
            f"expected {n} sample weights (one per {spec.element_note.replace('per ', '')} "
            f"row of {spec.name}), got shape {' x '.join(map(str, s.shape))}",
            source=where,
        )
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        bad = int(np.flatnonzero(~np.isfinite(s) | (s < 0))[0])
        raise InputError(f"data row {bad + 1}: sample weights must be finite and >= 0, got {s[bad]:g}", source=where)
    if whole and not np.any(s > 0):
        raise InputError("every sample weight is 0: nothing to average", source=where)
    return s


def _to_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def evaluate(
    spec: LossSpec,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    backend: str = "numpy",
    sources: Mapping[str, str] | None = None,
    sample_weights: np.ndarray | None = None,
    keep_graph: bool = False,
    tensors: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Check ``inputs``, run ``spec.fn`` on ``backend`` and reduce; gradients on torch.

    ``sample_weights`` (N,), one per sample (first axis of the unreduced loss), turn
    the mean into the weighted mean Σ sᵢ ℓᵢ / Σ sᵢ; ``sum`` and ``none`` use sᵢ ℓᵢ.
    ``keep_graph`` (torch) keeps the autograd graph: ``ev.graph`` is the differentiated
    scalar tensor and ``ev.leaves`` the leaf tensors by input name (for ``--explain``).
    ``tensors`` (torch) gives some inputs as torch tensors that are already part of a graph (a
    model's output): they are validated through their values in ``inputs``, used as they are
    (so ``.backward()`` reaches the model's parameters), and their gradient is read back too.
    ``progress(rows_done, rows)`` is called after each chunk when large data is evaluated in chunks.
    """
    if reduction not in REDUCTIONS:
        raise UsageError(f"--reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    if backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    arrays, params = _checked(spec, inputs, params, sources)
    if spec.needs_torch or tensors:
        backend = "torch"
    xp = _namespace(backend)
    leaves: dict[str, Any] = {}
    if backend == "numpy":
        # float64 data is used as it is (no copy); the loss functions never write into their inputs
        data: dict[str, Any] = {name: arr.astype(dtype, copy=False) for name, arr in arrays.items()}
    else:
        import torch

        torch_dtype = getattr(torch, dtype)
        data = {}
        for inp in spec.inputs:
            if inp.name not in arrays:
                continue
            if tensors and inp.name in tensors:
                given = tensors[inp.name]
                if given.requires_grad:
                    given.retain_grad()
                    leaves[inp.name] = given
                data[inp.name] = given.to(torch_dtype)
                continue
            data[inp.name] = _leaf(arrays[inp.name], torch_dtype, inp.differentiable, leaves, inp.name)
    chunks = _row_chunks(spec, xp, data, params, reduction) if backend == "numpy" else None
    if chunks is None:
        terms, rule = _weighted(spec, xp, spec.fn(xp, data, params), sample_weights, dtype, backend, sources)
        state = rule.state(xp, terms)
    else:  # large data on numpy: the loss's temporaries are one chunk of rows at a time
        terms, rule, state = _evaluate_in_chunks(
            spec, xp, data, params, chunks, sample_weights, dtype, sources, progress
        )
    try:
        value = rule.elementwise(xp, terms.elements) if reduction == "none" else rule.finish(xp, state, reduction)
    except InputError as exc:  # a rule refusing the data (a mean over no counted targets): name the file
        if exc.source is not None or not sources:
            raise
        label = next((i.name for i in spec.inputs if not i.differentiable and i.name in sources), None)
        if label is None:
            raise
        raise InputError(str(exc), source=sources[label]) from None
    scale = rule.per_sample_scale(state, arrays, reduction)
    input_scale = rule.input_scales(state, reduction)
    gradients: dict[str, np.ndarray] = {}
    if leaves:
        import torch

        target = value if reduction != "none" else xp.sum(value)
        target.backward(retain_graph=keep_graph)
        for name, leaf in leaves.items():
            grad = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
            gradients[name] = _to_numpy(grad)
    value_np = _to_numpy(value)
    elements_np = _to_numpy(terms.elements)
    ev = Evaluation(
        spec=spec,
        params=dict(params),
        reduction=reduction,
        dtype=dtype,
        value=value_np if reduction == "none" else float(value_np),
        elements=elements_np,
        n=rule.n(arrays, elements_np),
        scale=float(scale),
        denominator=rule.denominator(state, reduction),
        gradients=gradients,
        backend=backend,
    )
    if input_scale is not None:  # a separate mean per input (GAN real and fake terms)
        ev.per_sample = {name: g * input_scale[name] for name, g in gradients.items()}
    if keep_graph and leaves:
        ev.graph, ev.leaves = target, leaves
    if spec.report is not None:
        ev.extras = spec.report(ev, arrays)
    return ev


# compute (numpy) evaluates data of more rows than this in chunks of this many rows, so that what
# a loss function allocates (residuals, masks, log-sum-exps) is one chunk's size, not the data's
CHUNK_ROWS = 1 << 18


def _row_chunks(
    spec: LossSpec, xp: Any, data: Mapping[str, Any], params: Mapping[str, Any], reduction: str
) -> list[tuple[int, int]] | None:
    """Row ranges to evaluate one by one, or None for one pass: only for a rule whose chunk states
    merge to the one-pass value, a loss that reads each row on its own (``spec.row_local``), every
    input with the same rows, and one unreduced element (or row of them) per input row."""
    rule = spec.rule
    if reduction == "none" or not rule.chunkable or rule.kind == "groups" or not spec.row_local or not data:
        return None
    rows = {int(a.shape[0]) if a.ndim else -1 for a in data.values()}
    if len(rows) != 1:
        return None
    n = rows.pop()
    if n <= CHUNK_ROWS:
        return None
    try:
        probe = spec.fn(xp, {k: a[:2] for k, a in data.items()}, params).elements
    except Exception:  # the rows are not what the loss reads one by one: one pass
        return None
    if probe.ndim < 1 or probe.shape[0] != 2:
        return None
    return [(lo, min(lo + CHUNK_ROWS, n)) for lo in range(0, n, CHUNK_ROWS)]


def _evaluate_in_chunks(
    spec: LossSpec,
    xp: Any,
    data: Mapping[str, Any],
    params: Mapping[str, Any],
    chunks: list[tuple[int, int]],
    sample_weights: np.ndarray | None,
    dtype: str,
    sources: Mapping[str, str] | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Terms, Any, Any]:
    """The terms (their elements joined: one value per row), the rule and the merged state.  Sample
    weights are checked once on all rows (so a bad one is named by its row in the file, and a chunk
    whose weights are all 0 is no error), then applied chunk by chunk."""
    rule = spec.rule
    weights = None
    if sample_weights is not None:
        if not rule.sample_weights:
            raise UsageError(f"sample weights do not apply to {spec.name} (its reduction: {rule.description})")
        weights = _check_sample_weights(spec, sample_weights, Terms(np.empty(chunks[-1][1])), sources or {})
        rule = rule.with_weights()
    state = None
    parts = []
    for lo, hi in chunks:
        piece = spec.fn(xp, {k: a[lo:hi] for k, a in data.items()}, params)
        if weights is not None:
            piece = _apply_sample_weights(xp, piece, xp.asarray(weights[lo:hi].astype(dtype)))
        chunk_state = rule.state(xp, piece)
        state = chunk_state if state is None else state.merge(chunk_state)
        parts.append(piece.elements)
        if progress is not None:
            progress(hi, chunks[-1][1])
    return Terms(xp.concat(parts) if len(parts) > 1 else parts[0]), rule, state


def streams(spec: LossSpec, reduction: str) -> bool:
    """Whether ``spec`` may be evaluated over inputs read a chunk of rows at a time: a row-local loss
    whose rule's chunk states merge to the one-pass value (not a sum of group means, not a rule with
    its own sample count or scale), and whose report, if any, adds up over chunks."""
    rule = spec.rule
    return (
        reduction != "none"
        and spec.row_local
        and rule.chunkable
        and rule.kind == "mean"
        and rule.samples is None
        and rule.scale is None
        and not spec.needs_torch
        and (spec.report is None or spec.report_adds)
    )


@dataclass
class StreamState:
    """What a first pass over chunks found: the merged state, the rule that reduces it, the params
    resolved on the first chunk (and kept for every other), samples counted, reported counts."""

    state: State
    rule: Any
    params: dict[str, Any]
    n: int
    extras: dict[str, Any]
    weighted: bool


class NotRowWise(Exception):
    """The first chunk showed that these inputs' rows are not the loss's samples (an unbatched
    input, one whose first axis is classes): read the data whole instead."""


def _rows_are_samples(chunk: Mapping[str, np.ndarray], terms: Terms) -> bool:
    """Whether each of the chunk's rows gave one row of the loss's elements."""
    rows = {int(a.shape[0]) if a.ndim else -1 for a in chunk.values()}
    elements = terms.elements
    return len(rows) == 1 and elements.ndim >= 1 and int(elements.shape[0]) == rows.pop()


def first_rows_checked(chunks: Any) -> Any:
    """The chunks; inputs whose rows differ already in the first chunk are not rows of samples."""
    iterator = iter(chunks)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except InputError as exc:
            if getattr(exc, "first", False):
                raise NotRowWise(str(exc)) from exc
            raise
        yield item


def _shifted(exc: InputError, start: int) -> InputError:
    """A chunk's error, its "data row K" counted from the top of the file (and a "(K such values)" count,
    which is this chunk's, said to be so)."""
    import re

    if not start:
        return exc
    text = re.sub(r"data row (\d+)", lambda m: f"data row {int(m.group(1)) + start}", str(exc))
    text = re.sub(r"\((\d+) such values\)", r"(\1 such values in this chunk of rows)", text)
    out = InputError(text)
    out.source, out.line, out.column = exc.source, exc.line, exc.column
    return out


class ChunkReducer:
    """One loss's first pass over streamed data, a chunk at a time (numpy): :meth:`add` checks and
    evaluates a chunk ``{input: rows}`` (with ``sample_weights`` among them when given) and merges its
    state; :meth:`done` gives the :class:`StreamState`.  Nothing of a chunk is kept; the params the
    first chunk resolved are used for all.  Several reducers share one pass (``compare``, expressions)."""

    def __init__(
        self,
        spec: LossSpec,
        params: Mapping[str, Any],
        *,
        reduction: str = "mean",
        dtype: str = "float64",
        sources: Mapping[str, str] | None = None,
        backend: str = "numpy",
    ) -> None:
        if reduction not in ("mean", "sum"):
            raise UsageError("a streamed evaluation reduces with mean or sum")
        if dtype not in DTYPES:
            raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.spec, self.params, self.reduction, self.dtype = spec, params, reduction, dtype
        self.backend = backend
        self.terms: Terms | None = None  # torch: the last chunk's terms (with their graph) ...
        self.leaves: dict[str, Any] = {}  # ... and its differentiable inputs, for :meth:`gradients`
        self.sources = dict(sources or {})
        self.state: State | None = None
        self.frozen: dict[str, Any] | None = None
        self.n = 0
        self.extras: dict[str, Any] = {}
        self.weighted = False
        self.any_weight = False

    def add(self, start: int, chunk: Mapping[str, np.ndarray]) -> int:
        """Rows ``start``, ... of every input; returns how many rows the chunk held."""
        spec, rule, xp = self.spec, self.spec.rule, _namespace(self.backend)
        chunk = dict(chunk)
        weights = chunk.pop("sample_weights", None)
        try:
            arrays, resolved = _checked(spec, chunk, self.params if self.frozen is None else self.frozen, self.sources)
            frozen = self.frozen = resolved if self.frozen is None else self.frozen
            data = self._data(arrays)
            terms = spec.fn(xp, data, frozen)
            if not _rows_are_samples(data, terms):
                if self.state is None:
                    raise NotRowWise(spec.name)
                raise InputError(
                    f"rows {start + 1}.. do not give one {spec.name} element per row as the first rows did"
                )
            if weights is not None:
                if not rule.sample_weights:
                    raise UsageError(f"sample weights do not apply to {spec.name} (its reduction: {rule.description})")
                s = _check_sample_weights(spec, weights, terms, self.sources, whole=False)
                self.any_weight = self.any_weight or bool(np.any(s > 0))
                s_xp = xp.asarray(s.astype(self.dtype)) if self.backend == "numpy" else _torch_tensor(s, self.dtype)
                terms = _apply_sample_weights(xp, terms, s_xp)
                self.weighted = True
        except InputError as exc:
            raise _shifted(exc, start) from None
        chunk_rule = rule.with_weights() if self.weighted else rule
        if self.backend == "torch":
            self.terms = terms
        chunk_state = chunk_rule.state(_namespace("numpy"), _detached(terms))
        self.state = chunk_state if self.state is None else self.state.merge(chunk_state)
        self.n += chunk_rule.n(arrays, terms.elements)
        if spec.report is not None:
            from types import SimpleNamespace

            stand_in = SimpleNamespace(spec=spec, params=frozen, dtype=self.dtype, reduction=self.reduction)
            for key, value in spec.report(stand_in, arrays).items():
                self.extras[key] = self.extras.get(key, 0) + value
        return int(terms.elements.shape[0])

    def _data(self, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The chunk's inputs in the reducer's dtype: numpy arrays, or torch tensors whose differentiable
        inputs are leaves (kept in ``leaves``)."""
        if self.backend == "numpy":
            return {name: arr.astype(self.dtype, copy=False) for name, arr in arrays.items()}
        import torch

        torch_dtype = getattr(torch, self.dtype)
        self.leaves = {}
        return {
            inp.name: _leaf(arrays[inp.name], torch_dtype, inp.differentiable, self.leaves, inp.name)
            for inp in self.spec.inputs
            if inp.name in arrays
        }

    def gradients(self, denominator: float) -> dict[str, np.ndarray]:
        """(torch) The gradients of the whole reduced loss with respect to the last chunk's rows, when
        the whole data's ``denominator`` is known before the end (see :func:`share_gradients`) and the
        rule's finaliser is the identity (its outer derivative 1)."""
        assert self.terms is not None, "gradients() follows add() on the torch backend"
        return share_gradients(self.terms, self.leaves, self.reduction, denominator, None)

    def done(self) -> StreamState:
        """The merged state of every chunk added."""
        if self.state is None or self.frozen is None:
            raise InputError("no data rows")
        if self.weighted and not self.any_weight:
            raise InputError("every sample weight is 0: nothing to average", source=self.sources.get("sample_weights"))
        rule = self.spec.rule.with_weights() if self.weighted else self.spec.rule
        return StreamState(self.state, rule, self.frozen, self.n, self.extras, self.weighted)


def evaluate_chunks(
    spec: LossSpec,
    chunks: Any,
    params: Mapping[str, Any],
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    sources: Mapping[str, str] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    total_rows: int | None = None,
) -> StreamState:
    """The first pass of a streamed evaluation of one loss (a :class:`ChunkReducer` over ``chunks``,
    an iterable of ``(first row, {input: rows})``)."""
    reducer = ChunkReducer(spec, params, reduction=reduction, dtype=dtype, sources=sources)
    for start, chunk in first_rows_checked(chunks):
        rows = reducer.add(start, chunk)
        if progress is not None:
            progress(start + rows, total_rows)  # total None: CSV text, whose rows are not known ahead
    return reducer.done()


def streamed_evaluation(spec: LossSpec, found: StreamState, *, reduction: str, dtype: str) -> Evaluation:
    """The :class:`Evaluation` of a first pass (no elements kept: the value, n, scale, denominator)."""
    xp = _namespace("numpy")
    value = found.rule.finish(xp, found.state, reduction)
    return Evaluation(
        spec=spec,
        params=dict(found.params),
        reduction=reduction,
        dtype=dtype,
        value=float(_to_numpy(value)),
        elements=np.empty(0),
        n=found.n,
        scale=float(found.rule.per_sample_scale(found.state, {}, reduction)),
        denominator=found.rule.denominator(found.state, reduction),
        backend="numpy",
        extras=dict(found.extras),
    )


def chunk_gradients(
    spec: LossSpec,
    found: StreamState,
    chunk: Mapping[str, np.ndarray],
    *,
    start: int = 0,
    reduction: str = "mean",
    dtype: str = "float64",
    sources: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """The gradients of the whole reduced loss with respect to one chunk's rows, by torch autograd.

    The chunk's share of the reduced loss is built as the one-pass graph builds it: Σ of its mean
    terms divided by the whole data's denominator (``found``, from the first pass), then
    ``backward`` with the outer derivative dL/dM of the rule's finaliser (1, or 1/(2√M) for a root):
    the same operations in the same order as ``evaluate`` on all rows, chunk by chunk."""
    import torch

    xp = _namespace("torch")
    chunk = dict(chunk)
    weights = chunk.pop("sample_weights", None)
    try:
        arrays, _ = _checked(spec, chunk, found.params, sources)
    except InputError as exc:
        raise _shifted(exc, start) from None
    torch_dtype = getattr(torch, dtype)
    data: dict[str, Any] = {}
    leaves: dict[str, Any] = {}
    for inp in spec.inputs:
        if inp.name in arrays:
            data[inp.name] = _leaf(arrays[inp.name], torch_dtype, inp.differentiable, leaves, inp.name)
    terms = spec.fn(xp, data, found.params)
    if weights is not None:
        s = np.asarray(weights, dtype=np.float64).reshape(-1)
        terms = _apply_sample_weights(xp, terms, _torch_tensor(s, dtype))
    denominator = 1.0 if reduction == "sum" else float(found.state.denominator)
    if reduction == "sum":
        reduced = float(_to_numpy(found.state.total))
    else:
        reduced = float(_to_numpy(found.state.mean_total)) / denominator
    # dL/dM of the rule's finaliser at the whole data's reduced value (1, or 1/(2√M) for a root)
    whole = torch.tensor(reduced, dtype=torch_dtype, requires_grad=True)
    found.rule.finalise(xp, whole).backward()
    return share_gradients(terms, leaves, reduction, denominator, whole.grad)


def share_gradients(
    terms: Terms, leaves: Mapping[str, Any], reduction: str, denominator: float, outer: Any = None
) -> dict[str, np.ndarray]:
    """The gradients of one chunk's share of the reduced loss with respect to its leaves: the share is
    Σ of its terms (``sum``) or Σ of its mean terms / the whole data's ``denominator`` (``mean``), as
    the one-pass graph builds it, then backward with ``outer``, the finaliser's outer derivative dL/dM
    (None: 1, the identity's)."""
    import torch

    if not leaves:
        return {}
    if reduction == "sum":
        share = torch.sum(terms.elements)
    else:
        summed = terms.elements if terms.mean_elements is None else terms.mean_elements
        share = torch.sum(summed) / denominator
    # backward() with no argument: given a gradient tensor, torch checks its shape through
    # torch.fx.experimental.symbolic_shapes, whose first import (sympy) costs ~0.4 s.  share · outer
    # gives every input the same grad_output outer as backward(outer) would.
    (share if outer is None else share * outer).backward()
    return {
        name: _to_numpy(leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)) for name, leaf in leaves.items()
    }


def _detached(terms: Terms) -> Terms:
    """Terms as numpy arrays (torch's viewed without a copy, out of the graph)."""
    if not hasattr(terms.elements, "detach"):
        return terms

    def plain(a: Any) -> Any:
        return None if a is None else a.detach().cpu().numpy()

    return Terms(plain(terms.elements), plain(terms.weights), plain(terms.mean_elements), terms.parts)


def _checked(
    spec: LossSpec, inputs: Mapping[str, np.ndarray], params: Mapping[str, Any], sources: Mapping[str, str] | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The inputs as float64 arrays, validated; the params with data-dependent defaults resolved."""
    missing = [i.name for i in spec.inputs if i.required and i.name not in inputs]
    if missing:
        raise UsageError(f"{spec.name} needs input(s) {', '.join(missing)}")
    arrays = {name: np.asarray(inputs[name], dtype=np.float64) for name in spec.input_names if name in inputs}
    out = dict(params)
    if spec.validate is not None:
        out = spec.validate(arrays, out, dict(sources or {})) or out
    return arrays, out


def _weighted(
    spec: LossSpec,
    xp: Any,
    terms: Terms,
    sample_weights: np.ndarray | None,
    dtype: str,
    backend: str,
    sources: Mapping[str, str] | None,
) -> tuple[Terms, Any]:
    """The terms with per-sample weights folded in, and the rule that reduces them."""
    rule = spec.rule
    if sample_weights is None:
        return terms, rule
    if not rule.sample_weights:
        raise UsageError(f"sample weights do not apply to {spec.name} (its reduction: {rule.description})")
    s = _check_sample_weights(spec, sample_weights, terms, sources or {})
    s_xp = xp.asarray(s.astype(dtype)) if backend == "numpy" else _torch_tensor(s, dtype)
    return _apply_sample_weights(xp, terms, s_xp), rule.with_weights()


def partial_state(
    spec: LossSpec,
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any],
    *,
    dtype: str = "float64",
    sources: Mapping[str, str] | None = None,
    sample_weights: np.ndarray | None = None,
) -> State:
    """The mergeable reduction state of one chunk of rows, on numpy (see :mod:`losscli.reduction`).

    States of consecutive chunks merge with ``State.merge``; :func:`finish` gives the value, equal
    to the one-pass value for every rule with ``chunkable=True``."""
    if not spec.rule.chunkable:
        raise UsageError(f"{spec.name} needs all rows at once ({spec.rule.description}); it cannot be chunked")
    arrays, params = _checked(spec, inputs, params, sources)
    xp = _namespace("numpy")
    data = {name: arr.astype(dtype, copy=False) for name, arr in arrays.items()}
    terms, rule = _weighted(spec, xp, spec.fn(xp, data, params), sample_weights, dtype, "numpy", sources)
    return rule.state(xp, terms)


def finish(spec: LossSpec, state: State, reduction: str = "mean", *, weighted: bool = False) -> float:
    """The value of a (merged) state for ``reduction`` (``mean`` or ``sum``)."""
    rule = spec.rule.with_weights() if weighted else spec.rule
    return float(rule.finish(_namespace("numpy"), state, reduction))
