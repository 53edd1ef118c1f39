"""The Dask engine's overhead over the single-machine streamed path, on one machine, as ratios.

    python benchmarks/bench_dask.py                       # 10,000,000 rows of mse in 8 part files
    python benchmarks/bench_dask.py --grad --out         # and grad (torch on the workers), and with --out

The same rows are written twice: as one Parquet file (what the single-machine path streams,
``app.compute`` / ``app.grad`` reading it a chunk of 262,144 rows at a time) and as a dataset of
``--parts`` part files (what ``--engine dask`` reads, one partition a file).  Timed:

* single:   the single-machine streamed path on the one file;
* dask:     the dask engine on a LocalCluster already running (and warmed up by one small run, so
            the workers have imported losscli, and torch for grad): start-up excluded;
* dask+up:  the dask engine as the CLI runs it without --scheduler: a LocalCluster of worker
            processes started for the run and shut down after it, start-up included.

Figures are times and ratios (dask time / single time: above 1 is overhead), so they carry across
machines.  Both paths must agree on the value to 1e-12 relative; the script checks that.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grad", action="store_true", help="also time grad (gradients and health, no --out)")
    parser.add_argument("--out", action="store_true", help="and grad writing every gradient (--out)")
    args = parser.parse_args()

    import polars as pl
    from distributed import LocalCluster

    from losscli import app
    from losscli.engines import dask_engine
    from losscli.options import DataOptions
    from losscli.target import resolve

    rng = np.random.default_rng(0)
    n, parts = args.rows, args.parts
    target = resolve("mse")
    print(
        f"{n:,} rows of mse in {parts} part files; {os.cpu_count()} CPUs; LocalCluster of "
        f"{dask_engine.LOCAL_WORKERS} worker processes x 1 thread; best of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        frame = pl.DataFrame({"yhat": rng.normal(size=n), "y": rng.normal(size=n)})
        one = Path(tmp) / "all.parquet"
        frame.write_parquet(one)
        folder = Path(tmp) / "dataset"
        folder.mkdir()
        edges = np.linspace(0, n, parts + 1).astype(int)
        for k in range(parts):
            frame.slice(int(edges[k]), int(edges[k + 1] - edges[k])).write_parquet(folder / f"part.{k}.parquet")
        small = Path(tmp) / "small"
        small.mkdir()
        frame.head(100).write_parquet(small / "part.0.parquet")
        del frame
        columns = {"preds": "yhat", "targets": "y"}
        single_data = DataOptions(files=(str(one),), columns=columns)
        dask_data = DataOptions(files=(str(folder),), columns=columns)

        runs = [("compute", app.compute, dask_engine.run_compute)]
        if args.grad:
            runs.append(("grad", app.grad, dask_engine.run_grad))
        if args.out:  # the single-machine path writes one Parquet file, the dask engine a part file a partition
            single_grad = partial(app.grad, out=str(Path(tmp) / "g.parquet"))
            runs.append(("grad-out", single_grad, partial(dask_engine.run_grad, out=str(Path(tmp) / "g"))))

        start = time.perf_counter()
        cluster = LocalCluster(
            n_workers=dask_engine.LOCAL_WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        t_up = time.perf_counter() - start
        try:
            for _name, _, engine_run in runs:  # warm-up: the workers import losscli (and torch for grad)
                engine_run(
                    target, DataOptions(files=(str(small),), columns=columns), scheduler=cluster.scheduler_address
                )
            for name, single_run, engine_run in runs:
                t_single, single = best_of(partial(single_run, target, single_data), args.repeat)
                t_dask, done = best_of(
                    partial(engine_run, target, dask_data, scheduler=cluster.scheduler_address), args.repeat
                )
                a, b = done.result.evaluation.value, single.result.evaluation.value
                assert single.result.evaluation.chunk_rows is not None, "the single-machine run did not stream"
                assert abs(a - b) <= 1e-12 * abs(b), (a, b)
                print(
                    f"{name:8s} single {t_single:6.2f} s   dask (start-up excluded) {t_dask:6.2f} s "
                    f"-> {t_dask / t_single:.2f}x the single-machine time"
                )
                os.environ.pop("DASK_SCHEDULER_ADDRESS", None)
                t_cold, _ = best_of(partial(engine_run, target, dask_data, scheduler=None), 1)
                print(
                    f"{'':8s} dask with its own LocalCluster (start-up included) {t_cold:6.2f} s "
                    f"-> {t_cold / t_single:.2f}x"
                )
        finally:
            cluster.close()
        print(f"LocalCluster start-up alone: {t_up:.2f} s")


if __name__ == "__main__":  # the LocalCluster's worker processes import this module: start nothing then
    sys.exit(main())
