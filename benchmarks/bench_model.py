"""``losscli grad --model`` against the hand-written torch script a user would write, side by side.

    python benchmarks/bench_model.py [--rows 10000] [--repeat 3]

Builds a ~1M-parameter MLP (64 -> 1024 -> 768 -> 384 -> 1, ReLU), exports it with torch.export,
writes ROWS x 64 features and ROWS targets as CSV, then times, as separate processes, in turn:

* the script: read the CSVs with numpy, ``torch.export.load(...).module()``, forward, MSE,
  ``backward()``, and every parameter's grad norm plus the global norm;
* ``losscli grad mse --model m.pt2 x.csv y.csv --json`` (the same work, with the loader's
  checks, per-layer measures, dead-unit and verdict bookkeeping, and JSON output).

Prints each median wall time and the ratio losscli / script (target: within 1.3x).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """
import sys, numpy as np, torch
x = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, dtype=np.float32)
y = np.loadtxt(sys.argv[3], skiprows=1, dtype=np.float32)
model = torch.export.load(sys.argv[1]).module()
loss = torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))
loss.backward()
norms = {n: p.grad.norm().item() for n, p in model.named_parameters()}
total = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()]).item()
print(loss.item(), total, len(norms))
"""


def build(folder: Path, rows: int) -> tuple[Path, Path, Path, int]:
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 1024), nn.ReLU(), nn.Linear(1024, 768), nn.ReLU(), nn.Linear(768, 384), nn.ReLU(),
        nn.Linear(384, 1), nn.Flatten(0),
    )  # fmt: skip
    n_params = sum(p.numel() for p in model.parameters())
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (torch.randn(4, 64),), dynamic_shapes=({0: batch},))
    path = folder / "m.pt2"
    torch.export.save(program, str(path))
    rng = np.random.default_rng(0)
    x, y = folder / "x.csv", folder / "y.csv"
    np.savetxt(
        x,
        rng.normal(size=(rows, 64)),
        delimiter=",",
        fmt="%.6f",
        header=",".join(f"f{i}" for i in range(64)),
        comments="",
    )
    np.savetxt(y, rng.normal(size=rows), fmt="%.6f", header="y", comments="")
    return path, x, y, n_params


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, x, y, n_params = build(folder, args.rows)
        script = folder / "by_hand.py"
        script.write_text(SCRIPT)
        losscli = [sys.executable, "-m", "losscli", "grad", "mse", "--model", str(path), str(x), str(y), "--json"]
        by_hand = [sys.executable, str(script), str(path), str(x), str(y)]
        times: dict[str, list[float]] = {"script": [], "losscli": []}
        for _ in range(args.repeat):  # interleaved, so both see the same machine state
            times["script"].append(wall(by_hand))
            times["losscli"].append(wall(losscli))
        s, c = statistics.median(times["script"]), statistics.median(times["losscli"])
        print(f"MLP with {n_params:,} parameters, {args.rows:,} rows x 64 features")
        print(f"hand-written torch script: {s:.3f} s (median of {args.repeat})")
        print(f"losscli grad --model:      {c:.3f} s (median of {args.repeat})")
        print(f"ratio losscli / script:    {c / s:.2f}x")


if __name__ == "__main__":
    main()
