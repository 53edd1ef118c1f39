"""losscli against the script a user would write, side by side in one run, on large data (issue 12).

    python benchmarks/bench_scale.py                        # 10,000,000 rows; flatness 1M vs 50M
    python benchmarks/bench_scale.py --rows 2000000 --flat 10000000 --repeat 1

Each command runs as its own process; its time is the best of ``--repeat`` runs and its peak resident
set (ru_maxrss of that process, from wait4) is shown as a multiple of the raw float64 inputs.  The
scripts are what a person would type instead: polars + numpy (or + torch autograd) reading the same
files and writing the same gradient file.  The last table is streaming's flatness: the peak of
``compute mse`` on Parquet at ``--flat`` rows over its peak at 1M rows.  Figures are ratios, so they
carry across machines; no timing is asserted anywhere in the tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

LOSSCLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'losscli'; from losscli.cli import main; main()"]

MSE_NUMPY = (
    "import numpy as np, polars as pl, sys\n"
    "read = pl.read_csv if sys.argv[1].endswith('.csv') else pl.read_parquet\n"
    "p = read(sys.argv[1]).to_series().to_numpy(); y = read(sys.argv[2]).to_series().to_numpy()\n"
    "print(np.mean((p - y) ** 2))"
)
MSE_NPY = "import numpy as np, sys; p = np.load(sys.argv[1]); y = np.load(sys.argv[2]); print(np.mean((p - y) ** 2))"
MSE_GRAD_TORCH = (
    "import numpy as np, polars as pl, torch, sys\n"
    "p = torch.from_numpy(pl.read_parquet(sys.argv[1]).to_series().to_numpy()).requires_grad_(True)\n"
    "y = torch.from_numpy(pl.read_parquet(sys.argv[2]).to_series().to_numpy())\n"
    "loss = torch.nn.functional.mse_loss(p, y); loss.backward()\n"
    "n = len(p); g = pl.DataFrame({'row': np.arange(n), 'column': np.zeros(n, np.int64), 'grad': p.grad.numpy()})\n"
    "g.select('row', pl.lit('preds').alias('input'), 'column', 'grad').write_parquet(sys.argv[3])\n"
    "print(loss.item())"
)
CE_TORCH = (
    "import numpy as np, torch, sys\n"
    "z = torch.from_numpy(np.load(sys.argv[1])); y = torch.from_numpy(np.load(sys.argv[2])).long()\n"
    "print(torch.nn.functional.cross_entropy(z, y).item())"
)
CE_NUMPY = (
    "import numpy as np, sys\n"
    "z = np.load(sys.argv[1]); y = np.load(sys.argv[2]).astype(int)\n"
    "m = z.max(axis=1, keepdims=True); lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))\n"
    "print(np.mean(lse - z[np.arange(len(y)), y]))"
)
CE_GRAD_TORCH = (
    "import numpy as np, torch, sys\n"
    "z = torch.from_numpy(np.load(sys.argv[1])).requires_grad_(True); y = torch.from_numpy(np.load(sys.argv[2])).long()\n"
    "loss = torch.nn.functional.cross_entropy(z, y); loss.backward(); np.save(sys.argv[3], z.grad.numpy())\n"
    "print(loss.item())"
)


WRAP = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
    "t = time.perf_counter() - t; sys.stderr.write(r.stderr.decode()[-2000:] if r.returncode else ''); "
    "print(r.returncode, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run(command: list[str], repeat: int) -> tuple[float, int]:
    """(best seconds, largest peak RSS in bytes) of ``command`` as its own process.  It is started by a
    small fresh parent: a child forked from this (large) process would count this one's pages."""
    best, rss = float("inf"), 0
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", WRAP, *command], capture_output=True, text=True, check=True)
        code, took, peak = out.stdout.split()
        if code != "0":
            raise SystemExit(f"{' '.join(command[-6:])} failed:\n{out.stderr}")
        best, rss = min(best, float(took)), max(rss, int(peak) * 1024)
    return best, rss


