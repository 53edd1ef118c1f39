"""Whole arrays from JSON, .npy and .npz files: one unnamed array, or several by key."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from losscli.errors import InputError
from losscli.io.common import FORMAT_HINT, Input, first_nonfinite, location, nonfinite_message

NUMBER_TYPES = {int, float}
if TYPE_CHECKING:
    import zipfile

NUMERIC_KINDS = "biuf"
MAX_DIMENSIONS = 32  # numpy's limit for most of its functions
MAX_FLOAT_DIGITS = 309  # an integer with more digits is beyond float64 (and may be beyond int() itself)
NPY_MAGIC = b"\x93NUMPY"
NPY_VERSIONS = ((1, 0), (2, 0), (3, 0))
ZIP_ENCRYPTED = 0x1
TOO_DEEP = f"JSON nested too deeply to read; an array has at most {MAX_DIMENSIONS} dimensions"


class HugeInteger(str):
    """A JSON integer with more digits than any float64 has (kept as its text; reported as out of range)."""


class ArrayProblem(Exception):
    """A value that is not a rectangular array of numbers, with the index of the bad element."""

    def __init__(self, index: tuple[int, ...], message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


@dataclass
class Arrays:
    """Arrays by key (``None`` is the key of a file's single unnamed array)."""

    source: str
    values: dict[str | None, Any]
    convert: Callable[[Any], np.ndarray]
    allow_nonfinite: bool

    @property
    def keys(self) -> list[str] | None:
        """The keys, or None for a single unnamed array."""
        return None if None in self.values else [key for key in self.values if key is not None]

    def get(self, key: str | None) -> np.ndarray:
        """The array under ``key`` as float64 (at least 1-D), checked for non-finite values."""
        try:
            array = np.atleast_1d(self.convert(self.values[key]))
        except ArrayProblem as problem:
            raise InputError(problem.message + location(key, problem.index), source=self.source) from None
        if array.size == 0:
            raise InputError(f"{key or 'the array'} is empty", source=self.source)
        where = None if self.allow_nonfinite else first_nonfinite(array)
        if where is not None:
            raise InputError(nonfinite_message(array[where], location(key, where)), source=self.source)
        return array


def loads(data: bytes | str) -> Any:
    """Parse JSON; integers too long for float64 are kept as :class:`HugeInteger` (reported later as out of range).

    Raises json.JSONDecodeError, UnicodeDecodeError, or RecursionError when nested too deeply.
    """
    return json.loads(data, parse_int=_parse_int)


def _parse_int(text: str) -> int | HugeInteger:
    return HugeInteger(text) if len(text) > MAX_FLOAT_DIGITS else int(text)


def open_json(item: Input, allow_nonfinite: bool) -> Arrays:
    """A JSON number or nested list (one array), or an object of them (arrays by key)."""
    try:
        document = loads(item.read_bytes())
    except json.JSONDecodeError as error:
        raise invalid_json(error, item.name, error.lineno) from None
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text; {FORMAT_HINT}", source=item.name) from None
    except RecursionError:
        raise InputError(TOO_DEEP, source=item.name) from None
    values = document if isinstance(document, dict) else {None: document}
    return Arrays(item.name, values, json_to_array, allow_nonfinite)


def invalid_json(error: json.JSONDecodeError, source: str, line: int) -> InputError:
    """The error for JSON that does not parse, at ``line`` and the parser's column."""
    return InputError(f"invalid JSON: {error.msg}", source=source, line=line, column=error.colno)


def open_npy(item: Input, allow_nonfinite: bool) -> Arrays:
    """A .npy file: one array, loaded without pickle, its header checked against the file's size first."""
    if not item.head.startswith(NPY_MAGIC):
        raise InputError(f"not a .npy file (no NUMPY header); {FORMAT_HINT}", source=item.name)
    with item.open() as file:
        array = read_npy(file, item.size(), item.name, path=item.data if isinstance(item.data, str) else None)
    return Arrays(item.name, {None: array}, numeric_array, allow_nonfinite)


def open_npz(item: Input, allow_nonfinite: bool) -> Arrays:
    """A .npz file: arrays by key (each a .npy member), read when asked for, without pickle."""
    import zipfile

    if not item.head.startswith(b"PK"):
        raise InputError(f"not a .npz file (not a zip archive); {FORMAT_HINT}", source=item.name)
    try:
        with item.open() as file, zipfile.ZipFile(file) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise InputError(f"not a valid .npz file ({_first_line(error)})", source=item.name) from None
    values: dict[str | None, Any] = {}
    for info in members:
        if info.flag_bits & ZIP_ENCRYPTED:
            raise InputError(
                f"member {info.filename!r} is encrypted; encrypted .npz files are refused", source=item.name
            )
        if info.is_dir() or not info.filename.endswith(".npy"):
            raise InputError(
                f"member {info.filename!r} is not a .npy array (a .npz holds .npy members only)", source=item.name
            )
        values[info.filename.removesuffix(".npy")] = info
    if not values:
        raise InputError("the .npz archive holds no arrays", source=item.name)
    return Arrays(item.name, values, functools.partial(_read_member, item), allow_nonfinite)


def _read_member(item: Input, info: zipfile.ZipInfo) -> np.ndarray:
    import zipfile

    what = f".npz member {info.filename!r}"
    try:
        with item.open() as file, zipfile.ZipFile(file) as archive, archive.open(info) as member:
            if member.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise InputError(f"{what} is not a .npy array (no NUMPY header)", source=item.name)
            member.seek(0)
            array = read_npy(member, info.file_size, item.name, info.filename)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as error:
        raise InputError(f"not a valid .npz file ({what}: {_first_line(error)})", source=item.name) from None
    return numeric_array(array)


def npy_header(file: IO[bytes], source: str, member: str | None = None) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from the .npy header at the start of ``file``, which is left at
    the data; unsupported versions, bad headers and pickled (object) arrays are input errors."""
    what = ".npy file" if member is None else f".npz member {member!r}"
    fmt = np.lib.format
    try:
        version = fmt.read_magic(file)
        if version not in NPY_VERSIONS:
            raise InputError(
                f"not a valid {what} (unsupported format version {version[0]}.{version[1]})", source=source
            )
        # versions 2.0 and 3.0 differ only in how the header's text is encoded
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran_order, dtype = reader(file)
    except ValueError as error:
        raise InputError(f"not a valid {what} ({_first_line(error)})", source=source) from None
    if dtype.hasobject:
        raise InputError(f"pickled {'.npy' if member is None else '.npz'} files are refused", source=source)
    return tuple(shape), bool(fortran_order), dtype


def check_npy_size(shape: tuple[int, ...], dtype: np.dtype, available: int, source: str, what: str) -> int:
    """The bytes of data the header says there are; an input error when fewer follow the header."""
    needed = math.prod(shape) * dtype.itemsize
    if needed > available:
        raise InputError(
            f"not a valid {what}: cut short (its header says shape {tuple(shape)} of {dtype}, "
            f"{needed:,} bytes of data, but {max(available, 0):,} bytes follow the header)",
            source=source,
        )
    return needed


def read_npy(file: IO[bytes], size: int, source: str, member: str | None = None, path: str | None = None) -> np.ndarray:
    """The array in .npy format at the start of ``file`` (``size`` bytes in all; ``member`` names the
    .npz member it is), without pickle.

    The header is read first, and the data is read only if the file holds as many bytes as the
    header's shape and dtype need, so a header that lies (or a cut file) is an input error, not an
    attempt to allocate whatever it claims.  A float64 array in a regular file (``path``) is memory-
    mapped read-only instead of read: its pages are read as the loss reaches them and stay the
    file's, so a large input does not take its size in memory twice.
    """
    what = ".npy file" if member is None else f".npz member {member!r}"
    shape, fortran_order, dtype = npy_header(file, source, member)
    if dtype.kind not in NUMERIC_KINDS:
        return np.empty(0, dtype=dtype)  # refused as "expected numbers" by numeric_array, without reading it
    count = math.prod(shape)
    needed = check_npy_size(shape, dtype, size - file.tell(), source, what)
    if path is not None and dtype == np.float64 and count > 0:
        mapped: np.ndarray = np.memmap(
            path,
            dtype=np.float64,
            mode="r",
            offset=file.tell(),
            shape=tuple(shape),
            order="F" if fortran_order else "C",
        )
        return mapped
    check_fits_in_memory(needed + count * 8, source)
    data = file.read(needed)
    if len(data) < needed:
        raise InputError(
            f"not a valid {what}: cut short (the data ends after {len(data):,} of {needed:,} bytes)", source=source
        )
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape[::-1]).transpose() if fortran_order else array.reshape(shape)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def numeric_array(array: np.ndarray) -> np.ndarray:
    """A numpy array of numbers (booleans count as 0/1) as float64."""
    if array.dtype.kind not in NUMERIC_KINDS:
        raise ArrayProblem((), f"expected numbers, got an array of type {array.dtype}")
    return array.astype(np.float64, copy=False)  # float64 data (a memory-mapped .npy) is used as it is


def json_to_array(value: Any) -> np.ndarray:
    """A float64 array from a JSON number or a rectangular nested list of numbers."""
    depth = _nesting(value)
    if depth > MAX_DIMENSIONS:
        raise ArrayProblem((), f"nested {depth} levels deep; an array has at most {MAX_DIMENSIONS} dimensions")
    try:
        objects = np.array(value, dtype=object)
        if set(map(type, objects.flat)) <= NUMBER_TYPES:
            return objects.astype(np.float64)
    except (ValueError, OverflowError, RuntimeError):
        pass
    raise _json_problem(value)


def _nesting(value: Any) -> int:
    """How deeply lists are nested, following the first element."""
    depth = 0
    while isinstance(value, list) and value:
        depth += 1
        value = value[0]
    return depth + isinstance(value, list)


def _json_problem(value: Any) -> ArrayProblem:
    """The first element that keeps ``value`` from being a rectangular array of numbers."""
    shape = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    return _find_problem(value, (), shape) or ArrayProblem((), "not a rectangular array of numbers")


def _find_problem(value: Any, index: tuple[int, ...], shape: list[int]) -> ArrayProblem | None:
    depth = len(index)
    if isinstance(value, list):
        if depth == len(shape):
            return ArrayProblem(index, "expected a number, got an array")
        if len(value) != shape[depth]:
            return ArrayProblem(index, f"ragged array: {len(value)} elements where {shape[depth]} were expected")
        for i, item in enumerate(value):
            problem = _find_problem(item, (*index, i), shape)
            if problem:
                return problem
        return None
    if depth < len(shape):
        expected = f"expected an array of {shape[depth]} elements"
        return ArrayProblem(index, f"ragged array: {expected}, got {show_json(value)}")
    if isinstance(value, HugeInteger):
        return ArrayProblem(index, f"number out of range: {show_json(value)}")
    if type(value) not in NUMBER_TYPES:
        return ArrayProblem(index, f"expected a number, got {show_json(value)}")
    if type(value) is int and abs(value) > sys.float_info.max:
        return ArrayProblem(index, f"number out of range: {show_json(value)}")
    return None


def show_json(value: Any) -> str:
    """A JSON value as written, shortened for messages."""
    if isinstance(value, HugeInteger):
        return f"an integer of {len(value.lstrip('-'))} digits"
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError, TypeError):
        return "a deeply nested value"
    return text if len(text) <= 40 else text[:37] + "..."


def check_fits_in_memory(needed: int, source: str) -> None:
    """Refuse to allocate more bytes than the machine has (when the platform says how much that is)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    if physical > 0 and needed > physical:
        raise InputError(too_large_message(needed, physical), source=source)


def too_large_message(needed: int | None = None, physical: int | None = None) -> str:
    """The message for data that does not fit in memory."""
    message = "too large to read into memory"
    if needed:
        message += f" (it needs about {needed / 1e9:,.1f} GB" + (
            f", this machine has {physical / 1e9:,.1f} GB)" if physical else ")"
        )
    return message + "; read it in chunks (--chunk-rows N; CSV, Parquet and .npy), or a machine with more memory"
