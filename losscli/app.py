"""The application layer: what each command does, as functions returning plain dataclasses.

The CLI (:mod:`losscli.cli`) parses options into :class:`DataOptions` and :class:`HealthOptions`,
calls :func:`compute`, :func:`grad` or :func:`compare` here, and hands what they return to
:mod:`losscli.render`.  Nothing here prints: what a person should be told on stderr (the
bundled example was used, a column was left out) comes back in ``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from losscli import SCHEMA_VERSION
from losscli.core import NotRowWise
from losscli.errors import InputError, UsageError
from losscli.options import DataOptions, HealthOptions
from losscli.target import LossExpression, Result, SingleLoss, Target

if TYPE_CHECKING:
    from losscli.core import Evaluation
    from losscli.spec import LossSpec


@dataclass
class Loaded:
    """The data of one run: arrays by input name, the file each came from, sample weights, notes."""

    arrays: dict[str, np.ndarray]
    sources: dict[str, str]
    sample_weights: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class Needs:
    """The inputs a set of losses reads together (``compare``): names in order, required ones."""

    name: str
    input_names: list[str]
    required: list[str]
    example: Any = None


def load(target: Target | Needs, data: DataOptions) -> Loaded:
    """Read the target's inputs (positional files, ``--input NAME=FILE``, columns), or its bundled
    example when it gets no files at all and ``data.example_allowed``."""
    from losscli.io.readers import InputInfo, bind_sources, load_inputs, read_inputs

    names, required = target.input_names, target.required
    unknown = [n for n in set(data.named) | set(data.columns) if n not in names]
    if unknown:
        raise UsageError(
            f"{target.name} has no input named {', '.join(sorted(unknown))}; its inputs are {', '.join(names)}"
        )
    files, columns, notes = list(data.files), dict(data.columns), []
    if not files and not data.named:
        example = target.example
        if example is None or not data.example_allowed:
            raise UsageError(
                f"{target.name} needs input files ({', '.join(names)})"
                + ("; there is no bundled example for it" if example is None else "")
            )
        files, columns = example.paths(), {}
        applied = target.with_example_params(example.params) if isinstance(target, SingleLoss) else []
        shown = f" with -p {' -p '.join(applied)}" if applied else ""
        notes.append(f"no files given: using the bundled example for {target.name} ({', '.join(example.files)}){shown}")
    read = read_inputs(
        names,
        files,
        columns=dict(columns),
        named_files=dict(data.named),
        input_format=data.input_format,
        delimiter=data.delimiter,
        allow_nonfinite=data.allow_nonfinite,
        required=required,
    )
    notes += read.notes
    sources = bind_sources(names, files, dict(data.named), required=required)
    weights = None
    provenance = dict(read.provenance)
    if data.sample_weights is not None:
        weights = load_inputs(
            ["sample_weights"], [data.sample_weights], input_format=data.input_format, delimiter=data.delimiter
        )["sample_weights"]
        sources["sample_weights"] = data.sample_weights  # errors about the weights name their file
        provenance["sample_weights"] = InputInfo(data.sample_weights, None, tuple(weights.shape))
    return Loaded(read.arrays, sources, weights, notes, provenance)


def _say_conventions(result: Result, loaded: Loaded) -> None:
    """Where a convention changed the value, say so (stderr and the JSON ``notes``): torch's clamp
    of log at -100 on probabilities of exactly 0 or 1."""
    for ev in result.evaluations():
        count = ev.extras.get("clamped")
        if count:
            note = (
                f"{ev.spec.name}: {count} probabilit{'y is' if count == 1 else 'ies are'} 0 or 1 where the label "
                "says otherwise; torch's clamp of log at -100 set their loss to 100 each (scikit-learn's "
                "log_loss clips instead: -p clip=eps; Keras: -p clip=keras)"
            )
            result.notes.append(note)
            loaded.notes.append(note)


@dataclass
class Computed:
    """``compute``: the result and what was loaded."""

    result: Result
    loaded: Loaded


# inputs of more bytes than this (all files together) are read and evaluated a chunk of rows at a time
STREAM_BYTES = 64 << 20
STREAM_ROWS = 1 << 18  # rows a chunk when --chunk-rows does not say


@dataclass
class StreamPlan:
    """How one run reads its data in chunks: the bound files (re-opened for every pass), rows a chunk."""

    target: Target | Needs
    data: DataOptions
    rows: int
    sources: dict[str, str]

    def open(self) -> Any:
        """The inputs (and sample weights), ready for ``.chunks(rows)`` (:class:`losscli.io.chunks.Chunked`)."""
        chunked = self.inputs()
        if chunked is None:
            raise InputError("the inputs cannot be read in chunks")
        return chunked

    def inputs(self) -> Any:
        """The inputs (and sample weights) bound and opened, nothing read yet; None when a file
        cannot stream (another format, a pipe)."""
        from losscli.io.chunks import Chunked, open_chunks

        target, data = self.target, self.data
        chunked = open_chunks(
            target.input_names,
            list(data.files),
            columns=dict(data.columns),
            named_files=dict(data.named),
            input_format=data.input_format,
            delimiter=data.delimiter,
            allow_nonfinite=data.allow_nonfinite,
            required=target.required,
            rows=self.rows,
        )
        if chunked is None or data.sample_weights is None:
            return chunked
        weights = open_chunks(
            ["sample_weights"], [data.sample_weights], input_format=data.input_format, delimiter=data.delimiter,
            rows=self.rows,
        )  # fmt: skip
        if weights is None:
            return None
        return Chunked(chunked.streams + weights.streams, [*chunked.input_names, "sample_weights"], chunked.notes)


def stream_plan(
    target: Target | Needs,
    data: DataOptions,
    reduction: str,
    *,
    notes: list[str] | None = None,
    grad: bool = False,
) -> StreamPlan | None:
    """A plan to stream the data, or None to read it whole: it streams when ``--chunk-rows`` asks or
    the files hold more than :data:`STREAM_BYTES`, every loss reads each row on its own
    (:func:`losscli.core.streams`; for ``compare`` every term of every entry) and every file is a
    regular CSV, TSV, Parquet or .npy file.  ``grad``: gradients are wanted (one loss only).
    When ``--chunk-rows`` asked and the data cannot stream, why goes to ``notes``."""
    import os

    from losscli.core import streams

    asked = data.chunk_rows is not None
    if not data.files and not data.named:
        return None  # the bundled example: small, read whole
    why = None
    specs = [t.spec for ex in _expressions(target) for t in ex.terms]
    blocked = next((spec for spec in specs if not streams(spec, reduction)), None)
    if reduction == "none":
        why = "--reduction none keeps every element"
    elif grad and not isinstance(target, SingleLoss):
        why = "the gradients of an expression or a compare list are worked out in memory"
    elif blocked is not None:
        why = f"{blocked.name} needs all rows at once ({blocked.rule.description})"
    files = [f for f in [*data.files, *data.named.values(), data.sample_weights] if f is not None]
    if why is None and any(f == "-" or not os.path.isfile(f) for f in files):
        why = "standard input and pipes are read whole"
    if why is None and not asked and sum(os.path.getsize(f) for f in files) < STREAM_BYTES:
        return None
    plan = None
    if why is None:
        from losscli.io.readers import bind_sources

        sources = bind_sources(target.input_names, list(data.files), dict(data.named), required=target.required)
        if data.sample_weights is not None:
            sources["sample_weights"] = data.sample_weights
        candidate = StreamPlan(target, data, data.chunk_rows or STREAM_ROWS, sources)
        probe = candidate.inputs()
        if probe is None:
            why = "only CSV, TSV, Parquet and .npy files stream (JSON, NDJSON, .npz and images are read whole)"
        elif probe.rows_differ:
            why = "the inputs have different numbers of rows (an unbatched input?)"
        else:
            plan = candidate
    if why is not None and asked and notes is not None:
        notes.append(f"--chunk-rows: read whole, not in chunks: {why}")
    return plan


def _expressions(target: Target | Needs) -> list[Any]:
    """The parsed expressions a target evaluates (a single loss as a one-term expression)."""
    from losscli.expr import Expression, Term, parse_list

    if isinstance(target, Needs):
        return parse_list(target.name)
    if isinstance(target, LossExpression):
        return [target.expression]
    return [Expression(target.text, [Term(target.spec.name, 1.0, target.spec, dict(target.params))])]


def _not_row_wise(plan: StreamPlan, notes: list[str]) -> None:
    """The first chunk showed the rows are not samples (an unbatched input): the data is read whole."""
    if plan.data.chunk_rows is not None:
        notes.append(
            f"--chunk-rows: read whole, not in chunks: the rows of these inputs are not {plan.target.name}'s "
            "samples (an unbatched input?)"
        )


def _streamed_loaded(plan: StreamPlan, chunked: Any, notes: list[str]) -> Loaded:
    """What a streamed run read: no arrays kept, where each input came from, the readers' notes."""
    provenance = chunked.provenance()
    return Loaded({}, dict(plan.sources), None, [*notes, *chunked.notes], provenance)


