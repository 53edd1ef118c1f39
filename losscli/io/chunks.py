"""Reading large inputs a chunk of rows at a time, in flat memory.

:func:`open_chunks` binds files to inputs and picks columns exactly as :func:`losscli.io.readers.read_inputs`
does, but reads nothing yet; :meth:`Chunked.chunks` then yields ``(first row, {input: rows})`` for
consecutive runs of ``rows`` rows of every input together.  CSV/TSV text is read a block at a time and
parsed by polars (blocks cut at record ends), Parquet a slice of row groups at a time, ``.npy`` by
reading the rows' bytes.  Every check of the whole-file readers runs on each chunk and names the
file's own line or row (non-finite values, bad cells, a pandas index column that stops counting).

Only regular files in these formats stream: stdin, JSON, NDJSON, ``.npz`` and images are read whole
(:func:`open_chunks` returns None for them and the caller reads in memory).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from losscli.errors import InputError
from losscli.io.arrays import NPY_MAGIC, NUMERIC_KINDS, check_npy_size, npy_header
from losscli.io.common import FORMAT_HINT, first_nonfinite, location, nonfinite_message, resolve_columns, stack
from losscli.io.csv_table import CsvTable, open_csv
from losscli.io.readers import (
    DELIMITER_NAMES,
    OPTION_FOR,
    InputInfo,
    Selector,
    _bind,
    _check_options,
    index_columns,
    table_selections,
)
from losscli.io.sources import STDIN, _file_input, format_from_extension
from losscli.io.typed_tables import ParquetTable, open_parquet

STREAMED_FORMATS = ("csv", "tsv", "parquet", "npy")
Rows = dict[str, np.ndarray]


class RowsDiffer(InputError):
    """One input ended before another; ``first``: in the first chunk (the inputs may not be rows of
    samples at all, e.g. an unbatched input, and are better read whole)."""

    def __init__(self, message: str, *, first: bool) -> None:
        super().__init__(message)
        self.first = first


@dataclass
class _Stream:
    """One file's inputs, read a batch of rows at a time: ``batches()`` yields {input: rows}."""

    source: str
    names: list[str]
    columns: dict[str, list[str] | None]
    indices: dict[str, list[int] | None]
    read: Iterator[Rows]
    rows: int = 0
    widths: dict[str, tuple[int, ...]] = field(default_factory=dict)
    total: int | None = None  # the rows, when the file says (Parquet metadata, .npy header)


@dataclass
class Chunked:
    """The inputs of one run, to be read a chunk at a time (see the module docstring)."""

    streams: list[_Stream]
    input_names: list[str]
    notes: list[str] = field(default_factory=list)
    rows: int = 0  # rows read so far (all of them once :meth:`chunks` is exhausted)

    @property
    def total(self) -> int | None:
        """The rows of the data when every file says how many it holds (else None: CSV text)."""
        totals = {stream.total for stream in self.streams}
        return totals.pop() if len(totals) == 1 else None

    @property
    def rows_differ(self) -> bool:
        """Whether files that say how many rows they hold disagree (then they are not rows of samples)."""
        return len({stream.total for stream in self.streams if stream.total is not None}) > 1

    def chunks(self, rows: int) -> Iterator[tuple[int, Rows]]:
        """``(first row, {input: that chunk's rows})`` for chunks of ``rows`` rows (the last shorter)."""
        pending: list[list[Rows]] = [[] for _ in self.streams]
        counts = [0] * len(self.streams)
        done = [False] * len(self.streams)
        reads = [_Ahead(stream.read) for stream in self.streams]
        try:
            yield from self._aligned(reads, rows, pending, counts, done)
        finally:
            for read in reads:
                read.close()

    def _aligned(
        self, reads: list[_Ahead], rows: int, pending: list[list[Rows]], counts: list[int], done: list[bool]
    ) -> Iterator[tuple[int, Rows]]:
        start = 0
        while True:
            for i in range(len(self.streams)):
                while counts[i] < rows and not done[i]:
                    batch = reads[i].next()
                    if batch is None:
                        done[i] = True
                        break
                    pending[i].append(batch)
                    counts[i] += _length(batch)
            take = min(rows, *counts)
            if take < rows and any(counts[i] > take or not done[i] for i in range(len(self.streams))):
                short = min(range(len(self.streams)), key=lambda i: counts[i])
                longer = next(i for i in range(len(self.streams)) if counts[i] > take or not done[i])
                raise RowsDiffer(
                    f"{self.streams[short].source} has {start + counts[short]:,} data rows but "
                    f"{self.streams[longer].source} has more; every input must have the same rows",
                    first=start == 0,
                )
            if take == 0:
                self.rows = start
                return
            chunk: Rows = {}
            for i in range(len(self.streams)):
                chunk.update(_take(pending[i], take))
                counts[i] -= take
            yield start, {name: chunk[name] for name in self.input_names if name in chunk}
            start += take
            self.rows = start

    def provenance(self) -> dict[str, InputInfo]:
        """Where each input came from, with its full shape (complete once every chunk was read)."""
        out = {}
        for stream in self.streams:
            for name in stream.names:
                shape = (self.rows, *stream.widths.get(name, ()))
                out[name] = InputInfo(stream.source, stream.columns[name], shape, indices=stream.indices[name])
        return {name: out[name] for name in self.input_names if name in out}


