"""``--engine dask``: the same losses over a Parquet dataset, partition by partition on a Dask cluster.

The data is a Parquet dataset: a directory of part files, a glob, or one file (fsspec URLs such as
``s3://bucket/data/`` pass through).  It is read with ``dask.dataframe.read_parquet``, one partition
per file, in Dask's order of the files (natural sort of their paths), on a ``dask.distributed``
cluster: the scheduler at ``--scheduler ADDRESS``, else at ``DASK_SCHEDULER_ADDRESS``, else a
``LocalCluster`` of worker processes started for the run.  Every input is a column (or columns) of
the dataset, chosen as the single-machine reader chooses them (:func:`losscli.io.readers.table_selections`:
``--pred-col``/``--target-col``/``--col``, else a column named like the input or an alias);
``--sample-weights COLUMN`` names the dataset's column of per-sample weights.

Nothing about a loss is written here.  Each partition is what a chunk is to the single-machine
streamed path (:func:`losscli.app.compute_streamed`, :func:`losscli.app.grad_streamed`):

* pass 1 maps every partition to its :class:`losscli.core.StreamState` (``evaluate_chunks`` on the
  partition, ``--chunk-rows`` rows at a time) and its row count; the driver merges the states in
  partition order, so the value is the same, bit for bit, from run to run and whatever the
  workers, and equal to the single-machine value to rounding (sums in another grouping);
* pass 2 (``grad``) gives every partition the merged state: it differentiates its rows' share of
  the whole loss (``chunk_gradients``), writes its gradients as one part file of the ``--out``
  dataset (the columns of :func:`losscli.io.writers.gradients_long_table`, rows numbered across the
  whole dataset) and returns its :class:`losscli.diagnose.HealthAccumulator`; the driver merges
  those in partition order.

Errors a worker finds in the data come back as values and are raised on the driver as one-line
:class:`~losscli.errors.InputError`/:class:`~losscli.errors.UsageError`, naming the part file and
its row as the single-machine reader names them, and the partition.  Our own functions are sent to
the workers (cloudpickle); nothing read from the user's files is ever unpickled.

Dask is an optional extra, imported when the engine runs: without it the engine says
``pip install 'losscli[dask]'``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from losscli.errors import InputError, LossCliError, UsageError
from losscli.io.common import GLOB_CHARS, resolve_columns, stack
from losscli.io.typed_tables import ParquetTable
from losscli.options import DataOptions, HealthOptions

INSTALL = "the dask engine needs: pip install 'losscli[dask]'"
TAKES = (
    "the dask engine takes one Parquet dataset (a directory of part files, a glob or a .parquet file; "
    "fsspec URLs pass through) holding every input as columns"
)
PARQUET_EXTENSIONS = (".parquet", ".parq", ".pq")
FILE_SUFFIXES = (".csv", ".tsv", ".json", ".ndjson", ".npy", ".npz")  # --out names a file, not a dataset
PART_FILE = re.compile(r"^part\.\d+\.parquet$")
CONNECT_TIMEOUT = "10s"
LOCAL_WORKERS = max(1, min(os.cpu_count() or 2, 8))  # a LocalCluster's worker processes (one thread each)


# ---------------------------------------------------------------- the dataset and its columns


@dataclass(frozen=True)
class Dataset:
    """A Parquet dataset: as given, its part files (as Dask reads them, in Dask's order), how
    messages name each, and the columns (of the first file's schema, as Dask reads it)."""

    path: str
    urls: list[str]
    labels: list[str]
    names: list[str]


def require_dask() -> None:
    """UsageError naming the extra when dask, distributed or pyarrow is missing."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL) from None


def _hidden(relative: str) -> bool:
    """A path Dask leaves out of a directory: any part starting with ``_`` or ``.`` (``_metadata``,
    ``_SUCCESS``, ``.crc`` files, a staging folder)."""
    return any(part.startswith(("_", ".")) for part in PurePosixPath(relative).parts)


def open_dataset(path: str, *, input_format: str | None = None) -> Dataset:
    """The part files of ``path`` (a directory, a glob or one file; any fsspec URL) and the columns.

    In a directory, files ending in .parquet, .parq or .pq (hidden and ``_`` ones left out, as Dask
    does); a glob's or a lone file's matches must end so too unless ``--input-format parquet``."""
    import fsspec
    from dask.utils import natural_sort_key

    try:
        fs, root = fsspec.core.url_to_fs(path)
    except (ValueError, ImportError) as exc:  # an unknown protocol, or its package is not installed
        raise UsageError(f"cannot open {path}: {str(exc).splitlines()[0]}") from None
    forced = input_format == "parquet"
    try:
        if GLOB_CHARS & set(root):
            matched = fs.glob(root, detail=True)
            found = [p for p, info in matched.items() if info.get("type") == "file"]
            found = [p for p in found if forced or p.lower().endswith(PARQUET_EXTENSIONS)]
        elif fs.isdir(root):
            base = root.rstrip("/")
            found = [
                p
                for p in fs.find(root)
                if p.lower().endswith(PARQUET_EXTENSIONS) and not _hidden(p[len(base) :].lstrip("/"))
            ]
        elif fs.isfile(root):
            if not forced and not root.lower().endswith(PARQUET_EXTENSIONS):
                raise UsageError(f"{TAKES}; {path} is not a .parquet file (--input-format parquet if it is one)")
            found = [root]
        else:
            raise InputError("no such file, directory or glob match", source=path)
    except OSError as exc:
        raise InputError(f"cannot list the dataset ({exc.strerror or exc})", source=path) from None
    if not found:
        raise InputError("no Parquet files here (*.parquet, *.parq, *.pq)", source=path)
    found = sorted(found, key=natural_sort_key)  # the order Dask gives its partitions
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    urls = found if local else [fs.unstrip_protocol(p) for p in found]
    labels = [_label(p) for p in found] if local else list(urls)
    names = _columns(urls, path, forced)
    return Dataset(path, urls, labels, names)


def _label(path: str) -> str:
    """A local file as messages name it: relative to the working directory when it is below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _read(urls: list[str], columns: list[str] | None, forced: bool) -> Any:
    """The dataset as a dask DataFrame: one partition per file, Arrow-backed columns (so a missing
    value stays missing, not NaN), no pandas index."""
    import dask.dataframe as dd

    return dd.read_parquet(
        urls,
        columns=columns,
        index=False,
        split_row_groups=False,
        aggregate_files=False,
        dtype_backend="pyarrow",
        parquet_file_extension=None if forced else PARQUET_EXTENSIONS,
        calculate_divisions=False,
    )


def _columns(urls: list[str], path: str, forced: bool) -> list[str]:
    try:
        return [str(name) for name in _read(urls, None, forced).columns]
    except Exception as exc:
        cause: BaseException = exc
        while cause.__cause__ is not None:  # dask wraps the reader's error in its own
            cause = cause.__cause__
        if _unreadable(cause) or isinstance(cause, ValueError):
            raise InputError(f"not a valid Parquet dataset ({_reason(cause)})", source=path) from None
        raise


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class _PartitionTable(ParquetTable):
    """One partition's columns (a polars frame converted from Dask's Arrow-backed one), checked and
    turned into float64 arrays by :class:`~losscli.io.typed_tables.ParquetTable`'s own rules: lists
    or fixed-size arrays become rows of a matrix, a missing value or a NaN is named by its row in
    the part file."""

    frame: Any = None

    def _load(self, wanted: list[int]) -> dict[int, np.ndarray]:
        return {index: self._values(self.frame[self.names[index]]) for index in wanted}


# ---------------------------------------------------------------- what the workers are given


@dataclass(frozen=True)
class _Job:
    """What every partition's task needs (small, pickled into the graph): the loss by name (the
    workers look it up in their own registry), the columns of each input, the run's settings."""

    loss: str
    params: dict[str, Any]
    reduction: str
    dtype: str
    names: list[str]  # the dataset's columns
    selections: dict[str, list[int]]  # input -> column indices
    weights: int | None  # the sample weights' column index
    allow_nonfinite: bool
    rows: int  # rows a chunk inside a partition
    labels: list[str]  # each partition's file, as messages name it
    version: str


@dataclass
class _Found:
    """Pass 1 of one partition: its rows, each input's trailing shape, its state, or its error."""

    index: int
    rows: int
    widths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    found: Any = None  # a core.StreamState; None for an empty partition or an error
    error: tuple[str, str] | None = None  # (UsageError or InputError, message)
    version: str = ""


@dataclass
class _Graded:
    """Pass 2 of one partition: its health figures, the part file written (or None), or its error."""

    index: int
    rows: int = 0
    accumulator: Any = None
    written: str | None = None
    error: tuple[str, str] | None = None


def _arrays(part: Any, job: _Job, index: int) -> tuple[dict[str, np.ndarray], np.ndarray | None, int]:
    """A partition's inputs as float64 arrays (and its sample weights), checked as the single-machine
    Parquet reader checks a file; and its rows."""
    import polars as pl

    frame = pl.from_pandas(part) if not isinstance(part, pl.DataFrame) else part
    rows = frame.height
    if rows == 0:
        return {}, None, 0
    table = _PartitionTable(job.labels[index], job.labels[index], list(job.names), job.allow_nonfinite, frame=frame)
    wanted = _wanted(job)
    loaded = table.load_columns(wanted)
    arrays = {name: stack([loaded[i] for i in sel]) for name, sel in job.selections.items()}
    weights = None
    if job.weights is not None:  # writable: torch takes the weights as they are (the inputs it copies)
        weights = np.require(loaded[job.weights], requirements="W")
    return arrays, weights, rows


def _chunks(arrays: Mapping[str, np.ndarray], weights: np.ndarray | None, rows: int, step: int) -> Iterator[Any]:
    """``(first row, {input: rows})`` of a partition, ``step`` rows at a time (rows of the part file)."""
    for lo in range(0, rows, step):
        chunk = {name: values[lo : lo + step] for name, values in arrays.items()}
        if weights is not None:
            chunk["sample_weights"] = weights[lo : lo + step]
        yield lo, chunk


def _sources(job: _Job, index: int, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    """How messages name where a partition's inputs (and sample weights) came from: its part file."""
    sources = {name: job.labels[index] for name in arrays}
    if job.weights is not None:
        sources["sample_weights"] = f"{job.labels[index]}, column {job.names[job.weights]}"
    return sources


def _failure(exc: LossCliError) -> tuple[str, str]:
    return ("usage" if isinstance(exc, UsageError) else "input", str(exc))


def _first_pass(part: Any, index: int, job: _Job, params: dict[str, Any] | None = None) -> _Found:
    """Pass 1 on a worker: the partition's StreamState (see the module docstring)."""
    import losscli
    from losscli import losses
    from losscli.core import NotRowWise, evaluate_chunks

    out = _Found(index, 0, version=losscli.__version__)
    try:
        spec = losses.get(job.loss)
        arrays, weights, out.rows = _arrays(part, job, index)
        if not out.rows:
            return out
        out.widths = {name: tuple(values.shape[1:]) for name, values in arrays.items()}
        sources = _sources(job, index, arrays)
        use = job.params if params is None else params
        zero = weights is not None and not np.any(weights != 0)  # every weight 0 (and so valid)
        try:
            found = evaluate_chunks(
                spec,
                _chunks(arrays, None if zero else weights, out.rows, job.rows),
                use,
                reduction=job.reduction,
                dtype=job.dtype,
                sources=sources,
            )
        except NotRowWise:
            raise InputError(
                f"the rows of these columns are not {spec.name}'s samples", source=job.labels[index]
            ) from None
        out.found = _weightless(found) if zero else found
    except LossCliError as exc:
        out.error = _failure(exc)
    return out


def _weightless(found: Any) -> Any:
    """The state of a partition whose sample weights are all 0, from its unweighted state.

    ``evaluate_chunks`` refuses data whose weights are all 0 (nothing to average); a partition is
    one piece of the data, and its share of Σ sᵢℓᵢ and Σ sᵢ is 0 (0·ℓ: NaN where ℓ is not finite,
    as Σ 0·ℓᵢ is).  Whether every weight of the whole dataset is 0 is checked after the merge."""
    from losscli.core import StreamState
    from losscli.reduction import State

    state = found.state
    nothing = State(0.0 * state.total, 0.0 * state.mean_total, 0.0 * state.denominator, 0.0, {})
    return StreamState(nothing, found.rule.with_weights(), found.params, found.n, found.extras, True)


def _second_pass(part: Any, index: int, start: int, job: _Job, grad: _GradJob) -> _Graded:
    """Pass 2 on a worker: the partition's gradients (written as one part file) and health figures."""
    from losscli import losses
    from losscli.core import chunk_gradients
    from losscli.diagnose import HealthAccumulator

    out = _Graded(index)
    try:
        spec = losses.get(job.loss)
        found = grad.found
        arrays, weights, rows = _arrays(part, job, index)
        accumulator = HealthAccumulator(
            grad.shapes,
            grad.scale,
            vanishing=grad.health.vanishing,
            exploding=grad.health.exploding,
            top=grad.health.top,
            dtype=job.dtype,
            reference_dtype="float64" if job.dtype != "float64" else None,
            saturation_eps=grad.health.saturation,
        )
        out.accumulator, out.rows = accumulator, rows
        if not rows:
            return out
        sources = _sources(job, index, arrays)
        saturation = spec.teaching.saturation
        writer = _PartWriter(grad.out, _part_name(index, grad.width)) if grad.out is not None else None
        for lo, chunk in _chunks(arrays, weights, rows, job.rows):
            gradients = chunk_gradients(
                spec, found, chunk, start=lo, reduction=job.reduction, dtype=job.dtype, sources=sources
            )
            reference = (
                chunk_gradients(spec, found, chunk, start=lo, reduction=job.reduction, sources=sources)
                if job.dtype != "float64" and grad.with_health
                else {}
            )
            inputs = {name: values for name, values in chunk.items() if name != "sample_weights"}
            masks = (
                saturation(inputs, found.params, job.dtype, grad.health.saturation)
                if saturation is not None and grad.with_health
                else {}
            )
            for name in grad.shapes if grad.with_health else ():
                g = gradients[name]
                mask = masks.get(name)
                accumulator.add(
                    name,
                    start + lo,
                    g,
                    inputs.get(name),
                    saturated=None if mask is None else np.broadcast_to(mask, g.shape),
                    reference=reference.get(name),
                )
            if writer is not None:
                writer.add({name: gradients[name] for name in grad.shapes}, start + lo)
        if writer is not None:
            out.written = writer.close()
    except LossCliError as exc:
        out.error = _failure(exc)
    return out


@dataclass(frozen=True)
class _GradJob:
    """Pass 2's extra: the merged state of pass 1, the gradients' full shapes and per-sample scale,
    the health thresholds, where the part files go."""

    found: Any
    shapes: dict[str, tuple[int, ...]]
    scale: float
    health: HealthOptions
    out: str | None
    width: int  # digits of a part file's number
    with_health: bool = True  # False (--no-health): gradients only, no health figures


def _part_name(index: int, width: int) -> str:
    return f"part.{index:0{width}d}.parquet"


class _PartWriter:
    """One partition's gradients as ``OUT/part.K.parquet`` (row, input, column, grad: the columns of
    :func:`losscli.io.writers.gradients_long_table`, rows of the whole dataset), a row group per
    chunk as the chunks come, so that no more than a chunk's gradients is held."""

    def __init__(self, out: str, name: str) -> None:
        import fsspec

        fs, root = fsspec.core.url_to_fs(out)
        self.fs, self.path = fs, f"{root.rstrip('/')}/{name}"
        self.handle: Any = None
        self.writer: Any = None

    def add(self, gradients: Mapping[str, np.ndarray], start: int) -> None:
        import polars as pl

        from losscli.io.writers import gradients_long_table

        table = gradients_long_table(gradients).with_columns(pl.col("row") + start).to_arrow()
        self._guard(lambda: self._write(table))

    def _write(self, table: Any) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.handle = self.fs.open(self.path, "wb")
            self.writer = pq.ParquetWriter(self.handle, table.schema)
        self.writer.write_table(table)

    def close(self) -> str:
        def finish() -> None:
            if self.writer is not None:
                self.writer.close()
                self.handle.close()

        self._guard(finish)
        return self.path

    def _guard(self, step: Any) -> None:
        from losscli.io.writers import _write_failure

        try:
            step()
        except Exception as error:
            reason = _write_failure(error)
            if reason is None and not _unreadable(error):
                raise
            raise InputError(f"cannot write the gradients: {reason or _reason(error)}", source=self.path) from None


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    """A connected client, and what the notes say about the cluster."""

    client: Any
    description: str


@contextmanager
def connect(scheduler: str | None = None) -> Iterator[Cluster]:
    """A client of the scheduler at ``scheduler``, else at ``DASK_SCHEDULER_ADDRESS``, else of a
    ``LocalCluster`` of :data:`LOCAL_WORKERS` worker processes (one thread each) started for this
    run and shut down after it."""
    require_dask()
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address:
        how = "--scheduler" if scheduler else "DASK_SCHEDULER_ADDRESS"
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address} ({how}): {_reason(exc)}") from None
        try:
            workers = len(client.scheduler_info().get("workers", {}))
            yield Cluster(client, f"the Dask scheduler at {address} ({how}; {workers} workers)")
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=LOCAL_WORKERS,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: none is taken from another cluster (8787)
        silence_logs=logging.CRITICAL,  # a worker's error comes back to be said once
    )
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield Cluster(
                client,
                f"a LocalCluster of {LOCAL_WORKERS} worker process{'es' if LOCAL_WORKERS != 1 else ''} started "
                "for this run (--scheduler ADDRESS or DASK_SCHEDULER_ADDRESS to use a cluster)",
            )
        finally:
            client.close()
    finally:
        cluster.close()


# ---------------------------------------------------------------- the plan of a run


@dataclass
class Plan:
    """A run's target and data, bound to the dataset's columns."""

    target: Any  # a SingleLoss
    dataset: Dataset
    job: _Job
    sources: dict[str, str]
    columns: dict[str, list[str]]  # input -> the column names it reads
    forced: bool  # --input-format parquet: any file name
    notes: list[str] = field(default_factory=list)


def plan(target: Any, data: DataOptions, *, reduction: str, dtype: str) -> Plan:
    """Check that the dask engine can run ``target`` on ``data`` and bind the dataset's columns."""
    import losscli
    from losscli.app import STREAM_ROWS
    from losscli.core import DTYPES, streams
    from losscli.io.readers import Selector, _check_options, table_selections
    from losscli.target import SingleLoss

    require_dask()
    if not isinstance(target, SingleLoss):
        raise UsageError(f"the dask engine takes a single loss, not an expression ({target.name})")
    spec = target.spec
    if reduction not in ("mean", "sum"):
        raise UsageError("the dask engine reduces with mean or sum (--reduction none keeps every element)")
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if not streams(spec, reduction):
        raise UsageError(
            f"the dask engine takes a loss that reads each row on its own; {spec.name} needs all rows at once "
            f"({spec.rule.description})"
        )
    if data.named:
        raise UsageError(f"{TAKES}: choose its columns with --pred-col/--target-col/--col, not --input NAME=FILE")
    if len(data.files) != 1:
        got = "no dataset" if not data.files else f"{len(data.files)} paths"
        raise UsageError(f"{TAKES}; got {got}")
    if data.files[0] == "-":
        raise UsageError(f"{TAKES}; it does not read standard input")
    if data.input_format not in (None, "parquet"):
        raise UsageError(f"{TAKES}; --input-format {data.input_format} is not Parquet")
    path = data.files[0]
    dataset = open_dataset(path, input_format=data.input_format)
    columns: dict[str, Selector] = dict(data.columns)
    _check_options(spec.input_names, columns, {}, None, None)
    table = ParquetTable(path, path, list(dataset.names), data.allow_nonfinite)
    weights = None
    if data.sample_weights is not None:
        chosen = resolve_columns(data.sample_weights, table.names, table.width, path)
        if len(chosen) != 1:
            raise UsageError(
                f"with the dask engine --sample-weights names one column of the dataset; {data.sample_weights!r} "
                f"is {len(chosen)} columns"
            )
        weights = chosen[0]
    selections, whole = table_selections(table, spec.input_names, columns, target.required)
    if whole is not None and weights is not None:  # one input reads the whole table, less the weights
        selections[whole] = [i for i in selections[whole] if i != weights]
    if not selections or not all(selections.values()):
        raise InputError(f"no columns for {spec.name}'s inputs (columns: {table.describe_columns()})", source=path)
    sources = {name: path for name in spec.input_names if name in selections}
    if weights is not None:
        sources["sample_weights"] = f"{path}, column {table.column_name(weights)}"
    job = _Job(
        loss=spec.name,
        params=dict(target.params),
        reduction=reduction,
        dtype=dtype,
        names=list(dataset.names),
        selections={name: selections[name] for name in spec.input_names if name in selections},
        weights=weights,
        allow_nonfinite=data.allow_nonfinite,
        rows=data.chunk_rows or STREAM_ROWS,
        labels=list(dataset.labels),
        version=losscli.__version__,
    )
    named = {name: [table.column_name(i) for i in sel] for name, sel in job.selections.items()}
    return Plan(target, dataset, job, sources, named, data.input_format == "parquet")


def _raise(error: tuple[str, str], note: str = "") -> None:
    kind, message = error
    raise (UsageError if kind == "usage" else InputError)(message + note)


def _gathered(
    client: Any,
    tasks: list[Any],
    plan: Plan,
    indices: list[int] | None = None,
    *,
    progress: Any = None,
    before: int = 0,
    total: int | None = None,
) -> list[Any]:
    """The tasks' results in partition order (``indices``: the partition of each task, when not all);
    ``progress(before + rows done, total)`` as each partition comes back.

    Our tasks return the errors they find in the data; what raises is Dask reading a part file (a
    file that is not Parquet, a column missing from it): the first such partition, in partition
    order, is named in an InputError.  Anything else (a bug) is raised as it is."""
    from distributed import as_completed

    futures = client.compute(tasks)
    where = {future.key: k for k, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    failed: dict[int, BaseException] = {}
    done = 0
    try:
        for future, value in as_completed(futures, loop=client.loop, with_results=True, raise_errors=False):
            k = where[future.key]
            if future.status == "error":  # value is (type, exception, traceback)
                failed[k] = value[1]
                continue
            results[k] = value
            done += value.rows
            if progress is not None:
                progress(before + done, total)
    finally:
        client.cancel(futures)
    if failed:
        k = min(failed)
        exc = failed[k]
        if _unreadable(exc):
            label = plan.job.labels[indices[k] if indices is not None else k]
            raise InputError(f"cannot read the Parquet data ({_reason(exc)})", source=label) from None
        raise exc
    return results


def _unreadable(exc: BaseException) -> bool:
    """Whether an error of Dask's reading task says the file is unreadable (not a bug of ours)."""
    return isinstance(exc, OSError) or type(exc).__module__.startswith(("pyarrow", "fsspec"))


def _same(a: Any, b: Any) -> bool:
    """Equal parameters (numbers, strings, tuples, arrays)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


@dataclass
class Pass1:
    """What pass 1 found over the whole dataset: the merged state, each partition's first row and
    rows, each input's full shape."""

    found: Any
    starts: list[int]
    rows: list[int]
    shapes: dict[str, tuple[int, ...]]


def _merge_states(a: Any, b: Any) -> Any:
    """Two partitions' StreamStates as one (``a`` first): states merged, counts added."""
    from losscli.core import StreamState

    extras = dict(a.extras)
    for key, value in b.extras.items():
        extras[key] = extras.get(key, 0) + value
    return StreamState(a.state.merge(b.state), a.rule, a.params, a.n + b.n, extras, a.weighted or b.weighted)


def first_pass(plan: Plan, cluster: Cluster, progress: Any = None) -> Pass1:
    """Every partition's StreamState, gathered and merged in partition order; ``progress(rows, None)``
    as partitions come back."""
    import dask

    frame = _read(plan.dataset.urls, _wanted_names(plan), plan.forced)
    parts = frame.to_delayed()
    if len(parts) != len(plan.dataset.urls):  # one partition a file, or the files would be misnamed
        raise InputError(
            f"Dask read {len(parts)} partitions from {len(plan.dataset.urls)} files", source=plan.dataset.path
        )
    run = dask.delayed(_first_pass, pure=True)
    tasks = [run(p, k, plan.job) for k, p in enumerate(parts)]
    results: list[_Found] = _gathered(cluster.client, tasks, plan, progress=progress)
    versions = {r.version for r in results} - {plan.job.version}
    if versions:
        raise UsageError(
            f"the Dask workers run losscli {', '.join(sorted(versions))}, this is losscli {plan.job.version}: "
            "install the same version on the workers"
        )
    starts = _starts([r.rows for r in results])
    _check_errors(results, starts, plan)
    filled = [r for r in results if r.found is not None]
    if not filled:
        raise InputError("no data rows", source=plan.dataset.path)
    params = filled[0].found.params
    redo = [r.index for r in filled if not _same(r.found.params, params)]
    if redo:  # the first partition resolved a data-dependent default: every other must use it
        again = _gathered(cluster.client, [run(parts[k], k, plan.job, params) for k in redo], plan, redo)
        _check_errors(again, starts, plan)
        for r in again:
            results[r.index] = r
        filled = [r for r in results if r.found is not None]
    first = filled[0]
    for r in filled[1:]:
        if r.widths != first.widths:
            name = next(n for n in first.widths if r.widths.get(n) != first.widths[n])
            raise InputError(
                f"{name} has rows of shape {_shape(r.widths[name])} here but {_shape(first.widths[name])} in "
                f"{plan.job.labels[first.index]}; every part file must hold the same columns",
                source=plan.job.labels[r.index],
            )
    found = first.found
    for r in filled[1:]:
        found = _merge_states(found, r.found)
    if found.weighted and not float(found.state.weighted):
        raise InputError("every sample weight is 0: nothing to average", source=plan.sources.get("sample_weights"))
    total = sum(r.rows for r in results)
    shapes = {name: (total, *first.widths[name]) for name in first.widths}
    return Pass1(found, starts, [r.rows for r in results], shapes)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")" if shape else "() (one value a row)"


def _starts(rows: list[int]) -> list[int]:
    out, at = [], 0
    for n in rows:
        out.append(at)
        at += n
    return out


def _check_errors(results: list[Any], starts: list[int], plan: Plan) -> None:
    """The first partition's error (in partition order), with where the partition starts."""
    n = len(plan.dataset.urls)
    for r in results:
        if r.error is not None:
            _raise(r.error, f" (partition {r.index} of {n}, from row index {starts[r.index]:,} of the dataset)")


def _wanted_names(plan: Plan) -> list[str]:
    return [plan.job.names[i] for i in _wanted(plan.job)]


def _wanted(job: _Job) -> list[int]:
    """The dataset's columns a run reads (the inputs' and the sample weights'), in the dataset's order."""
    indices = {i for sel in job.selections.values() for i in sel}
    if job.weights is not None:
        indices.add(job.weights)
    return sorted(indices)


# ---------------------------------------------------------------- entry points


def _loaded(plan: Plan, shapes: Mapping[str, tuple[int, ...]], notes: list[str]) -> Any:
    """What the run read: no arrays kept, where each input came from and its full shape."""
    from losscli.app import Loaded
    from losscli.io.readers import InputInfo

    provenance = {
        name: InputInfo(plan.dataset.path, plan.columns[name], tuple(shapes[name]), indices=list(sel))
        for name, sel in plan.job.selections.items()
    }
    return Loaded({}, dict(plan.sources), None, list(notes), provenance)


def _engine_note(plan: Plan, cluster: Cluster) -> str:
    files = len(plan.dataset.urls)
    return (
        f"--engine dask: {files} partition{'s' if files != 1 else ''} (one per Parquet file) of {plan.dataset.path} "
        f"on {cluster.description}"
    )


def run_compute(
    target: Any,
    data: DataOptions,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    scheduler: str | None = None,
    progress: Any = None,
) -> Any:
    """``compute --engine dask``: the value of ``target`` over the dataset (an :class:`losscli.app.Computed`);
    ``progress(rows_done, None)`` as partitions come back (the rows are known at the end only)."""
    from losscli.app import Computed, _say_conventions
    from losscli.core import streamed_evaluation
    from losscli.target import Result

    bound = plan(target, data, reduction=reduction, dtype=dtype)
    with connect(scheduler) as cluster:
        first = first_pass(bound, cluster, progress)
        note = _engine_note(bound, cluster)
    ev = streamed_evaluation(target.spec, first.found, reduction=reduction, dtype=dtype)
    ev.chunk_rows = bound.job.rows
    loaded = _loaded(bound, first.shapes, [note])
    result = Result(ev)
    _say_conventions(result, loaded)
    return Computed(result, loaded)


def run_grad(
    target: Any,
    data: DataOptions,
    *,
    reduction: str = "mean",
    dtype: str = "float64",
    health: HealthOptions | None = None,
    out: str | None = None,
    scheduler: str | None = None,
    progress: Any = None,
    with_health: bool = True,
) -> Any:
    """``grad --engine dask``: value, gradients written to the ``out`` dataset (a directory of part
    files) and their health (an :class:`losscli.app.Graded`, no gradient held whole; its health None
    with ``with_health=False``).  ``progress(rows_done, rows)`` over both passes (``rows`` None in
    the first, 2 x the rows in the second, as :func:`losscli.app.grad_streamed` counts)."""
    from losscli.app import Graded, _say_conventions
    from losscli.core import streamed_evaluation
    from losscli.target import Result

    health = health or HealthOptions()
    health.check()
    bound = plan(target, data, reduction=reduction, dtype=dtype)
    spec = target.spec
    output = _Output(out) if out is not None else None
    if output is not None:
        output.check()  # before any work: a wrong --out is said at once
    with connect(scheduler) as cluster:
        first = first_pass(bound, cluster, progress)
        note = _engine_note(bound, cluster)
        ev = streamed_evaluation(spec, first.found, reduction=reduction, dtype=dtype)
        ev.chunk_rows = bound.job.rows
        ev.backend = "torch"
        differentiable = [i.name for i in spec.inputs if i.differentiable and i.name in first.shapes]
        parts = len(bound.dataset.urls)
        grad = _GradJob(
            first.found,
            {name: first.shapes[name] for name in differentiable},
            ev.scale,
            health,
            out,
            max(5, len(str(parts - 1))),
            with_health,
        )
        if output is not None:
            output.prepare()
        try:
            import dask

            frame = _read(bound.dataset.urls, _wanted_names(bound), bound.forced)
            run = dask.delayed(_second_pass, pure=True)
            tasks = [run(p, k, first.starts[k], bound.job, grad) for k, p in enumerate(frame.to_delayed())]
            rows = sum(first.rows)
            results: list[_Graded] = _gathered(
                cluster.client, tasks, bound, progress=progress, before=rows, total=2 * rows
            )
            _check_errors(results, first.starts, bound)
        except BaseException:
            if output is not None:
                output.abort()
            raise
    accumulator = results[0].accumulator
    for r in results[1:]:
        accumulator = accumulator.merge(r.accumulator)
    written = sum(r.written is not None for r in results)
    where = (
        f"written to {out} as {written} Parquet part file{'s' if written != 1 else ''} of row, input, column, grad"
        if out is not None
        else "pass --out DIR to keep them as a Parquet dataset"
    )
    gradient_note = (
        f"read in {parts} partition{'s' if parts != 1 else ''}: the {accumulator.elements:,} gradients are not held "
        f"in memory nor printed ({where})" + ("; the health figures cover all of them" if with_health else "")
    )
    result = Result(ev, notes=[gradient_note])
    loaded = _loaded(bound, first.shapes, [note, gradient_note])
    _say_conventions(result, loaded)
    return Graded(result, accumulator.result() if with_health else None, loaded, written=out)


class _Output:
    """The ``--out`` directory: new, empty, or the part files of an earlier run (replaced)."""

    def __init__(self, out: str) -> None:
        import fsspec

        if PurePosixPath(out).suffix.lower() in FILE_SUFFIXES:
            raise UsageError(
                f"--out {out}: the dask engine writes the gradients as a Parquet dataset, a directory of part "
                "files; give a directory"
            )
        self.out = out
        self.fs, self.root = fsspec.core.url_to_fs(out)
        self.root = self.root.rstrip("/") or "/"
        self.created = False

    def check(self) -> list[str]:
        """Refuse a file, or a directory holding anything but part files; the part files there."""
        fs, root = self.fs, self.root
        try:
            if fs.isfile(root):
                raise UsageError(
                    f"--out {self.out} is a file; the dask engine writes the gradients as a directory of Parquet "
                    "part files"
                )
            if not fs.isdir(root):
                return []
            entries = [PurePosixPath(p).name for p in fs.ls(root, detail=False)]
        except OSError as exc:
            raise InputError(f"cannot write the gradients: {exc.strerror or exc}", source=self.out) from None
        others = sorted(e for e in entries if not PART_FILE.match(e))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise UsageError(
                f"--out {self.out} holds other files than gradient part files ({shown}); give a new or empty directory"
            )
        return entries

    def prepare(self) -> None:
        """An empty directory to write into: an earlier run's part files are removed, a new one made."""
        fs, root = self.fs, self.root
        entries = self.check()
        try:
            if fs.isdir(root):
                for name in entries:  # an earlier run's gradients: replaced
                    fs.rm(f"{root}/{name}")
            else:
                fs.makedirs(root, exist_ok=True)
                self.created = True
        except OSError as exc:
            raise InputError(f"cannot write the gradients: {exc.strerror or exc}", source=self.out) from None

    def abort(self) -> None:
        """Remove what this run wrote (and the directory, if it made it)."""
        try:
            for path in self.fs.ls(self.root, detail=False) if self.fs.isdir(self.root) else []:
                if PART_FILE.match(PurePosixPath(path).name):
                    self.fs.rm(path)
            if self.created:
                self.fs.rmdir(self.root)
        except OSError:
            pass


__all__ = ["INSTALL", "LOCAL_WORKERS", "Dataset", "connect", "open_dataset", "plan", "run_compute", "run_grad"]
