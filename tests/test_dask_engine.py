"""``--engine dask``: the same losses over a Parquet dataset on a real dask.distributed cluster.

One LocalCluster of two worker processes serves the whole module.  Datasets are part files of
uneven sizes; every result is compared with the single-machine path on the same rows in one file
(``app.compute`` / ``app.grad``): values to 1e-12 relative (the dask engine adds partition sums in
another grouping), and bit for bit with the single-machine chunked evaluation over the same
partitions in the same order; gradients read back from the written dataset; the whole health
object (``dataclasses.asdict``), floats to 1e-12.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import numpy as np
import polars as pl
import pytest

pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")
pq = pytest.importorskip("pyarrow.parquet")

from losscli import app, core  # noqa: E402
from losscli.engines import dask_engine as engine  # noqa: E402
from losscli.errors import InputError, UsageError  # noqa: E402
from losscli.options import DataOptions, HealthOptions  # noqa: E402
from losscli.target import resolve  # noqa: E402
from tests.test_streaming import _close  # noqa: E402

SIZES = (37, 5, 60, 1, 23)  # uneven part files
HEALTH = HealthOptions(top=4)


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _dataset(folder, frames, *, whole=None):
    """Part files ``part.K.parquet`` of ``frames`` in ``folder``; the same rows in one file ``whole``."""
    folder.mkdir()
    for k, frame in enumerate(frames):
        frame.write_parquet(folder / f"part.{k}.parquet")
    if whole is not None:
        pl.concat(frames).write_parquet(whole)
    return str(folder)


def _split(frame, sizes=SIZES):
    out, at = [], 0
    for n in sizes:
        out.append(frame.slice(at, n))
        at += n
    return out


def _regression(rng, n=sum(SIZES)):
    return pl.DataFrame({"yhat": rng.normal(size=n), "y": rng.normal(size=n), "extra": rng.normal(size=n)})


def _classes(rng, n=sum(SIZES), k=4):
    logits = rng.normal(size=(n, k)) * 3
    return pl.DataFrame({"logits": logits.tolist(), "labels": rng.integers(0, k, size=n)})


def _binary(rng, n=sum(SIZES)):
    return pl.DataFrame(
        {
            "probs": rng.uniform(0.02, 0.98, size=n),
            "y": rng.integers(0, 2, size=n).astype(float),
            "w": rng.uniform(0.5, 2.0, size=n),
        }
    )


def _read_gradients(folder):
    """The written gradient dataset, one array per input in row order (the long table folded back)."""
    files = sorted(p for p in folder.iterdir())
    assert files and all(engine.PART_FILE.match(p.name) for p in files)
    table = pl.concat([pl.read_parquet(p) for p in files])
    assert table.columns == ["row", "input", "column", "grad"]
    assert table.schema["row"] == pl.Int64 and table.schema["grad"] == pl.Float64
    out = {}
    for name in table["input"].unique(maintain_order=True):
        part = table.filter(pl.col("input") == name).sort("row", "column")
        rows, width = part["row"].max() + 1, part["column"].max() + 1
        assert part.height == rows * width
        out[name] = part["grad"].to_numpy().reshape(rows, width)
    return out


def _by_partition(target, frames, columns, reduction="mean", weights=None):
    """The single-machine chunked evaluation with each part file as one chunk, in order."""
    chunks, start = [], 0
    for frame in frames:
        chunk = {
            name: frame[cols[0]].to_numpy() if len(cols) == 1 else frame.select(cols).to_numpy()
            for name, cols in columns.items()
        }
        if weights is not None:
            chunk["sample_weights"] = frame[weights].to_numpy()
        chunks.append((start, chunk))
        start += frame.height
    return core.evaluate_chunks(target.spec, chunks, target.params, reduction=reduction)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_value_is_the_single_machine_value(scheduler, tmp_path, reduction):
    frames = _split(_regression(np.random.default_rng(1)))
    path = _dataset(tmp_path / "ds", frames, whole=tmp_path / "all.parquet")
    target = resolve("mse")
    data = dict(columns={"preds": "yhat", "targets": "y"})
    done = engine.run_compute(target, DataOptions(files=(path,), **data), reduction=reduction, scheduler=scheduler)
    single = app.compute(target, DataOptions(files=(str(tmp_path / "all.parquet"),), **data), reduction=reduction)
    ev, ref = done.result.evaluation, single.result.evaluation
    assert ev.value == pytest.approx(ref.value, rel=1e-12)
    assert (ev.n, ev.scale, ev.denominator, ev.reduction) == (ref.n, ref.scale, ref.denominator, reduction)
    # the same sums in the same order: bit for bit the single-machine merge of the same partitions
    found = _by_partition(target, frames, {"preds": ["yhat"], "targets": ["y"]}, reduction)
    assert ev.value == core.streamed_evaluation(target.spec, found, reduction=reduction, dtype="float64").value
    assert {k: v.shape for k, v in done.loaded.provenance.items()} == {"preds": (126,), "targets": (126,)}
    assert done.loaded.provenance["preds"].columns == ["yhat"]
    assert any("5 partitions" in note and "--scheduler" in note for note in done.loaded.notes)


def test_equal_partitions_give_the_single_machine_streamed_value_bit_for_bit(scheduler, tmp_path):
    frames = _split(_regression(np.random.default_rng(2), n=40), (10, 10, 10, 10))
    path = _dataset(tmp_path / "ds", frames, whole=tmp_path / "all.parquet")
    target = resolve("rmse")
    data = dict(columns={"preds": "yhat", "targets": "y"}, chunk_rows=10)
    done = engine.run_compute(target, DataOptions(files=(path,), **data), scheduler=scheduler)
    single = app.compute(target, DataOptions(files=(str(tmp_path / "all.parquet"),), **data))
    assert single.result.evaluation.chunk_rows == 10
    assert done.result.evaluation.value == single.result.evaluation.value
    # and the run is deterministic: the same bits again
    again = engine.run_compute(target, DataOptions(files=(path,), **data), scheduler=scheduler)
    assert again.result.evaluation.value == done.result.evaluation.value


def test_cross_entropy_on_logit_lists_and_integer_labels(scheduler, tmp_path):
    frames = _split(_classes(np.random.default_rng(3)))
    path = _dataset(tmp_path / "ds", frames, whole=tmp_path / "all.parquet")
    target = resolve("cross-entropy", ["label_smoothing=0.1"])
    done = engine.run_compute(target, DataOptions(files=(path,)), scheduler=scheduler)
    single = app.compute(target, DataOptions(files=(str(tmp_path / "all.parquet"),)))
    assert done.result.evaluation.value == pytest.approx(single.result.evaluation.value, rel=1e-12)
    assert done.loaded.provenance["preds"].shape == (126, 4)
    assert done.loaded.provenance["targets"].columns == ["labels"]


def test_logits_in_several_columns_chosen_by_a_glob(scheduler, tmp_path):
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(sum(SIZES), 3))
    frame = pl.DataFrame({f"logit_{j}": logits[:, j] for j in range(3)} | {"label": rng.integers(0, 3, sum(SIZES))})
    path = _dataset(tmp_path / "ds", _split(frame))
    target = resolve("cross-entropy")
    done = engine.run_compute(target, DataOptions(files=(path,), columns={"preds": "logit_*"}), scheduler=scheduler)
    expected = core.evaluate(target.spec, {"preds": logits, "targets": frame["label"].to_numpy()}, target.params)
    assert done.result.evaluation.value == pytest.approx(expected.value, rel=1e-12)
    assert done.loaded.provenance["preds"].columns == ["logit_0", "logit_1", "logit_2"]


def test_bce_with_a_sample_weight_column_and_a_partition_of_zero_weights(scheduler, tmp_path):
    frame = _binary(np.random.default_rng(5))
    w = frame["w"].to_numpy().copy()
    w[37:42] = 0.0  # the second part file: every weight 0
    frame = frame.with_columns(pl.Series("w", w))
    frames = _split(frame)
    path = _dataset(tmp_path / "ds", frames, whole=tmp_path / "all.parquet")
    np.save(tmp_path / "w.npy", w)
    target = resolve("bce")
    done = engine.run_compute(target, DataOptions(files=(path,), sample_weights="w"), scheduler=scheduler)
    single = app.compute(
        target, DataOptions(files=(str(tmp_path / "all.parquet"),), sample_weights=str(tmp_path / "w.npy"))
    )
    ev, ref = done.result.evaluation, single.result.evaluation
    assert ev.value == pytest.approx(ref.value, rel=1e-12)
    assert (ev.n, ev.scale) == (ref.n, ref.scale) and ev.denominator == pytest.approx(ref.denominator, rel=1e-14)
    assert done.loaded.sources["sample_weights"].endswith("column w")
    # every weight of the dataset 0: nothing to average, as on one machine
    zero = _dataset(tmp_path / "zero", _split(frame.with_columns(pl.lit(0.0).alias("w"))))
    with pytest.raises(InputError, match="every sample weight is 0"):
        engine.run_compute(target, DataOptions(files=(zero,), sample_weights="w"), scheduler=scheduler)


# ---------------------------------------------------------------- gradients and health


@pytest.mark.parametrize(
    ("loss", "make", "options"),
    [
        ("mse", _regression, {"columns": {"preds": "yhat", "targets": "y"}}),
        ("huber", _regression, {"columns": {"preds": "yhat", "targets": "y"}, "chunk_rows": 7}),  # chunks in a part
        ("cross-entropy", _classes, {}),
        ("bce", _binary, {"sample_weights": "w"}),
    ],
)
def test_gradients_and_health_are_the_single_machine_ones(scheduler, tmp_path, loss, make, options):
    frame = make(np.random.default_rng(6))
    path = _dataset(tmp_path / "ds", _split(frame), whole=tmp_path / "all.parquet")
    single_options = {k: v for k, v in options.items() if k != "chunk_rows"}  # read whole: every gradient
    if "sample_weights" in options:
        np.save(tmp_path / "w.npy", frame["w"].to_numpy())
        single_options["sample_weights"] = str(tmp_path / "w.npy")
    target = resolve(loss)
    out = tmp_path / "grads"
    done = engine.run_grad(
        target, DataOptions(files=(path,), **options), health=HEALTH, out=str(out), scheduler=scheduler
    )
    whole = app.grad(target, DataOptions(files=(str(tmp_path / "all.parquet"),), **single_options), health=HEALTH)
    ev = done.result.evaluation
    assert done.written == str(out) and ev.gradients == {} and ev.chunk_rows is not None
    assert ev.value == pytest.approx(whole.result.evaluation.value, rel=1e-12)
    written = _read_gradients(out)
    assert sorted(written) == sorted(whole.result.evaluation.gradients)
    for name, g in whole.result.evaluation.gradients.items():
        np.testing.assert_allclose(written[name].reshape(g.shape), g, rtol=1e-12, atol=1e-300)
    _close(dataclasses.asdict(done.health), dataclasses.asdict(whole.health))
    assert len(list(out.iterdir())) == len(SIZES)
    if "chunk_rows" in options:  # a row group per chunk of rows
        assert pq.ParquetFile(out / "part.00002.parquet").metadata.num_row_groups == math.ceil(SIZES[2] / 7)


def test_float32_gradients_are_compared_with_float64_for_underflow(scheduler, tmp_path):
    rng = np.random.default_rng(7)
    frame = pl.DataFrame({"yhat": rng.normal(size=sum(SIZES)) * 1e-43, "y": np.zeros(sum(SIZES))})
    path = _dataset(tmp_path / "ds", _split(frame), whole=tmp_path / "all.parquet")
    target = resolve("mse")
    data = {"columns": {"preds": "yhat", "targets": "y"}}
    done = engine.run_grad(
        target, DataOptions(files=(path,), **data), dtype="float32", health=HEALTH, scheduler=scheduler
    )
    whole = app.grad(
        target, DataOptions(files=(str(tmp_path / "all.parquet"),), **data), dtype="float32", health=HEALTH
    )
    assert "underflow" in done.health.kinds()
    _close(dataclasses.asdict(done.health), dataclasses.asdict(whole.health))
    assert done.written is None and any("pass --out DIR" in note for note in done.loaded.notes)


def test_out_replaces_an_earlier_run_and_refuses_a_folder_of_other_files(scheduler, tmp_path):
    frames = _split(_regression(np.random.default_rng(8)))
    path = _dataset(tmp_path / "ds", frames)
    target = resolve("mse")
    data = DataOptions(files=(path,), columns={"preds": "yhat", "targets": "y"})
    out = tmp_path / "grads"
    out.mkdir()
    (out / "part.00099.parquet").write_bytes(b"an earlier run's file")
    seen = []
    done = engine.run_grad(
        target, data, out=str(out), scheduler=scheduler, with_health=False, progress=lambda *a: seen.append(a)
    )
    assert sorted(p.name for p in out.iterdir()) == [f"part.{k:05d}.parquet" for k in range(len(SIZES))]
    assert done.health is None and _read_gradients(out)["preds"].shape == (sum(SIZES), 1)
    # progress: rows as partitions come back, the first pass not knowing the total, the second 2 x rows
    assert len(seen) == 2 * len(SIZES) and seen[len(SIZES) - 1] == (sum(SIZES), None)
    assert seen[-1] == (2 * sum(SIZES), 2 * sum(SIZES)) and [a for a, _ in seen] == sorted(a for a, _ in seen)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds other files"):
        engine.run_grad(target, data, out=str(out), scheduler=scheduler)
    with pytest.raises(UsageError, match="directory of part files"):
        engine.run_grad(target, data, out=str(tmp_path / "g.csv"), scheduler=scheduler)


# ---------------------------------------------------------------- what is refused, and how it is named


def test_a_nan_in_partition_3_is_named_by_its_file_and_row(scheduler, tmp_path):
    frame = _regression(np.random.default_rng(9))
    yhat = frame["yhat"].to_numpy().copy()
    yhat[37 + 5 + 60 + 0] = np.nan  # partition 3 (one row), row index 0 of its file
    frames = _split(frame.with_columns(pl.Series("yhat", yhat)))
    path = _dataset(tmp_path / "ds", frames)
    target = resolve("mse")
    data = DataOptions(files=(path,), columns={"preds": "yhat", "targets": "y"})
    with pytest.raises(InputError) as info:
        engine.run_compute(target, data, scheduler=scheduler)
    message = str(info.value)
    assert "part.3.parquet, column yhat: non-finite value nan at row index 0" in message
    assert "partition 3 of 5, from row index 102 of the dataset" in message
    assert "\n" not in message
    done = engine.run_compute(target, dataclasses.replace(data, allow_nonfinite=True), scheduler=scheduler)
    assert math.isnan(done.result.evaluation.value)


def test_a_bad_label_is_named_by_its_row_in_the_part_file(scheduler, tmp_path):
    frame = _classes(np.random.default_rng(10))
    labels = frame["labels"].to_numpy().copy()
    labels[37 + 5 + 7] = 9  # partition 2, data row 8 of its file
    path = _dataset(tmp_path / "ds", _split(frame.with_columns(pl.Series("labels", labels))))
    with pytest.raises(InputError, match=r"part\.2\.parquet.*data row 8.*partition 2 of 5"):
        engine.run_compute(resolve("cross-entropy"), DataOptions(files=(path,)), scheduler=scheduler)


def test_missing_columns_and_missing_values(scheduler, tmp_path):
    frames = _split(_regression(np.random.default_rng(11)))
    path = _dataset(tmp_path / "ds", frames)
    with pytest.raises(InputError, match="no column 'nope'.*columns: 'yhat', 'y', 'extra'"):
        engine.run_compute(resolve("mse"), DataOptions(files=(path,), columns={"preds": "nope"}), scheduler=scheduler)
    unnamed = _dataset(tmp_path / "unnamed", [f.rename({"yhat": "a", "y": "b"}) for f in frames])
    with pytest.raises(InputError, match="cannot tell which column holds preds.*--pred-col/--target-col"):
        engine.run_compute(resolve("mse"), DataOptions(files=(unnamed,)), scheduler=scheduler)
    frames[4] = frames[4].with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise(pl.col("y")).alias("y")
    )
    holes = _dataset(tmp_path / "holes", frames)
    data = DataOptions(files=(holes,), columns={"preds": "yhat", "targets": "y"})
    with pytest.raises(InputError, match=r"part\.4\.parquet, column y: missing value at row index 3"):
        engine.run_compute(resolve("mse"), data, scheduler=scheduler)


def test_a_part_file_that_is_not_parquet_is_named(scheduler, tmp_path):
    frames = _split(_regression(np.random.default_rng(13)))
    path = _dataset(tmp_path / "ds", frames)
    (tmp_path / "ds" / "part.2.parquet").write_bytes(b"not parquet at all" * 10)
    data = DataOptions(files=(path,), columns={"preds": "yhat", "targets": "y"})
    with pytest.raises(InputError, match=r"part\.2\.parquet: cannot read the Parquet data \(.*magic bytes"):
        engine.run_compute(resolve("mse"), data, scheduler=scheduler)


def test_the_scheduler_address_may_come_from_the_environment(scheduler, tmp_path, monkeypatch):
    path = _dataset(tmp_path / "ds", _split(_regression(np.random.default_rng(14))))
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", scheduler)
    done = engine.run_compute(resolve("mse"), DataOptions(files=(path,), columns={"preds": "yhat", "targets": "y"}))
    assert any(f"the Dask scheduler at {scheduler} (DASK_SCHEDULER_ADDRESS" in note for note in done.loaded.notes)


def test_what_the_dask_engine_does_not_take(tmp_path, monkeypatch):
    frames = _split(_regression(np.random.default_rng(12)))
    path = _dataset(tmp_path / "ds", frames)
    data = DataOptions(files=(path,), columns={"preds": "yhat", "targets": "y"})
    # these are refused before any cluster is reached
    with pytest.raises(UsageError, match="a single loss, not an expression"):
        engine.run_compute(resolve("0.5*mse + mae"), data)
    with pytest.raises(UsageError, match="hinge needs all rows at once"):
        engine.run_compute(resolve("hinge"), data)
    with pytest.raises(UsageError, match="mean or sum"):
        engine.run_compute(resolve("mse"), data, reduction="none")
    np.save(tmp_path / "p.npy", np.zeros(3))
    with pytest.raises(UsageError, match="one Parquet dataset.*not a .parquet file"):
        engine.run_compute(resolve("mse"), DataOptions(files=(str(tmp_path / "p.npy"),)))
    with pytest.raises(UsageError, match="not --input NAME=FILE"):
        engine.run_compute(resolve("mse"), DataOptions(named={"preds": path, "targets": path}))
    with pytest.raises(InputError, match="no Parquet files"):
        engine.run_compute(resolve("mse"), DataOptions(files=(str(tmp_path / "ds" / "*.csv"),)))
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(UsageError, match=r"pip install 'losscli\[dask\]'"):
        engine.run_compute(resolve("mse"), data)


def test_the_command_line_runs_the_dask_engine(cli, scheduler, tmp_path):
    rng = np.random.default_rng(11)
    frame = pl.DataFrame({"yhat": rng.normal(size=90), "y": rng.normal(size=90)})
    path = _dataset(tmp_path / "ds", _split(frame, [40, 20, 30]), whole=tmp_path / "all.parquet")
    common = ["--pred-col", "yhat", "--target-col", "y"]
    local = json.loads(cli("compute", "mse", tmp_path / "all.parquet", *common, "--json").stdout)
    done = cli("compute", "mse", path, *common, "--engine", "dask", "--scheduler", scheduler, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["value"] == pytest.approx(local["value"], rel=1e-12)
    assert "--engine dask: 3 partitions" in done.stderr
    grad = cli("grad", "mse", path, *common, "--engine", "dask", "--scheduler", scheduler, "--out", tmp_path / "g",
               "--format", "plain")  # fmt: skip
    assert grad.exit_code == 0 and grad.stdout.splitlines()[1] == "ok"
    written = pl.read_parquet(tmp_path / "g" / "*.parquet").sort("row")
    assert written.height == 90 and written["row"].to_list() == list(range(90))
    for refused, why in (
        (["--explain"], "--engine dask does not take --explain"),
        (["--format", "csv"], "--engine dask does not take --format csv"),
    ):
        r = cli("grad", "mse", path, *common, "--engine", "dask", *refused)
        assert r.exit_code == 2 and why in r.stderr
    r = cli("compute", "mse", tmp_path / "all.parquet", "--scheduler", scheduler)
    assert r.exit_code == 2 and "--scheduler goes with --engine dask" in r.stderr
    r = cli("compute", "mse", tmp_path / "all.parquet", "--engine", "spark")
    assert r.exit_code == 2 and "--engine must be one of local, dask" in r.stderr