class _Ahead:
    """A file's batches read one ahead on a thread of their own, so that reading (which releases the
    GIL: file reads, polars' parsing and decoding) overlaps the evaluation of the batch before it.
    At most ``depth`` batches wait; an error of the reader is raised by :meth:`next` in order."""

    _END = object()

    def __init__(self, read: Iterator[Rows], depth: int = 1) -> None:
        import queue
        import threading

        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._read = read
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="losscli-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        item: object
        try:
            for batch in self._read:
                if not self._put(batch):
                    return
            item = self._END
        except BaseException as exc:  # handed to the reading thread, raised there
            item = exc
        self._put(item)

    def _put(self, item: object) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def next(self) -> Rows | None:
        """The next batch, or None after the last; the reader's error, if it failed."""
        if self._finished:
            return None
        item = self._queue.get()
        if item is self._END:
            self._finished = True
            return None
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the reader (a consumer that ends early: an error, a refused chunk) and wait for it."""
        self._stop.set()
        self._thread.join()
        close = getattr(self._read, "close", None)
        if close is not None:
            close()


def _length(batch: Rows) -> int:
    return len(next(iter(batch.values())))


def _take(parts: list[Rows], rows: int) -> Rows:
    """The first ``rows`` rows of the pending batches (removed from ``parts``), joined without a copy
    when one batch holds them all."""
    taken: dict[str, list[np.ndarray]] = {}
    need = rows
    while need:
        batch = parts[0]
        n = _length(batch)
        if n <= need:
            parts.pop(0)
            for name, values in batch.items():
                taken.setdefault(name, []).append(values)
            need -= n
        else:
            for name, values in batch.items():
                taken.setdefault(name, []).append(values[:need])
            parts[0] = {name: values[need:] for name, values in batch.items()}
            need = 0
    return {name: pieces[0] if len(pieces) == 1 else np.concatenate(pieces) for name, pieces in taken.items()}


def open_chunks(
    input_names: list[str],
    files: list[str],
    *,
    columns: dict[str, Selector] | None = None,
    named_files: dict[str, str] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    allow_nonfinite: bool = False,
    required: list[str] | None = None,
    rows: int = 1 << 18,
) -> Chunked | None:
    """The inputs bound as :func:`~losscli.io.readers.read_inputs` binds them, ready to be read in
    chunks of about ``rows`` rows; None when a file cannot stream (stdin, a pipe, another format)."""
    columns = columns or {}
    named_files = named_files or {}
    required = list(input_names) if required is None else required
    delimiter = DELIMITER_NAMES.get(delimiter, delimiter) if delimiter else None
    _check_options(input_names, columns, named_files, input_format, delimiter)
    bindings = _bind(input_names, files, named_files, required)
    formats = []
    for file, _ in bindings:
        if file == STDIN or not os.path.isfile(file):
            return None
        fmt = input_format or format_from_extension(file)
        if fmt not in STREAMED_FORMATS:
            return None
        formats.append(fmt)
    streams: list[_Stream] = []
    notes: list[str] = []
    for (file, names), fmt in zip(bindings, formats, strict=True):
        if fmt == "npy":
            stream = _npy_stream(file, names, columns, allow_nonfinite, rows)
            if stream is None:
                return None
        else:
            stream = _table_stream(file, fmt, names, columns, required, delimiter, allow_nonfinite, rows, notes)
        if stream is not None:
            streams.append(stream)
    return Chunked(streams, [n for n in input_names if any(n in s.names for s in streams)], notes)


def _table_stream(
    file: str,
    fmt: str,
    names: list[str],
    columns: dict[str, Selector],
    required: list[str],
    delimiter: str | None,
    allow_nonfinite: bool,
    rows: int,
    notes: list[str],
) -> _Stream | None:
    item = _file_input(file)
    table: CsvTable | ParquetTable
    if fmt == "parquet":
        table = open_parquet(item, allow_nonfinite)
    else:
        table = open_csv(item, delimiter or ("\t" if fmt == "tsv" else None), allow_nonfinite)
    selections, whole = table_selections(table, names, columns, required)
    if not selections:
        return None
    wanted = sorted({index for selection in selections.values() for index in selection})
    batches = table.batches(wanted, rows)
    stream = _Stream(table.source, list(selections), {}, {}, iter(()))
    if isinstance(table, ParquetTable):
        stream.total = table.rows()

    def read() -> Iterator[Rows]:
        left_out: dict[int, str] = {}
        first = total = 0
        for start, loaded in batches:
            if start == 0 and whole is not None:
                left_out = index_columns(table, loaded, whole)
                if left_out:
                    selections[whole] = [index for index in selections[whole] if index not in left_out]
                    _describe(stream, table, selections)
            elif 0 in left_out:
                _check_index_continues(table, loaded[0], start, whole or "")
            if not table.allow_nonfinite:
                table._check_finite({i: loaded[i] for i in wanted if i not in left_out}, start)
            batch = {name: stack([loaded[i] for i in selection]) for name, selection in selections.items()}
            if start == 0:
                stream.widths = {name: values.shape[1:] for name, values in batch.items()}
                first = _length(batch)
            else:
                for name, values in batch.items():
                    if values.shape[1:] != stream.widths[name]:
                        raise InputError(
                            f"from data row {start + 1} on, {name} has rows of shape {values.shape[1:]} where the "
                            f"first rows had {stream.widths[name]}: every row must be alike",
                            source=table.source,
                        )
            total = start + _length(batch)
            yield batch
        # the note said what the first block counted; the whole column counted on to the end
        notes.extend(text.replace(f"(0..{first - 1})", f"(0..{total - 1})") for text in left_out.values())

    _describe(stream, table, selections)
    stream.read = read()
    return stream


def _describe(stream: _Stream, table: CsvTable | ParquetTable, selections: dict[str, list[int]]) -> None:
    stream.columns = {name: [table.column_name(i) for i in selection] for name, selection in selections.items()}
    stream.indices = {name: list(selection) for name, selection in selections.items()}


def _check_index_continues(table: CsvTable | ParquetTable, values: np.ndarray, start: int, name: str) -> None:
    """A first column left out as a pandas index must go on counting 0, 1, 2, ... to the end."""
    expected = np.arange(start, start + len(values))
    if np.array_equal(values, expected):
        return
    bad = int(np.flatnonzero(values != expected)[0])
    option = OPTION_FOR.get(name, f"--col {name}=...")
    raise InputError(
        f"column 0 counted 0..{start + bad - 1} like a pandas index and was left out, but data row "
        f"{start + bad + 1} holds {values[bad]:g}: choose the data columns with {option}",
        source=table.source,
    )


def _npy_stream(
    file: str, names: list[str], columns: dict[str, Selector], allow_nonfinite: bool, rows: int
) -> _Stream | None:
    """A C-ordered numeric .npy file read ``rows`` rows at a time (None: Fortran order, read whole)."""
    if len(names) > 1:
        raise InputError(
            f"holds one unnamed array but must provide {', '.join(names)}; give one file per input, "
            "or a JSON object or .npz with a key per input",
            source=file,
        )
    name = names[0]
    with open(file, "rb") as handle:
        shape, fortran, dtype, offset = _npy_header(handle, file)
    if fortran and len(shape) > 1:
        return None
    if dtype.kind not in NUMERIC_KINDS:
        raise InputError(f"expected numbers, got an array of type {dtype}", source=file)
    if not shape or math.prod(shape) == 0:
        return None  # a scalar or an empty array: the whole-file reader says what is wrong
    selector = columns.get(name)
    indices = None
    if selector is not None:
        if len(shape) != 2:
            raise InputError(f"cannot select columns of an array of shape {tuple(shape)}", source=file)
        indices = resolve_columns(selector, None, shape[1], file)
    row_items = math.prod(shape[1:])
    stream = _Stream(
        file, [name], {name: None if indices is None else [str(i) for i in indices]}, {name: indices}, iter(())
    )
    tail = tuple(shape[1:]) if indices is None else ((len(indices),) if len(indices) > 1 else ())
    stream.widths = {name: tail}
    stream.total = int(shape[0])

    def read() -> Iterator[Rows]:
        with open(file, "rb") as handle:
            for start in range(0, shape[0], rows):
                n = min(rows, shape[0] - start)
                handle.seek(offset + start * row_items * dtype.itemsize)
                values = np.fromfile(handle, dtype=dtype, count=n * row_items)
                if values.size < n * row_items:
                    raise InputError("not a valid .npy file: cut short", source=file)
                block = values.reshape((n, *shape[1:])).astype(np.float64, copy=False)
                if indices is not None:
                    block = block[:, indices] if len(indices) > 1 else block[:, indices[0]]
                if not allow_nonfinite:
                    where = first_nonfinite(block)
                    if where is not None:
                        at = (where[0] + start, *where[1:])
                        raise InputError(nonfinite_message(float(block[where]), location(None, at)), source=file)
                yield {name: block}

    stream.read = read()
    return stream


def _npy_header(handle: BinaryIO, file: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """The header as the whole-file reader reads it (:func:`losscli.io.arrays.npy_header`), and the data's offset."""
    if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
        raise InputError(f"not a .npy file (no NUMPY header); {FORMAT_HINT}", source=file)
    handle.seek(0)
    shape, fortran, dtype = npy_header(handle, file)
    offset = handle.tell()
    check_npy_size(shape, dtype, os.path.getsize(file) - offset, file, ".npy file")
    return shape, fortran, dtype, offset


__all__ = ["STREAMED_FORMATS", "Chunked", "RowsDiffer", "open_chunks"]
