"""Pieces shared by the input readers: the input bytes, column selectors, tables, non-finite checks."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

import numpy as np

from losscli.errors import InputError

FORMATS = ("csv", "tsv", "json", "ndjson", "npy", "npz", "parquet")
MAX_LISTED = 20
SNIFF_BYTES = 1 << 16
FORMAT_HINT = "is the format right? (see --input-format)"


@dataclass(frozen=True)
class Input:
    """One input file: its name for messages, a path or the bytes read from stdin, and its first/last bytes."""

    name: str
    data: str | bytes
    head: bytes
    tail: bytes

    def read_bytes(self) -> bytes:
        """The whole content."""
        return self.data if isinstance(self.data, bytes) else Path(self.data).read_bytes()

    def open(self) -> BinaryIO:
        """A binary file object on the content (to be closed by the caller)."""
        return open_binary(self.data)


def open_binary(data: str | bytes) -> BinaryIO:
    """A binary file object on a path or on bytes (to be closed by the caller)."""
    return io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")


class Table:
    """Columns by name (or only by number when ``names`` is None); subclasses load and locate them."""

    source: str
    names: list[str] | None
    width: int
    allow_nonfinite: bool

    def read(self, selections: list[list[int]]) -> list[np.ndarray]:
        """One float64 array per selection of column indices: (N,) for one plain column, else (N, k)."""
        wanted = sorted({index for selection in selections for index in selection})
        columns = self._load(wanted)
        if len(columns[wanted[0]]) == 0:
            raise InputError("no data rows", source=self.source)
        if not self.allow_nonfinite:
            self._check_finite(columns)
        return [stack([columns[index] for index in selection]) for selection in selections]

    def describe_columns(self) -> str:
        """The available columns, for error messages."""
        if self.names is None:
            return f"{self.width} unnamed columns, selectable by 0-based index"
        return listing(self.names)

    def column_label(self, index: int) -> str | int:
        """The column's name, or its 1-based number when it has none."""
        return self.names[index] if self.names and self.names[index] else index + 1

    def _load(self, wanted: list[int]) -> dict[int, np.ndarray]:
        raise NotImplementedError

    def _raise_nonfinite(self, row: int, index: int, value: float) -> NoReturn:
        raise NotImplementedError

    def _check_finite(self, columns: dict[int, np.ndarray]) -> None:
        found = []
        for index, values in columns.items():
            where = first_nonfinite(values)
            if where is not None:
                found.append((where[0], index, where))
        if found:
            row, index, where = min(found)
            self._raise_nonfinite(row, index, columns[index][where])


def stack(parts: list[np.ndarray]) -> np.ndarray:
    """Columns side by side (a single part is returned as a writable copy, keeping its shape)."""
    return np.array(parts[0]) if len(parts) == 1 else np.column_stack(parts)


def listing(names: list[str]) -> str:
    """A comma-separated list, shortened when long."""
    if not names:
        return "none"
    shown = ", ".join(repr(name) for name in names[:MAX_LISTED])
    return shown + (f", ... ({len(names)} in all)" if len(names) > MAX_LISTED else "")


def parse_number(text: str) -> float | None:
    """The number written in ``text`` (spaces around it allowed), or None if it is not one."""
    if "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def resolve_columns(selector: str | int, names: list[str] | None, width: int, source: str) -> list[int]:
    """0-based column indices for a selector: a name, an index, or a comma list of them."""
    if isinstance(selector, int) or (names is not None and selector in names):
        return [_column_index(selector, names, width, source)]
    return [_column_index(part.strip(), names, width, source) for part in selector.split(",")]


def _column_index(part: str | int, names: list[str] | None, width: int, source: str) -> int:
    if isinstance(part, str) and names is not None and part in names:
        return names.index(part)
    if isinstance(part, str) and not part.isdigit():
        if names is None:
            raise InputError(f"no column names here, so select columns by 0-based index, not {part!r}", source=source)
        raise InputError(f"no column {part!r} (columns: {listing(names)})", source=source)
    if not 0 <= int(part) < width:
        raise InputError(
            f"column index {part} is out of range: there are {width} columns (0-{width - 1})", source=source
        )
    return int(part)


def first_nonfinite(values: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or infinity (in C order), or None."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))


def nonfinite_message(value: float, where: str = "") -> str:
    """The message for a NaN or infinity found at ``where``."""
    return f"non-finite value {value}{where} (pass --allow-nonfinite to accept it)"


def location(key: str | None, index: tuple[int, ...]) -> str:
    """' at preds[3][1]', ' at element [3]', or '' for a whole unnamed value."""
    suffix = "".join(f"[{i}]" for i in index)
    if key:
        return f" at {key}{suffix}"
    return f" at element {suffix}" if suffix else ""
