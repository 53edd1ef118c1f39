"""linear-cross-entropy (the fused LLM-head loss) against torch 2.13's own
``torch.nn.functional.linear_cross_entropy``: value for every reduction, the gradients of the
hidden states and the weight, chunk size independence, that the N x V logits are never saved
for the backward, the bundled example and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.core import evaluate
from losscli.examples import DATA
from losscli.params import parse_params

SPEC = losses.get("linear-cross-entropy")


def head(n: int = 37, dim: int = 5, vocab: int = 11, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, vocab, size=n).astype(np.float64)
    targets[[3, 9]] = -100.0
    return {
        "hidden": rng.normal(size=(n, dim)),
        "linear_weight": rng.normal(scale=0.8, size=(vocab, dim)),
        "targets": targets,
    }


WEIGHT = "0.3,1,2,0.7,1.5,1,0.2,1,1.1,0.9,2.5"
OPTIONS = {
    "plain": [],
    "smoothing": ["label_smoothing=0.2"],
    "weighted": [f"weight={WEIGHT}"],
    "weighted_smoothing": [f"weight={WEIGHT}", "label_smoothing=0.1"],
    "ignore_7": ["ignore_index=7"],
}


def torch_reference(inputs: dict[str, np.ndarray], prm: dict, reduction: str):
    h = torch.tensor(inputs["hidden"], requires_grad=True)
    w = torch.tensor(inputs["linear_weight"], requires_grad=True)
    kw: dict = {
        "reduction": reduction,
        "ignore_index": prm["ignore_index"],
        "label_smoothing": prm["label_smoothing"],
    }
    if prm["weight"] is not None:
        kw["weight"] = torch.tensor(prm["weight"], dtype=torch.float64)
    targets = torch.tensor(inputs["targets"]).long()
    out = F.linear_cross_entropy(h, w, targets, **kw)
    out.sum().backward()
    return out.detach().numpy(), h.grad.numpy(), w.grad.numpy()


@pytest.mark.parametrize("chunk", [1, 4, 4096])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_matches_torch(reduction, option, chunk):
    inputs = head()
    prm = parse_params(SPEC, [*OPTIONS[option], f"chunk_rows={chunk}"])
    ignored = inputs["targets"] == -100
    inputs["targets"][ignored] = prm["ignore_index"]
    assert (inputs["targets"] == prm["ignore_index"]).sum() >= 2
    value, grad_h, grad_w = torch_reference(inputs, prm, reduction)
    for backend in ("numpy", "torch"):
        ev = evaluate(SPEC, inputs, prm, backend=backend, reduction=reduction)
        np.testing.assert_allclose(ev.value, value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["hidden"], grad_h, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(ev.gradients["linear_weight"], grad_w, rtol=1e-11, atol=1e-14)


def test_linear_cross_entropy_float32_matches_torch_float32():
    inputs = head(n=64, dim=16, vocab=300, seed=3)
    prm = parse_params(SPEC, ["chunk_rows=10"])
    h = torch.tensor(inputs["hidden"], dtype=torch.float32)
    w = torch.tensor(inputs["linear_weight"], dtype=torch.float32)
    ref = F.linear_cross_entropy(h, w, torch.tensor(inputs["targets"]).long()).item()
    ev = evaluate(SPEC, inputs, prm, backend="torch", dtype="float32")
    assert ev.value == pytest.approx(ref, rel=1e-6)


def test_linear_cross_entropy_never_saves_the_full_logits():
    """What autograd keeps for the backward is the inputs and one log-sum-exp per row: no
    tensor of N x V (or anything larger than the inputs) is saved."""
    n, dim, vocab = 300, 8, 500
    inputs = head(n=n, dim=dim, vocab=vocab, seed=4)
    prm = parse_params(SPEC, ["chunk_rows=32"])
    saved: list[int] = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        ev = evaluate(SPEC, inputs, prm, backend="torch")
    assert saved, "the hook saw nothing: the test would pass vacuously"
    assert max(saved) <= max(n * dim, vocab * dim) < n * vocab
    value, grad_h, _ = torch_reference(inputs, prm, "mean")
    assert ev.value == pytest.approx(float(value), rel=1e-12)
    np.testing.assert_allclose(ev.gradients["hidden"], grad_h, rtol=1e-11, atol=1e-14)


def test_chunk_rows_does_not_change_the_value():
    inputs = head(n=50, seed=5)
    values = [
        evaluate(SPEC, inputs, parse_params(SPEC, [f"chunk_rows={c}", "label_smoothing=0.05"])).value
        for c in (1, 7, 50, 4096)
    ]
    np.testing.assert_allclose(values, values[0], rtol=1e-14)


def test_bundled_example_matches_torch(cli):
    data = json.loads((DATA / "linear_ce_batch.json").read_text())
    inputs = {k: np.asarray(v, dtype=np.float64) for k, v in data.items()}
    value, _, _ = torch_reference(inputs, parse_params(SPEC, []), "mean")
    result = cli("compute", "linear-cross-entropy", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["value"] == pytest.approx(float(value), rel=1e-12)
    assert (inputs["targets"] == -100).sum() == 2


def _files(write, hidden, weight, targets):
    return (write("h.csv", _csv(hidden)), write("w.csv", _csv(weight)), write("t.csv", _csv(targets)))


def _csv(a: np.ndarray) -> str:
    rows = a.reshape(-1, 1) if a.ndim == 1 else a
    return "\n".join(",".join(f"{v:.17g}" for v in r) for r in rows) + "\n"


@pytest.mark.parametrize(
    "change, expected",
    [
        ("weight_cols", "w.csv: linear_weight has 4 columns but hidden has 5"),
        ("target_range", "t.csv: data row 2: targets must be a class index in [0, 10] (or ignore_index -100), got 11"),
        ("target_rows", "hidden has 6 rows"),
        ("all_ignored", "t.csv: every target equals ignore_index or has class weight 0"),
    ],
)
def test_linear_cross_entropy_bad_inputs(cli, write, change, expected):
    rng = np.random.default_rng(0)
    hidden, weight = rng.normal(size=(6, 5)), rng.normal(size=(11, 5))
    targets = np.array([1.0, 2, 3, 4, 5, 6])
    if change == "weight_cols":
        weight = weight[:, :4]
    elif change == "target_range":
        targets[1] = 11
    elif change == "target_rows":
        targets = targets[:5]
    elif change == "all_ignored":
        targets[:] = -100
    h, w, t = _files(write, hidden, weight, targets)
    result = cli("compute", "linear-cross-entropy", h, w, t)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and expected in line, line


def test_every_target_ignored_sums_to_zero_as_torch(cli, write):
    rng = np.random.default_rng(1)
    h, w, t = _files(write, rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), np.full(4, -100.0))
    for reduction in ("sum", "none"):
        value, _, _ = torch_reference(
            {
                "hidden": rng.normal(size=(4, 3)),
                "linear_weight": rng.normal(size=(5, 3)),
                "targets": np.full(4, -100.0),
            },
            parse_params(SPEC, []),
            reduction,
        )
        r = cli("compute", "linear-cross-entropy", h, w, t, "-r", reduction, "--json")
        assert r.exit_code == 0, r.stderr
        np.testing.assert_array_equal(json.loads(r.stdout)["value"], value)
