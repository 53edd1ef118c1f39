"""A corpus of awkward and broken inputs, run through the CLI the way users run it.

Each case states what it expects: the right number on stdout (exit 0), or a clean refusal (exit 2,
exactly one line on stderr that contains a given text, nothing on stdout, no traceback). The files
are built here, in tmp_path: files as pandas, Excel and shells write them (BOMs, CRLF, quotes, an
index column), and files that broke the contract in a fuzzing run (deep or huge JSON, lying or cut
NPY/NPZ/Parquet/PNG headers, decompression bombs, FIFOs without a writer, devices, full disks).
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from losscli.io import sources

LOSSCLI = str(Path(sys.executable).with_name("losscli"))
PIPE_TIMEOUT = "0.2"  # seconds losscli waits for a FIFO's writer in these tests (LOSSCLI_PIPE_TIMEOUT)
PREDS = [0.5, 1.5, 3.0]
TARGETS = [1.0, 1.0, 1.0]
MSE = 1.5  # mean((PREDS - TARGETS) ** 2); 0.75 if an index column 0..2 were read beside both


# --- what a case expects -----------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """Exit 0 and this number on stdout (``-f plain``)."""

    expected: float


@dataclass(frozen=True)
class Refused:
    """Exit 2, one line on stderr containing ``message``, nothing on stdout."""

    message: str


def check(result_code: int, stdout: str, stderr: str, expect: Value | Refused) -> None:
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    lines = stderr.strip().splitlines()
    if isinstance(expect, Refused):
        assert result_code == 2, (result_code, stdout, stderr)
        assert len(lines) == 1, stderr
        assert lines[0].startswith("losscli: error: "), stderr
        assert expect.message in lines[0], stderr
        assert stdout == ""
    else:
        assert result_code == 0, stderr
        assert not [line for line in lines if "Warning" in line or "warning" in line], stderr
        assert float(stdout) == pytest.approx(expect.expected, rel=1e-12, abs=1e-15)


def check_cli(result, expect: Value | Refused) -> None:
    """Check a CliRunner result; an exception that escaped the CLI (CliRunner catches it) fails the case."""
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, f"{type(escaped).__name__}: {escaped}"
    check(result.exit_code, result.stdout, result.stderr, expect)


# --- building files ----------------------------------------------------------------------------


def put(directory: Path, name: str, content: str | bytes) -> str:
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))  # as given: no newline translation
    return str(path)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def npy_claiming(shape: tuple[int, ...], data: bytes = b"\0" * 16) -> bytes:
    """A .npy file whose header says ``shape`` of float64, followed by ``data`` only."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip archive of these members, as any zip tool writes it (np.savez writes only .npy members)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def encrypted(archive: bytes) -> bytes:
    """The same archive with the 'encrypted' flag set on its member (local and central headers)."""
    data = bytearray(archive)
    data[6] |= 0x1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    return bytes(data)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny 1-bit grayscale PNG whose header claims width x height pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def pandas_csv(columns: dict[str, list[float]], *, index_label: str = "") -> str:
    """What ``pandas.DataFrame(columns).to_csv()`` writes (the index kept, as by default); real pandas if installed."""
    try:
        import pandas as pd
    except ImportError:
        rows = zip(range(len(next(iter(columns.values())))), *columns.values())
        header = ",".join([index_label, *columns])
        return header + "\n" + "".join(",".join(_pandas_cell(v) for v in row) + "\n" for row in rows)
    frame = pd.DataFrame(columns)
    return frame.to_csv(index_label=index_label or None, lineterminator="\n")


