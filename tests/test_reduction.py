"""Reduction rules are mergeable states: chunk by chunk, merged, equals one pass (issue 9).

Every registered loss whose rule says ``chunkable`` is evaluated on its test cases split into
row chunks of awkward sizes (1, 2, then the rest), the chunk states merged, and the merged
value compared with the one-pass value of ``core.evaluate``, for mean and sum, with and
without sample weights.  A loss whose rule needs all rows at once says so instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from losscli import losses
from losscli.core import evaluate, finish, partial_state
from losscli.errors import UsageError
from losscli.params import parse_params
from losscli.reduction import MEAN, PENALTY, POOLED, TWO_MEANS, State, root
from tests.test_losses import CASE_LIST, case_id


def _row_aligned(inputs: dict[str, np.ndarray]) -> bool:
    """Every input has the same number of rows (more than 3), so rows can be cut into chunks."""
    rows = {a.shape[0] for a in inputs.values() if a.ndim}
    return len(rows) == 1 and rows.pop() > 3 and all(a.ndim for a in inputs.values())


def _chunks(inputs: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Row chunks of sizes 1, 2 and the rest, every input cut alike (GAN real and fake samples,
    which need not have the same rows, are each cut on their own the same way)."""
    return [{name: a[lo:hi] for name, a in inputs.items()} for lo, hi in ((0, 1), (1, 3), (3, None))]


# Cases whose parameters are read off all the data at once, so a chunk of rows reads them on its
# own: hinge with labels other than ±1 / {0, 1} maps the greater of the two labels to +1, and a
# chunk holding one label cannot know which (streaming them needs the labels first: issue 12).
READ_OFF_ALL_ROWS = {("hinge", "labels_2_5"), ("hinge", "labels_minus1_0")}


def _one_element_per_row(spec, inputs: dict[str, np.ndarray], params: list[str]) -> bool:
    """The unreduced loss has one element (or row of elements) per input row: not an unbatched
    sample (a 1-D input read as one vector, one distribution, one box)."""
    rows = next(a.shape[0] for a in inputs.values() if a.ndim)
    elements = evaluate(spec, inputs, parse_params(spec, params), reduction="none").elements
    return elements.ndim >= 1 and elements.shape[0] == rows


def _chunkable_cases():
    out = []
    for case in CASE_LIST:
        spec = losses.get(case[0])
        inputs = case[3](np.random.default_rng(5))
        two_sample = spec.rule.kind == "groups"
        if (case[0], case[1]) in READ_OFF_ALL_ROWS or not spec.rule.chunkable:
            continue
        if two_sample or (_row_aligned(inputs) and _one_element_per_row(spec, inputs, case[2])):
            out.append(case)
    return out


CHUNKABLE = _chunkable_cases()


def test_the_chunked_cases_cover_every_family_that_can_stream():
    names = {c[0] for c in CHUNKABLE}
    assert {
        "mse",
        "rmse",
        "mae",
        "huber",
        "bce",
        "cross-entropy",
        "focal",
        "kl-div",
        "gan-discriminator",
        "wasserstein-critic",
        "bpr",
        "triplet",
        "contrastive",
        "l2",
        "reconstruction",
    } <= names


@pytest.mark.parametrize("case", CHUNKABLE, ids=case_id)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample-weights"])
def test_chunked_states_merge_to_the_one_pass_value(case, reduction, weighted):
    loss, _, params, factory = case
    spec = losses.get(loss)
    if weighted and not spec.rule.sample_weights:
        with pytest.raises(UsageError, match="sample weights do not apply"):
            partial_state(
                spec, factory(np.random.default_rng(5)), parse_params(spec, params), sample_weights=np.ones(3)
            )
        return
    inputs = factory(np.random.default_rng(5))
    prm = parse_params(spec, params)
    plain = evaluate(spec, inputs, prm, reduction="none")
    rows = plain.elements.shape[0]
    weights = np.random.default_rng(6).uniform(0.1, 2.0, size=rows) if weighted else None
    one_pass = evaluate(spec, inputs, prm, reduction=reduction, sample_weights=weights).value
    chunks = _chunks(inputs)
    state: State | None = None
    start = 0
    for chunk in chunks:
        n = evaluate(spec, chunk, prm, reduction="none").elements.shape[0]
        w = None if weights is None else weights[start : start + n]
        start += n
        piece = partial_state(spec, chunk, prm, sample_weights=w)
        state = piece if state is None else state.merge(piece)
    assert start == rows
    assert finish(spec, state, reduction, weighted=weighted) == pytest.approx(one_pass, rel=1e-13, abs=1e-15)


def test_rules_that_need_all_rows_refuse_to_be_chunked():
    for name in ("mmd", "dice", "ssim"):
        spec = losses.get(name)
        assert not spec.rule.chunkable
        with pytest.raises(UsageError, match="needs all rows at once"):
            partial_state(spec, {}, {})


def test_state_arithmetic_by_hand():
    xp = np
    from losscli.spec import Terms

    a = MEAN.state(xp, Terms(np.array([1.0, 2.0])))
    b = MEAN.state(xp, Terms(np.array([6.0])))
    assert MEAN.finish(xp, a.merge(b), "mean") == 3.0 and MEAN.finish(xp, a.merge(b), "sum") == 9.0
    assert root().finish(xp, a.merge(b), "mean") == pytest.approx(np.sqrt(3.0))
    g = TWO_MEANS.state(xp, Terms(np.array([1.0, 3.0, 10.0]), parts=(("real", 2), ("fake", 1))))
    assert TWO_MEANS.finish(xp, g, "mean") == 2.0 + 10.0 and TWO_MEANS.finish(xp, g, "sum") == 14.0
    p = PENALTY.state(xp, Terms(np.array([1.0, 2.0])))
    assert PENALTY.finish(xp, p, "mean") == 3.0 and PENALTY.per_sample_scale(p, {}, "mean") == 1.0
    assert not POOLED.chunkable and not PENALTY.has_samples
