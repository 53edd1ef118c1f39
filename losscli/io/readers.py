"""Loading a loss's inputs: binding files to input names, then picking columns or keys.

Positional files bind to the inputs not given by ``--input NAME=FILE``, in declared order.  A single
file given for several required inputs carries all of them: by key (JSON object, .npz) or by column
(tables: from ``columns``, else a header equal to the input name or one of its aliases).
PNG and JPEG files are read as images by :func:`losscli.io.images.read_image` (H x W or 3 x H x W in [0, 1]).

A table read whole (one input, no column chosen) leaves out a pandas index column: the first column,
with an empty header or named ``Unnamed: 0``, ``index`` or ``id``, holding exactly 0..N-1 (what
``DataFrame.to_csv()`` writes by default), and Parquet's ``__index_level_N__`` columns.  Each such
leaving-out is reported in :attr:`LoadedInputs.notes`; nothing here prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from losscli.errors import InputError, UsageError
from losscli.io.arrays import Arrays, too_large_message
from losscli.io.common import FORMATS, Table, did_you_mean, is_positional, listing, resolve_columns, stack
from losscli.io.sources import STDIN, STDIN_NAME, open_source

__all__ = ["ALIASES", "FORMATS", "InputInfo", "LoadedInputs", "bind_sources", "load_inputs", "read_inputs"]

ALIASES = {
    "preds": (
        "pred",
        "prediction",
        "predictions",
        "y_pred",
        "y_hat",
        "yhat",
        "y_prob",
        "proba",
        "probs",
        "y_score",
        "score",
        "logits",
    ),
    "targets": ("target", "y", "y_true", "truth", "label", "labels"),
}
DELIMITER_NAMES = {"\\t": "\t", "tab": "\t"}
COLUMN_OPTIONS = "--pred-col/--target-col"
OPTION_FOR = {"preds": "--pred-col", "targets": "--target-col"}
# a first column with one of these headers (any case) holding 0..N-1 is a pandas index
INDEX_NAMES = ("", "unnamed: 0", "index", "id")
# ...and these are certainly one (what pandas writes and reads back), whatever they hold
SURE_INDEX_NAMES = ("", "unnamed: 0")
PARQUET_INDEX = re.compile(r"^__index_level_\d+__$")

Selector = str | int
Binding = tuple[str, list[str]]  # a file and the inputs it carries


@dataclass(frozen=True)
class InputInfo:
    """Where one loss input came from.

    ``source``: the file as named in messages ("<stdin>" for "-"); ``columns``: the table columns read
    (header names, or the 0-based index as text for a column without a name; None when the input is
    a whole array); ``indices``: the same columns by 0-based index; ``key``: the JSON object or .npz key
    the array came from (None for a table or a lone array); ``shape``: the array's shape.
    """

    source: str
    columns: list[str] | None
    shape: tuple[int, ...]
    key: str | None = None
    indices: list[int] | None = None


@dataclass
class LoadedInputs:
    """The inputs as float64 arrays (keyed by input name in declared order), where each came from,
    and notes the CLI should show on stderr (e.g. a pandas index column that was left out)."""

    arrays: dict[str, np.ndarray]
    provenance: dict[str, InputInfo] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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
    """Read the inputs as float64 arrays, keyed by input name in declared order ("-" is stdin).

    The arrays of :func:`read_inputs`, without their provenance and notes.
    """
    return read_inputs(
        input_names,
        files,
        columns=columns,
        named_files=named_files,
        input_format=input_format,
        delimiter=delimiter,
        allow_nonfinite=allow_nonfinite,
        required=required,
        stdin=stdin,
    ).arrays


def read_inputs(
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
) -> LoadedInputs:
    """Read the inputs ("-" is stdin), with where each came from and notes for stderr.

    ``columns`` maps an input name to a column selector: a header name, a 0-based index, an inclusive
    range of indices (``1-10``), a glob on the header names (``logit_*``), or a comma list of these.
    Raises :class:`UsageError` for bad options and :class:`InputError` for bad data.
    """
    columns = columns or {}
    named_files = named_files or {}
    required = list(input_names) if required is None else required
    delimiter = DELIMITER_NAMES.get(delimiter, delimiter) if delimiter else None
    _check_options(input_names, columns, named_files, input_format, delimiter)
    taken: dict[str, tuple[np.ndarray, InputInfo]] = {}
    notes: list[str] = []
    for file, names in _bind(input_names, files, named_files, required):
        try:
            source = open_source(
                file, input_format=input_format, delimiter=delimiter, allow_nonfinite=allow_nonfinite, stdin=stdin
            )
            if isinstance(source, Table):
                taken.update(_take_from_table(source, names, columns, required, notes))
            else:
                taken.update(_take_from_arrays(source, names, columns, required))
        except MemoryError:
            raise InputError(too_large_message(), source=STDIN_NAME if file == STDIN else file) from None
    order = [name for name in input_names if name in taken]
    return LoadedInputs(
        arrays={name: taken[name][0] for name in order},
        provenance={name: taken[name][1] for name in order},
        notes=notes,
    )


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
    table: Table, names: list[str], columns: dict[str, Selector], required: list[str], notes: list[str]
) -> dict[str, tuple[np.ndarray, InputInfo]]:
    """Each input's columns: chosen by ``columns``, by header name when the file carries several
    inputs, else the whole table (less a pandas index column)."""
    selections, whole = table_selections(table, names, columns, required)
    if not selections:
        return {}
    loaded = table.load_columns(sorted({index for selection in selections.values() for index in selection}))
    if whole is not None:
        left_out = index_columns(table, loaded, whole)
        if left_out:
            selections[whole] = [index for index in selections[whole] if index not in left_out]
            notes.extend(left_out.values())
    taken = {}
    for name, selection in selections.items():
        array = stack([loaded[index] for index in selection])  # (N,) for one plain column, else (N, k)
        info = InputInfo(table.source, [table.column_name(i) for i in selection], array.shape, indices=list(selection))
        taken[name] = (array, info)
    return taken


def table_selections(
    table: Table, names: list[str], columns: dict[str, Selector], required: list[str]
) -> tuple[dict[str, list[int]], str | None]:
    """The columns (0-based) each input reads, and the input that takes the whole table, if one does."""
    selections: dict[str, list[int]] = {}
    whole = None  # the input that takes the whole table, if one does
    for name in names:
        if name in columns:
            selections[name] = resolve_columns(columns[name], table.names, table.width, table.source)
        elif len(names) == 1:
            selections[name] = list(range(table.width))
            whole = name
        elif (index := _default_index(name, table.names)) is not None:
            selections[name] = [index]
        elif name in required:
            raise InputError(
                f"cannot tell which column holds {name} (columns: {table.describe_columns()}); "
                f"choose with {COLUMN_OPTIONS}",
                source=table.source,
            )
    return selections, whole


def index_columns(table: Table, loaded: dict[int, np.ndarray], name: str) -> dict[int, str]:
    """The index columns to leave out of a table read whole, each with its note.

    Refuses a first column that is an index by its header (empty, or ``Unnamed: 0``) but holds whole
    numbers other than 0..N-1 (a shuffled index, R's row names 1..N): it is not data, and leaving it
    out on a guess would be a guess.
    """
    if table.names is None or table.width < 2:
        return {}
    found = {}
    option = OPTION_FOR.get(name, f"--col {name}=...")
    for index, header in enumerate(table.names):
        if PARQUET_INDEX.match(header):
            found[index] = (
                f"{table.source}: left out column {index} ({header!r}), a pandas index; select it with {option} to read it"
            )
    first = table.names[0].casefold()
    if first in INDEX_NAMES and 0 not in found:
        values = loaded[0]
        label = "(no header)" if not first else f"({table.names[0]!r})"
        rest = "1" if table.width == 2 else f"1-{table.width - 1}"
        if np.array_equal(values, np.arange(len(values))):
            found[0] = (
                f"{table.source}: left out column 0 {label}, a pandas index (0..{len(values) - 1}); "
                f"to read it as data, select the columns with {option}"
            )
        elif first in SURE_INDEX_NAMES and np.array_equal(values, np.round(values)):
            raise InputError(
                f"column 0 {label} holds whole numbers but not 0..N-1: a pandas index after sorting or "
                f"splitting, or R's row names? choose the data columns with {option} (e.g. {option} {rest})",
                source=table.source,
            )
    return found if len(found) < table.width else {}


def _take_from_arrays(
    arrays: Arrays, names: list[str], columns: dict[str, Selector], required: list[str]
) -> dict[str, tuple[np.ndarray, InputInfo]]:
    """Each input's array: by key (``columns`` may name the key), or the file's single unnamed array."""
    keys = arrays.keys
    if keys is None:
        if len(names) > 1:
            raise InputError(
                f"holds one unnamed array but must provide {', '.join(names)}; give one file per input, "
                "or a JSON object or .npz with a key per input",
                source=arrays.source,
            )
        return {names[0]: _select(arrays, None, columns.get(names[0]))}
    taken = {}
    for name in names:
        selector = columns.get(name)
        key = _pick_key(arrays, name, selector, several=len(names) > 1)
        if key is not None:
            taken[name] = _select(arrays, key, None if selector == key else selector)
        elif name in required:
            raise InputError(f"no key {name!r}{did_you_mean(name, keys)} (keys: {listing(keys)})", source=arrays.source)
    return taken


def _pick_key(arrays: Arrays, name: str, selector: Selector | None, *, several: bool) -> str | None:
    """The key given as ``selector``, else the input's name or alias, else a lone key."""
    keys = arrays.keys or []
    if isinstance(selector, str) and (selector in keys or not is_positional(selector)):
        if selector not in keys:
            raise InputError(
                f"no key {selector!r}{did_you_mean(selector, keys)} (keys: {listing(keys)})", source=arrays.source
            )
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


def _select(arrays: Arrays, key: str | None, selector: Selector | None) -> tuple[np.ndarray, InputInfo]:
    """The array under ``key``, or columns of it (2-D) by 0-based index when ``selector`` is given."""
    array = arrays.get(key)
    if selector is None:
        return array, InputInfo(arrays.source, None, array.shape, key=key)
    if array.ndim != 2:
        raise InputError(f"cannot select columns of an array of shape {array.shape}", source=arrays.source)
    indices = resolve_columns(selector, None, array.shape[1], arrays.source)
    selected = array[:, indices]
    if len(indices) == 1:
        selected = selected[:, 0]
    info = InputInfo(arrays.source, [str(i) for i in indices], selected.shape, key=key, indices=indices)
    return selected, info
