"""Writing per-element gradients to CSV, Parquet, NPY, NPZ or JSON."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
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


class GradientSink:
    """Per-element gradients written as they are computed, a chunk of rows at a time, to the same
    file :func:`write_gradients` writes from whole arrays (same columns, same order, same text).

    ``shapes`` are the full shapes of the gradients, in the order they are written (known from a
    first pass over the data).  A single gradient to ``.npy`` goes straight into the file; otherwise
    each input's chunks go to a raw scratch file beside the output, and :meth:`close` writes the
    requested format from those a block at a time (polars' streaming sinks for CSV and Parquet), so
    memory stays that of one block.  On any failure no half-written file is left.
    """

    BLOCK = 1 << 20  # elements per block when the scratch files are converted

    def __init__(self, path: str, shapes: Mapping[str, tuple[int, ...]]) -> None:
        suffix = Path(path).suffix.lower()
        if suffix not in WRITERS:
            raise UsageError(f"cannot write gradients to {path!r}: use a file ending in {', '.join(WRITERS)}")
        if suffix == ".npy" and len(shapes) != 1:
            raise UsageError(
                f"a .npy file holds one array, but there are gradients for {len(shapes)} inputs "
                f"({', '.join(shapes) or 'none'}); write to a .npz file instead"
            )
        self.path, self.suffix, self.shapes = path, suffix, dict(shapes)
        self.created = not os.path.lexists(path)
        self.scratch: dict[str, BinaryIO] = {}
        self.file: BinaryIO | None = None
        self._guard(self._open)

    def _open(self) -> None:
        if self.suffix == ".npy":
            self.file = open(self.path, "wb")
            (shape,) = self.shapes.values()
            np.lib.format.write_array_header_2_0(
                self.file, {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
            )
            return
        import tempfile

        folder = os.path.dirname(os.path.abspath(self.path))
        for name in self.shapes:
            self.scratch[name] = tempfile.TemporaryFile(dir=folder, prefix=".losscli-gradients-")

    def add(self, gradients: Gradients) -> None:
        """The next rows of every gradient (chunks come in row order)."""
        self._guard(lambda: self._add(gradients))

    def _add(self, gradients: Gradients) -> None:
        for name, values in gradients.items():
            block = np.ascontiguousarray(values, dtype=np.float64)
            target = self.file if self.file is not None else self.scratch[name]
            target.write(block.data)

    def close(self) -> None:
        """Finish the file (convert the scratch files to the requested format)."""
        self._guard(self._close)

    def _close(self) -> None:
        if self.file is not None:
            self.file.close()
            return
        for handle in self.scratch.values():
            handle.flush()
            handle.seek(0)
        if self.suffix in (".csv", ".parquet"):
            self._sink_table()
        elif self.suffix == ".npz":
            self._write_npz()
        else:
            self._write_json()
        for handle in self.scratch.values():
            handle.close()

    def abort(self) -> None:
        """Stop without a file: remove what was written."""
        for handle in [*self.scratch.values(), *([self.file] if self.file is not None else [])]:
            handle.close()
        self._remove()

    def _remove(self) -> None:
        if self.created and os.path.isfile(self.path) and not os.path.islink(self.path):
            os.unlink(self.path)

    def _guard(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as error:
            reason = _write_failure(error)
            if reason is None:
                raise
            self.abort()
            raise InputError(f"cannot write the gradients: {reason}", source=self.path) from None

    def _blocks(self, name: str) -> Iterator[tuple[int, np.ndarray]]:
        """(first element, values) of one input's scratch file, a block at a time."""
        handle = self.scratch[name]
        handle.seek(0)
        first = 0
        while True:
            values = np.fromfile(handle, dtype=np.float64, count=self.BLOCK)
            if values.size == 0:
                return
            yield first, values
            first += values.size

    def _sink_table(self) -> None:
        import polars as pl
        from polars.io.plugins import register_io_source

        schema = {"row": pl.Int64, "input": pl.String, "column": pl.Int64, "grad": pl.Float64}

        def frames(*_: object) -> Iterator[pl.DataFrame]:
            for name, shape in self.shapes.items():
                width = int(np.prod(shape[1:]))
                for first, values in self._blocks(name):
                    index = pl.int_range(first, first + values.size, dtype=pl.Int64)
                    yield pl.DataFrame({"grad": values}).select(
                        (index // width).alias("row"),
                        pl.lit(name, dtype=pl.String).alias("input"),
                        (index % width).alias("column"),
                        pl.col("grad"),
                    )

        lazy = register_io_source(frames, schema=schema)
        if self.suffix == ".csv":
            lazy.sink_csv(self.path)
        else:
            lazy.sink_parquet(self.path)

    def _write_npz(self) -> None:
        import zipfile

        with zipfile.ZipFile(self.path, "w", allowZip64=True) as archive:
            for name, shape in self.shapes.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    header = {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
                    np.lib.format.write_array_header_2_0(member, header)
                    for _, values in self._blocks(name):
                        member.write(values.data)

    def _write_json(self) -> None:
        with open(self.path, "w", encoding="utf-8") as out:
            out.write("{")
            for k, (name, shape) in enumerate(self.shapes.items()):
                out.write((", " if k else "") + json.dumps(name) + ": [")
                width = int(np.prod(shape[1:]))
                step = max(self.BLOCK // max(width, 1), 1) * width
                written = False
                for _, values in self._blocks_of(name, step):
                    rows = values.reshape((-1, *shape[1:]))
                    text = json.dumps(_json_ready(rows), allow_nan=False)[1:-1]
                    if text:
                        out.write((", " if written else "") + text)
                        written = True
                out.write("]")
            out.write("}")

    def _blocks_of(self, name: str, step: int) -> Iterator[tuple[int, np.ndarray]]:
        handle = self.scratch[name]
        handle.seek(0)
        first = 0
        while True:
            values = np.fromfile(handle, dtype=np.float64, count=step)
            if values.size == 0:
                return
            yield first, values
            first += values.size