def make(folder: Path, rows: int, classes: int) -> None:
    import polars as pl

    rng = np.random.default_rng(0)
    p, y = rng.normal(size=rows), rng.normal(size=rows)
    for name, values in (("preds", p), ("targets", y)):
        np.save(folder / f"{name}.npy", values)
        frame = pl.DataFrame({name: values})
        frame.write_csv(folder / f"{name}.csv")
        frame.write_parquet(folder / f"{name}.parquet")
    np.save(folder / "logits.npy", rng.normal(size=(rows, classes)))
    np.save(folder / "labels.npy", rng.integers(0, classes, size=rows).astype(np.float64))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--flat", type=int, default=50_000_000, help="rows of the flatness run (0: skip it)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    n, k, r = args.rows, args.classes, args.repeat
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)
        make(d, n, k)
        f = {name: str(d / name) for name in ("preds", "targets")}
        raw = 2 * n * 8
        raw_ce = n * k * 8 + n * 8
        py = sys.executable
        rows = [
            (
                "`compute mse` CSV",
                [*LOSSCLI, "compute", "mse", f["preds"] + ".csv", f["targets"] + ".csv", "--format", "plain"],
                [py, "-c", MSE_NUMPY, f["preds"] + ".csv", f["targets"] + ".csv"],
                "polars+numpy",
                raw,
            ),
            (
                "`compute mse` Parquet",
                [*LOSSCLI, "compute", "mse", f["preds"] + ".parquet", f["targets"] + ".parquet", "--format", "plain"],
                [py, "-c", MSE_NUMPY, f["preds"] + ".parquet", f["targets"] + ".parquet"],
                "polars+numpy",
                raw,
            ),
            (
                "`compute mse` NPY",
                [*LOSSCLI, "compute", "mse", f["preds"] + ".npy", f["targets"] + ".npy", "--format", "plain"],
                [py, "-c", MSE_NPY, f["preds"] + ".npy", f["targets"] + ".npy"],
                "np.load+numpy",
                raw,
            ),
            (
                "`grad mse --out g.parquet`",
                [
                    *LOSSCLI,
                    "grad",
                    "mse",
                    f["preds"] + ".parquet",
                    f["targets"] + ".parquet",
                    "--out",
                    str(d / "g1.parquet"),
                    "--format",
                    "plain",
                ],  # fmt: skip
                [py, "-c", MSE_GRAD_TORCH, f["preds"] + ".parquet", f["targets"] + ".parquet", str(d / "g2.parquet")],
                "polars+torch autograd",
                raw,
            ),
            (
                f"`compute ce`, {k} classes",
                [*LOSSCLI, "compute", "ce", str(d / "logits.npy"), str(d / "labels.npy"), "--format", "plain"],
                [py, "-c", CE_TORCH, str(d / "logits.npy"), str(d / "labels.npy")],
                "torch",
                raw_ce,
            ),
            (
                f"`compute ce`, {k} classes",
                [*LOSSCLI, "compute", "ce", str(d / "logits.npy"), str(d / "labels.npy"), "--format", "plain"],
                [py, "-c", CE_NUMPY, str(d / "logits.npy"), str(d / "labels.npy")],
                "numpy",
                raw_ce,
            ),
            (
                f"`grad ce --out g.npy`, {k} classes",
                [
                    *LOSSCLI,
                    "grad",
                    "ce",
                    str(d / "logits.npy"),
                    str(d / "labels.npy"),
                    "--out",
                    str(d / "g1.npy"),
                    "--format",
                    "plain",
                ],  # fmt: skip
                [py, "-c", CE_GRAD_TORCH, str(d / "logits.npy"), str(d / "labels.npy"), str(d / "g2.npy")],
                "torch autograd",
                raw_ce,
            ),
        ]
        print(f"{n:,} rows, best of {r}; memory = peak RSS / raw float64 inputs\n")
        print("| work | losscli / script | script | peak memory losscli (script) |")
        print("|---|---|---|---|")
        for label, ours, theirs, who, size in rows:
            t_ours, m_ours = run(ours, r)
            t_theirs, m_theirs = run(theirs, r)
            print(
                f"| {label} | {t_ours / t_theirs:.2f}x ({t_ours:.2f} s / {t_theirs:.2f} s) | {who} "
                f"| {m_ours / size:.2f}x ({m_theirs / size:.2f}x) |",
                flush=True,
            )
    if args.flat:
        print("\nstreaming: peak RSS of `compute mse` on Parquet, and `grad mse --out g.parquet`\n")
        print("| rows | compute peak | grad peak |")
        print("|---|---|---|")
        peaks = {}
        for rows_n in (1_000_000, args.flat):
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
                d = Path(tmp)
                import polars as pl

                rng = np.random.default_rng(1)
                for name in ("preds", "targets"):
                    pl.DataFrame({name: rng.normal(size=rows_n)}).write_parquet(d / f"{name}.parquet")
                files = [str(d / "preds.parquet"), str(d / "targets.parquet")]
                _, c = run([*LOSSCLI, "compute", "mse", *files, "--format", "plain"], 1)
                _, g = run([*LOSSCLI, "grad", "mse", *files, "--out", str(d / "g.parquet"), "--format", "plain"], 1)
                peaks[rows_n] = (c, g)
                print(f"| {rows_n:,} | {c / 2**20:.0f} MiB | {g / 2**20:.0f} MiB |", flush=True)
        (c1, g1), (cn, gn) = peaks[1_000_000], peaks[args.flat]
        print(f"\n{args.flat:,} rows over 1,000,000: compute {cn / c1:.2f}x, grad {gn / g1:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
