"""Tests for losscli.io: every input format, file binding, the error messages, and the gradient writers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from losscli.errors import InputError, UsageError
from losscli.io import FORMATS, bind_sources, gradients_long_table, load_inputs, write_gradients

PT = ["preds", "targets"]


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz_bytes(*unnamed: np.ndarray, **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, *unnamed, **arrays)
    return buffer.getvalue()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def load_error(error_type: type[Exception], *args, **kwargs) -> str:
    with pytest.raises(error_type) as info:
        load_inputs(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def load_one(path: str, **kwargs) -> np.ndarray:
    return load_inputs(["preds"], [path], **kwargs)["preds"]


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_with_header_one_column_is_a_vector(tmp_path):
    values = load_one(write(tmp_path, "p.csv", "p\n0.5\n1e-3\n-2E2\n"))
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, [0.5, 1e-3, -200.0])


def test_csv_without_header_several_columns_is_a_matrix(tmp_path):
    values = load_one(write(tmp_path, "p.csv", "1,2,3\n4,5,6\n"))
    np.testing.assert_array_equal(values, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_csv_separator_is_detected(tmp_path, separator):
    text = separator.join(["a", "b"]) + "\n" + separator.join(["1.5", "2"]) + "\n"
    values = load_one(write(tmp_path, "p.csv", text), columns={"preds": "b"})
    np.testing.assert_array_equal(values, [2.0])


def test_csv_forced_delimiter_and_tsv_extension(tmp_path):
    forced = load_one(write(tmp_path, "p.csv", "a|b\n1|2\n"), delimiter="|", columns={"preds": "a"})
    np.testing.assert_array_equal(forced, [1.0])
    tsv = load_one(write(tmp_path, "p.tsv", "1.5\t2\n3\t4\n"))
    np.testing.assert_array_equal(tsv, [[1.5, 2], [3, 4]])
    assert load_one(write(tmp_path, "q.csv", "1\t2\n"), delimiter="\\t").shape == (1, 2)


def test_csv_column_selection(tmp_path):
    path = write(tmp_path, "p.csv", "a,b,c\n1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(load_one(path, columns={"preds": "b"}), [2, 5])
    np.testing.assert_array_equal(load_one(path, columns={"preds": 2}), [3, 6])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "0"}), [1, 4])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "a,c"}), [[1, 3], [4, 6]])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "2, 0"}), [[3, 1], [6, 4]])


def test_csv_without_header_selects_by_index(tmp_path):
    path = write(tmp_path, "p.csv", "1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(load_one(path, columns={"preds": "0,2"}), [[1, 3], [4, 6]])
    message = load_error(InputError, ["preds"], [path], columns={"preds": "a"})
    assert "p.csv" in message and "0-based index" in message


def test_one_csv_carries_preds_and_targets_by_header(tmp_path):
    path = write(tmp_path, "d.csv", "id,targets,preds\nx,1,0.25\ny,0,0.75\n")
    loaded = load_inputs(PT, [path])
    assert list(loaded) == PT
    np.testing.assert_array_equal(loaded["preds"], [0.25, 0.75])
    np.testing.assert_array_equal(loaded["targets"], [1, 0])


def test_one_csv_carries_inputs_by_alias_or_columns(tmp_path):
    aliased = load_inputs(PT, [write(tmp_path, "a.csv", "Y_True,y_pred\n1,0.5\n")])
    assert aliased["preds"][0] == 0.5 and aliased["targets"][0] == 1
    chosen = load_inputs(PT, [write(tmp_path, "b.csv", "u,v,w\n1,2,3\n")], columns={"preds": "u,v", "targets": 2})
    np.testing.assert_array_equal(chosen["preds"], [[1, 2]])
    np.testing.assert_array_equal(chosen["targets"], [3])


def test_csv_tolerates_spaces_crlf_bom_quotes_and_trailing_blank_lines(tmp_path):
    text = '\ufeffp , t\r\n 1 ,"2"\r\n3,4 \r\n\r\n\r\n'
    loaded = load_inputs(PT, [write(tmp_path, "p.csv", text)], columns={"preds": "p", "targets": "t"})
    np.testing.assert_array_equal(loaded["preds"], [1, 3])
    np.testing.assert_array_equal(loaded["targets"], [2, 4])


def test_csv_nonfinite_accepted_when_allowed(tmp_path):
    values = load_one(write(tmp_path, "p.csv", "p\nnan\ninf\n-inf\n1\n"), allow_nonfinite=True)
    assert np.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf and values[3] == 1


def test_csv_with_unused_text_column(tmp_path):
    path = write(tmp_path, "p.csv", "name,p\nfirst,1\nsecond,2\n")
    np.testing.assert_array_equal(load_one(path, columns={"preds": "p"}), [1, 2])


def test_csv_million_rows(tmp_path):
    n = 1_000_000
    preds = np.random.default_rng(0).random(n)
    targets = np.arange(n) % 3
    path = tmp_path / "big.csv"
    pl.DataFrame({"preds": preds, "targets": targets}).write_csv(path)
    loaded = load_inputs(PT, [str(path)])
    np.testing.assert_array_equal(loaded["preds"], preds)
    np.testing.assert_array_equal(loaded["targets"], targets.astype(np.float64))


# --- JSON, NDJSON, NPY, NPZ, Parquet ---------------------------------------------------------------


def test_json_arrays_keep_their_shape(tmp_path):
    np.testing.assert_array_equal(load_one(write(tmp_path, "a.json", "[1, 2.5, 3]")), [1, 2.5, 3])
    matrix = load_one(write(tmp_path, "b.json", "[[1, 2], [3, 4], [5, 6]]"))
    assert matrix.shape == (3, 2)
    cube = load_one(write(tmp_path, "c.json", "[[[1], [2]], [[3], [4]]]"))
    assert cube.shape == (2, 2, 1)
    np.testing.assert_array_equal(load_one(write(tmp_path, "d.json", "7")), [7.0])


def test_json_object_by_key(tmp_path):
    path = write(tmp_path, "d.json", '{"targets": [1, 0], "preds": [[0.1, 0.9], [0.8, 0.2]], "note": "x"}')
    loaded = load_inputs(PT, [path])
    assert loaded["preds"].shape == (2, 2)
    np.testing.assert_array_equal(loaded["targets"], [1, 0])
    np.testing.assert_array_equal(load_one(path), [[0.1, 0.9], [0.8, 0.2]])
    assert load_one(write(tmp_path, "e.json", '{"scores": [1, 2]}'))[1] == 2.0
    np.testing.assert_array_equal(load_one(path, columns={"preds": "1"}), [0.9, 0.2])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "targets"}), [1, 0])


def test_json_nonfinite_literals_when_allowed(tmp_path):
    values = load_one(write(tmp_path, "a.json", "[NaN, Infinity, -Infinity]"), allow_nonfinite=True)
    assert np.isnan(values[0]) and values[1] == np.inf and values[2] == -np.inf


def test_ndjson_columns_and_list_columns(tmp_path):
    text = '{"preds": [0.1, 0.9], "targets": 1}\n\n{"preds": [0.7, 0.3], "targets": 0}\n'
    loaded = load_inputs(PT, [write(tmp_path, "d.ndjson", text)])
    np.testing.assert_array_equal(loaded["preds"], [[0.1, 0.9], [0.7, 0.3]])
    np.testing.assert_array_equal(loaded["targets"], [1, 0])
    values = load_one(write(tmp_path, "d.jsonl", '{"a": 1, "b": 2}\n{"a": 3, "b": 4}\n'), columns={"preds": "b,a"})
    np.testing.assert_array_equal(values, [[2, 1], [4, 3]])


def test_ndjson_key_appearing_late_and_nan_tokens(tmp_path):
    late = "".join('{"a": 1}\n' for _ in range(150)) + '{"a": 2.5, "b": 3}\n'
    loaded = load_one(write(tmp_path, "late.ndjson", late), columns={"preds": "a"})
    assert loaded[-1] == 2.5
    path = write(tmp_path, "nan.ndjson", '{"preds": 1}\n{"preds": NaN}\n')
    assert np.isnan(load_one(path, allow_nonfinite=True)[1])


def test_npy_and_column_selection(tmp_path):
    path = write(tmp_path, "m.npy", npy_bytes(np.arange(6, dtype=np.int32).reshape(3, 2)))
    assert load_one(path).dtype == np.float64
    np.testing.assert_array_equal(load_one(path, columns={"preds": 1}), [1, 3, 5])
    assert load_one(write(tmp_path, "b.npy", npy_bytes(np.array([True, False]))))[0] == 1.0


def test_npz_carries_inputs_by_key(tmp_path):
    path = write(tmp_path, "d.npz", npz_bytes(preds=np.ones((2, 3)), targets=np.array([0, 2])))
    loaded = load_inputs(PT, [path])
    assert loaded["preds"].shape == (2, 3)
    np.testing.assert_array_equal(loaded["targets"], [0, 2])
    assert load_one(write(tmp_path, "one.npz", npz_bytes(np.zeros(4)))).shape == (4,)


def test_parquet_columns_lists_and_arrays(tmp_path):
    frame = pl.DataFrame(
        {
            "label": [1, 0],
            "logits": [[0.5, 1.5], [2.0, -1.0]],
            "fixed": pl.Series([[1.0, 2.0], [3.0, 4.0]], dtype=pl.Array(pl.Float64, 2)),
            "flag": [True, False],
        }
    )
    path = write(tmp_path, "d.parquet", parquet_bytes(frame))
    loaded = load_inputs(PT, [path])
    np.testing.assert_array_equal(loaded["preds"], [[0.5, 1.5], [2.0, -1.0]])
    np.testing.assert_array_equal(loaded["targets"], [1, 0])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "fixed"}), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "label,flag"}), [[1, 1], [0, 0]])


def test_png_images_are_read_as_arrays(tmp_path):
    from PIL import Image

    pixels = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "g.png")
    np.testing.assert_allclose(load_one(str(tmp_path / "g.png")), pixels / 255.0)


def test_importing_io_loads_neither_polars_nor_torch():
    code = "import sys, losscli.io; assert not {'polars', 'torch'} & set(sys.modules), sorted(sys.modules)"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr


def test_every_format_is_known():
    assert FORMATS == ("csv", "tsv", "json", "ndjson", "npy", "npz", "parquet")


# --- stdin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"preds,targets\n0.5,1\n",
        b'  \n{"preds": [0.5], "targets": [1]}',
        b'{"preds": 0.5, "targets": 1}\n{"preds": 0.25, "targets": 0}\n',
        npz_bytes(preds=np.array([0.5]), targets=np.array([1.0])),
        parquet_bytes(pl.DataFrame({"preds": [0.5], "targets": [1]})),
    ],
    ids=["csv", "json", "ndjson", "npz", "parquet"],
)
def test_stdin_formats_are_sniffed(data):
    loaded = load_inputs(PT, ["-"], stdin=io.BytesIO(data))
    assert loaded["preds"][0] == 0.5 and loaded["targets"][0] == 1.0


def test_stdin_npy_and_forced_format(tmp_path):
    target_file = write(tmp_path, "t.csv", "1\n0\n")
    loaded = load_inputs(PT, ["-", target_file], stdin=io.BytesIO(npy_bytes(np.array([0.2, 0.8]))))
    np.testing.assert_array_equal(loaded["preds"], [0.2, 0.8])
    forced = load_one("-", input_format="tsv", stdin=io.BytesIO(b"1.5\t2\n"))
    np.testing.assert_array_equal(forced, [[1.5, 2]])


def test_stdin_errors_name_stdin():
    message = load_error(InputError, ["preds"], ["-"], stdin=io.BytesIO(b"p\n1\nx\n"))
    assert message == "<stdin>, line 3, column p: expected a number, got 'x'"
    assert "empty" in load_error(InputError, ["preds"], ["-"], stdin=io.BytesIO(b" \n"))


def test_stdin_can_be_read_only_once():
    message = load_error(UsageError, PT, ["-", "-"], stdin=io.BytesIO(b"1\n"))
    assert "only once" in message
    message = load_error(UsageError, PT, ["-"], named_files={"targets": "-"}, stdin=io.BytesIO(b"1\n"))
    assert "only once" in message


# --- binding -------------------------------------------------------------------------------------


def test_named_files_bind_first_then_positional(tmp_path):
    targets = write(tmp_path, "t.csv", "1\n0\n")
    preds = write(tmp_path, "p.csv", "0.5\n0.25\n")
    loaded = load_inputs(PT, [preds], named_files={"targets": targets})
    np.testing.assert_array_equal(loaded["preds"], [0.5, 0.25])
    np.testing.assert_array_equal(loaded["targets"], [1, 0])
    assert bind_sources(PT, [preds], {"targets": targets}) == {"preds": preds, "targets": targets}
    assert bind_sources(PT, ["-"]) == {"preds": "<stdin>", "targets": "<stdin>"}


def test_same_named_file_carries_several_inputs(tmp_path):
    path = write(tmp_path, "d.csv", "pred,label\n0.5,1\n")
    loaded = load_inputs(PT, [], named_files={"preds": path, "targets": path})
    assert loaded == {"preds": [0.5], "targets": [1.0]}


def test_optional_input_may_be_absent(tmp_path):
    names = ["preds", "targets", "weights"]
    path = write(tmp_path, "d.csv", "preds,targets\n0.5,1\n")
    loaded = load_inputs(names, [path], required=PT)
    assert list(loaded) == PT
    with_weights = write(tmp_path, "w.csv", "preds,targets,weights\n0.5,1,2\n")
    assert load_inputs(names, [with_weights], required=PT)["weights"][0] == 2.0
    single = load_inputs(["preds", "weights"], [write(tmp_path, "m.csv", "1,2\n")], required=["preds"])
    assert single["preds"].shape == (1, 2) and "weights" not in single


def test_too_many_files(tmp_path):
    message = load_error(UsageError, PT, ["a.csv", "b.csv", "c.csv"])
    assert "takes 2 inputs (preds, targets) but 3 files were given" in message


def test_missing_required_input(tmp_path):
    path = write(tmp_path, "p.csv", "1\n")
    assert "missing input 'targets'" in load_error(UsageError, PT, [], required=PT, named_files={"preds": path})
    assert "missing input 'preds'" in load_error(UsageError, PT, [])


def test_bad_options(tmp_path):
    assert "unknown input 'weights'" in load_error(UsageError, PT, [], columns={"weights": "w"})
    assert "unknown input 'x'" in load_error(UsageError, PT, [], named_files={"x": "f.csv"})
    assert "unknown input format 'xls'" in load_error(UsageError, PT, ["a"], input_format="xls")
    assert "single character" in load_error(UsageError, PT, ["a"], delimiter=";;")


# --- errors --------------------------------------------------------------------------------------


def test_missing_file_directory_empty_and_header_only(tmp_path):
    assert load_error(InputError, ["preds"], [str(tmp_path / "no.csv")]).endswith("no.csv: no such file")
    assert "is a directory" in load_error(InputError, ["preds"], [str(tmp_path)])
    for name, content in [("empty.csv", ""), ("blank.csv", " \n\n"), ("empty.json", "")]:
        message = load_error(InputError, ["preds"], [write(tmp_path, name, content)])
        assert message.endswith(f"{name}: the file is empty")
    header_only = write(tmp_path, "h.csv", "preds,targets\n\n")
    assert load_error(InputError, PT, [header_only]).endswith("h.csv: no data rows")
    assert "preds is empty" in load_error(InputError, ["preds"], [write(tmp_path, "e.json", '{"preds": []}')])


def test_unknown_extension_and_unreadable_formats(tmp_path):
    message = load_error(InputError, ["preds"], [write(tmp_path, "p.xyz", "1\n")])
    assert "p.xyz" in message and "--input-format" in message
    assert "--input-format" in load_error(InputError, ["preds"], [write(tmp_path, "noext", "1\n")])
    for name in ["bad.npy", "bad.npz", "bad.parquet"]:
        message = load_error(InputError, ["preds"], [write(tmp_path, name, "1,2\n3,4\n")])
        assert name in message and "not a" in message
    assert "not UTF-8" in load_error(InputError, ["preds"], [write(tmp_path, "bin.csv", b"p\n\xff\xfe\n")])
    truncated = write(tmp_path, "cut.npy", npy_bytes(np.arange(10.0))[:-8])
    assert "not a valid .npy file" in load_error(InputError, ["preds"], [truncated])


def test_pickled_numpy_is_refused(tmp_path):
    path = write(tmp_path, "o.npy", npy_bytes(np.array([1, "x", None], dtype=object)))
    assert load_error(InputError, ["preds"], [path]).endswith("o.npy: pickled .npy files are refused")
    packed = write(tmp_path, "o.npz", npz_bytes(preds=np.array([None], dtype=object)))
    assert "pickled .npz files are refused" in load_error(InputError, ["preds"], [packed])


def test_non_numeric_cell_is_located(tmp_path):
    path = write(tmp_path, "data.csv", "x,y\n1,2\n3,4\n5,abc\n")
    message = load_error(InputError, ["preds"], [path])
    assert message.endswith("data.csv, line 4, column y: expected a number, got 'abc'")
    headerless = write(tmp_path, "n.csv", "1,2\n3,true\n")
    message = load_error(InputError, ["preds"], [headerless])
    assert message.endswith("n.csv, line 2, column 2: expected a number, got 'true'")


def test_line_numbers_count_quoted_line_breaks(tmp_path):
    path = write(tmp_path, "q.csv", 'name,v\n"two\nlines",1\nok,abc\n')
    assert load_error(InputError, ["preds"], [path], columns={"preds": "v"}).endswith(
        "q.csv, line 4, column v: expected a number, got 'abc'"
    )
    nan = write(tmp_path, "n.csv", 'name,v\n"two\nlines",1\nok,nan\n')
    message = load_error(InputError, ["preds"], [nan], columns={"preds": "v"})
    assert "n.csv, line 4, column v: non-finite value nan" in message


def test_empty_cell_ragged_rows_and_inner_blank_line(tmp_path):
    cases = {
        "x,y\n1,2\n3,\n": "line 3, column y: empty cell",
        "x,y\n1,2\n3\n": "line 3: found 1 field, expected 2",
        "x,y\n1,2\n3,4,5\n": "line 3: found 3 fields, expected 2",
        "x,y\n1,2\n\n3,4\n": "line 3: empty line inside the data",
    }
    for text, expected in cases.items():
        path = write(tmp_path, "r.csv", text)
        assert load_error(InputError, ["preds"], [path]).endswith(f"r.csv, {expected}")


def test_json_errors_are_located(tmp_path):
    syntax = write(tmp_path, "s.json", '{\n  "preds": [1, 2,]\n}')
    message = load_error(InputError, ["preds"], [syntax])
    assert message.endswith("s.json, line 2, column 18: invalid JSON: Expecting value")
    cases = {
        "[[1, 2], [3]]": "ragged array: 1 elements where 2 were expected at element [1]",
        '{"preds": [[1, 2], 3]}': "ragged array: expected an array of 2 elements, got 3 at preds[1]",
        '{"preds": [1, "2"]}': 'expected a number, got "2" at preds[1]',
        "[1, true]": "expected a number, got true at element [1]",
        "[[1, null]]": "expected a number, got null at element [0][1]",
    }
    for text, expected in cases.items():
        assert load_error(InputError, ["preds"], [write(tmp_path, "v.json", text)]).endswith(f"v.json: {expected}")
    keyed = write(tmp_path, "k.json", '{"a": [1], "b": [2]}')
    assert load_error(InputError, ["preds"], [keyed]).endswith("k.json: no key 'preds' (keys: 'a', 'b')")


def test_ndjson_errors_are_located(tmp_path):
    cases = {
        '{"preds": 1}\n{"preds": 2,}\n': "line 2, column 13: invalid JSON: Expecting property name enclosed in "
        "double quotes",
        '{"preds": 1}\n\n{"preds": "x"}\n': 'line 3, column preds: expected a number, got "x"',
        '{"preds": 1}\n{"other": 2}\n': "line 2, column preds: missing value",
        '{"preds": [1, 2]}\n{"preds": [3]}\n': "line 2, column preds: ragged array: 1 elements where 2 were expected",
        "[1, 2]\n[3, 4]\n": "line 1: expected a JSON object, got [1, 2]",
    }
    for text, expected in cases.items():
        path = write(tmp_path, "d.ndjson", text)
        assert load_error(InputError, ["preds"], [path], columns={"preds": "preds"} if "{" in text else None).endswith(
            f"d.ndjson, {expected}"
        )


def test_parquet_bad_columns(tmp_path):
    frame = pl.DataFrame({"s": ["a", "b"], "n": [1.0, None], "r": [[1.0], [2.0, 3.0]]})
    path = write(tmp_path, "d.parquet", parquet_bytes(frame))
    assert load_error(InputError, ["preds"], [path], columns={"preds": "s"}).endswith(
        "d.parquet, column s: has type String, expected numbers"
    )
    assert load_error(InputError, ["preds"], [path], columns={"preds": "n"}).endswith(
        "d.parquet, column n: missing value at row index 1"
    )
    assert "ragged lists" in load_error(InputError, ["preds"], [path], columns={"preds": "r"})


def test_unknown_column_and_index_out_of_range(tmp_path):
    path = write(tmp_path, "d.csv", "a,b\n1,2\n")
    assert load_error(InputError, ["preds"], [path], columns={"preds": "z"}).endswith(
        "d.csv: no column 'z' (columns: 'a', 'b')"
    )
    assert load_error(InputError, ["preds"], [path], columns={"preds": 5}).endswith(
        "d.csv: column index 5 is out of range: there are 2 columns (0-1)"
    )
    matrix = write(tmp_path, "m.npy", npy_bytes(np.zeros((2, 2))))
    assert "out of range" in load_error(InputError, ["preds"], [matrix], columns={"preds": "0,2"})
    vector = write(tmp_path, "v.npy", npy_bytes(np.zeros(2)))
    assert "cannot select columns" in load_error(InputError, ["preds"], [vector], columns={"preds": 0})


def test_single_file_cannot_decide(tmp_path):
    path = write(tmp_path, "d.csv", "a,b\n1,2\n")
    message = load_error(InputError, PT, [path])
    assert message.startswith(f"{path}: cannot tell which column holds preds (columns: 'a', 'b')")
    assert "--pred-col/--target-col" in message
    assert "unnamed columns" in load_error(InputError, PT, [write(tmp_path, "n.csv", "1,2\n")])
    array = write(tmp_path, "a.npy", npy_bytes(np.zeros((2, 2))))
    assert "one unnamed array" in load_error(InputError, PT, [array])


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("d.csv", "x,y\n1,2\n3,nan\n", "d.csv, line 3, column y: non-finite value nan"),
        ("n.csv", "1,2\n-inf,2\n", "n.csv, line 2, column 1: non-finite value -inf"),
        ("d.json", '{"preds": [[1, 2], [Infinity, 3]]}', "d.json: non-finite value inf at preds[1][0]"),
        ("d.npy", npy_bytes(np.array([[0.0, 1.0], [np.nan, 2.0]])), "d.npy: non-finite value nan at element [1][0]"),
        ("d.ndjson", '{"preds": 1}\n\n{"preds": 1e400}\n', "d.ndjson, line 3, column preds: non-finite value inf"),
        (
            "d.parquet",
            parquet_bytes(pl.DataFrame({"preds": [1.0, 2.0, float("nan")]})),
            "d.parquet, column preds: non-finite value nan at row index 2",
        ),
    ],
)
def test_nonfinite_values_are_located(tmp_path, name, content, expected):
    message = load_error(InputError, ["preds"], [write(tmp_path, name, content)])
    assert message.endswith(f"{expected} (pass --allow-nonfinite to accept it)")


# --- writers -------------------------------------------------------------------------------------

GRADIENTS = {"preds": np.array([[0.5, np.nan], [np.inf, -2.0]]), "targets": np.array([1.0, -1.0])}


def test_gradients_long_table():
    table = gradients_long_table({**GRADIENTS, "cube": np.arange(8.0).reshape(2, 2, 2), "scalar": np.float64(3)})
    assert table.columns == ["row", "input", "column", "grad"]
    assert table.filter(pl.col("input") == "preds").rows()[1][:3] == (0, "preds", 1)
    assert table.filter(pl.col("input") == "targets").select("row", "column").rows() == [(0, 0), (1, 0)]
    assert table.filter(pl.col("input") == "cube").select("row", "column", "grad").rows()[-1] == (1, 3, 7.0)
    assert table.filter(pl.col("input") == "scalar").rows() == [(0, "scalar", 0, 3.0)]
    assert gradients_long_table({}).columns == ["row", "input", "column", "grad"]


def test_write_csv_and_parquet_round_trip(tmp_path):
    csv_path = str(tmp_path / "g.csv")
    write_gradients(csv_path, GRADIENTS)
    lines = Path(csv_path).read_text().splitlines()
    assert lines[:4] == ["row,input,column,grad", "0,preds,0,0.5", "0,preds,1,NaN", "1,preds,0,inf"]
    assert lines[-1] == "1,targets,0,-1.0"
    parquet_path = str(tmp_path / "g.parquet")
    write_gradients(parquet_path, GRADIENTS)
    assert pl.read_parquet(parquet_path).equals(gradients_long_table(GRADIENTS))


def test_write_npy_npz_and_json_round_trip(tmp_path):
    npy_path = str(tmp_path / "g.npy")
    write_gradients(npy_path, {"preds": GRADIENTS["preds"]})
    np.testing.assert_array_equal(np.load(npy_path), GRADIENTS["preds"])
    npz_path = str(tmp_path / "g.NPZ")
    write_gradients(npz_path, GRADIENTS)
    with np.load(npz_path) as archive:
        assert sorted(archive.files) == PT
        np.testing.assert_array_equal(archive["targets"], GRADIENTS["targets"])
    json_path = str(tmp_path / "g.json")
    write_gradients(json_path, GRADIENTS)
    assert json.loads(Path(json_path).read_text()) == {"preds": [[0.5, None], [None, -2.0]], "targets": [1.0, -1.0]}


def test_writer_errors(tmp_path):
    with pytest.raises(UsageError, match=r"\.npz"):
        write_gradients(str(tmp_path / "g.npy"), GRADIENTS)
    assert not (tmp_path / "g.npy").exists()
    with pytest.raises(UsageError, match=r"\.csv, \.json, \.npy, \.npz, \.parquet"):
        write_gradients(str(tmp_path / "g.xlsx"), GRADIENTS)
    with pytest.raises(InputError, match="cannot write the gradients: No such file or directory"):
        write_gradients(str(tmp_path / "missing" / "g.csv"), GRADIENTS)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match=r"dir\.csv: cannot write the gradients: Is a directory"):
        write_gradients(str(tmp_path / "dir.csv"), GRADIENTS)


# --- provenance and notes (read_inputs) ----------------------------------------------------------


def test_read_inputs_says_where_each_input_came_from(tmp_path):
    from losscli.io import InputInfo, read_inputs

    table = write(tmp_path, "d.csv", "id,y_true,y_pred\nx,1,0.25\ny,0,0.75\n")
    loaded = read_inputs(PT, [table])
    assert loaded.provenance == {
        "preds": InputInfo(table, ["y_pred"], (2,), indices=[2]),
        "targets": InputInfo(table, ["y_true"], (2,), indices=[1]),
    }
    assert loaded.notes == []
    np.testing.assert_array_equal(loaded.arrays["preds"], load_inputs(PT, [table])["preds"])
    keyed = write(tmp_path, "k.npz", npz_bytes(preds=np.ones((2, 3)), targets=np.zeros(2)))
    info = read_inputs(PT, [keyed], columns={"preds": "0-1"}).provenance
    assert info["preds"] == InputInfo(keyed, ["0", "1"], (2, 2), key="preds", indices=[0, 1])
    assert info["targets"] == InputInfo(keyed, None, (2,), key="targets")
    headerless = write(tmp_path, "n.csv", "1,2,3\n4,5,6\n")
    assert read_inputs(["preds"], [headerless]).provenance["preds"].columns == ["0", "1", "2"]
    lone = read_inputs(["preds"], ["-"], stdin=io.BytesIO(npy_bytes(np.zeros((4, 2))))).provenance["preds"]
    assert lone == InputInfo("<stdin>", None, (4, 2))


# --- column selection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("1-2", [[2, 3], [20, 30]]),
        ("0,2-3", [[1, 3, 4], [10, 30, 40]]),
        ("logit_*", [[2, 3], [20, 30]]),
        ("logit_?,a", [[2, 3, 1], [20, 30, 10]]),
        ("logit_[b]", [3, 30]),
        (" 3 ", [4, 40]),
        ("3-3", [4, 40]),
        ("c-d", [4, 40]),  # an exact header name wins over a range or glob reading
    ],
)
def test_columns_by_range_glob_and_list(tmp_path, selector, expected):
    path = write(tmp_path, "d.csv", "a,logit_a,logit_b,c-d\n1,2,3,4\n10,20,30,40\n")
    np.testing.assert_array_equal(load_one(path, columns={"preds": selector}), expected)


def test_exact_header_wins_over_index_and_range(tmp_path):
    path = write(tmp_path, "d.csv", "1-2,0,x\n5,6,7\n")
    np.testing.assert_array_equal(load_one(path, columns={"preds": "1-2"}), [5])
    np.testing.assert_array_equal(load_one(path, columns={"preds": "0"}), [6])
    np.testing.assert_array_equal(load_one(path, columns={"preds": 0}), [5])  # an int is always an index


def test_column_selection_errors(tmp_path):
    path = write(tmp_path, "d.csv", "y_pred,target\n1,2\n")
    assert load_error(InputError, ["preds"], [path], columns={"preds": "y_prd"}).endswith(
        "d.csv: no column 'y_prd'; did you mean 'y_pred'? (columns: 'y_pred', 'target')"
    )
    assert "did you mean 'y_pred'?" in load_error(InputError, ["preds"], [path], columns={"preds": "Y_PRED,x"})
    assert "no column matches 'logit_*'" in load_error(InputError, ["preds"], [path], columns={"preds": "logit_*"})
    assert "range '3-1' is empty" in load_error(InputError, ["preds"], [path], columns={"preds": "3-1"})
    assert "column index 4 is out of range: there are 2 columns (0-1)" in load_error(
        InputError, ["preds"], [path], columns={"preds": "0-4"}
    )
    headerless = write(tmp_path, "n.csv", "1,2\n")
    assert "0-based index or range" in load_error(InputError, ["preds"], [headerless], columns={"preds": "p*"})
    np.testing.assert_array_equal(load_one(headerless, columns={"preds": "0-1"}), [[1, 2]])
    keyed = write(tmp_path, "k.json", '{"preds": [1], "targets": [2]}')
    assert load_error(InputError, ["preds"], [keyed], columns={"preds": "prds"}).endswith(
        "k.json: no key 'prds'; did you mean 'preds'? (keys: 'preds', 'targets')"
    )


def test_ranges_select_columns_of_arrays(tmp_path):
    path = write(tmp_path, "m.npy", npy_bytes(np.arange(12.0).reshape(3, 4)))
    np.testing.assert_array_equal(load_one(path, columns={"preds": "1-2"}), [[1, 2], [5, 6], [9, 10]])
    keyed = write(tmp_path, "k.json", '{"scores": [[1, 2, 3]]}')
    np.testing.assert_array_equal(load_one(keyed, columns={"preds": "0-1"}), [[1, 2]])


@pytest.mark.parametrize(
    ("pred", "target"),
    [
        ("y_pred", "y_true"),
        ("y_hat", "y"),
        ("yhat", "truth"),
        ("y_prob", "label"),
        ("proba", "labels"),
        ("y_score", "target"),
        ("score", "targets"),
        ("pred", "y"),
        ("prediction", "y"),
        ("predictions", "y"),
        ("logits", "label"),
        ("probs", "label"),
        ("Y_Pred", "Y_True"),
    ],
)
def test_common_column_names_are_recognised(tmp_path, pred, target):
    path = write(tmp_path, "d.csv", f"other,{target},{pred}\n9,1,0.25\n")
    loaded = load_inputs(PT, [path])
    assert loaded["preds"][0] == 0.25 and loaded["targets"][0] == 1


# --- pandas' index column ----------------------------------------------------------------------


@pytest.mark.parametrize("header", ["", "Unnamed: 0", "index", "id", "ID"])
def test_pandas_index_is_left_out_and_noted(tmp_path, header):
    from losscli.io import read_inputs

    path = write(tmp_path, "p.csv", f"{header},a,b\n0,0.5,1\n1,1.5,2\n2,2.5,3\n")
    loaded = read_inputs(["preds"], [path])
    np.testing.assert_array_equal(loaded.arrays["preds"], [[0.5, 1], [1.5, 2], [2.5, 3]])
    assert loaded.provenance["preds"].columns == ["a", "b"]
    (note,) = loaded.notes
    assert note.startswith(f"{path}: left out column 0 ") and "a pandas index (0..2)" in note and "--pred-col" in note


def test_pandas_index_of_a_series_gives_a_vector(tmp_path):
    path = write(tmp_path, "t.csv", ",0\n0,1\n1,0\n2,1\n")
    np.testing.assert_array_equal(load_inputs(["targets"], [path])["targets"], [1, 0, 1])
    from losscli.io import read_inputs

    assert "--target-col" in read_inputs(["targets"], [path]).notes[0]


def test_index_like_columns_that_are_data_are_kept(tmp_path):
    from losscli.io import read_inputs

    ids = write(tmp_path, "a.csv", "id,v\n7,1\n8,2\n")  # 'id' not holding 0..N-1 is data
    assert read_inputs(["preds"], [ids]).arrays["preds"].shape == (2, 2)
    floats = write(tmp_path, "b.csv", ",v\n0.5,1\n1.5,2\n")  # an unnamed column of fractions is data
    assert read_inputs(["preds"], [floats]).arrays["preds"].shape == (2, 2)
    headerless = write(tmp_path, "c.csv", "0,5\n1,6\n")  # no header: nothing says it is an index
    assert read_inputs(["preds"], [headerless]).arrays["preds"].shape == (2, 2)
    alone = write(tmp_path, "d.csv", "id\n0\n1\n")  # the only column is the data
    np.testing.assert_array_equal(read_inputs(["preds"], [alone]).arrays["preds"], [0, 1])
    chosen = write(tmp_path, "e.csv", ",v\n0,5\n1,6\n")  # a column the user chose is read
    loaded = read_inputs(["preds"], [chosen], columns={"preds": "0-1"})
    np.testing.assert_array_equal(loaded.arrays["preds"], [[0, 5], [1, 6]])
    assert loaded.notes == []


def test_unnamed_first_column_of_other_whole_numbers_is_refused(tmp_path):
    shuffled = write(tmp_path, "s.csv", "Unnamed: 0,a,b\n3,1,1\n0,2,2\n7,3,3\n")
    message = load_error(InputError, ["preds"], [shuffled])
    assert message.startswith(f"{shuffled}: column 0 ('Unnamed: 0') holds whole numbers but not 0..N-1")
    assert "--pred-col 1-2" in message
    r_names = write(tmp_path, "r.csv", '"","x"\n"1",0.5\n"2",1.5\n')  # R's write.csv
    assert "--pred-col 1)" in load_error(InputError, ["preds"], [r_names])


def test_parquet_pandas_index_is_left_out(tmp_path):
    from losscli.io import read_inputs

    frame = pl.DataFrame({"p": [0.5, 1.5], "__index_level_0__": [10, 4]})
    loaded = read_inputs(["preds"], [write(tmp_path, "d.parquet", parquet_bytes(frame))])
    np.testing.assert_array_equal(loaded.arrays["preds"], [0.5, 1.5])
    assert "left out column 1 ('__index_level_0__'), a pandas index" in loaded.notes[0]


# --- robustness --------------------------------------------------------------------------------


def test_npy_layouts_are_read_as_numpy_reads_them(tmp_path):
    matrix = np.arange(6, dtype=">i2").reshape(2, 3)
    for array in [np.asfortranarray(matrix), matrix, np.float32(2.5), np.arange(4, dtype=np.uint8)]:
        path = write(tmp_path, "a.npy", npy_bytes(array))
        np.testing.assert_array_equal(load_one(path), np.atleast_1d(array).astype(np.float64))
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, matrix, version=(2, 0))
    np.testing.assert_array_equal(load_one(write(tmp_path, "v2.npy", buffer.getvalue())), matrix)
    assert "expected numbers" in load_error(
        InputError, ["preds"], [write(tmp_path, "s.npy", npy_bytes(np.array(["a"])))]
    )
    assert "is empty" in load_error(InputError, ["preds"], [write(tmp_path, "e.npy", npy_bytes(np.zeros(0)))])


def test_npz_members_are_read_only_when_needed(tmp_path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, preds=np.arange(3.0), unused=np.zeros(2))
    data = buffer.getvalue()
    np.testing.assert_array_equal(load_one(write(tmp_path, "c.npz", data)), [0, 1, 2])


def test_wide_header_is_read_whole(tmp_path):
    width = 20_000  # a header of over 100 KiB, more than the first bytes sniffed
    header = ",".join(f"column_{i}" for i in range(width))
    path = write(tmp_path, "w.csv", header + "\n" + ",".join(["1"] * width) + "\n")
    assert load_one(path).shape == (1, width)
    assert load_one(path, columns={"preds": f"column_{width - 1}"}).shape == (1,)


def test_named_pipe_without_writer_is_refused_quickly(tmp_path, monkeypatch):
    from losscli.io import sources

    monkeypatch.setenv(sources.PIPE_TIMEOUT_VARIABLE, "0.05")
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    message = load_error(InputError, ["preds"], [str(fifo)])
    assert message == f"{fifo}: a named pipe with no writer: nothing was written to it in 0.05 s " + (
        f"(set {sources.PIPE_TIMEOUT_VARIABLE} to wait longer)"
    )


def test_pipe_timeout_setting(monkeypatch):
    from losscli.io import sources

    monkeypatch.setenv(sources.PIPE_TIMEOUT_VARIABLE, "nonsense")
    assert sources.pipe_wait_seconds() == sources.PIPE_WAIT_SECONDS
    monkeypatch.setenv(sources.PIPE_TIMEOUT_VARIABLE, "-3")
    assert sources.pipe_wait_seconds() == 0.0


def test_piped_png_is_read_as_an_image():
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).save(buffer, format="PNG")
    np.testing.assert_array_equal(load_one("-", stdin=io.BytesIO(buffer.getvalue())), [[0.0, 1.0]])


def test_write_failures_leave_no_partial_file(tmp_path, monkeypatch):
    import polars.exceptions

    def failing(file, arrays):
        file.write(b"half")
        raise polars.exceptions.ComputeError("parquet: underlying IO error: No space left on device (os error 28)")

    from losscli.io import writers

    monkeypatch.setitem(writers.WRITERS, ".parquet", failing)
    target = tmp_path / "g.parquet"
    with pytest.raises(InputError, match=r"g\.parquet: cannot write the gradients: No space left on device$"):
        write_gradients(str(target), GRADIENTS)
    assert not target.exists()


# --- line numbers: 1-based file lines, header included, the same on every path ------------------

PADDING = "".join(f"{i}.5,{i}\n" for i in range(30_000))  # past SMALL_BYTES: polars reads it, not the csv module


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x,y\r\n1,2\r\n3,abc\r\n", "line 3, column y: expected a number, got 'abc'"),
        ("\ufeffx,y\n1,2\n3,\n", "line 3, column y: empty cell"),
        ("x,y\n1,2\n\n3,4\n", "line 3: empty line inside the data"),
        ('x,y\n"1","2"\n"3","a\nb"\n', "line 3, column y: expected a number, got 'a\\nb'"),  # where the record starts
        ('x,y\n"1","2\n"\n3,nan\n', "line 4, column y: non-finite value nan"),
        ("x,y\n1,2\n3\n", "line 3: found 1 field, expected 2"),
    ],
)
def test_csv_line_numbers_agree_on_both_paths(tmp_path, text, expected):
    small = load_error(InputError, ["preds"], [write(tmp_path, "s.csv", text)])
    large = load_error(InputError, ["preds"], [write(tmp_path, "l.csv", text + PADDING)])
    assert small.startswith(f"{tmp_path / 's.csv'}, {expected}")
    assert large.startswith(f"{tmp_path / 'l.csv'}, {expected}")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "d.ndjson",
            '\ufeff{"preds": 1}\r\n\r\n{"preds": "x"}\r\n',
            'line 3, column preds: expected a number, got "x"',
        ),
        ("d.ndjson", '{"preds": 1}\n\n{"preds": 1,}\n', "line 3, column 13: invalid JSON"),
        ("d.ndjson", '{"preds": 1}\n\n{"preds": NaN}\n', "line 3, column preds: non-finite value nan"),
        ("d.json", '\ufeff{"preds":\r\n [1,\r\n 2,]}\r\n', "line 3, column 4: invalid JSON"),
    ],
)
def test_json_line_numbers(tmp_path, name, text, expected):
    path = write(tmp_path, name, text.encode())
    assert load_error(InputError, ["preds"], [path]).startswith(f"{path}, {expected}")


def test_anonymous_pipe_is_read_while_its_writer_is_slow(tmp_path, monkeypatch):
    """As bash's <(command) gives it: /dev/fd/N, a pipe whose writer is there but has written nothing yet."""
    import threading
    import time

    from losscli.io import sources

    monkeypatch.setenv(sources.PIPE_TIMEOUT_VARIABLE, "0")  # the wait for a missing writer must not apply here
    read_end, write_end = os.pipe()

    def writer() -> None:
        time.sleep(0.2)
        os.write(write_end, b"p\n0.5\n")
        os.close(write_end)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        values = load_one(f"/dev/fd/{read_end}")
    finally:
        thread.join()
        os.close(read_end)
    np.testing.assert_array_equal(values, [0.5])
