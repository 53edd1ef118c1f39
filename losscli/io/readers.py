"""Loading a loss's inputs: binding files to input names, then picking columns or keys.

Positional files bind to the inputs not given by ``--input NAME=FILE``, in declared order.  A single
file given for several required inputs carries all of them: by key (JSON object, .npz) or by column
(tables: from ``columns``, else a header equal to the input name or one of its aliases).
PNG and JPEG files are read as images by :func:`losscli.io.images.read_image` (H x W or 3 x H x W in [0, 1]).
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from losscli.errors import InputError, UsageError
from losscli.io.arrays import Arrays
from losscli.io.common import FORMATS, Table, listing, resolve_columns
from losscli.io.sources import STDIN, STDIN_NAME, open_source

__all__ = ["FORMATS", "bind_sources", "load_inputs"]

ALIASES = {
    "preds": ("pred", "prediction", "predictions", "y_pred", "yhat", "logits", "probs"),
    "targets": ("target", "y", "y_true", "label", "labels"),
}
DELIMITER_NAMES = {"\\t": "\t", "tab": "\t"}
COLUMN_OPTIONS = "--pred-col/--target-col"

Selector = str | int
Binding = tuple[str, list[str]]  # a file and the inputs it carries


def load_inputs(
    input_names: list[str],
    files: list[str],
    *,
    columns: dict[str, Selector] | None = None,
    named_files: dict[str, str] | None = None,
    input_format: str | None = None,
    delimiter: str | None = None,
    allow_nonfinite: bool = False,
    required: list[str] | None = None,
    stdin: BinaryIO | None = None,
) -> dict[str, np.ndarray]:
    """Read the inputs as float64 arrays, keyed by input name in declared order ("-" is stdin)."""
    columns = columns or {}
    named_files = named_files or {}
    required = list(input_names) if required is None else required
    delimiter = DELIMITER_NAMES.get(delimiter, delimiter) if delimiter else None
    _check_options(input_names, columns, named_files, input_format, delimiter)
    loaded: dict[str, np.ndarray] = {}
    for file, names in _bind(input_names, files, named_files, required):
        source = open_source(
            file, input_format=input_format, delimiter=delimiter, allow_nonfinite=allow_nonfinite, stdin=stdin
        )
        if isinstance(source, Table):
            loaded.update(_take_from_table(source, names, columns, required))
        else:
            loaded.update(_take_from_arrays(source, names, columns, required))
    return {name: loaded[name] for name in input_names if name in loaded}


def bind_sources(
    input_names: list[str],
    files: list[str],
    named_files: dict[str, str] | None = None,
    *,
    required: list[str] | None = None,
) -> dict[str, str]:
    """The file each input is read from, as named in messages ("<stdin>" for "-"), binding as load_inputs does."""
    required = list(input_names) if required is None else required
    bindings = _bind(input_names, files, named_files or {}, required)
    return {name: STDIN_NAME if file == STDIN else file for file, names in bindings for name in names}


def _check_options(
    input_names: list[str],
    columns: dict[str, Selector],
    named_files: dict[str, str],
    input_format: str | None,
    delimiter: str | None,
) -> None:
    for name in [*named_files, *columns]:
        if name not in input_names:
            raise UsageError(f"unknown input {name!r}; this loss takes {', '.join(input_names)}")
    if input_format is not None and input_format not in FORMATS:
        raise UsageError(f"unknown input format {input_format!r}; choose one of {', '.join(FORMATS)}")
    if delimiter is not None and len(delimiter) != 1:
        raise UsageError(f"the delimiter must be a single character, got {delimiter!r}")


def _bind(input_names: list[str], files: list[str], named_files: dict[str, str], required: list[str]) -> list[Binding]:
    """Which file carries which inputs."""
    free = [name for name in input_names if name not in named_files]
    if len(files) > len(free):
        besides = f" besides --input {', '.join(named_files)}" if named_files else ""
        raise UsageError(
            f"the loss takes {len(input_names)} inputs ({', '.join(input_names)}) "
            f"but {len(files)} files were given{besides}"
        )
    grouped: dict[str, list[str]] = {}
    for name in input_names:
        if name in named_files:
            grouped.setdefault(named_files[name], []).append(name)
    bindings = list(grouped.items())
    if len(files) == 1 and sum(name in required for name in free) > 1:
        bindings.append((files[0], free))
    else:
        bindings.extend((file, [name]) for file, name in zip(files, free, strict=False))
    _check_bindings(input_names, bindings, required)
    return bindings


def _check_bindings(input_names: list[str], bindings: list[Binding], required: list[str]) -> None:
    if sum(file == STDIN for file, _ in bindings) > 1:
        raise UsageError("standard input ('-') can be read only once")
    bound = {name for _, names in bindings for name in names}
    missing = [name for name in required if name not in bound]
    if missing:
        raise UsageError(
            f"missing input {missing[0]!r}: the loss takes {len(input_names)} inputs ({', '.join(input_names)}); "
            f"give a file for it or --input {missing[0]}=FILE"
        )


def _take_from_table(
    table: Table, names: list[str], columns: dict[str, Selector], required: list[str]
) -> dict[str, np.ndarray]:
    """Each input's columns: chosen by ``columns``, by header name when the file carries several
    inputs, else the whole table."""
    selections: dict[str, list[int]] = {}
    for name in names:
        if name in columns:
            selections[name] = resolve_columns(columns[name], table.names, table.width, table.source)
        elif len(names) == 1:
            selections[name] = list(range(table.width))
        elif (index := _default_index(name, table.names)) is not None:
            selections[name] = [index]
        elif name in required:
            raise InputError(
                f"cannot tell which column holds {name} (columns: {table.describe_columns()}); "
                f"choose with {COLUMN_OPTIONS}",
                source=table.source,
            )
    if not selections:
        return {}
    return dict(zip(selections, table.read(list(selections.values())), strict=True))


def _take_from_arrays(
    arrays: Arrays, names: list[str], columns: dict[str, Selector], required: list[str]
) -> dict[str, np.ndarray]:
    """Each input's array: by key (``columns`` may name the key), or the file's single unnamed array."""
    keys = arrays.keys
    if keys is None:
        if len(names) > 1:
            raise InputError(
                f"holds one unnamed array but must provide {', '.join(names)}; give one file per input, "
                "or a JSON object or .npz with a key per input",
                source=arrays.source,
            )
        return {names[0]: _select(arrays.get(None), columns.get(names[0]), arrays.source)}
    taken = {}
    for name in names:
        selector = columns.get(name)
        key = _pick_key(arrays, name, selector, several=len(names) > 1)
        if key is not None:
            taken[name] = _select(arrays.get(key), None if selector == key else selector, arrays.source)
        elif name in required:
            raise InputError(f"no key {name!r} (keys: {listing(keys)})", source=arrays.source)
    return taken


def _pick_key(arrays: Arrays, name: str, selector: Selector | None, *, several: bool) -> str | None:
    """The key given as ``selector``, else the input's name or alias, else a lone key."""
    keys = arrays.keys or []
    if isinstance(selector, str) and not _is_index_list(selector):
        if selector not in keys:
            raise InputError(f"no key {selector!r} (keys: {listing(keys)})", source=arrays.source)
        return selector
    index = _default_index(name, keys)
    if index is not None:
        return keys[index]
    return keys[0] if len(keys) == 1 and not several else None


def _default_index(name: str, names: list[str] | None) -> int | None:
    """The position of the column or key named like the input or one of its aliases (any case)."""
    if names is None:
        return None
    folded = [candidate.casefold() for candidate in names]
    for wanted in (name, *ALIASES.get(name, ())):
        if wanted.casefold() in folded:
            return folded.index(wanted.casefold())
    return None


def _select(array: np.ndarray, selector: Selector | None, source: str) -> np.ndarray:
    """Columns of a 2-D array by 0-based index (the whole array when ``selector`` is None)."""
    if selector is None:
        return array
    if array.ndim != 2:
        raise InputError(f"cannot select columns of an array of shape {array.shape}", source=source)
    indices = resolve_columns(selector, None, array.shape[1], source)
    selected = array[:, indices]
    return selected[:, 0] if len(indices) == 1 else selected


def _is_index_list(selector: str) -> bool:
    return all(part.strip().isdigit() for part in selector.split(","))
