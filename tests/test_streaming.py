"""Streaming (issue 12): inputs read and evaluated a chunk of rows at a time give the in-memory results.

Every registered case of a loss that streams is written to files and run both ways: ``compute``'s
value, n and reported counts; ``grad``'s gradients (written chunk by chunk to every gradient format,
compared with the file the in-memory run writes) and its whole health object.  Chunk sizes are
chosen to split awkwardly (1, 2, 3 and 7 rows).  Then the readers: CSV cut into blocks at record
ends (quotes, blank tails, an index column), bad cells named by their line, rows that do not match.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import polars as pl
import pytest

from losscli import app, core, losses
from losscli.io import csv_table
from losscli.options import DataOptions, HealthOptions
from losscli.target import SingleLoss, resolve
from tests.test_losses import CASE_LIST, case_id


def _streams(case) -> bool:
    return core.streams(losses.get(case[0]), "mean")


STREAMED = [c for c in CASE_LIST if _streams(c)]


def test_the_common_losses_stream_and_the_others_say_why():
    names = {c[0] for c in STREAMED}
    assert {"mse", "mae", "huber", "rmse", "bce", "cross-entropy", "nll", "focal", "kl-div", "poisson-nll"} <= names
    assert not {"hinge", "ctc", "mmd", "dice", "ssim", "lsgan-d", "linear-cross-entropy"} & names


def _files(case, tmp_path):
    """The case's inputs as .npy files, in the loss's input order, and its target."""
    loss, _, params, factory = case
    target = resolve(loss, params)
    assert isinstance(target, SingleLoss)
    inputs = factory(np.random.default_rng(5))
    named = {}
    for name, values in inputs.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, np.asarray(values, dtype=np.float64))
        named[name] = str(path)
    return target, named, inputs


def _rows(inputs) -> int | None:
    rows = {np.asarray(v).shape[0] if np.ndim(v) else -1 for v in inputs.values()}
    return rows.pop() if len(rows) == 1 else None


@pytest.mark.parametrize("case", STREAMED, ids=case_id)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_streamed_compute_is_the_in_memory_value(case, reduction, tmp_path):
    target, named, inputs = _files(case, tmp_path)
    whole = app.compute(target, DataOptions(named=named), reduction=reduction).result.evaluation
    for rows in (1, 2, 3, 7):
        done = app.compute(target, DataOptions(named=named, chunk_rows=rows), reduction=reduction)
        ev = done.result.evaluation
        if ev.chunk_rows is None:  # rows that are not samples (an unbatched input): read whole, said so
            assert any("read whole" in note for note in done.loaded.notes)
            assert ev.value == whole.value
            continue
        assert ev.value == pytest.approx(whole.value, rel=1e-13, abs=1e-15)
        assert (ev.n, ev.extras) == (whole.n, whole.extras)
        assert ev.scale == pytest.approx(whole.scale) and ev.denominator == pytest.approx(whole.denominator)
        assert {k: v.shape for k, v in done.loaded.provenance.items()} == {
            k: tuple(np.shape(inputs[k])) for k in done.loaded.provenance
        }


def _close(a, b, path=""):
    """Equal objects, floats to 1e-12 relative (the health figures of a streamed run)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not (math.isnan(a) and math.isnan(b)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-300), path
    else:
        assert a == b, path


@pytest.mark.parametrize("case", STREAMED, ids=case_id)
def test_streamed_grad_gives_the_in_memory_gradients_and_health(case, tmp_path):
    target, named, _ = _files(case, tmp_path)
    health = HealthOptions(top=4)
    whole = app.grad(target, DataOptions(named=named), health=health)
    for rows in (2, 3):
        out = tmp_path / f"g{rows}.npz"
        done = app.grad(target, DataOptions(named=named, chunk_rows=rows), health=health, out=str(out))
        if done.result.evaluation.chunk_rows is None:
            assert done.written is None
            continue
        assert done.written == str(out)
        assert done.result.evaluation.value == pytest.approx(whole.result.evaluation.value, rel=1e-13, abs=1e-15)
        with np.load(out) as streamed:
            assert sorted(streamed.files) == sorted(whole.result.evaluation.gradients)
            for name, g in whole.result.evaluation.gradients.items():
                np.testing.assert_allclose(streamed[name], g, rtol=1e-12, atol=1e-300)
        _close(dataclasses.asdict(done.health), dataclasses.asdict(whole.health))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy", ".npz", ".json"])