def compute_streamed(
    plan: StreamPlan,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    progress: Any = None,
    notes: list[str] | None = None,
) -> Computed:
    """:func:`compute` on data read a chunk at a time (see :func:`losscli.core.evaluate_chunks`)."""
    from losscli.core import evaluate_chunks, streamed_evaluation

    chunked = plan.open()
    if not isinstance(plan.target, SingleLoss):
        from losscli.composite import stream_values, streamed_result

        (expression,) = _expressions(plan.target)
        (evaluations,) = stream_values(
            [expression],
            chunked.chunks(plan.rows),
            reduction=reduction,
            dtype=dtype,
            sources=plan.sources,
            progress=progress,
            total_rows=chunked.total,
        )
        cev = streamed_result(expression, evaluations, reduction=reduction, dtype=dtype)
        stand_in = cev.as_evaluation() if hasattr(cev, "as_evaluation") else cev
        stand_in.chunk_rows = plan.rows
        loaded = _streamed_loaded(plan, chunked, notes or [])
        result = Result(stand_in, cev)
        _say_conventions(result, loaded)
        return Computed(result, loaded)
    spec = plan.target.spec
    found = evaluate_chunks(
        spec,
        chunked.chunks(plan.rows),
        plan.target.params,
        reduction=reduction,
        dtype=dtype,
        sources=plan.sources,
        progress=progress,
        total_rows=chunked.total,
    )
    ev = streamed_evaluation(spec, found, reduction=reduction, dtype=dtype)
    ev.chunk_rows = plan.rows
    loaded = _streamed_loaded(plan, chunked, notes or [])
    result = Result(ev)
    _say_conventions(result, loaded)
    return Computed(result, loaded)


def compute(
    target: Target, data: DataOptions, *, reduction: str = "mean", dtype: str = "float64", progress: Any = None
) -> Computed:
    """The value of ``target`` on ``data`` (numpy; torch only for losses that run a torch model);
    ``progress(rows_done, rows)`` follows a chunked evaluation of large data.  Large files (or any,
    with ``--chunk-rows``) are read and evaluated a chunk of rows at a time: see :func:`stream_plan`."""
    notes: list[str] = []
    plan = stream_plan(target, data, reduction, notes=notes)
    if plan is not None:
        try:
            return compute_streamed(plan, reduction=reduction, dtype=dtype, progress=progress, notes=notes)
        except NotRowWise:
            _not_row_wise(plan, notes)
    done = compute_loaded(target, load(target, data), reduction=reduction, dtype=dtype, progress=progress)
    done.loaded.notes[:0] = notes
    return done