def _pandas_cell(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def pandas_series_csv(values: list[float]) -> str:
    """What ``pandas.Series(values).to_csv()`` writes: a header ',0' and the index."""
    try:
        import pandas as pd
    except ImportError:
        return ",0\n" + "".join(f"{i},{_pandas_cell(v)}\n" for i, v in enumerate(values))
    return pd.Series(values).to_csv(lineterminator="\n")


def column(values: list[float], name: str = "v", newline: str = "\n") -> str:
    return name + newline + "".join(f"{v}{newline}" for v in values)


TARGETS_CSV = column(TARGETS, "t")


def softmax_ce(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy with class indices, worked by hand (log-sum-exp with the max subtracted)."""
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(labels)), labels]))


NOISE = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)  # a PNG of 4 KiB that does not compress
LOGITS = np.random.default_rng(8).normal(size=(6, 10)).round(4)
LABELS = np.array([3, 0, 9, 9, 1, 5])


# --- the corpus: (id, build(tmp) -> argv, expectation) ------------------------------------------

Build = Callable[[Path], list[str]]


def mse(preds: str | bytes, preds_name: str = "p.csv", targets: str | bytes = TARGETS_CSV, *options: str) -> Build:
    def build(tmp: Path) -> list[str]:
        return ["compute", "mse", put(tmp, preds_name, preds), put(tmp, "t.csv", targets), *options, "-f", "plain"]

    return build


def wide_csv(width: int, last: float, header: bool) -> str:
    head = ",".join(f"c{i}" for i in range(width)) + "\n" if header else ""
    row = ",".join(["0.5"] * (width - 1) + [repr(last)]) + "\n"
    return head + row


def ce_pandas(tmp: Path) -> list[str]:
    logits = pandas_csv({str(k): LOGITS[:, k].tolist() for k in range(10)})
    labels = pandas_series_csv(LABELS.tolist())
    return ["compute", "ce", put(tmp, "logits.csv", logits), put(tmp, "labels.csv", labels), "-f", "plain"]


def grad_out(name: str, target: str | None = None) -> Build:
    """grad mse with --out to ``name`` in tmp (made a symlink to ``target`` when given)."""

    def build(tmp: Path) -> list[str]:
        out = tmp / name
        if target is not None:
            out.symlink_to(target)
        files = [put(tmp, "p.csv", column(PREDS)), put(tmp, "t.csv", TARGETS_CSV)]
        return ["grad", "mse", *files, "--out", str(out), "-f", "plain"]

    return build


BIG_TEXT = "x" * (140 * 1024)  # over the csv module's 128 KiB field limit

CASES: list[tuple[str, Build, Value | Refused]] = [
    # files as other tools write them: the right number
    ("csv-utf8-bom", mse("\ufeffv\n0.5\n1.5\n3.0\n"), Value(MSE)),
    ("csv-bom-headerless", mse("\ufeff0.5\n1.5\n3.0\n"), Value(MSE)),
    ("csv-crlf", mse(column(PREDS, newline="\r\n"), "p.csv", column(TARGETS, "t", "\r\n")), Value(MSE)),
    ("csv-bom-crlf-quoted", mse('\ufeff"v"\r\n"0.5"\r\n"1.5"\r\n"3.0"\r\n'), Value(MSE)),
    (
        "csv-quoted-commas-and-line-breaks",
        mse('name,v\n"a, b",0.5\n"two\nlines",1.5\n"say ""hi""",3.0\n', "p.csv", TARGETS_CSV, "--pred-col", "v"),
        Value(MSE),
    ),
    ("csv-spaces-around-cells", mse(" v \n 0.5 \n1.5 \n 3.0\n"), Value(MSE)),
    (
        "csv-field-over-128KiB-small-file",
        mse(f'name,v\n"{BIG_TEXT}",0.5\nb,1.5\nc,3.0\n', "p.csv", TARGETS_CSV, "--pred-col", "v"),
        Value(MSE),
    ),
    (
        "csv-field-over-128KiB-large-file",
        mse(
            f'name,v\n"{BIG_TEXT}",0.5\n' + "b,1.5\n" * 40_000,
            "p.csv",
            "t\n1\n" + "1\n" * 40_000,
            "--pred-col",
            "v",
        ),
        Value((0.25 + 0.25 * 40_000) / 40_001),
    ),
    (
        "csv-100k-columns-header",
        mse(wide_csv(100_000, 10.5, True), "p.csv", wide_csv(100_000, 0.5, True)),
        Value(100 / 100_000),
    ),
    (
        "csv-100k-columns-no-header",
        mse(wide_csv(100_000, 10.5, False), "p.csv", wide_csv(100_000, 0.5, False)),
        Value(100 / 100_000),
    ),
    ("ndjson-bom-crlf", mse('\ufeff{"v": 0.5}\r\n{"v": 1.5}\r\n\r\n{"v": 3.0}\r\n', "p.ndjson"), Value(MSE)),
    ("json-bom-crlf", mse("\ufeff[0.5,\r\n 1.5,\r\n 3.0]\r\n", "p.json"), Value(MSE)),
    ("npy-big-endian-float32", mse(npy_bytes(np.array(PREDS, dtype=">f4")), "p.npy"), Value(MSE)),
    # pandas' index column: left out, never folded in (MSE would be halved)
    ("pandas-series-to_csv", mse(pandas_series_csv(PREDS), "p.csv", pandas_series_csv(TARGETS)), Value(MSE)),
    (
        "pandas-frame-to_csv-named",
        mse(pandas_csv({"y_pred": PREDS}), "p.csv", pandas_csv({"y": TARGETS}, index_label="Unnamed: 0")),
        Value(MSE),
    ),
    ("pandas-index-named-id", mse(pandas_csv({"p": PREDS}, index_label="id")), Value(MSE)),
    (
        "pandas-parquet-index-level",
        mse(parquet_bytes(pl.DataFrame({"p": PREDS, "__index_level_0__": [5, 9, 2]})), "p.parquet"),
        Value(MSE),
    ),
    ("pandas-index-ce-10-logits", ce_pandas, Value(softmax_ce(LOGITS, LABELS))),
    (
        "pandas-index-explicitly-selected",
        mse(pandas_series_csv(PREDS), "p.csv", "a,b\n0,1\n1,1\n2,1\n", "--pred-col", "0-1"),
        Value(0.75),  # the index read as data beside the values, as asked: (0 + 0 + 0 + .25 + .25 + 4) / 6
    ),
    ("pandas-header-0-is-a-name", mse(pandas_series_csv(PREDS), "p.csv", TARGETS_CSV, "--pred-col", "0"), Value(MSE)),
    ("pandas-index-shuffled", mse(",v\n2,0.5\n0,1.5\n1,3.0\n"), Refused("not 0..N-1")),
    ("id-column-that-is-data", mse("id,v\n7,0.5\n8,1.5\n9,3.0\n", "p.csv", TARGETS_CSV, "--pred-col", "v"), Value(MSE)),
    # column selection
    ("select-range", mse(pandas_csv({"a": PREDS, "b": PREDS}), "p.csv", TARGETS_CSV, "--pred-col", "1-1"), Value(MSE)),
    (
        "select-glob",
        mse("x,logit_a,y\n9,0.5,9\n9,1.5,9\n9,3.0,9\n", "p.csv", TARGETS_CSV, "--pred-col", "logit_*"),
        Value(MSE),
    ),
    (
        "select-did-you-mean",
        mse(pandas_csv({"y_pred": PREDS}), "p.csv", TARGETS_CSV, "--pred-col", "y_prd"),
        Refused("no column 'y_prd'; did you mean 'y_pred'?"),
    ),
    (
        "select-glob-no-match",
        mse("a,b\n1,2\n", "p.csv", TARGETS_CSV, "--pred-col", "logit_*"),
        Refused("no column matches 'logit_*'"),
    ),
    (
        "select-range-out-of-range",
        mse("a,b\n1,2\n", "p.csv", TARGETS_CSV, "--pred-col", "0-5"),
        Refused("column index 5 is out of range"),
    ),
    # broken text
    ("csv-utf16", mse(column(PREDS).encode("utf-16")), Refused("not UTF-8")),
    ("csv-header-only", mse("v\n"), Refused("no data rows")),
    ("json-nested-100000-deep", mse("[" * 100_000 + "]" * 100_000, "p.json"), Refused("nested too deeply")),
    ("json-number-nested-40-deep", mse("[" * 40 + "1" + "]" * 40, "p.json"), Refused("at most 32 dimensions")),
    (
        "json-integer-5000-digits",
        mse("[1, " + "7" * 5000 + ", 2]", "p.json"),
        Refused("number out of range: an integer of 5000 digits at element [1]"),
    ),
    ("json-integer-5000-digits-ragged", mse("[[1, 2], " + "7" * 5000 + "]", "p.json"), Refused("ragged array")),
    (
        "ndjson-integer-5000-digits",
        mse('{"v": 1}\n{"v": ' + "7" * 5000 + "}\n", "p.ndjson"),
        Refused("line 2, column v: number out of range"),
    ),
    (
        "ndjson-nested-100000-deep",
        mse('{"v": 1}\n{"v": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "p.ndjson"),
        Refused("line 2: JSON nested too deeply"),
    ),
    # lying or cut binary files
    ("npy-header-claims-1e12-elements", mse(npy_claiming((10**12,)), "p.npy"), Refused("(1000000000000,)")),
    ("npy-header-claims-1e6-by-1e6", mse(npy_claiming((10**6, 10**6)), "p.npy"), Refused("cut short")),
    ("npy-truncated", mse(npy_bytes(np.arange(100.0))[:-30], "p.npy"), Refused("not a valid .npy file: cut short")),
    ("npy-truncated-in-header", mse(npy_bytes(np.arange(3.0))[:40], "p.npy"), Refused("not a valid .npy file")),
    (
        "npy-pickled",
        mse(npy_bytes(np.array([1, None], dtype=object)), "p.npy"),
        Refused("pickled .npy files are refused"),
    ),
    ("npz-member-not-npy", mse(zip_bytes({"v.txt": b"1,2,3"}), "p.npz"), Refused("'v.txt' is not a .npy array")),
    (
        "npz-member-npy-named-not-npy",
        mse(zip_bytes({"v.npy": b"1,2,3"}), "p.npz"),
        Refused("'v.npy' is not a .npy array (no NUMPY header)"),
    ),
    ("npz-encrypted", mse(encrypted(npz_bytes(v=np.array(PREDS))), "p.npz"), Refused("encrypted")),
    ("npz-truncated", mse(npz_bytes(v=np.arange(1000.0))[:3000], "p.npz"), Refused("not a valid .npz file")),
    (
        "npz-member-header-lies",
        mse(zip_bytes({"v.npy": npy_claiming((10**9,))}), "p.npz"),
        Refused("not a valid .npz member 'v.npy': cut short"),
    ),
    (
        "parquet-truncated",
        mse(parquet_bytes(pl.DataFrame({"v": np.arange(1000.0)}))[:-40], "p.parquet"),
        Refused("not a valid Parquet file"),
    ),
    (
        "png-truncated",
        mse(png_bytes(NOISE)[:2000], "p.png"),
        Refused("cannot decode the image"),
    ),
    ("png-decompression-bomb-warning", mse(png_claiming(10_000, 10_000), "p.png"), Refused("decompression-bomb limit")),
    ("png-decompression-bomb-error", mse(png_claiming(20_000, 20_000), "p.png"), Refused("decompression-bomb limit")),
    # devices and places that cannot be written
    (
        "dev-zero",
        lambda tmp: ["compute", "mse", "/dev/zero", put(tmp, "t.csv", TARGETS_CSV)],
        Refused("/dev/zero: is a character device"),
    ),
    (
        "dev-null",
        lambda tmp: ["compute", "mse", "/dev/null", put(tmp, "t.csv", TARGETS_CSV)],
        Refused("/dev/null: is a character device"),
    ),
    ("out-missing-directory", grad_out("missing/g.parquet"), Refused("cannot write the gradients: No such file")),
    ("out-under-a-file", grad_out("p.csv/g.parquet"), Refused("cannot write the gradients: Not a directory")),
    ("out-parquet-disk-full", grad_out("full.parquet", "/dev/full"), Refused("No space left on device")),
    ("out-csv-disk-full", grad_out("full.csv", "/dev/full"), Refused("No space left on device")),
    ("out-npy-disk-full", grad_out("full.npy", "/dev/full"), Refused("No space left on device")),
]


@pytest.mark.parametrize(("build", "expect"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_corpus(cli, tmp_path, build, expect):
    check_cli(cli(*build(tmp_path)), expect)


# --- pandas' index: said on stderr --------------------------------------------------------------


def test_left_out_index_is_said_on_stderr(cli, tmp_path):
    """The number is right and the leaving-out is said (a note on stderr, one per file)."""
    result = cli(*mse(pandas_series_csv(PREDS), "p.csv", pandas_series_csv(TARGETS))(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert float(result.stdout) == pytest.approx(MSE)
    notes = [line for line in result.stderr.splitlines() if "left out column 0" in line]
    assert len(notes) == 2, result.stderr
    assert "p.csv" in notes[0] and "pandas index" in notes[0] and "t.csv" in notes[1]


# --- pipes, FIFOs and stdin ---------------------------------------------------------------------


def test_fifo_with_a_writer_that_comes_later(cli, tmp_path, monkeypatch):
    monkeypatch.setenv(sources.PIPE_TIMEOUT_VARIABLE, "5")
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)

    def writer() -> None:
        """Write once losscli has opened the FIFO (never blocking: gives up after 5 s)."""
        time.sleep(0.1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                time.sleep(0.01)
                continue
            os.set_blocking(fd, True)
            with os.fdopen(fd, "w") as pipe:
                pipe.write(column(PREDS))
            return

    thread = threading.Thread(target=writer)
    thread.start()
    result = cli("compute", "mse", fifo, put(tmp_path, "t.csv", TARGETS_CSV), "-f", "plain")
    thread.join()
    check_cli(result, Value(MSE))


def test_stdin_with_bom_and_crlf(cli, tmp_path):
    data = column(PREDS, newline="\r\n").encode("utf-8-sig")
    check_cli(cli("compute", "mse", "-", put(tmp_path, "t.csv", TARGETS_CSV), "-f", "plain", input=data), Value(MSE))


def test_memory_error_while_reading_is_an_input_error(cli, tmp_path, monkeypatch):
    from losscli.io import csv_table

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(csv_table.CsvTable, "_load", no_memory)
    result = cli(*mse(column(PREDS))(tmp_path))
    check_cli(result, Refused("p.csv: too large to read into memory"))


# --- real processes: the installed entry point ----------------------------------------------------


def run(args: list[str], *, timeout: float = 60, shell_redirect: str = "", **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, sources.PIPE_TIMEOUT_VARIABLE: PIPE_TIMEOUT, "NO_COLOR": "1"}
    if shell_redirect:
        command = ["bash", "-c", f'exec "$0" "$@" {shell_redirect}', LOSSCLI, *args]
    else:
        command = [LOSSCLI, *args]
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(command, stderr=subprocess.PIPE, text=True, timeout=timeout, env=env, **kwargs)


def check_process(process: subprocess.CompletedProcess, expect: Value | Refused) -> None:
    check(process.returncode, process.stdout or "", process.stderr, expect)


def test_fifo_with_no_writer_does_not_hang(tmp_path):
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    process = run(["compute", "mse", str(fifo), put(tmp_path, "t.csv", TARGETS_CSV)], timeout=30)
    assert time.monotonic() - started < 20
    check_process(process, Refused("p.csv: a named pipe with no writer"))


def test_process_substitution_is_read(tmp_path):
    targets = put(tmp_path, "t.csv", TARGETS_CSV)
    script = f'exec "$0" compute mse <(sleep 0.5; printf "v\\n0.5\\n1.5\\n3.0\\n") {targets} -f plain'
    env = {**os.environ, sources.PIPE_TIMEOUT_VARIABLE: PIPE_TIMEOUT}
    process = subprocess.run(["bash", "-c", script, LOSSCLI], capture_output=True, text=True, timeout=60, env=env)
    check_process(process, Value(MSE))


def test_dev_zero_with_a_forced_format_does_not_read_forever(tmp_path):
    args = ["compute", "mse", "/dev/zero", put(tmp_path, "t.csv", TARGETS_CSV), "--input-format", "csv"]
    check_process(run(args, timeout=30), Refused("/dev/zero: is a character device"))


def test_decompression_bomb_prints_no_warning(tmp_path):
    args = ["compute", "mse", put(tmp_path, "p.png", png_claiming(10_000, 10_000)), put(tmp_path, "t.csv", "t\n1\n")]
    check_process(run(args), Refused("decompression-bomb limit"))


def test_stdout_to_a_full_disk(tmp_path):
    args = ["compute", "mse", put(tmp_path, "p.csv", column(PREDS)), put(tmp_path, "t.csv", TARGETS_CSV), "-f", "json"]
    with open("/dev/full", "w") as full:
        process = run(args, stdout=full)
    check_process(process, Refused("No space left on device"))


def test_stdout_closed(tmp_path):
    """``losscli ... >&-``: the result cannot be written; that is said (exit 2), not lost with exit 0."""
    args = ["compute", "mse", put(tmp_path, "p.csv", column(PREDS)), put(tmp_path, "t.csv", TARGETS_CSV), "-f", "json"]
    process = run(args, shell_redirect=">&-")
    assert "Traceback" not in process.stderr, process.stderr
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("losscli: error: "), process.stderr
    assert "stdout" in lines[0] or "standard output" in lines[0], process.stderr
