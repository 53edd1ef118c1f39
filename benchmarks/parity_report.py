"""Largest relative difference between losscli and its torch reference, per loss.

    python benchmarks/parity_report.py

For every test case of every loss with a torch.nn.functional (or transcribed torchvision)
reference in tests/test_losses.py, over 5 seeds: the value on both backends and the
gradient w.r.t. preds, as max |ours - ref| / max(|ref|, tiny).  Not a test: the tests
assert tolerances; this prints what was actually seen, for the closing note.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import sklearn.metrics as skm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from losscli import losses  # noqa: E402
from losscli.core import evaluate  # noqa: E402
from losscli.params import parse_params  # noqa: E402
from tests.test_losses import TORCH_CASES, TORCH_REFERENCES, t  # noqa: E402


def rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def main() -> None:
    worst: dict[str, list[float]] = {}
    for loss, _, params, factory in TORCH_CASES:
        spec = losses.get(loss)
        p = parse_params(spec, params)
        for seed in range(5):
            inputs = factory(np.random.default_rng(seed))
            x = t(inputs["preds"], grad=True)
            ref = TORCH_REFERENCES[loss](x, inputs, p)
            ref.backward()
            a = evaluate(spec, inputs, p, backend="numpy")
            b = evaluate(spec, inputs, p, backend="torch")
            w = worst.setdefault(loss, [0.0, 0.0, 0.0])
            w[0] = max(w[0], rel(a.value, ref.item()))
            w[1] = max(w[1], rel(b.value, ref.item()))
            w[2] = max(w[2], rel(b.gradients["preds"], x.grad.numpy()))
    from tests.cases import CASES

    others = {
        "log-cosh": lambda d, p: np.mean(np.log(np.cosh(d["preds"] - d["targets"]))),
        "quantile": lambda d, p: skm.mean_pinball_loss(d["targets"], d["preds"], alpha=p["q"]),
        "hinge": lambda d, p: skm.hinge_loss(d["targets"], d["preds"]),
        "squared-hinge": lambda d, p: np.mean(
            np.maximum(
                0, 1 - np.where(np.all(np.isin(d["targets"], (0, 1))), 2 * d["targets"] - 1, d["targets"]) * d["preds"]
            )
            ** 2
        ),
    }
    for loss, ref_fn in others.items():
        spec = losses.get(loss)
        for _, params, factory in CASES[loss]:
            p = parse_params(spec, params)
            for seed in range(5):
                inputs = factory(np.random.default_rng(seed))
                ref = ref_fn(inputs, p)
                w = worst.setdefault(loss, [0.0, 0.0, float("nan")])
                w[0] = max(w[0], rel(evaluate(spec, inputs, p, backend="numpy").value, ref))
                w[1] = max(w[1], rel(evaluate(spec, inputs, p, backend="torch").value, ref))
    print(f"{'loss':<22} {'value numpy':>12} {'value torch':>12} {'gradient':>12}")
    for loss, (vn, vt, g) in worst.items():
        print(f"{loss:<22} {vn:>12.1e} {vt:>12.1e} {g:>12.1e}")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