@pytest.mark.parametrize("loss", ["mse", "cross-entropy"])
def test_gradient_files_written_chunk_by_chunk_are_the_in_memory_files(cli, tmp_path, suffix, loss):
    rng = np.random.default_rng(1)
    if loss == "mse":
        np.save(tmp_path / "p.npy", rng.normal(size=(23, 2)))
        np.save(tmp_path / "y.npy", rng.normal(size=(23, 2)))
    else:
        np.save(tmp_path / "p.npy", rng.normal(size=(23, 4)))
        np.save(tmp_path / "y.npy", rng.integers(0, 4, size=23).astype(float))
    files = [tmp_path / "p.npy", tmp_path / "y.npy"]
    a, b = tmp_path / f"whole{suffix}", tmp_path / f"chunks{suffix}"
    first = cli("grad", loss, *files, "--out", a, "--format", "plain")
    second = cli("grad", loss, *files, "--out", b, "--format", "plain", "--chunk-rows", "5")
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert "read in chunks of 5 rows" in second.stderr
    if suffix == ".parquet":
        assert pl.read_parquet(b).equals(pl.read_parquet(a))
    elif suffix in (".npy", ".npz"):
        left, right = np.load(a), np.load(b)
        if suffix == ".npz":
            assert left.files == right.files
            assert all(np.array_equal(left[k], right[k]) for k in left.files)
        else:
            assert np.array_equal(left, right)
    else:
        assert b.read_bytes() == a.read_bytes()


def test_streamed_grad_json_says_where_the_gradients_went(cli, tmp_path):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "p.npy", rng.normal(size=9))
    np.save(tmp_path / "y.npy", rng.normal(size=9))
    done = cli("grad", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "--chunk-rows", "4", "--json")
    assert done.exit_code == 0
    obj = json.loads(done.stdout)
    assert obj["gradients"] is None
    assert any("not held in memory nor printed (pass --out FILE to keep them)" in n for n in obj["notes"])
    assert obj["health"]["elements"] == 9 and obj["n"] == 9


def _csv(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_csv_blocks_cut_at_record_ends_read_as_the_whole_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(400, 2))
    lines = ['"a,b","the ""y"""'] + [f"{float(p)!r},{float(y)!r}" for p, y in values]
    lines[7] = f'"{float(values[6, 0])!r}",{float(values[6, 1])!r}'  # a quoted number
    path = _csv(tmp_path / "q.csv", "\n".join(lines) + "\n\n\n")
    target = resolve("mse")
    data = DataOptions(files=(path,), columns={"preds": "a,b", "targets": 'the "y"'})
    whole = app.compute(target, data).result.evaluation
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 97)  # blocks end mid-line, inside quotes
    for rows in (1, 5, 64):
        streamed = app.compute(target, dataclasses.replace(data, chunk_rows=rows)).result.evaluation
        assert streamed.chunk_rows == rows
        assert streamed.value == pytest.approx(whole.value, rel=1e-13)
        assert streamed.n == whole.n == 400


def test_a_quoted_line_break_inside_a_block_boundary(tmp_path, monkeypatch):
    text = "note,p,y\n" + "".join(f'"line\n{i}",{i * 0.5},{i * 0.25}\n' for i in range(50))
    path = _csv(tmp_path / "n.csv", text)
    data = DataOptions(files=(path,), columns={"preds": "p", "targets": "y"})
    whole = app.compute(resolve("mae"), data).result.evaluation
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 13)
    streamed = app.compute(resolve("mae"), dataclasses.replace(data, chunk_rows=3)).result.evaluation
    assert (streamed.value, streamed.n) == (pytest.approx(whole.value, rel=1e-14), 50)


def test_a_bad_cell_far_down_is_named_by_its_line(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 64)
    rows = [f"{i}.5,{i}" for i in range(300)]
    rows[250] = "3.5,oops"
    _csv(tmp_path / "d.csv", "p,y\n" + "\n".join(rows) + "\n")
    done = cli("compute", "mse", tmp_path / "d.csv", "--pred-col", "p", "--target-col", "y", "--chunk-rows", "7")
    assert done.exit_code == 2
    assert done.stderr.strip().endswith(f"{tmp_path / 'd.csv'}, line 252, column y: expected a number, got 'oops'")
    rows[250] = "nan,1"
    _csv(tmp_path / "d.csv", "p,y\n" + "\n".join(rows) + "\n")
    done = cli("compute", "mse", tmp_path / "d.csv", "--pred-col", "p", "--target-col", "y", "--chunk-rows", "7")
    assert done.exit_code == 2 and "line 252, column p: non-finite value nan" in done.stderr


