"""Input checks shared by the losses: shapes, ranges and label sets.

Checks run on the numpy arrays before any loss is evaluated, and raise
:class:`~losscli.errors.InputError` naming the file (``sources[name]``), the data row
(1-based, header not counted) and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from losscli.errors import InputError
from losscli.types import Sources


def _src(sources: Sources, name: str) -> str:
    return sources.get(name, name)


def _row_col(shape: tuple[int, ...], flat_index: int) -> tuple[int, int | None]:
    """1-based (row, column) of a flat index into an array of ``shape``."""
    if len(shape) <= 1:
        return flat_index + 1, None
    idx = np.unravel_index(flat_index, shape)
    return int(idx[0]) + 1, int(np.ravel_multi_index(idx[1:], shape[1:])) + 1


def fail_at(sources: Sources, name: str, arr: np.ndarray, bad: np.ndarray, expected: str, hint: str = "") -> None:
    """Raise for the first True in ``bad`` (a boolean mask shaped like ``arr``); ``hint`` (what to
    do about it, e.g. "if these are logits, pass -p from_logits=true") ends the line."""
    flat = np.flatnonzero(bad.ravel())
    if flat.size == 0:
        return
    first = int(flat[0])
    row, col = _row_col(arr.shape, first)
    value = arr.ravel()[first]
    more = f" ({flat.size} such values)" if flat.size > 1 else ""
    where = f"data row {row}" + ("" if col is None else f", column {col}")
    tail = f"; {hint}" if hint else ""
    raise InputError(f"{where}: {name} must be {expected}, got {value:g}{more}{tail}", source=_src(sources, name))


def same_shape(inputs: Mapping[str, np.ndarray], sources: Sources, a: str, b: str) -> None:
    """``inputs[a]`` and ``inputs[b]`` must have the same shape."""
    sa, sb = inputs[a].shape, inputs[b].shape
    if sa != sb:
        raise InputError(
            f"{a} has shape {_fmt_shape(sa)} ({_src(sources, a)}) but {b} has shape "
            f"{_fmt_shape(sb)} ({_src(sources, b)}); they must match"
        )


def non_empty(inputs: Mapping[str, np.ndarray], sources: Sources) -> None:
    for name, arr in inputs.items():
        if arr.size == 0:
            raise InputError(f"{name} is empty", source=_src(sources, name))


def in_range(
    inputs: Mapping[str, np.ndarray], sources: Sources, name: str, low: float, high: float, hint: str = ""
) -> None:
    """Every value of ``inputs[name]`` must lie in [low, high] (NaN passes: checked elsewhere)."""
    arr = inputs[name]
    fail_at(sources, name, arr, (arr < low) | (arr > high), f"in [{low:g}, {high:g}]", hint)


def ndim_in(inputs: Mapping[str, np.ndarray], sources: Sources, name: str, allowed: tuple[int, ...], what: str) -> None:
    arr = inputs[name]
    if arr.ndim not in allowed:
        raise InputError(f"{name} must be {what}, got shape {_fmt_shape(arr.shape)}", source=_src(sources, name))


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in shape) if shape else "scalar"