def compute_loaded(
    target: Target, loaded: Loaded, *, reduction: str = "mean", dtype: str = "float64", progress: Any = None
) -> Computed:
    """:func:`compute` on data already in memory (the Python API's ``losscli.compute`` comes here)."""
    result = target.run(
        loaded.arrays,
        backend="numpy",
        reduction=reduction,
        dtype=dtype,
        sources=loaded.sources,
        sample_weights=loaded.sample_weights,
        progress=progress,
    )
    _say_conventions(result, loaded)
    return Computed(result, loaded)


@dataclass
class Graded:
    """``grad``: the result with gradients, its health, and what was loaded; ``written``: the file the
    gradients were written to while they were computed (a streamed run), else None."""

    result: Result
    health: Any
    loaded: Loaded
    written: str | None = None


def grad(
    target: Target,
    data: DataOptions,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    health: HealthOptions | None = None,
    keep_graph: bool = False,
    out: str | None = None,
    stream: bool = True,
    progress: Any = None,
    with_health: bool = True,
) -> Graded:
    """Value, torch autograd gradients of every differentiable input, and their health.

    Large files (or any, with ``--chunk-rows``) stream (:func:`grad_streamed`); the gradients are
    then written to ``out`` as they are computed and ``written`` says so.  ``stream=False`` (a
    plot or CSV of every gradient needs them all) reads the data whole.

    A float32 run is compared with a float64 run of the same data for gradients that underflow.
    ``keep_graph`` keeps the autograd graph for ``--explain`` (a single loss only)."""
    if keep_graph and not isinstance(target, SingleLoss):
        raise UsageError("--explain takes a single loss, not an expression")
    if keep_graph and data.sample_weights is not None:
        raise UsageError("--explain works the chain rule without sample weights; drop --sample-weights")
    notes: list[str] = []
    plan = stream_plan(target, data, reduction, notes=notes, grad=True) if stream and not keep_graph else None
    if plan is None and data.chunk_rows is not None and (keep_graph or not stream):
        raise UsageError(
            f"--chunk-rows streams the data, but {'--explain' if keep_graph else 'printing or drawing every gradient'} needs it all in memory"
        )
    if plan is not None:
        try:
            return grad_streamed(
                plan,
                reduction=reduction,
                dtype=dtype,
                health=health,
                out=out,
                notes=notes,
                progress=progress,
                with_health=with_health,
            )
        except NotRowWise:
            _not_row_wise(plan, notes)
    if keep_graph and not with_health:
        raise UsageError("--explain walks through the gradient health; drop --no-health")
    done = grad_loaded(
        target,
        load(target, data),
        reduction=reduction,
        dtype=dtype,
        health=health,
        keep_graph=keep_graph,
        with_health=with_health,
    )
    done.loaded.notes[:0] = notes
    return done


def grad_streamed(
    plan: StreamPlan,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    health: HealthOptions | None = None,
    out: str | None = None,
    notes: list[str] | None = None,
    progress: Any = None,
    with_health: bool = True,
) -> Graded:
    """:func:`grad` on data read a chunk at a time.  Each chunk's share of the whole loss is
    differentiated by torch autograd, its gradients written to ``out`` and added to the health figures
    (:class:`losscli.diagnose.HealthAccumulator`); no gradient is held whole (the result's
    ``gradients`` stay empty, and a note says where they went).

    One pass when the share needs nothing of the whole data but what the mean divides by and that is
    known ahead: ``sum``, or a plain mean over rows the files count (.npy, Parquet), its denominator
    the first chunk's elements per row times the rows; checked against the merged state at the end
    (a weighted mean that turns out otherwise runs the second pass below).  Otherwise two: a numpy
    pass for the value and the denominator, then :func:`losscli.core.chunk_gradients` per chunk."""
    from losscli.core import evaluate_chunks

    health = health or HealthOptions()
    health.check()
    target = plan.target
    assert isinstance(target, SingleLoss)
    spec = target.spec
    _check_out(plan, out)
    chunked = plan.open()
    found, written = None, None
    if (
        spec.rule.final_is_identity
        and chunked.total is not None
        and (reduction == "sum" or plan.data.sample_weights is None)
        and (dtype == "float64" or not with_health)
    ):
        found, written = _grad_one_pass(plan, chunked, reduction, dtype, health, out, progress, with_health)
    if found is None:
        found = evaluate_chunks(
            spec,
            chunked.chunks(plan.rows),
            target.params,
            reduction=reduction,
            dtype=dtype,
            sources=plan.sources,
            progress=None if progress is None else lambda done, total: progress(done, total and 2 * total),
            total_rows=chunked.total,
        )
    ev = _streamed_ev(spec, found, plan, reduction, dtype)
    loaded = _streamed_loaded(plan, chunked, notes or [])
    if written is None:
        written = _grad_second_pass(plan, found, ev, loaded, reduction, dtype, health, out, progress, with_health)
    where = f"written to {out}" if out is not None else "pass --out FILE to keep them"
    note = (
        f"read in chunks of {plan.rows:,} rows: the {written.elements:,} gradients are not held in memory "
        f"nor printed ({where})" + ("; the health figures cover all of them" if with_health else "")
    )
    result = Result(ev, notes=[note])
    loaded.notes.append(note)
    _say_conventions(result, loaded)
    return Graded(result, written.result() if with_health else None, loaded, written=out)


def _streamed_ev(spec: LossSpec, found: Any, plan: StreamPlan, reduction: str, dtype: str) -> Evaluation:
    from losscli.core import streamed_evaluation

    ev = streamed_evaluation(spec, found, reduction=reduction, dtype=dtype)
    ev.chunk_rows = plan.rows
    ev.backend = "torch"
    return ev