def test_a_label_out_of_range_is_named_by_its_row_in_the_file(cli, tmp_path):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=40).astype(float)
    labels[33] = 5
    np.save(tmp_path / "p.npy", rng.normal(size=(40, 3)))
    np.save(tmp_path / "y.npy", labels)
    whole = cli("compute", "ce", tmp_path / "p.npy", tmp_path / "y.npy")
    streamed = cli("compute", "ce", tmp_path / "p.npy", tmp_path / "y.npy", "--chunk-rows", "6")
    assert whole.exit_code == streamed.exit_code == 2
    assert "data row 34" in whole.stderr and "data row 34" in streamed.stderr


def test_inputs_of_different_rows_are_refused(cli, tmp_path):
    _csv(tmp_path / "p.csv", "p\n" + "0.5\n" * 10)
    _csv(tmp_path / "y.csv", "y\n" + "0.25\n" * 12)
    done = cli("compute", "mse", tmp_path / "p.csv", tmp_path / "y.csv", "--chunk-rows", "4")
    assert done.exit_code == 2
    assert done.stderr.strip().endswith(
        f"{tmp_path / 'p.csv'} has 10 data rows but {tmp_path / 'y.csv'} has more; every input must have the same rows"
    )
    # files whose headers say their rows differ (or that differ in the first chunk) are read whole:
    # the in-memory reading says what is wrong, or reads an unbatched input as it is
    np.save(tmp_path / "p.npy", np.zeros(10))
    np.save(tmp_path / "y.npy", np.zeros(12))
    whole = cli("compute", "mse", tmp_path / "p.npy", tmp_path / "y.npy")
    done = cli("compute", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "--chunk-rows", "4")
    assert whole.exit_code == done.exit_code == 2
    assert whole.stderr == done.stderr


def test_a_pandas_index_is_left_out_and_must_go_on_counting(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 50)
    rows = "".join(f"{i},{i / 7!r}\n" for i in range(60))
    _csv(tmp_path / "p.csv", "," + "p\n" + rows)
    _csv(tmp_path / "y.csv", "y\n" + "".join(f"{i / 9!r}\n" for i in range(60)))
    whole = cli("compute", "mse", tmp_path / "p.csv", tmp_path / "y.csv", "--format", "plain")
    streamed = cli("compute", "mse", tmp_path / "p.csv", tmp_path / "y.csv", "--format", "plain", "--chunk-rows", "8")
    assert streamed.exit_code == 0 and streamed.stdout == whole.stdout
    assert "left out column 0 (no header), a pandas index (0..59)" in streamed.stderr
    broken = rows.replace("40,", "41,", 1)
    _csv(tmp_path / "p.csv", ",p\n" + broken)
    done = cli("compute", "mse", tmp_path / "p.csv", tmp_path / "y.csv", "--chunk-rows", "8")
    assert done.exit_code == 2 and "column 0 counted 0..39 like a pandas index" in done.stderr


def test_chunk_rows_on_what_cannot_stream_says_so(cli, tmp_path):
    np.save(tmp_path / "p.npy", np.array([0.2, 0.9, -0.3, 0.7]))
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0, 0.0, 1.0]))
    done = cli("compute", "hinge", tmp_path / "p.npy", tmp_path / "y.npy", "--chunk-rows", "2", "--format", "plain")
    assert done.exit_code == 0
    assert "--chunk-rows: read whole, not in chunks: hinge needs all rows at once" in done.stderr
    done = cli("grad", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "--chunk-rows", "2", "--format", "csv")
    assert done.exit_code == 2 and "--chunk-rows streams the data" in done.stderr
    assert cli("compute", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "--chunk-rows", "0").exit_code == 2


def test_streamed_sample_weights_are_checked_by_their_row(cli, tmp_path):
    rng = np.random.default_rng(7)
    np.save(tmp_path / "p.npy", rng.normal(size=30))
    np.save(tmp_path / "y.npy", rng.normal(size=30))
    w = rng.uniform(0.5, 2.0, size=30)
    np.save(tmp_path / "w.npy", w)
    args = ["compute", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "--sample-weights", tmp_path / "w.npy"]
    whole = cli(*args, "--format", "plain")
    streamed = cli(*args, "--format", "plain", "--chunk-rows", "4")
    assert float(streamed.stdout) == pytest.approx(float(whole.stdout), rel=1e-14)
    w[21] = -1
    np.save(tmp_path / "w.npy", w)
    done = cli(*args, "--chunk-rows", "4")
    assert done.exit_code == 2 and "data row 22: sample weights must be finite and >= 0" in done.stderr
    np.save(tmp_path / "w.npy", np.zeros(30))
    done = cli(*args, "--chunk-rows", "4")
    assert done.exit_code == 2 and "every sample weight is 0" in done.stderr


