"""CSV and TSV tables: read by polars, rescanned with the csv module only to locate a problem."""

from __future__ import annotations

import csv
import functools
import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, NoReturn

import numpy as np

from losscli.errors import InputError
from losscli.io.common import (
    FORMAT_HINT,
    SNIFF_BYTES,
    Input,
    Table,
    nonfinite_message,
    open_binary,
    parse_number,
)

if TYPE_CHECKING:
    import polars as pl

SEPARATORS = (",", "\t", ";")
# The csv module refuses fields over 128 KiB by default; a long text column beside the numbers is
# legitimate, so the limit is raised (a process-wide setting, which only ever grows here).
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
SNIFF_LINES = 20
SMALL_BYTES = 256 * 1024  # below this, the csv module is faster than importing polars
BLOCK_BYTES = 1 << 23  # text read at a time when a large table is streamed (8 MiB: flat memory, ~3% slower than 16)


@dataclass
class CsvTable(Table):
    """A delimited text table, with or without a header row."""

    source: str
    data: str | bytes
    separator: str
    names: list[str] | None
    width: int
    blank_tail: int
    allow_nonfinite: bool

    def _load(self, wanted: list[int]) -> dict[int, np.ndarray]:
        if self._size() < SMALL_BYTES:
            return self._load_small(wanted)
        frame = self._frame(wanted, tolerant=False)
        if frame is None or _has_nulls(frame):
            frame = self._frame(wanted, tolerant=True)
        if frame is None:
            self._raise_structure_problem()
        if _has_nulls(frame):
            self._raise_cell_problem(_first_null_row(frame), wanted)
        matrix = frame.to_numpy(order="fortran")  # one conversion; each column is then a contiguous view
        return {index: matrix[:, position] for position, index in enumerate(wanted)}

    def _size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else os.path.getsize(self.data)

    def _load_small(self, wanted: list[int]) -> dict[int, np.ndarray]:
        """A small file parsed with the csv module: same rules and messages as the polars path,
        without polars' import time (about 0.15 s, most of a small ``compute``)."""
        columns: dict[int, list[float]] = {index: [] for index in wanted}
        for line, fields in self._checked_rows():
            for index in wanted:
                cell = fields[index].strip()
                value = parse_number(cell) if cell else None
                if value is None:
                    what = "empty cell" if not cell else f"expected a number, got {cell!r}"
                    raise InputError(what, source=self.source, line=line, column=self.column_label(index))
                columns[index].append(value)
        return {index: np.array(values, dtype=np.float64) for index, values in columns.items()}

    def _frame(self, wanted: list[int], *, tolerant: bool, part: bytes | None = None) -> pl.DataFrame | None:
        """The wanted columns as Float64 (null where a cell is empty or bad), or None if polars fails.

        The strict pass parses floats directly; the tolerant one reads strings and strips spaces first.
        ``part``: whole records cut from the data after the header (see :meth:`batches`) instead of the file.
        """
        import polars as pl

        names = [f"c{index}" for index in wanted]
        widths: list[int] = []

        def rename(found: list[str]) -> list[str]:
            widths.append(len(found))
            return [f"c{index}" for index in range(len(found))]

        try:
            frame = pl.read_csv(
                self.data if part is None else part,
                has_header=self.names is not None and part is None,
                separator=self.separator,
                infer_schema=False,
                schema_overrides=None if tolerant else dict.fromkeys(names, pl.Float64),
                with_column_names=rename,
                glob=False,
            )
            if part is not None and widths and widths[0] != self.width:
                return None  # a block whose first record is not as wide as the header: the rescan names it
            if frame.width != len(names) or frame.columns != names:
                frame = frame.select(names)
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
            return None
        if tolerant:
            frame = frame.select(pl.col(names).str.strip_chars().cast(pl.Float64, strict=False))
        return frame if part is not None else _drop_blank_tail(frame, self.blank_tail)

    def batches(self, wanted: list[int], rows: int = 0) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """(first data row, columns) of consecutive runs of rows, in flat memory (see :meth:`block_batches`;
        ``rows`` is not used: text is read by bytes, and the caller cuts the rows into chunks).

        polars' own streaming reader (``scan_csv().collect_batches()``) is faster, but it reads ahead
        of its consumer without bound (600 MB held for 30M rows), which is what streaming is for avoiding."""
        return self.block_batches(wanted)

    def block_batches(
        self, wanted: list[int], block_bytes: int | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """(first data row, columns) of consecutive runs of rows, reading about ``block_bytes`` of text at a
        time: memory stays that of one block however long the file.  Blocks are cut at record ends (a line
        break outside quotes); blank lines at the end are left out; a bad cell is reported by its line in
        the file exactly as :meth:`load_columns` reports it."""
        if not isinstance(self.data, str):
            raise TypeError("batches reads a file")
        block_bytes = block_bytes or BLOCK_BYTES
        with open(self.data, "rb") as file:
            end = _data_end(file)
            start = 0
            if self.names is not None:
                file.seek(0)
                start = len(file.readline())
            file.seek(start)
            row, carry, position = 0, b"", start
            while position < end or carry:
                block = file.read(min(block_bytes, max(end - position, 0)))
                position += len(block)
                text = carry + block
                cut = len(text) if position >= end else _last_record_end(text)
                if cut == 0:  # one record longer than the block: read on
                    carry = text
                    continue
                part, carry = text[:cut], text[cut:]
                if part.isspace():  # blank lines inside the data (the blank end was cut off)
                    self._raise_cell_problem(row, wanted)
                columns = self._part_columns(part, wanted, row)
                yield row, columns
                row += len(columns[wanted[0]])
        if row == 0:
            raise InputError("no data rows", source=self.source)

    def _part_columns(self, part: bytes, wanted: list[int], row: int) -> dict[int, np.ndarray]:
        """The wanted columns of ``part`` (rows ``row``, ... of the data), checked as :meth:`_load` checks."""
        frame = self._frame(wanted, tolerant=False, part=part)
        if frame is None or _has_nulls(frame):
            frame = self._frame(wanted, tolerant=True, part=part)
        if frame is None:
            self._raise_structure_problem()
        if _has_nulls(frame):
            self._raise_cell_problem(row + _first_null_row(frame), wanted)
        matrix = frame.to_numpy(order="fortran")
        return {index: matrix[:, position] for position, index in enumerate(wanted)}

    def _raise_cell_problem(self, row: int, wanted: list[int]) -> NoReturn:
        """Report data row ``row``, where polars found an empty or unreadable cell."""
        line, fields = self._row_at(row)
        if _is_blank(fields):
            raise InputError("empty line inside the data", source=self.source, line=line)
        self._check_width(line, fields)
        for index in wanted:
            cell = fields[index].strip()
            if not cell:
                raise InputError("empty cell", source=self.source, line=line, column=self.column_label(index))
            if parse_number(cell) is None:
                raise InputError(
                    f"expected a number, got {cell!r}", source=self.source, line=line, column=self.column_label(index)
                )
        raise self._unreadable()

    def _raise_structure_problem(self) -> NoReturn:
        """Rescan the text for the first misshapen line (polars could not split it into rows)."""
        for _ in self._checked_rows():
            pass
        raise self._unreadable()

    def _checked_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of every data line, checked on the way: UTF-8, no empty line
        inside the data (empty lines at the end are fine), ``width`` fields on every line."""
        blank_line = None
        try:
            for line, fields in self._rows():
                if _is_blank(fields):
                    blank_line = blank_line or line
                    continue
                if blank_line:
                    raise InputError("empty line inside the data", source=self.source, line=blank_line)
                self._check_width(line, fields)
                yield line, fields
        except UnicodeDecodeError:
            raise InputError(f"not UTF-8 text; {FORMAT_HINT}", source=self.source) from None

    def _check_width(self, line: int, fields: list[str]) -> None:
        if len(fields) != self.width:
            found = f"{len(fields)} field" + ("" if len(fields) == 1 else "s")
            raise InputError(f"found {found}, expected {self.width}", source=self.source, line=line)

    def _unreadable(self) -> InputError:
        return InputError(f"cannot read this as {_separator_name(self.separator)}-separated values", source=self.source)

    def _raise_nonfinite(self, row: int, index: int, value: float) -> NoReturn:
        line, _ = self._row_at(row)
        raise InputError(nonfinite_message(value), source=self.source, line=line, column=self.column_label(index))

    def _row_at(self, row: int) -> tuple[int, list[str]]:
        """The line number and fields of data row ``row`` (0-based, blank lines counted as rows, as polars does).

        Without quotes every row is one line, so lines are skipped in C; otherwise the csv module counts.
        """
        if self._has_quotes():
            return next(itertools.islice(self._rows(), row, None))
        skip = row + (self.names is not None)
        with open_binary(self.data) as file:
            text = next(itertools.islice(file, skip, None), b"").decode("utf-8-sig", errors="replace")
        return skip + 1, next(csv.reader([text.rstrip("\r\n")], delimiter=self.separator), [])

    def _has_quotes(self) -> bool:
        with open_binary(self.data) as file:
            return any(b'"' in chunk for chunk in iter(functools.partial(file.read, 1 << 20), b""))

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of every record after the header, as the csv module splits them;
        a record with quoted line breaks is numbered by the line it starts on."""
        with io.TextIOWrapper(open_binary(self.data), encoding="utf-8-sig", newline="") as lines:
            reader = csv.reader(lines, delimiter=self.separator)
            if self.names is not None:
                next(reader, None)
            start = reader.line_num + 1
            for fields in reader:
                yield start, fields
                start = reader.line_num + 1


def open_csv(item: Input, separator: str | None, allow_nonfinite: bool) -> CsvTable:
    """Sniff the separator and header from the first lines; the data is read later, by column."""
    head = _head_with_first_line(item)
    lines = head.decode("utf-8", errors="replace").removeprefix("\ufeff").splitlines()
    if len(head) < item.size() and len(lines) > 1:
        lines = lines[:-1]  # the head may end in the middle of a line
    if not lines[0].strip():
        raise InputError("the first line is empty", source=item.name, line=1)
    separator = separator or sniff_separator(lines[:SNIFF_LINES])
    fields = next(csv.reader([lines[0]], delimiter=separator))
    has_header = any(parse_number(field) is None for field in fields)
    return CsvTable(
        source=item.name,
        data=item.data,
        separator=separator,
        names=[field.strip() for field in fields] if has_header else None,
        width=len(fields),
        blank_tail=count_blank_tail(item.tail),
        allow_nonfinite=allow_nonfinite,
    )


def _head_with_first_line(item: Input) -> bytes:
    """The first bytes, extended (when the first line is longer than they are) to the end of the first line,
    so that a wide header is never taken as complete when it was cut."""
    head = item.head
    if b"\n" in head or len(head) < SNIFF_BYTES:
        return head
    chunks = []
    with item.open() as file:
        while chunk := file.read(SNIFF_BYTES):
            chunks.append(chunk)
            if b"\n" in chunk:
                break
    return b"".join(chunks)


def sniff_separator(lines: list[str]) -> str:
    """The separator found the same number of times on every line (else the most frequent; else ',')."""
    sample = [line for line in lines if line.strip()]

    def score(separator: str) -> tuple[bool, int]:
        counts = [line.count(separator) for line in sample]
        return len(set(counts)) == 1 and counts[0] > 0, sum(counts)

    best = max(SEPARATORS, key=score)
    return best if score(best)[1] else ","


def count_blank_tail(tail: bytes) -> int:
    """How many blank lines end the text (polars reads each as a row of empty cells)."""
    lines = tail.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it does not start another
    return sum(1 for _ in itertools.takewhile(lambda line: not line.strip(), reversed(lines)))


def _drop_blank_tail(frame: pl.DataFrame, blank_tail: int) -> pl.DataFrame:
    import polars as pl

    if not blank_tail:
        return frame
    empty = frame.tail(blank_tail).select(pl.all_horizontal(pl.all().is_null())).to_series().to_list()
    dropped = sum(1 for _ in itertools.takewhile(bool, reversed(empty)))
    return frame.head(frame.height - dropped)


def _has_nulls(frame: pl.DataFrame) -> bool:
    return any(frame.null_count().row(0))


def _first_null_row(frame: pl.DataFrame) -> int:
    import polars as pl

    return frame.select(pl.any_horizontal(pl.all().is_null())).to_series().arg_max() or 0


def _data_end(file: BinaryIO) -> int:
    """The offset just past the last record that is not blank (blank lines at the end are no data)."""
    size = file.seek(0, os.SEEK_END)
    position = size
    while position > 0:
        step = min(SNIFF_BYTES, position)
        file.seek(position - step)
        chunk = file.read(step)
        stripped = chunk.rstrip()
        if stripped:
            last = position - step + len(stripped)  # just past the last non-blank byte
            file.seek(last)
            rest = file.read(size - last)
            newline = rest.find(b"\n")
            return size if newline < 0 else last + newline + 1
        position -= step
    return 0


def _last_record_end(text: bytes) -> int:
    """The offset just past the last line break in ``text`` that ends a record: outside quotes, so
    after an even number of quote characters (``""`` inside a quoted field keeps the count even).
    ``text`` starts at a record's start; 0 when no record ends in it."""
    if b'"' not in text:
        return text.rfind(b"\n") + 1
    codes = np.frombuffer(text, dtype=np.uint8)
    quotes = np.flatnonzero(codes == ord('"'))
    breaks = np.flatnonzero(codes == ord("\n"))
    outside = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    return int(outside[-1]) + 1 if outside.size else 0


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _separator_name(separator: str) -> str:
    return {",": "comma", "\t": "tab", ";": "semicolon"}.get(separator, repr(separator))