def _check_out(plan: StreamPlan, out: str | None) -> None:
    """A streamed run reads its inputs again (or late): ``--out`` must not be one of them, and must name
    a format gradients are written in (said before any pass, not after)."""
    import os

    from losscli.io.writers import WRITERS

    if out is None:
        return
    read = [f for f in [*plan.data.files, *plan.data.named.values(), plan.data.sample_weights] if f]
    if os.path.exists(out) and any(os.path.exists(f) and os.path.samefile(out, f) for f in read):
        raise UsageError(f"--out {out} is one of the inputs; the streamed run reads it again: write elsewhere")
    if os.path.splitext(out)[1].lower() not in WRITERS:
        raise UsageError(f"cannot write gradients to {out!r}: use a file ending in {', '.join(WRITERS)}")


class _Written:
    """Where a streamed grad's gradients go, chunk by chunk: the health accumulator (when health is
    wanted) and the gradient file (when ``--out`` names one)."""

    def __init__(
        self,
        spec: LossSpec,
        shapes: dict[str, tuple[int, ...]],
        scale: float,
        health: HealthOptions,
        dtype: str,
        out: str | None,
        with_health: bool,
    ) -> None:
        from losscli.diagnose import HealthAccumulator

        self.spec, self.health, self.dtype, self.with_health = spec, health, dtype, with_health
        self.names = list(shapes)
        self.accumulator = HealthAccumulator(
            shapes,
            scale,
            vanishing=health.vanishing,
            exploding=health.exploding,
            top=health.top,
            dtype=dtype,
            reference_dtype="float64" if dtype != "float64" else None,
            saturation_eps=health.saturation,
        )
        self.elements = sum(math.prod(shape) for shape in shapes.values())
        self.sink = None
        if out is not None:
            from losscli.io.writers import GradientSink

            self.sink = GradientSink(out, shapes)

    def add(
        self,
        start: int,
        chunk: Mapping[str, np.ndarray],
        params: Mapping[str, Any],
        gradients: Mapping[str, np.ndarray],
        reference: Mapping[str, np.ndarray],
    ) -> None:
        """One chunk's gradients (``reference``: the same in float64, for a float32 run's health)."""
        if self.with_health:
            saturation = self.spec.teaching.saturation
            inputs = {name: values for name, values in chunk.items() if name != "sample_weights"}
            masks = saturation(inputs, params, self.dtype, self.health.saturation) if saturation is not None else {}
            for name in self.names:
                grad, mask = gradients[name], masks.get(name)
                self.accumulator.add(
                    name,
                    start,
                    grad,
                    inputs.get(name),
                    saturated=None if mask is None else np.broadcast_to(mask, grad.shape),
                    reference=reference.get(name),
                )
        if self.sink is not None:
            self.sink.add({name: gradients[name] for name in self.names})

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()

    def abort(self) -> None:
        if self.sink is not None:
            self.sink.abort()

    def result(self) -> Any:
        return self.accumulator.result()


def _grad_one_pass(
    plan: StreamPlan,
    chunked: Any,
    reduction: str,
    dtype: str,
    health: HealthOptions,
    out: str | None,
    progress: Any,
    with_health: bool,
) -> tuple[Any, _Written | None]:
    """The value and the gradients in one torch pass (see :func:`grad_streamed`): the merged state,
    and what was written, or None when the mean's denominator was not the one foreseen (a weighted
    mean: nothing kept, the caller runs a second pass with the state found)."""
    from losscli.core import ChunkReducer, first_rows_checked

    target = plan.target
    assert isinstance(target, SingleLoss)
    spec, total = target.spec, int(chunked.total)
    reducer = ChunkReducer(spec, target.params, reduction=reduction, dtype=dtype, sources=plan.sources, backend="torch")
    denominator: float | None = None
    written: _Written | None = None
    try:
        for start, chunk in first_rows_checked(chunked.chunks(plan.rows)):
            rows = reducer.add(start, chunk)
            if start == 0:
                denominator = _foreseen_denominator(reducer, rows, total, reduction)
                if denominator is not None:
                    names = [i.name for i in spec.inputs if i.differentiable and i.name in reducer.leaves]
                    shapes = {name: (total, *chunk[name].shape[1:]) for name in names}
                    scale = 1.0 if reduction == "sum" else denominator
                    written = _Written(spec, shapes, scale, health, dtype, out, with_health)
            if written is not None and denominator is not None:
                written.add(start, chunk, reducer.frozen or {}, reducer.gradients(denominator), {})
            if progress is not None:
                progress(start + rows, total if written is not None else 2 * total)
        found = reducer.done()
        if written is not None and not _as_foreseen(found, denominator, reduction):
            written.abort()
            written = None
        if written is not None:
            written.close()
    except BaseException:
        if written is not None:
            written.abort()
        raise
    return found, written