def test_compare_and_expressions_stream_every_term_in_one_pass(cli, tmp_path):
    rng = np.random.default_rng(8)
    pl.DataFrame({"yhat": rng.normal(size=50), "y": rng.normal(size=50)}).write_parquet(tmp_path / "d.parquet")
    entries = "mse,mae,0.5*mse + huber(delta=2),rmse"
    base = ["compare", entries, tmp_path / "d.parquet", "--pred-col", "yhat", "--target-col", "y", "--json"]
    whole = json.loads(cli(*base).stdout)
    streamed = json.loads(cli(*base, "--chunk-rows", "7").stdout)
    _close([{k: v for k, v in o.items() if k != "value"} for o in streamed], [
        {k: v for k, v in o.items() if k != "value"} for o in whole
    ])  # fmt: skip
    for a, b in zip(streamed, whole, strict=True):
        assert a["value"] == pytest.approx(b["value"], rel=1e-13)
    args = ["compute", "0.5*mse + huber(delta=2)", tmp_path / "d.parquet", "--pred-col", "yhat", "--target-col", "y"]
    one = json.loads(cli(*args, "--json").stdout)
    chunked = json.loads(cli(*args, "--json", "--chunk-rows", "4").stdout)
    assert chunked["value"] == pytest.approx(one["value"], rel=1e-13)
    assert [t["expr"] for t in chunked["terms"]] == [t["expr"] for t in one["terms"]]
    # an entry that needs all rows at once: the whole list is read whole, and stderr says why
    labels = rng.integers(0, 2, size=50).astype(float)
    pl.DataFrame({"yhat": rng.normal(size=50), "y": labels}).write_parquet(tmp_path / "b.parquet")
    done = cli("compare", "mse,hinge", tmp_path / "b.parquet", "--pred-col", "yhat", "--target-col", "y",
               "--chunk-rows", "4")  # fmt: skip
    assert done.exit_code == 0
    assert "--chunk-rows: read whole, not in chunks: hinge needs all rows at once" in done.stderr


def test_streamed_runs_report_progress_rows_known_or_not(tmp_path):
    _csv(tmp_path / "p.csv", "p\n" + "".join(f"{i / 3!r}\n" for i in range(20)))
    _csv(tmp_path / "y.csv", "y\n" + "".join(f"{i / 5!r}\n" for i in range(20)))
    calls: list[tuple[int, int | None]] = []
    data = DataOptions(files=(str(tmp_path / "p.csv"), str(tmp_path / "y.csv")), chunk_rows=6)
    app.compute(resolve("mse"), data, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(6, None), (12, None), (18, None), (20, None)]  # CSV: the rows are not known ahead
    calls.clear()
    app.grad(resolve("mse"), data, progress=lambda done, total: calls.append((done, total)))
    # two passes: reading (rows not known), then differentiating, out of twice the rows
    assert calls == [(6, None), (12, None), (18, None), (20, None), (26, 40), (32, 40), (38, 40), (40, 40)]
    np.save(tmp_path / "p.npy", np.arange(20.0))
    np.save(tmp_path / "y.npy", np.zeros(20))
    calls.clear()
    npy = DataOptions(files=(str(tmp_path / "p.npy"), str(tmp_path / "y.npy")), chunk_rows=8)
    app.compute(resolve("mse"), npy, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(8, 20), (16, 20), (20, 20)]


