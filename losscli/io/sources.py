"""Opening a file or stdin: reading its first bytes, choosing the format, and handing it to a reader."""

from __future__ import annotations

import codecs
import os
import select
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from losscli.errors import InputError
from losscli.io.arrays import Arrays, numeric_array, open_json, open_npy, open_npz
from losscli.io.common import FORMATS, SNIFF_BYTES, Input, Table
from losscli.io.csv_table import open_csv
from losscli.io.images import IMAGE_MAGIC, IMAGE_SUFFIXES, read_image
from losscli.io.typed_tables import open_ndjson, open_parquet

STDIN = "-"
STDIN_NAME = "<stdin>"
PIPE_WAIT_SECONDS = 10.0
PIPE_TIMEOUT_VARIABLE = "LOSSCLI_PIPE_TIMEOUT"
PIPE_CHUNK = 1 << 20
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
OPENERS: dict[str, Callable[[Input, bool], Table | Arrays]] = {
    "json": open_json,
    "ndjson": open_ndjson,
    "npy": open_npy,
    "npz": open_npz,
    "parquet": open_parquet,
}


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
    piped = isinstance(item.data, bytes)
    is_image = item.head.startswith(IMAGE_MAGIC) if piped else Path(file).suffix.lower() in IMAGE_SUFFIXES
    if not input_format and is_image:
        return Arrays(item.name, {None: read_image(item.data, name=item.name)}, numeric_array, allow_nonfinite)
    if input_format:
        fmt = input_format
    elif piped:
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
    """The input at ``path``: a regular file is read lazily (head and tail now); a pipe is read whole."""
    try:
        # O_NONBLOCK: opening a FIFO that has no writer would otherwise block before any check
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError("no such file", source=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", source=path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", source=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISFIFO(mode):  # a named pipe, or a shell's <(command) as /dev/fd/N
            return _bytes_input(path, _read_pipe(fd, path))
        if stat.S_ISDIR(mode):
            raise InputError("is a directory, not a file", source=path)
        if not stat.S_ISREG(mode):
            raise InputError(f"is a {_file_kind(mode)}, not a data file or a pipe", source=path)
        with os.fdopen(fd, "rb", closefd=False) as file:
            head = file.read(SNIFF_BYTES)
            size = file.seek(0, os.SEEK_END)
            file.seek(max(size - SNIFF_BYTES, 0))
            tail = file.read()
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", source=path) from None
    finally:
        os.close(fd)
    _check_not_empty(path, head, size)
    return Input(path, path, head, tail)


def pipe_wait_seconds() -> float:
    """How long to wait for a writer on a named pipe that has none: $LOSSCLI_PIPE_TIMEOUT, else the default."""
    try:
        return max(float(os.environ.get(PIPE_TIMEOUT_VARIABLE, PIPE_WAIT_SECONDS)), 0.0)
    except ValueError:
        return PIPE_WAIT_SECONDS


def _read_pipe(fd: int, path: str) -> bytes:
    """All the bytes a pipe gives until its writer closes it; refused if no writer shows up in time.

    On an empty pipe opened with O_NONBLOCK, ``read`` fails with EAGAIN while a writer has it open
    (then it is waited for as long as it takes) and returns b"" when nobody has it open for writing.
    """
    try:
        first = os.read(fd, PIPE_CHUNK)
    except BlockingIOError:
        first = b""
    else:
        if not first:
            seconds = pipe_wait_seconds()
            readable, _, _ = select.select([fd], [], [], seconds)  # data, or a writer that came and went
            if not readable:
                raise InputError(
                    f"a named pipe with no writer: nothing was written to it in {seconds:g} s "
                    f"(set {PIPE_TIMEOUT_VARIABLE} to wait longer)",
                    source=path,
                )
    os.set_blocking(fd, True)
    chunks = [first]
    while chunk := os.read(fd, PIPE_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _bytes_input(name: str, data: bytes) -> Input:
    head = data[:SNIFF_BYTES]
    _check_not_empty(name, head, len(data))
    return Input(name, data, head, data[-SNIFF_BYTES:])


def _check_not_empty(name: str, head: bytes, size: int) -> None:
    if size <= SNIFF_BYTES and not head.removeprefix(codecs.BOM_UTF8).strip():
        raise InputError("the file is empty", source=name)
