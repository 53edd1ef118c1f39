"""Start-up cost of a small command, as a ratio against the import floor (issue 12).

    python benchmarks/bench_small.py            # 15 interleaved runs of each

Times, as separate processes interleaved, `losscli compute mse` on the 40-row sample data and
`losscli --help` against `python -c "import numpy, typer, rich"` (what any CLI of this kind
imports), once with the bytecode cache as a normal install has it and once with
PYTHONDONTWRITEBYTECODE=1 and no cache (a first run).  Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOSSCLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'losscli'; from losscli.cli import main; main()"]
CASES = {
    "floor: import numpy, typer, rich": [sys.executable, "-c", "import numpy, typer, rich"],
    "losscli compute mse (40 rows)": [
        *LOSSCLI,
        "compute",
        "mse",
        str(ROOT / "sample_data/preds.csv"),
        str(ROOT / "sample_data/targets.csv"),
    ],
    "losscli --help": [*LOSSCLI, "--help"],
    "losscli list": [*LOSSCLI, "list"],
}


def clear_cache() -> None:
    for d in (ROOT / "losscli").rglob("__pycache__"):
        shutil.rmtree(d, ignore_errors=True)


def run(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for label, extra, cached in (
        ("bytecode cache", {}, True),
        ("PYTHONDONTWRITEBYTECODE=1, no cache", {"PYTHONDONTWRITEBYTECODE": "1"}, False),
    ):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | extra
        if cached:
            for command in CASES.values():  # warm the cache as an installed package has it
                run(command, env)
        else:
            clear_cache()
        times: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.runs):
            for name, command in CASES.items():
                times[name].append(run(command, env))
        floor = statistics.median(next(iter(times.values())))
        print(f"{label} (median of {args.runs}):")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:38s} {med * 1000:7.1f} ms  {med / floor:5.2f}x the floor")


if __name__ == "__main__":
    main()
