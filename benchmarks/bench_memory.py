"""Peak memory of `losscli compute` on large .npy inputs, against the raw inputs and the script a
user would write (issue 12).

    python benchmarks/bench_memory.py                 # 10,000,000 rows
    python benchmarks/bench_memory.py --rows 20000000

Each run is a separate process; its peak resident set (ru_maxrss of the child) is reported as a
multiple of the raw float64 inputs (preds + targets), with its time.  The script is
np.load + np.mean((p - y) ** 2) for mse, and the log-sum-exp by hand for cross-entropy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LOSSCLI = "import sys; sys.argv[0] = 'losscli'; from losscli.cli import main; main()"
SCRIPTS = {
    "mse": "import numpy as np, sys; p = np.load(sys.argv[1]); y = np.load(sys.argv[2]); print(np.mean((p - y) ** 2))",
    "cross-entropy": (
        "import numpy as np, sys; z = np.load(sys.argv[1]); y = np.load(sys.argv[2]).astype(int); "
        "m = z.max(axis=1, keepdims=True); lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1)); "
        "print(np.mean(lse - z[np.arange(len(y)), y]))"
    ),
}


WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in bytes) of one process, measured from a fresh parent of its own."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WRAP, *command], capture_output=True, text=True, check=True)
    took = time.perf_counter() - start
    code, rss = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{command} failed: {out.stderr}")
    return took, int(rss) * 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    n = args.rows
    rng = np.random.default_rng(0)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        p, y = Path(tmp, "p.npy"), Path(tmp, "y.npy")
        np.save(p, rng.normal(size=n))
        np.save(y, rng.normal(size=n))
        cases["mse"] = (p, y, 2 * n * 8)
        z, c = Path(tmp, "z.npy"), Path(tmp, "c.npy")
        k = 10
        np.save(z, rng.normal(size=(n // 4, k)))
        np.save(c, rng.integers(0, k, size=n // 4).astype(np.float64))
        cases["cross-entropy"] = (z, c, (n // 4) * (k + 1) * 8)
        base = peak([sys.executable, "-c", "import numpy, typer, rich"])[1]
        print(f"interpreter floor (numpy, typer, rich imported): {base / 2**20:.0f} MiB")
        for loss, (a, b, raw) in cases.items():
            t_script, m_script = peak([sys.executable, "-c", SCRIPTS[loss], str(a), str(b)])
            t_cli, m_cli = peak([sys.executable, "-c", LOSSCLI, "compute", loss, str(a), str(b), "-f", "plain"])
            print(
                f"{loss:14s} raw inputs {raw / 2**20:7.0f} MiB | script {t_script:5.2f} s, peak "
                f"{m_script / raw:4.2f}x raw | losscli {t_cli:5.2f} s ({t_cli / t_script:4.2f}x), peak "
                f"{m_cli / raw:4.2f}x raw"
            )
    del env


if __name__ == "__main__":
    main()
