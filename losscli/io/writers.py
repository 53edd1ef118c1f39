"""Writing per-element gradients to CSV, Parquet, NPY, NPZ or JSON."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from losscli.errors import InputError, UsageError

if TYPE_CHECKING:
    import polars as pl

Gradients = Mapping[str, np.ndarray]


def gradients_long_table(gradients: Gradients) -> pl.DataFrame:
    """One row per element: ``row, input, column, grad`` (column is 0 for 1-D inputs; trailing axes flattened)."""
    import polars as pl

    frames = [_long_frame(name, np.asarray(values, dtype=np.float64)) for name, values in gradients.items()]
    if not frames:
        return pl.DataFrame(schema={"row": pl.Int64, "input": pl.String, "column": pl.Int64, "grad": pl.Float64})
    return pl.concat(frames)


def _long_frame(name: str, values: np.ndarray) -> pl.DataFrame:
    import polars as pl

    width = int(np.prod(values.shape[1:]))
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    return pl.DataFrame({"grad": values.reshape(-1)}).select(
        (index // width).alias("row"),
        pl.lit(name, dtype=pl.String).alias("input"),
        (index % width).alias("column"),
        pl.col("grad"),
    )


def write_gradients(path: str, gradients: Gradients) -> None:
    """Write per-element gradients to CSV, NPY, NPZ, JSON or Parquet chosen by the extension of `path`."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise UsageError(f"cannot write gradients to {path!r}: use a file ending in {', '.join(WRITERS)}")
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in gradients.items()}
    if suffix == ".npy" and len(arrays) != 1:
        raise UsageError(
            f"a .npy file holds one array, but there are gradients for {len(arrays)} inputs "
            f"({', '.join(arrays) or 'none'}); write to a .npz file instead"
        )
    created = not os.path.lexists(path)
    try:
        with open(path, "wb") as file:
            WRITERS[suffix](file, arrays)
    except Exception as error:
        reason = _write_failure(error)
        if reason is None:
            raise
        if created and os.path.isfile(path) and not os.path.islink(path):
            os.unlink(path)  # no half-written file left behind
        raise InputError(f"cannot write the gradients: {reason}", source=path) from None


def _write_failure(error: Exception) -> str | None:
    """Why writing failed, for an error from the file system or from polars' writers (None: not one of those)."""
    if isinstance(error, MemoryError):
        return "out of memory"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if not isinstance(error, OSError) and not type(error).__module__.startswith("polars"):
        return None
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    # polars: "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
    found = re.search(r"([^:]+) \(os error \d+\)", text)
    return found.group(1).strip() if found else text


def _write_csv(file: BinaryIO, arrays: Gradients) -> None:
    gradients_long_table(arrays).write_csv(file)


def _write_parquet(file: BinaryIO, arrays: Gradients) -> None:
    gradients_long_table(arrays).write_parquet(file)


def _write_npy(file: BinaryIO, arrays: Gradients) -> None:
    (values,) = arrays.values()
    np.save(file, values)


def _write_npz(file: BinaryIO, arrays: Gradients) -> None:
    np.savez(file, **dict(arrays))  # type: ignore[arg-type]  # numpy's stub reads **kwds as its allow_pickle


def _write_json(file: BinaryIO, arrays: Gradients) -> None:
    document = {name: _json_ready(values) for name, values in arrays.items()}
    file.write(json.dumps(document, allow_nan=False).encode())


def _json_ready(values: np.ndarray) -> object:
    """Nested lists of floats, with NaN and infinities as None (null)."""
    objects = values.astype(object)
    objects[~np.isfinite(values)] = None
    return objects.tolist()


WRITERS: dict[str, Callable[[BinaryIO, Gradients], None]] = {
    ".csv": _write_csv,
    ".json": _write_json,
    ".npy": _write_npy,
    ".npz": _write_npz,
    ".parquet": _write_parquet,
}
