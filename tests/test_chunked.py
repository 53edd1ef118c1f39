"""compute evaluates data of more than core.CHUNK_ROWS rows a chunk of rows at a time (issue 12:
the loss's temporaries are one chunk's size).  Every registered case, chunked into rows of 2 and 3,
gives the one-pass value, with and without sample weights; what cannot be chunked is not."""

from __future__ import annotations

import numpy as np
import pytest

from losscli import core, losses
from losscli.params import parse_params
from tests.conftest import FakeTerminal
from tests.test_losses import CASE_LIST, case_id


def _evaluate(case, reduction, chunk_rows, weights=None):
    loss, _, params, factory = case
    spec = losses.get(loss)
    inputs = factory(np.random.default_rng(5))
    old = core.CHUNK_ROWS
    core.CHUNK_ROWS = chunk_rows
    try:
        return core.evaluate(spec, inputs, parse_params(spec, params), reduction=reduction, sample_weights=weights)
    finally:
        core.CHUNK_ROWS = old


def _chunked(case) -> bool:
    loss, _, params, factory = case
    spec = losses.get(loss)
    inputs = factory(np.random.default_rng(5))
    xp = core._namespace("numpy")
    arrays, prm = core._checked(spec, inputs, parse_params(spec, params), None)
    old = core.CHUNK_ROWS
    core.CHUNK_ROWS = 2
    try:
        return core._row_chunks(spec, xp, arrays, prm, "mean") is not None
    finally:
        core.CHUNK_ROWS = old


CHUNKED = [c for c in CASE_LIST if _chunked(c)]


def test_the_common_losses_are_chunked_and_hinge_is_not():
    names = {c[0] for c in CHUNKED}
    assert {"mse", "mae", "huber", "quantile", "bce", "cross-entropy", "nll", "focal", "kl-div", "poisson-nll"} <= names
    assert all(losses.get(n).row_local for n in names)
    # hinge reads its two labels off every row, CTC's first axis is time; rules over all rows, two samples
    assert not {"hinge", "ctc", "mmd", "dice", "ssim", "gan-discriminator", "linear-cross-entropy"} & names


@pytest.mark.parametrize("case", CHUNKED, ids=case_id)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("chunk_rows", [2, 3])
def test_chunked_evaluation_is_the_one_pass_value(case, reduction, chunk_rows):
    one = _evaluate(case, reduction, 10**9)
    chunked = _evaluate(case, reduction, chunk_rows)
    assert chunked.value == pytest.approx(one.value, rel=1e-13, abs=1e-15)
    np.testing.assert_allclose(chunked.elements, one.elements, rtol=1e-13, atol=1e-15)
    assert (chunked.n, chunked.scale, chunked.denominator) == pytest.approx((one.n, one.scale, one.denominator))
    spec = losses.get(case[0])
    if spec.rule.sample_weights:
        w = np.random.default_rng(6).uniform(0.1, 2.0, size=one.elements.shape[0])
        a, b = _evaluate(case, reduction, 10**9, w), _evaluate(case, reduction, chunk_rows, w)
        assert b.value == pytest.approx(a.value, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("order", ["C", "F"])
def test_float64_npy_is_memory_mapped_and_reads_the_same(cli, tmp_path, order):
    from losscli.io.readers import load_inputs

    rng = np.random.default_rng(0)
    p = np.asarray(rng.normal(size=(7, 3)), order=order)
    y = np.asarray(rng.normal(size=(7, 3)), order=order)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "y.npy", y)
    loaded = load_inputs(["preds", "targets"], [str(tmp_path / "p.npy"), str(tmp_path / "y.npy")])
    assert isinstance(loaded["preds"], np.memmap) or isinstance(loaded["preds"].base, np.memmap)
    np.testing.assert_array_equal(loaded["preds"], p)
    import json

    r = cli("grad", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["value"] == pytest.approx(float(np.mean((p - y) ** 2)), rel=1e-14)
    np.testing.assert_allclose(out["gradients"]["preds"], 2 * (p - y) / p.size, rtol=1e-14)


def test_progress_is_drawn_on_a_terminal_only_after_a_while(monkeypatch):
    from losscli.render import ChunkProgress

    spec = losses.get("mse")
    inputs = {"preds": np.arange(10.0), "targets": np.zeros(10)}
    monkeypatch.setattr(core, "CHUNK_ROWS", 3)
    calls: list[tuple[int, int]] = []
    core.evaluate(spec, inputs, parse_params(spec, []), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 10), (6, 10), (9, 10), (10, 10)]
    terminal = FakeTerminal()
    bar = ChunkProgress("mse: evaluating", terminal, after=0.0)
    core.evaluate(spec, inputs, parse_params(spec, []), progress=bar)
    bar.close()
    assert "mse: evaluating" in "".join(terminal.parts)
    quick = FakeTerminal()
    bar = ChunkProgress("mse", quick, after=3600.0)  # a command that finishes within the delay shows nothing
    core.evaluate(spec, inputs, parse_params(spec, []), progress=bar)
    bar.close()
    assert "".join(quick.parts) == ""


def test_no_progress_in_a_pipe(cli, tmp_path, monkeypatch):
    np.save(tmp_path / "p.npy", np.arange(10.0))
    np.save(tmp_path / "y.npy", np.zeros(10))
    monkeypatch.setattr(core, "CHUNK_ROWS", 3)
    r = cli("compute", "mse", tmp_path / "p.npy", tmp_path / "y.npy", "-f", "plain")
    assert r.exit_code == 0 and float(r.stdout) == pytest.approx(np.mean(np.arange(10.0) ** 2))
    assert r.stderr == ""


def test_sample_weights_are_checked_once_on_all_rows(monkeypatch):
    """A chunk whose weights are all 0 is no error, and a bad weight is named by its row in the file."""
    from losscli.errors import InputError

    spec = losses.get("mse")
    inputs = {"preds": np.arange(10.0), "targets": np.zeros(10)}
    w = np.array([0.0, 0, 0, 1, 2, 1, 1, 1, 1, 1])
    monkeypatch.setattr(core, "CHUNK_ROWS", 3)
    chunked = core.evaluate(spec, inputs, parse_params(spec, []), sample_weights=w).value
    assert chunked == pytest.approx(np.sum(w * np.arange(10.0) ** 2) / w.sum(), rel=1e-14)
    w[7] = -1.0
    with pytest.raises(InputError, match="data row 8: sample weights must be finite and >= 0, got -1"):
        core.evaluate(spec, inputs, parse_params(spec, []), sample_weights=w)
