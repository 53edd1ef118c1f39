"""Pieces shared by the input readers: the input bytes, column selectors, tables, non-finite checks."""

from __future__ import annotations

import fnmatch
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn

import numpy as np

from losscli.errors import InputError

FORMATS = ("csv", "tsv", "json", "ndjson", "npy", "npz", "parquet")
MAX_LISTED = 20
MANY_COLUMNS = 64  # above this, non-finite values are looked for in all columns at once
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

    def size(self) -> int:
        """The content's length in bytes."""
        return len(self.data) if isinstance(self.data, bytes) else os.path.getsize(self.data)

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

    def load_columns(self, wanted: list[int]) -> dict[int, np.ndarray]:
        """The wanted columns as float64, checked: at least one row, no NaN or infinity unless allowed."""
        columns = self._load(wanted)
        if len(columns[wanted[0]]) == 0:
            raise InputError("no data rows", source=self.source)
        if not self.allow_nonfinite:
            self._check_finite(columns)
        return columns

    def column_name(self, index: int) -> str:
        """The header name of a column, or its 0-based index as text when it has none."""
        return self.names[index] if self.names and self.names[index] else str(index)

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

    def _check_finite(self, columns: dict[int, np.ndarray], start: int = 0) -> None:
        """No NaN or infinity, the first one reported by its row in the file (``start``: the row the
        columns begin at, for a chunk of a streamed table)."""
        if len(columns) > MANY_COLUMNS and _all_finite(list(columns.values())):
            return  # one check for a wide table of short columns, not one per column
        found = []
        for index, values in columns.items():
            where = first_nonfinite(values)
            if where is not None:
                found.append((where[0], index, where))
        if found:
            row, index, where = min(found)
            self._raise_nonfinite(start + row, index, columns[index][where])


def _all_finite(parts: list[np.ndarray]) -> bool:
    """Whether equal-length plain columns hold only finite values (False also when they cannot be stacked)."""
    if any(part.ndim != 1 or len(part) != len(parts[0]) for part in parts):
        return False
    return bool(np.isfinite(np.column_stack(parts)).all())


def stack(parts: list[np.ndarray]) -> np.ndarray:
    """Columns side by side; a single part is returned as it is (no copy: nothing writes into inputs)."""
    return parts[0] if len(parts) == 1 else np.column_stack(parts)


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


RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
GLOB_CHARS = frozenset("*?[")


def resolve_columns(selector: str | int, names: list[str] | None, width: int, source: str) -> list[int]:
    """0-based column indices for a selector: a header name, a 0-based index, an inclusive range of
    indices (``1-10``), a glob on the header names (``logit_*``), or a comma list of these.

    An exact header name always wins over reading the text as an index, a range, a glob or a list.
    """
    if isinstance(selector, int):
        return [_checked_index(selector, width, source)]
    if names is not None and selector in names:
        return [names.index(selector)]
    indices: list[int] = []
    for part in selector.split(","):
        indices.extend(_resolve_part(part.strip(), names, width, source))
    return indices


def is_positional(selector: str | int) -> bool:
    """Whether the selector picks columns by position only (indices and ranges, no names or globs)."""
    if isinstance(selector, int):
        return True
    return all(part.strip().isdigit() or RANGE.match(part.strip()) for part in selector.split(","))


def _resolve_part(part: str, names: list[str] | None, width: int, source: str) -> list[int]:
    if names is not None and part in names:
        return [names.index(part)]
    if part.isdigit():
        return [_checked_index(int(part), width, source)]
    if match := RANGE.match(part):
        first, last = int(match[1]), int(match[2])
        if first > last:
            raise InputError(f"column range {part!r} is empty: write it low-high, e.g. {last}-{first}", source=source)
        _checked_index(last, width, source)
        return list(range(first, last + 1))
    if names is None:
        raise InputError(
            f"no column names here, so select columns by 0-based index or range (e.g. 0 or 1-3), not {part!r}",
            source=source,
        )
    if GLOB_CHARS & set(part):
        matched = [index for index, name in enumerate(names) if fnmatch.fnmatchcase(name, part)]
        if not matched:
            raise InputError(f"no column matches {part!r} (columns: {listing(names)})", source=source)
        return matched
    raise InputError(f"no column {part!r}{did_you_mean(part, names)} (columns: {listing(names)})", source=source)


def _checked_index(index: int, width: int, source: str) -> int:
    if not 0 <= index < width:
        last = f" (0-{width - 1})" if width > 1 else " (0)"
        raise InputError(
            f"column index {index} is out of range: there {'are' if width != 1 else 'is'} {width} "
            f"column{'s' if width != 1 else ''}{last}",
            source=source,
        )
    return index


def did_you_mean(word: str, candidates: list[str]) -> str:
    """'; did you mean 'preds'?' for the closest candidate (any case), or ''."""
    folded = {candidate.casefold(): candidate for candidate in reversed(candidates) if candidate}
    import difflib

    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean {folded[close[0]]!r}?" if close else ""


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