def _foreseen_denominator(reducer: Any, rows: int, total: int, reduction: str) -> float | None:
    """What the whole data's mean will divide by, from the first chunk: 1 for ``sum``; for a mean
    whose first chunk divides by its own element count (no weights, or every weight 1: cross-entropy
    with no row ignored), its elements per row times the rows.  None when the first chunk already
    says otherwise (class weights, an ignored row): the denominator is then Σw, known at the end."""
    if reduction == "sum":
        return 1.0
    terms = reducer.terms
    if reducer.weighted or terms is None or reducer.state is None:
        return None
    summed = terms.elements if terms.mean_elements is None else terms.mean_elements
    count = math.prod(int(d) for d in summed.shape)
    state = reducer.state
    if not rows or count % rows or float(state.denominator) != count or float(state.weighted) != count:
        return None
    return float(count // rows * total)


def _as_foreseen(found: Any, denominator: float | None, reduction: str) -> bool:
    """Whether the merged state divides by the denominator foreseen (and scales health by it)."""
    if reduction == "sum":
        return True
    return (
        denominator is not None
        and float(found.state.denominator) == denominator
        and float(found.state.weighted) == denominator
    )


def _grad_second_pass(
    plan: StreamPlan,
    found: Any,
    ev: Evaluation,
    loaded: Loaded,
    reduction: str,
    dtype: str,
    health: HealthOptions,
    out: str | None,
    progress: Any,
    with_health: bool,
) -> _Written:
    """The gradients of every chunk, by :func:`losscli.core.chunk_gradients` with the state of a first pass."""
    from losscli.core import chunk_gradients

    target = plan.target
    assert isinstance(target, SingleLoss)
    spec = target.spec
    rows = max((int(info.shape[0]) for info in loaded.provenance.values()), default=0)
    names = [i.name for i in spec.inputs if i.differentiable and i.name in loaded.provenance]
    shapes = {name: tuple(loaded.provenance[name].shape) for name in names}
    written = _Written(spec, shapes, ev.scale, health, dtype, out, with_health)
    try:
        for start, chunk in plan.open().chunks(plan.rows):
            gradients = chunk_gradients(
                spec, found, chunk, start=start, reduction=reduction, dtype=dtype, sources=plan.sources
            )
            reference = (
                chunk_gradients(spec, found, chunk, start=start, reduction=reduction, sources=plan.sources)
                if dtype != "float64" and with_health
                else {}
            )
            written.add(start, chunk, found.params, gradients, reference)
            if progress is not None:  # the second pass: the rows are known now
                progress(rows + start + len(next(iter(chunk.values()))), 2 * rows)
        written.close()
    except BaseException:
        written.abort()
        raise
    return written


def grad_loaded(
    target: Target,
    loaded: Loaded,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    health: HealthOptions | None = None,
    keep_graph: bool = False,
    with_health: bool = True,
) -> Graded:
    """:func:`grad` on data already in memory (the Python API's ``losscli.grad`` comes here)."""
    from losscli.diagnose import diagnose

    health = health or HealthOptions()
    health.check()

    def run(precision: str, graph: bool) -> Result:
        return target.run(
            loaded.arrays,
            backend="torch",
            reduction=reduction,
            dtype=precision,
            sources=loaded.sources,
            sample_weights=loaded.sample_weights,
            keep_graph=graph,
        )

    result = run(dtype, keep_graph)
    _say_conventions(result, loaded)
    reference = run("float64", False).evaluation if dtype != "float64" and with_health else None
    if not with_health:
        return Graded(result, None, loaded)
    verdict = diagnose(
        result.evaluation,
        loaded.arrays,
        vanishing=health.vanishing,
        exploding=health.exploding,
        saturation_eps=health.saturation,
        top=health.top,
        reference=reference,
    )
    return Graded(result, verdict, loaded)


@dataclass
class Compared:
    """``compare``: one row per entry (:class:`losscli.composite.CompareRow`) and what was loaded."""

    rows: list[Any]
    loaded: Loaded


def compare(
    text: str,
    data: DataOptions,
    *,
    with_grad: bool = False,
    reduction: str = "mean",
    dtype: str = "float64",
) -> Compared:
    """Several losses or expressions (a comma list, parsed by the expression parser) on the same data."""
    needs = compare_needs(text, reduction)
    notes: list[str] = []
    plan = stream_plan(needs, data, reduction, notes=notes, grad=with_grad)
    if plan is not None:
        try:
            return compare_streamed(plan, text, reduction=reduction, dtype=dtype, notes=notes)
        except NotRowWise:
            _not_row_wise(plan, notes)
    done = compare_loaded(text, load(needs, data), with_grad=with_grad, reduction=reduction, dtype=dtype)
    done.loaded.notes[:0] = notes
    return done


def compare_streamed(
    plan: StreamPlan, text: str, *, reduction: str = "mean", dtype: str = "float64", notes: list[str] | None = None
) -> Compared:
    """:func:`compare` (values) on data read a chunk at a time: every entry's terms in one pass."""
    from losscli.composite import CompareRow, stream_values, streamed_result

    expressions = _expressions(plan.target)
    chunked = plan.open()
    values = stream_values(
        expressions, chunked.chunks(plan.rows), reduction=reduction, dtype=dtype, sources=plan.sources
    )
    rows = []
    for ex, evaluations in zip(expressions, values, strict=True):
        for ev in evaluations:
            ev.chunk_rows = plan.rows
        rows.append(CompareRow(ex.text, streamed_result(ex, evaluations, reduction=reduction, dtype=dtype)))
    return Compared(rows, _streamed_loaded(plan, chunked, notes or []))


def compare_needs(text: str, reduction: str = "mean") -> Needs:
    """The inputs the entries of a ``compare`` list read together (names in order, required ones)."""
    from losscli.expr import parse_list

    if reduction == "none":
        raise UsageError("compare needs one value per loss: use --reduction mean or sum")
    names: list[str] = []
    required: list[str] = []
    for ex in parse_list(text):
        names += [n for n in ex.input_names() if n not in names]
        required += [n for n in ex.required_inputs() if n not in required]
    return Needs(text, names, required)


def compare_loaded(
    text: str, loaded: Loaded, *, with_grad: bool = False, reduction: str = "mean", dtype: str = "float64"
) -> Compared:
    """:func:`compare` on data already in memory (the Python API's ``losscli.compare`` comes here)."""
    from losscli.composite import compare as run_compare
    from losscli.expr import parse_list

    if reduction == "none":
        raise UsageError("compare needs one value per loss: use --reduction mean or sum")
    rows = run_compare(
        [ex.text for ex in parse_list(text)],
        loaded.arrays,
        grad=with_grad,
        reduction=reduction,
        dtype=dtype,
        sources=loaded.sources,
        sample_weights=loaded.sample_weights,
    )
    return Compared(rows, loaded)


# ---------------------------------------------------------------- checks a CI gate asks for


@dataclass
class Check:
    """One requested check and its outcome: ``check`` (``fail-above``, ``fail-below``,
    ``gradient health``), its ``threshold`` (a number, or the health verdicts that fail),
    ``passed``, and ``message``, the one line said on stderr when it failed."""

    check: str
    threshold: Any
    passed: bool
    message: str = ""


def bound_checks(value: float, fail_above: float | None, fail_below: float | None, what: str = "loss") -> list[Check]:
    """``--fail-above`` / ``--fail-below`` on a reduced value; a NaN value fails every bound."""
    out = []
    for name, bound, fails in (
        ("fail-above", fail_above, lambda v, b: v > b),
        ("fail-below", fail_below, lambda v, b: v < b),
    ):
        if bound is None:
            continue
        if math.isnan(value):
            out.append(Check(name, bound, False, f"{what} is NaN (--{name} {bound:g})"))
            continue
        failed = fails(value, bound)
        sign = ">" if name == "fail-above" else "<"
        out.append(Check(name, bound, not failed, f"{what} {value:.10g} {sign} --{name} {bound:g}" if failed else ""))
    return out


def check_bounds_given(fail_above: float | None, fail_below: float | None, reduction: str) -> None:
    """A bound must be a finite number and needs a single value to compare."""
    for name, bound in (("--fail-above", fail_above), ("--fail-below", fail_below)):
        if bound is not None and not math.isfinite(bound):
            raise UsageError(f"{name} must be a finite number, got {bound!r} (a check against it could never fail)")
    if reduction == "none" and (fail_above is not None or fail_below is not None):
        raise UsageError("--fail-above/--fail-below need a single value: use --reduction mean or sum")


def health_check(health: Any, fail_on: tuple[str, ...] | None) -> Check:
    """``--strict`` / ``--fail-on``: the gradient health verdict against the verdicts that fail."""
    failed = health.failed(fail_on)
    threshold = list(fail_on) if fail_on else ["any status but ok"]
    kinds = health.kinds() & set(fail_on) if fail_on else health.kinds()
    found = ", ".join(sorted(kinds)) or health.status
    return Check(
        "gradient health", threshold, not failed, f"gradient health: {found} ({health.reason()})" if failed else ""
    )


# ---------------------------------------------------------------- a network's parameters (--model)


@dataclass
class ModelBinding:
    """How files bind to a network and a loss: the model, its applications, the loss's other inputs."""

    model: Any
    applications: list[Any]
    arrays: dict[str, np.ndarray]
    sources: dict[str, str]
    notes: list[str] = field(default_factory=list)


def bind_model(
    target: Target, data: DataOptions, model_path: str, feeds: list[tuple[str, list[str]]], *, trust: bool = False
) -> ModelBinding:
    """Load the model and read the files: without ``feeds`` the first files feed the model's inputs
    (in the program's input order) and its output is the loss's first input; with ``feeds`` each
    ``NAME=FILE,...`` is one application of the model whose output is loss input NAME.  The
    remaining files (and ``--input``) bind to the loss's other inputs in order."""
    from losscli.io.readers import bind_sources, read_inputs
    from losscli.netload import load_model
    from losscli.network import Application

    if not isinstance(target, SingleLoss):
        raise UsageError("--model takes a single loss, not an expression")
    if data.sample_weights is not None:
        raise UsageError("--model does not take --sample-weights yet")
    spec = target.spec
    model = load_model(model_path, trust=trust)
    k = len(model.inputs)
    differentiable = [i.name for i in spec.inputs if i.differentiable]
    files = list(data.files)
    plan: list[tuple[str, list[str]]] = []
    if feeds:
        for name, fed in feeds:
            if name not in spec.input_names:
                raise UsageError(
                    f"--feed {name}=...: {spec.name} has no input {name}; its inputs are {', '.join(spec.input_names)}"
                )
            if name not in differentiable:
                raise UsageError(
                    f"--feed {name}=...: {name} is not an input the loss differentiates (a model cannot feed it)"
                )
            plan.append((name, fed))
    else:
        if len(files) < k:
            raise UsageError(
                f"the model takes {k} input(s) ({model.describe_inputs()}) but {len(files)} file(s) were given; "
                f"the first {k} file(s) feed the model, the rest the loss's other inputs"
            )
        plan.append((spec.input_names[0], files[:k]))
        files = files[k:]
    fed_names = {name for name, _ in plan}
    applications = []
    model_names = [name for name, _shape, _dtype in model.inputs] or [f"input{i}" for i in range(len(plan[0][1]))]
    notes = []
    for name, fed in plan:
        if model.kind == "pt2" and len(fed) != k:
            raise UsageError(
                f"--feed {name}: the model takes {k} input(s) ({model.describe_inputs()}), got {len(fed)} file(s)"
            )
        read = read_inputs(
            model_names[: len(fed)], fed, input_format=data.input_format, delimiter=data.delimiter,
            allow_nonfinite=data.allow_nonfinite,
        )  # fmt: skip
        notes += read.notes
        applications.append(Application(name, [read.arrays[n] for n in model_names[: len(fed)]], list(fed)))
    rest = [n for n in spec.input_names if n not in fed_names]
    required = [i.name for i in spec.inputs if i.required and i.name not in fed_names]
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    if rest and (files or data.named):
        read = read_inputs(
            rest, files, columns=dict(data.columns), named_files=dict(data.named), input_format=data.input_format,
            delimiter=data.delimiter, allow_nonfinite=data.allow_nonfinite, required=required,
        )  # fmt: skip
        arrays, notes = dict(read.arrays), notes + read.notes
        sources = bind_sources(rest, files, dict(data.named), required=required)
    elif required:
        raise UsageError(f"{spec.name} also needs {', '.join(required)}: give the file(s) after the model's inputs")
    elif files:
        raise UsageError(f"{len(files)} file(s) left over: every input of {spec.name} is fed by the model")
    for name, fed in plan:
        sources[name] = f"{model_path} applied to {', '.join(fed)}"
    return ModelBinding(model, applications, arrays, sources, notes)


@dataclass
class ModelGraded:
    """``grad --model``: the run (:class:`losscli.network.ModelRun`) and how the data was bound."""

    run: Any
    binding: ModelBinding


def grad_model(
    target: Target,
    data: DataOptions,
    model_path: str,
    feeds: list[tuple[str, list[str]]],
    *,
    trust: bool = False,
    reduction: str = "mean",
    dtype: str | None = None,
    options: Any = None,
) -> ModelGraded:
    """The gradients of the model's parameters after one ``backward()`` of the loss."""
    from losscli.network import run_model

    if reduction == "none":
        raise UsageError("--model needs one loss value to differentiate: use --reduction mean or sum")
    binding = bind_model(target, data, model_path, feeds, trust=trust)
    assert isinstance(target, SingleLoss)
    run = run_model(
        binding.model, target.spec, target.params, binding.applications, binding.arrays, binding.sources,
        reduction=reduction, dtype=dtype, options=options,
    )  # fmt: skip
    return ModelGraded(run, binding)


def compute_model(
    target: Target,
    data: DataOptions,
    model_path: str,
    feeds: list[tuple[str, list[str]]],
    *,
    trust: bool = False,
    reduction: str = "mean",
    dtype: str | None = None,
) -> Computed:
    """The loss of the model's output, under ``torch.no_grad`` (no ``.grad`` is written)."""
    import torch

    from losscli.network import _forward, _reshape_for, check_inputs

    binding = bind_model(target, data, model_path, feeds, trust=trust)
    cast = getattr(torch, dtype) if dtype else None
    if cast is not None:
        binding.model.module.to(cast)
    arrays = dict(binding.arrays)
    out_dtype = "float32"
    with torch.no_grad():
        outs: dict[str, list[np.ndarray]] = {}
        for app in binding.applications:
            app = _reshape_for(binding.model, app)
            check_inputs(binding.model, app)
            out = _forward(binding.model, app, None, cast)
            out_dtype = str(out.dtype).replace("torch.", "")
            outs.setdefault(app.feeds, []).append(out.to(torch.float64).numpy())
    for name, parts in outs.items():
        arrays[name] = np.concatenate(parts) if len(parts) > 1 else parts[0]
    assert isinstance(target, SingleLoss)
    result = target.run(
        arrays, backend="numpy", reduction=reduction, dtype=out_dtype if out_dtype in ("float32", "float64") else "float64",
        sources=binding.sources,
    )  # fmt: skip
    return Computed(result, Loaded(arrays, binding.sources, None, binding.notes, {}))


# ---------------------------------------------------------------- the baseline gate


def parse_max_increase(text: str | None) -> tuple[str, float]:
    """``--max-increase``: ``2%`` (relative to the baseline's value) or ``0.01`` (absolute)."""
    if text is None:
        return "absolute", 0.0
    raw = text.strip()
    relative = raw.endswith("%")
    try:
        amount = float(raw[:-1] if relative else raw)
    except ValueError:
        raise UsageError(f"--max-increase takes a number or a percentage such as 2%, got {text!r}") from None
    if not math.isfinite(amount) or amount < 0:
        raise UsageError(f"--max-increase must be a finite number >= 0, got {text!r}")
    return ("relative", amount / 100.0) if relative else ("absolute", amount)


@dataclass
class Stored:
    """One stored result of a baseline file: what it was (loss, params, reduction, dtype, n) and its value."""

    key: str
    loss: str
    params: Any
    reduction: str
    dtype: str | None
    n: int | None
    value: float | None


def _key(text: str) -> str:
    """An entry's text with its white space removed, so 'mae + 0.5*mse' matches 'mae+0.5*mse'."""
    return "".join(text.split())


def read_baseline(path: str) -> list[Stored]:
    """A stored ``--json`` output of ``compute``, ``grad``, ``compare`` or ``grad --model``."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read the baseline: {exc.strerror or exc}", source=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the baseline is not JSON ({exc.msg}); expected a losscli --json output", source=path, line=exc.lineno
        ) from None
    rows = obj if isinstance(obj, list) else [obj]
    out: list[Stored] = []
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or "value" not in row or not ({"loss", "expr"} & set(row)):
            raise InputError(
                f"entry {k + 1} is not a losscli result (expected an object with 'loss' or 'expr' and 'value', "
                "as 'losscli compute/grad/compare --json' writes)",
                source=path,
            )
        version = row.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(f"entry {k + 1}: schema_version {version!r} is not an integer", source=path)
        if version > SCHEMA_VERSION:
            raise InputError(
                f"entry {k + 1} has schema_version {version}; this losscli reads up to {SCHEMA_VERSION} "
                "(written by a newer losscli?)",
                source=path,
            )
        if "reduction" not in row:
            raise InputError(f"entry {k + 1} has no 'reduction': not a losscli --json output", source=path)
        value = row["value"]
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise InputError(
                f"entry {k + 1}: the baseline value is not one number (was it run with --reduction none?)", source=path
            )
        loss = str(row.get("loss", row.get("expr")))
        out.append(
            Stored(
                key=str(row.get("expr", loss)),
                loss=loss,
                params=row.get("params"),
                reduction=str(row["reduction"]),
                dtype=row.get("dtype"),
                n=row.get("n"),
                value=None if value is None else float(value),
            )
        )
    return out


def _jsonish(value: Any) -> Any:
    """Parameters as the JSON output has them (tuples as lists), to compare with a stored run."""
    import json

    return json.loads(json.dumps(value, default=list))


def _match(stored: list[Stored], name: str, params: Any) -> Stored | None:
    """The stored result for this entry: the same text (white space aside), or the same loss with
    the same parameters (a compare entry 'huber(delta=0.1)' for 'compute huber -p delta=0.1')."""
    found = [s for s in stored if _key(s.key) == _key(name)]
    if not found:
        found = [s for s in stored if s.loss == name and _jsonish(s.params) == _jsonish(params)]
    return found[0] if found else None


@dataclass
class Current:
    """This run's result for one entry, as the baseline gate compares it."""

    name: str
    value: float
    params: Any
    dtype: str
    n: int | None


BASELINE_ROUNDING = 1e-12  # of the baseline's value: what a re-summation in another order may move


def baseline_checks(entries: list[Current], path: str | None, max_increase: str | None, reduction: str) -> list[Check]:
    """``--baseline FILE --max-increase X``: each entry fails when its value is above the stored one
    by more than X (``2%`` of the stored value, or an amount), plus 1e-12 of it for rounding.  A NaN
    now fails.  A stored result of other parameters, another reduction or dtype, another number
    of samples, or a missing or NaN one, is an input error: those are not the same measurement."""
    if path is None:
        if max_increase is not None:
            raise UsageError("--max-increase needs --baseline FILE (a stored --json output to compare with)")
        return []
    kind, amount = parse_max_increase(max_increase)
    stored = read_baseline(path)
    shown = (f"{amount * 100:g}%" if kind == "relative" else f"{amount:g}") if max_increase else "0"
    out = []
    for cur in entries:
        base = _match(stored, cur.name, cur.params)
        if base is None:
            known = ", ".join(sorted({s.key for s in stored})) or "nothing"
            raise InputError(f"the baseline has no result for {cur.name!r} (it has {known})", source=path)
        for what, then, now in (
            ("--reduction", base.reduction, reduction),
            ("--dtype", base.dtype, cur.dtype),
            ("parameters", _jsonish(base.params), _jsonish(cur.params)),
            ("number of samples (n)", base.n, cur.n),
        ):
            if then is not None and now is not None and then != now:
                raise InputError(
                    f"the baseline of {cur.name} was computed with {what} {then}, this run with {now}: not the same "
                    "measurement (store a new baseline)",
                    source=path,
                )
        if base.value is None:
            raise InputError(f"the baseline value of {cur.name} is null (NaN): nothing to compare with", source=path)
        allowed = amount * abs(base.value) if kind == "relative" else amount
        limit = base.value + allowed + BASELINE_ROUNDING * abs(base.value)
        passed = not math.isnan(cur.value) and cur.value <= limit
        message = ""
        if not passed:
            digits = ".10g" if f"{cur.value:.10g}" != f"{base.value:.10g}" else ".17g"
            message = f"{cur.name} {cur.value:{digits}} > baseline {base.value:{digits}} + {shown} ({limit:{digits}})"
        out.append(Check("baseline", limit, passed, message))
    return out


# ---------------------------------------------------------------- losscli plot: loss curves


@dataclass
class Curve:
    """One loss along the x axis: its per-element value ℓ and derivative ∂ℓ/∂p (torch autograd)."""

    expr: str
    values: np.ndarray
    derivative: np.ndarray


@dataclass
class Curves:
    """``losscli plot``: the x values, what they are, the fixed target, and one curve per loss."""

    x: np.ndarray
    axis: str  # "residual" (x = p - y) or "prediction" (x = p)
    target: float
    curves: list[Curve]


DEFAULT_RANGES = ((-3.0, 3.0), (1e-3, 1.0 - 1e-3))  # scores/residuals; probabilities


def loss_curves(
    text: str, *, target: float | None = None, x_range: tuple[float, float] | None = None, points: int = 401
) -> Curves:
    """Each loss of the comma list ``text`` (``huber(delta=0.5)`` carries its parameters) as a
    function of one prediction: ℓ(p, y) and ∂ℓ/∂p on ``points`` values, the target held at
    ``target``.  Regression losses (functions of the residual) are drawn against r = p - y with
    y = 0 by default; the others against p with y = 1.  Without ``x_range``, [-3, 3], or (0, 1)
    for losses that take probabilities.  Only elementwise losses of (preds, targets) are drawn."""
    from losscli.chains import Elementwise
    from losscli.core import evaluate
    from losscli.expr import parse_list

    if points < 2:
        raise UsageError("--points must be at least 2")
    if x_range is not None and not (
        math.isfinite(x_range[0]) and math.isfinite(x_range[1]) and x_range[0] < x_range[1]
    ):
        raise UsageError(f"--range must be LO,HI with LO < HI, got {x_range[0]:g},{x_range[1]:g}")
    terms = []
    for ex in parse_list(text):
        if not ex.is_plain or ex.terms[0].bindings:
            raise UsageError(f"plot draws single losses, not expressions: {ex.text!r}")
        term = ex.terms[0]
        if not isinstance(term.spec.teaching.chain, Elementwise) or term.spec.input_names[:2] != ["preds", "targets"]:
            raise UsageError(
                f"plot draws elementwise losses of (preds, targets) against one prediction; {term.spec.name} is not one"
            )
        terms.append(term)
    residual = all(t.spec.teaching.outliers for t in terms)
    y = float(target if target is not None else (0.0 if residual else 1.0))
    ranges = [x_range] if x_range is not None else list(DEFAULT_RANGES)
    last: Exception | None = None
    for lo, hi in ranges:
        x = np.linspace(lo, hi, points)
        preds = x + y if residual else x
        targets = np.full_like(preds, y)
        try:
            curves = []
            for term in terms:
                ev = evaluate(
                    term.spec, {"preds": preds, "targets": targets}, term.params, reduction="none", backend="torch"
                )
                curves.append(Curve(term.expr, np.asarray(ev.elements, dtype=np.float64), ev.gradients["preds"]))
        except InputError as exc:
            last = exc
            continue
        return Curves(x, "residual" if residual else "prediction", y, curves)
    tried = " and ".join(f"[{lo:g}, {hi:g}]" for lo, hi in ranges)
    raise UsageError(f"cannot draw {text} on {tried} with target {y:g}: {last}; give --range LO,HI or --target Y")
