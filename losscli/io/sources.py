"""Opening a file or stdin: reading its first bytes, choosing the format, and handing it to a reader."""

from __future__ import annotations

import codecs
import os
import sys
from pathlib import Path
from typing import BinaryIO

from losscli.errors import InputError
from losscli.io.arrays import Arrays, numeric_array, open_json, open_npy, open_npz
from losscli.io.common import FORMATS, SNIFF_BYTES, Input, Table
from losscli.io.csv_table import open_csv
from losscli.io.images import IMAGE_SUFFIXES, read_image
from losscli.io.typed_tables import open_ndjson, open_parquet

STDIN = "-"
STDIN_NAME = "<stdin>"
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".npy": "npy",
    ".npz": "npz",
    ".parquet": "parquet",
    ".pq": "parquet",
}
OPENERS = {"json": open_json, "ndjson": open_ndjson, "npy": open_npy, "npz": open_npz, "parquet": open_parquet}


def open_source(
    file: str,
    *,
    input_format: str | None,
    delimiter: str | None,
    allow_nonfinite: bool,
    stdin: BinaryIO | None,
) -> Table | Arrays:
    """Open ``file`` ("-" for stdin) as a table or as arrays.

    The format is ``input_format``, else sniffed for stdin and pipes, else given by the extension
    (PNG and JPEG images go to :func:`losscli.io.images.read_image`).
    """
    item = _bytes_input(STDIN_NAME, (stdin or sys.stdin.buffer).read()) if file == STDIN else _file_input(file)
    if not input_format and isinstance(item.data, str) and Path(file).suffix.lower() in IMAGE_SUFFIXES:
        return Arrays(file, {None: read_image(file)}, numeric_array, allow_nonfinite)
    if input_format:
        fmt = input_format
    elif isinstance(item.data, bytes):
        fmt = sniff_format(item.head)
    else:
        fmt = format_from_extension(file)
    if fmt in ("csv", "tsv"):
        return open_csv(item, delimiter or ("\t" if fmt == "tsv" else None), allow_nonfinite)
    return OPENERS[fmt](item, allow_nonfinite)


def format_from_extension(path: str) -> str:
    """The format named by the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        kind = f"extension {suffix!r}" if suffix else "no extension"
        raise InputError(f"unknown file type ({kind}); pass --input-format ({', '.join(FORMATS)})", source=path)
    return EXTENSIONS[suffix]


def sniff_format(head: bytes) -> str:
    """Guess the format of piped data from its first bytes."""
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text[:1] == b"{" and _starts_objects(text):
        return "ndjson"
    if text[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _starts_objects(text: bytes) -> bool:
    """Whether the first two non-blank lines each start a JSON object (as NDJSON does)."""
    lines = [line.strip() for line in text.split(b"\n", 8) if line.strip()][:2]
    return len(lines) == 2 and all(line.startswith(b"{") for line in lines)


def _file_input(path: str) -> Input:
    try:
        with open(path, "rb") as file:
            if not file.seekable():  # a pipe, e.g. <(command)
                return _bytes_input(path, file.read())
            head = file.read(SNIFF_BYTES)
            size = file.seek(0, os.SEEK_END)
            file.seek(max(size - SNIFF_BYTES, 0))
            tail = file.read()
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", source=path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", source=path) from None
    _check_not_empty(path, head, size)
    return Input(path, path, head, tail)


def _bytes_input(name: str, data: bytes) -> Input:
    head = data[:SNIFF_BYTES]
    _check_not_empty(name, head, len(data))
    return Input(name, data, head, data[-SNIFF_BYTES:])


def _check_not_empty(name: str, head: bytes, size: int) -> None:
    if size <= SNIFF_BYTES and not head.removeprefix(codecs.BOM_UTF8).strip():
        raise InputError("the file is empty", source=name)
