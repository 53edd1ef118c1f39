"""Whole arrays from JSON, .npy and .npz files: one unnamed array, or several by key."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from losscli.errors import InputError
from losscli.io.common import FORMAT_HINT, Input, first_nonfinite, location, nonfinite_message

NUMBER_TYPES = {int, float}
NUMERIC_KINDS = "biuf"


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
        return None if None in self.values else list(self.values)

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


def open_json(item: Input, allow_nonfinite: bool) -> Arrays:
    """A JSON number or nested list (one array), or an object of them (arrays by key)."""
    try:
        document = json.loads(item.read_bytes())
    except json.JSONDecodeError as error:
        raise invalid_json(error, item.name, error.lineno) from None
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text; {FORMAT_HINT}", source=item.name) from None
    values = document if isinstance(document, dict) else {None: document}
    return Arrays(item.name, values, json_to_array, allow_nonfinite)


def invalid_json(error: json.JSONDecodeError, source: str, line: int) -> InputError:
    """The error for JSON that does not parse, at ``line`` and the parser's column."""
    return InputError(f"invalid JSON: {error.msg}", source=source, line=line, column=error.colno)


def open_npy(item: Input, allow_nonfinite: bool) -> Arrays:
    """A .npy file: one array, loaded without pickle."""
    if not item.head.startswith(b"\x93NUMPY"):
        raise InputError(f"not a .npy file (no NUMPY header); {FORMAT_HINT}", source=item.name)
    with item.open() as file, _numpy_errors(item.name, ".npy"):
        array = np.load(file, allow_pickle=False)
    return Arrays(item.name, {None: array}, numeric_array, allow_nonfinite)


def open_npz(item: Input, allow_nonfinite: bool) -> Arrays:
    """A .npz file: arrays by key, loaded without pickle."""
    if not item.head.startswith(b"PK"):
        raise InputError(f"not a .npz file (not a zip archive); {FORMAT_HINT}", source=item.name)
    with item.open() as file, _numpy_errors(item.name, ".npz"), np.load(file, allow_pickle=False) as archive:
        values = {key: archive[key] for key in archive.files}
    return Arrays(item.name, values, numeric_array, allow_nonfinite)


@contextmanager
def _numpy_errors(source: str, suffix: str) -> Iterator[None]:
    """Turn numpy's loading errors into one-line input errors."""
    try:
        yield
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise InputError(f"pickled {suffix} files are refused", source=source) from None
        raise InputError(f"not a valid {suffix} file ({str(error).splitlines()[0]})", source=source) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"not a valid {suffix} file ({error})", source=source) from None


def numeric_array(array: np.ndarray) -> np.ndarray:
    """A numpy array of numbers (booleans count as 0/1) as float64."""
    if array.dtype.kind not in NUMERIC_KINDS:
        raise ArrayProblem((), f"expected numbers, got an array of type {array.dtype}")
    return array.astype(np.float64)


def json_to_array(value: Any) -> np.ndarray:
    """A float64 array from a JSON number or a rectangular nested list of numbers."""
    try:
        objects = np.array(value, dtype=object)
        if set(map(type, objects.flat)) <= NUMBER_TYPES:
            return objects.astype(np.float64)
    except (ValueError, OverflowError):
        pass
    raise _json_problem(value)


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
    if type(value) not in NUMBER_TYPES:
        return ArrayProblem(index, f"expected a number, got {show_json(value)}")
    if type(value) is int and abs(value) > sys.float_info.max:
        return ArrayProblem(index, f"number out of range: {show_json(value)}")
    return None


def show_json(value: Any) -> str:
    """A JSON value as written, shortened for messages."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