@pytest.mark.parametrize("chunk", [[], ["--chunk-rows", "4"]])
def test_no_health_skips_the_verdict_and_says_so(cli, tmp_path, chunk):
    from tests.test_schemas import validator

    rng = np.random.default_rng(9)
    np.save(tmp_path / "p.npy", rng.normal(size=(11, 3)))
    np.save(tmp_path / "y.npy", rng.integers(0, 3, size=11).astype(float))
    files = [tmp_path / "p.npy", tmp_path / "y.npy"]
    full = json.loads(cli("grad", "ce", *files, "--json", *chunk).stdout)
    done = cli("grad", "ce", *files, "--json", "--no-health", "--out", tmp_path / "g.npy", *chunk)
    assert done.exit_code == 0
    obj = json.loads(done.stdout)
    assert obj["health"] is None and obj["value"] == full["value"]
    validator("grad").validate(obj)
    if full["gradients"] is not None:  # in memory: the JSON has them to compare with the file
        np.testing.assert_allclose(np.load(tmp_path / "g.npy"), np.asarray(full["gradients"]["preds"]), rtol=1e-15)
    assert cli("grad", "ce", *files, "--no-health", "--format", "plain", *chunk).stdout.splitlines()[1] == "skipped"
    assert "not worked out (--no-health)" in cli("grad", "ce", *files, "--no-health", *chunk).stdout
    refused = cli("grad", "ce", *files, "--no-health", "--strict", *chunk)
    assert refused.exit_code == 2 and "drop --no-health" in refused.stderr


def test_mmd_which_needs_every_pair_at_once_refuses_pairs_beyond_memory(cli, tmp_path, monkeypatch):
    import os

    rng = np.random.default_rng(12)
    np.save(tmp_path / "x.npy", rng.normal(size=(300, 4)))
    np.save(tmp_path / "y.npy", rng.normal(size=(200, 4)))
    files = [tmp_path / "x.npy", tmp_path / "y.npy"]
    assert cli("compute", "mmd", *files, "--format", "plain").exit_code == 0
    real = os.sysconf
    monkeypatch.setattr(
        os, "sysconf", lambda key: 4096 if key == "SC_PAGE_SIZE" else 100 if key == "SC_PHYS_PAGES" else real(key)
    )
    done = cli("compute", "mmd", *files)
    assert done.exit_code == 2
    assert (
        "mmd compares every pair of points at once: n = 300 and m = 200 points of 4 values need about 0.00576 GB, more than this machine's 0.00041 GB"
        in done.stderr
    )
    assert "estimate it on a random subset of the points" in done.stderr


def test_review_findings_a_short_header_ragged_rows_rmse_sum_and_out_over_an_input(cli, tmp_path, monkeypatch):
    # a header one field short (R's write.table): refused as when read whole, whatever the block boundaries
    _csv(tmp_path / "r.csv", 'pred,target\n"1",0.5,1.0\n"2",1.5,2.0\n"3",-0.25,0.0\n')
    for extra in ([], ["--chunk-rows", "2"]):
        done = cli("compute", "mse", tmp_path / "r.csv", *extra)
        assert done.exit_code == 2 and "line 2: found 3 fields, expected 2" in done.stderr
    monkeypatch.setattr(csv_table, "BLOCK_BYTES", 24)
    _csv(tmp_path / "w.csv", "preds,targets\n" + "1,2\n" * 20 + "1,2,3\n" + "1,2\n" * 5)
    done = cli("compute", "mse", tmp_path / "w.csv", "--chunk-rows", "4")
    assert done.exit_code == 2 and "line 22: found 3 fields, expected 2" in done.stderr
    # Parquet list columns whose length changes between chunks
    pl.DataFrame({"preds": [[1.0, 2.0]] * 3 + [[1.0]] * 3, "targets": [[0.0, 0.0]] * 3 + [[0.0]] * 3}).write_parquet(
        tmp_path / "rag.parquet"
    )
    done = cli("compute", "mse", tmp_path / "rag.parquet", "--chunk-rows", "3")
    assert done.exit_code == 2 and "from data row 4 on, preds has rows of shape (1,)" in done.stderr
    # rmse with reduction sum: the root's outer derivative applies to the streamed gradients too
    rng = np.random.default_rng(13)
    np.save(tmp_path / "p.npy", rng.normal(size=17))
    np.save(tmp_path / "y.npy", rng.normal(size=17))
    files = [tmp_path / "p.npy", tmp_path / "y.npy"]
    whole = json.loads(cli("grad", "rmse", *files, "-r", "sum", "--json").stdout)
    out = tmp_path / "g.npy"
    cli("grad", "rmse", *files, "-r", "sum", "--chunk-rows", "5", "--out", out)
    np.testing.assert_allclose(np.load(out), whole["gradients"]["preds"], rtol=1e-12)
    # --out naming an input of a streamed run is refused before anything is written
    before = (tmp_path / "p.npy").read_bytes()
    done = cli("grad", "mse", *files, "--chunk-rows", "5", "--out", tmp_path / "p.npy")
    assert done.exit_code == 2 and "is one of the inputs" in done.stderr
    assert (tmp_path / "p.npy").read_bytes() == before
