"""NDJSON and Parquet tables: typed columns read by polars; a column of lists gives one matrix row per record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from losscli.errors import InputError
from losscli.io.arrays import TOO_DEEP, ArrayProblem, invalid_json, json_to_array, loads, show_json
from losscli.io.common import FORMAT_HINT, Input, Table, location, nonfinite_message

if TYPE_CHECKING:
    import polars as pl

Records = list[tuple[int, dict[str, Any]]]  # (line number, object) for each non-blank line


@dataclass
class ParquetTable(Table):
    """A Parquet file; columns are read on demand."""

    source: str
    data: str | bytes
    names: list[str]
    allow_nonfinite: bool
    width: int = field(init=False)  # the number of columns

    def __post_init__(self) -> None:
        self.width = len(self.names)

    def _load(self, wanted: list[int]) -> dict[int, np.ndarray]:
        import polars as pl

        try:
            frame = pl.scan_parquet(self.data, glob=False).select([self.names[i] for i in wanted]).collect()
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as error:
            reason = str(error).splitlines()[0]
            raise InputError(f"cannot read the Parquet data ({reason})", source=self.source) from None
        return {index: self._values(frame[self.names[index]]) for index in wanted}

    def rows(self) -> int:
        """The number of rows, from the file's metadata."""
        import polars as pl

        try:
            return int(pl.scan_parquet(self.data, glob=False).select(pl.len()).collect().item())
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as error:
            reason = str(error).splitlines()[0]
            raise InputError(f"cannot read the Parquet data ({reason})", source=self.source) from None

    def batches(self, wanted: list[int], rows: int) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """(first row, columns) of ``rows`` rows at a time (polars reads only the row groups a slice
        touches), checked as :meth:`load_columns` checks, a bad value named by its row in the file."""
        import polars as pl

        total = self.rows()
        if total == 0:
            raise InputError("no data rows", source=self.source)
        selected = [self.names[i] for i in wanted]
        for start in range(0, total, rows):
            try:
                frame = pl.scan_parquet(self.data, glob=False).select(selected).slice(start, rows).collect()
            except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as error:
                reason = str(error).splitlines()[0]
                raise InputError(f"cannot read the Parquet data ({reason})", source=self.source) from None
            yield start, {index: self._values(frame[self.names[index]], start) for index in wanted}

    def _values(self, series: pl.Series, start: int = 0) -> np.ndarray:
        problem = series_problem(series)
        if problem is not None:
            row, message = problem
            where = "" if row is None else f" at row index {row + start}"
            raise InputError(message + where, source=self.source, column=series.name)
        return series_values(series)

    def _raise_nonfinite(self, row: int, index: int, value: float) -> NoReturn:
        raise InputError(nonfinite_message(value, f" at row index {row}"), source=self.source, column=self.names[index])


@dataclass
class NdjsonTable(Table):
    """NDJSON: one object per line, read by polars; parsed line by line to locate problems."""

    source: str
    content: bytes
    frame: pl.DataFrame | None  # None when polars could not read it; the records are used then
    names: list[str]
    allow_nonfinite: bool
    records: Records | None = None
    width: int = field(init=False)  # the number of columns (keys)

    def __post_init__(self) -> None:
        self.width = len(self.names)

    def _load(self, wanted: list[int]) -> dict[int, np.ndarray]:
        return {index: self._values(self.names[index]) for index in wanted}

    def _values(self, name: str) -> np.ndarray:
        if self.frame is not None and series_problem(self.frame[name]) is None:
            return series_values(self.frame[name])
        return self._values_from_records(name)

    def _values_from_records(self, name: str) -> np.ndarray:
        """The column built from the parsed lines: slow, but it names the line of any bad value."""
        records = self._records()
        for line, record in records:
            if record.get(name) is None:
                raise InputError("missing value", source=self.source, line=line, column=name)
        try:
            return json_to_array([record[name] for _, record in records])
        except ArrayProblem as problem:
            at = records[problem.index[0]][0] if problem.index else None
            raise InputError(
                problem.message + location(None, problem.index[1:]), source=self.source, line=at, column=name
            ) from None

    def _records(self) -> Records:
        if self.records is None:
            self.records = read_records(self.source, self.content)
        return self.records

    def _raise_nonfinite(self, row: int, index: int, value: float) -> NoReturn:
        line = self._records()[row][0]
        raise InputError(nonfinite_message(value), source=self.source, line=line, column=self.names[index])


def open_parquet(item: Input, allow_nonfinite: bool) -> ParquetTable:
    """Read the schema now; the columns later."""
    import polars as pl

    try:
        schema = pl.scan_parquet(item.data, glob=False).collect_schema()
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError):
        raise InputError(f"not a valid Parquet file; {FORMAT_HINT}", source=item.name) from None
    return ParquetTable(item.name, item.data, list(schema), allow_nonfinite)


def open_ndjson(item: Input, allow_nonfinite: bool) -> NdjsonTable:
    """Read with polars (inferring types from every line); if that fails, parse line by line."""
    import polars as pl

    content = item.read_bytes()
    try:
        frame = pl.read_ndjson(content, infer_schema_length=None)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        records = read_records(item.name, content)  # raises if a line is not a JSON object
        names = list(dict.fromkeys(key for _, record in records for key in record))
        return NdjsonTable(item.name, content, None, names, allow_nonfinite, records)
    return NdjsonTable(item.name, content, frame, frame.columns, allow_nonfinite)


def read_records(source: str, content: bytes) -> Records:
    """Each non-blank line parsed as a JSON object, with its line number."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text; {FORMAT_HINT}", source=source) from None
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except json.JSONDecodeError as error:
            raise invalid_json(error, source, number) from None
        except RecursionError:
            raise InputError(TOO_DEEP, source=source, line=number) from None
        if not isinstance(record, dict):
            raise InputError(f"expected a JSON object, got {show_json(record)}", source=source, line=number)
        records.append((number, record))
    if not records:
        raise InputError("no data rows", source=source)
    return records


def series_problem(series: pl.Series) -> tuple[int | None, str] | None:
    """Why a column is not numbers (or equal-length lists of numbers), and the first bad row; None if fine."""
    import polars as pl

    series = _as_list(series)
    nested = isinstance(series.dtype, pl.List)
    inner = series.dtype.inner if isinstance(series.dtype, pl.List) else series.dtype
    if not (inner.is_numeric() or inner == pl.Boolean):
        return None, f"has type {series.dtype}, expected numbers"
    if series.null_count():
        return series.is_null().arg_max(), "missing value"
    if not nested:
        return None
    lengths = series.list.len()
    if (lengths == 0).any():
        return (lengths == 0).arg_max(), "empty list"
    if (lengths != lengths[0]).any():
        row = (lengths != lengths[0]).arg_max()
        return row, f"ragged lists: {lengths[row]} values where {lengths[0]} were expected"
    holes = series.list.drop_nulls().list.len() != lengths
    return (holes.arg_max(), "missing value inside a list") if holes.any() else None


def series_values(series: pl.Series) -> np.ndarray:
    """A clean column as float64: (N,) for numbers, (N, k) for lists of k numbers."""
    import polars as pl

    series = _as_list(series)
    if isinstance(series.dtype, pl.List):
        width = series.list.len()[0]
        return series.explode().cast(pl.Float64).to_numpy().reshape(len(series), width)
    return series.cast(pl.Float64).to_numpy()


def _as_list(series: pl.Series) -> pl.Series:
    import polars as pl

    return series.arr.to_list() if isinstance(series.dtype, pl.Array) else series
