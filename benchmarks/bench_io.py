"""Reader/writer and start-up speed of losscli, as ratios against baselines run in the same script.

    python benchmarks/bench_io.py            # 2,000,000 rows
    python benchmarks/bench_io.py --rows 10000000

Baselines: numpy.loadtxt for reading a two-column CSV, numpy.savetxt for writing the
gradients, and a bare `python -c "import numpy"` for the start-up of `losscli compute`.
Figures are ratios (baseline time / losscli time), so they carry across machines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from losscli.io.readers import load_inputs
    from losscli.io.writers import write_gradients

    rng = np.random.default_rng(0)
    n = args.rows
    data = np.column_stack([rng.normal(size=n), rng.normal(size=n)])
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        np.savetxt(csv, data, delimiter=",", header="yhat,y", comments="", fmt="%.17g")

        t_loadtxt = best_of(lambda: np.loadtxt(csv, delimiter=",", skiprows=1), 1)
        t_reader = best_of(
            lambda: load_inputs(["preds", "targets"], [str(csv)], columns={"preds": "yhat", "targets": "y"}),
            args.repeat,
        )
        print(
            f"read {n:,} rows: numpy.loadtxt {t_loadtxt:.2f} s, losscli reader {t_reader:.2f} s "
            f"-> {t_loadtxt / t_reader:.1f}x faster"
        )

        grads = {"preds": data[:, 0]}
        out_csv = Path(tmp) / "g.csv"
        t_savetxt = best_of(lambda: np.savetxt(Path(tmp) / "base.csv", data[:, 0], fmt="%.17g"), 1)
        t_writer = best_of(lambda: write_gradients(str(out_csv), grads), args.repeat)
        print(
            f"write {n:,} gradients: numpy.savetxt {t_savetxt:.2f} s, losscli writer {t_writer:.2f} s "
            f"-> {t_savetxt / t_writer:.1f}x faster"
        )

        small = Path(__file__).resolve().parent.parent / "sample_data"
        base_cmd = [sys.executable, "-c", "import numpy"]
        cmd = [
            sys.executable,
            "-m",
            "losscli",
            "compute",
            "mse",
            str(small / "preds.csv"),
            str(small / "targets.csv"),
            "--format",
            "plain",
        ]
        t_base = best_of(lambda: subprocess.run(base_cmd, check=True, capture_output=True), 5)
        t_cli = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), 5)
        print(
            f"`losscli compute` on a 40-row file: {t_cli:.3f} s = {t_cli / t_base:.1f}x a bare "
            f"`python -c 'import numpy'` ({t_base:.3f} s)"
        )
        big = [
            sys.executable,
            "-m",
            "losscli",
            "compute",
            "mse",
            str(csv),
            "--pred-col",
            "yhat",
            "--target-col",
            "y",
            "--format",
            "plain",
        ]
        t_big = best_of(lambda: subprocess.run(big, check=True, capture_output=True), 1)
        print(
            f"`losscli compute mse` end to end on {n:,} rows: {t_big:.2f} s "
            f"({t_loadtxt / t_big:.1f}x faster than numpy.loadtxt alone)"
        )


if __name__ == "__main__":
    main()
