"""Build the bundled example networks (torch.export programs) and their data.

    python scripts/build_example_models.py [OUTDIR]      # default: losscli/data/models

Each model is a small torch.nn.Module with a fixed seed, exported with a dynamic batch size and
saved with torch.export.save; its data are small CSV files beside it.  The tests build the same
modules (``tests/test_model.py`` imports ``MODELS`` from here) and compare losscli with eager torch.

* ``recommender``: a tiny Transformer-encoder scorer of (user, item) vectors, trained with BPR:
  ``losscli grad bpr --model recommender.pt2 --feed pos=users.csv,liked.csv --feed neg=users.csv,unliked.csv``
* ``sigmoid_mlp``: 8 sigmoid layers; the early layers' gradients vanish (mse).
* ``exploding_mlp``: 8 ReLU layers initialised with 4x He's scale; the gradients explode (mse).
* ``dead_relu``: a ReLU layer whose biases push 12 of its 16 units below zero for every input (bce).
* ``nan_layer``: a "normalisation" that divides by sqrt(mean) instead of sqrt(var): NaN (mse).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

N = 64  # rows of example data
D = 8  # features


class MLP(nn.Module):
    """``depth`` Linear layers ``layer0..`` with ``act`` between them and a 1-unit ``head``; output (N,)."""

    def __init__(self, depth: int, width: int, act: Callable[[], nn.Module], init_gain: float | None = None) -> None:
        super().__init__()
        dims = [D] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.acts = nn.ModuleList(act() for _ in range(depth))
        self.head = nn.Linear(width, 1)
        if init_gain is not None:
            for layer in self.layers:
                nn.init.normal_(layer.weight, std=init_gain * (2.0 / layer.in_features) ** 0.5)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, act in zip(self.layers, self.acts):
            x = act(layer(x))
        return self.head(x).squeeze(-1)


class DeadReLU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(D, 16)
        self.relu = nn.ReLU()
        self.head = nn.Linear(16, 1)
        with torch.no_grad():
            self.hidden.bias[4:] = -20.0  # units 4..15 never fire on standard-normal inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.hidden(x))).squeeze(-1)


class BadNorm(nn.Module):
    """Divides by sqrt(mean(x)) where sqrt(var(x)) was meant: NaN when the mean is negative."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(x.mean(dim=-1, keepdim=True))


class NaNLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(D, 16)
        self.norm = BadNorm()
        self.head = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.hidden(x))).squeeze(-1)


class Scorer(nn.Module):
    """score(user, item): a 2-token sequence [user, item] through a Transformer encoder, mean-pooled."""

    def __init__(self, dim: int = D, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        block = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Linear(dim, 1)

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        tokens = torch.stack([user, item], dim=1)
        return self.out(self.encoder(tokens).mean(dim=1)).squeeze(-1)


def _regression(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.normal(size=(N, D))
    return {"features.csv": x, "targets.csv": np.sin(x[:, 0]) + 0.5 * x[:, 1]}


def _binary(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.normal(size=(N, D))
    return {"features.csv": x, "labels.csv": (x[:, 0] + x[:, 1] > 0).astype(float)}


def _recsys(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "users.csv": rng.normal(size=(N, D)),
        "liked.csv": rng.normal(size=(N, D)),
        "unliked.csv": rng.normal(size=(N, D)),
    }


# name -> (module factory, example inputs factory (arity), data factory, loss, command files)
MODELS: dict[str, tuple[Callable[[], nn.Module], int, Callable[[np.random.Generator], dict[str, np.ndarray]], str]] = {
    "recommender": (lambda: Scorer(), 2, _recsys, "bpr"),
    "sigmoid_mlp": (lambda: MLP(8, 16, nn.Sigmoid), 1, _regression, "mse"),
    "exploding_mlp": (lambda: MLP(8, 32, nn.ReLU, init_gain=4.0), 1, _regression, "mse"),
    "dead_relu": (lambda: DeadReLU(), 1, _binary, "bce"),
    "nan_layer": (lambda: NaNLayer(), 1, _regression, "mse"),
}


def build(name: str, seed: int = 0) -> nn.Module:
    """The module ``name``, its weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return MODELS[name][0]()


def export(module: nn.Module, arity: int, path: Path) -> None:
    """Save ``module`` as a torch.export program with a dynamic batch size."""
    batch = torch.export.Dim("batch", min=1)
    args = tuple(torch.randn(4, D) for _ in range(arity))
    shapes = tuple({0: batch} for _ in range(arity))
    torch.export.save(torch.export.export(module, args, dynamic_shapes=shapes), str(path))


def write_csv(path: Path, values: np.ndarray) -> None:
    values = np.asarray(values)
    if values.ndim == 1:
        np.savetxt(path, values, fmt="%.6f", header="value", comments="")
    else:
        header = ",".join(f"f{i}" for i in range(values.shape[1]))
        np.savetxt(path, values, fmt="%.6f", delimiter=",", header=header, comments="")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (_, arity, data, _loss) in MODELS.items():
        module = build(name)
        export(module, arity, out / f"{name}.pt2")
        for file, values in data(np.random.default_rng(0)).items():
            write_csv(out / file, values)
        print(f"wrote {out / name}.pt2")


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "losscli" / "data" / "models"
    )
