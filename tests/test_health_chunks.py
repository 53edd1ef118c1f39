"""Gradient health gathered piece by piece (:class:`losscli.diagnose.HealthAccumulator`) equals
the one-pass verdict, whatever the pieces: chunks of 1, 2, 3, 7 rows, uneven, out of order,
split between accumulators and merged, pickled on the way (as between Dask workers).

References: a one-pass implementation over whole flattened arrays kept here (:func:`one_pass`,
the algorithm diagnose had before it streamed: np.lexsort for the extremes, np.histogram
through :func:`losscli.diagnose.histogram` for the log10 bins), and np.histogram itself for
adversarial histogram values.  Counts, examples, extremes and histograms must be identical;
floats equal within 1e-12 relative.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from losscli import diagnose as D
from losscli import losses
from losscli.core import Evaluation, evaluate
from losscli.diagnose import HealthAccumulator, diagnose, histogram, stable_mean, stable_norm, stable_rms
from losscli.params import parse_params

REL = 1e-14  # 1e-12 is the promise; merging is closer (exact power-of-two rescaling, compensated sums)
TOP = 4


# ----------------------------------------------------------------------------- comparison


def assert_same(expected: Any, got: Any, path: str = "health") -> None:
    """Equal in structure, key order and type; floats within REL (NaN equals NaN), the rest exact."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), f"{path}: keys {list(got)} != {list(expected)}"
        for key in expected:
            assert_same(expected[key], got[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{path}: {got!r} != {expected!r}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert isinstance(got, float), f"{path}: {got!r} is not a float like {expected!r}"
        if math.isnan(expected) or math.isinf(expected):
            assert got == expected or (math.isnan(got) and math.isnan(expected)), f"{path}: {got!r} != {expected!r}"
        else:
            assert abs(got - expected) <= REL * abs(expected), f"{path}: {got!r} != {expected!r}"
    else:
        assert type(got) is type(expected) and got == expected, f"{path}: {got!r} != {expected!r}"


# ----------------------------------------------------------------------------- the one-pass reference


def one_pass(ev: Evaluation, inputs: dict[str, np.ndarray], reference: Evaluation | None, top: int) -> dict:
    """The gradient health over whole flattened arrays (diagnose before it streamed), as a dict."""
    names = list(ev.gradients)
    shapes = [np.shape(ev.gradients[n]) for n in names]
    offsets = np.cumsum([0] + [int(np.prod(s)) for s in shapes])

    def cat(parts: list[np.ndarray], dtype: Any = np.float64) -> np.ndarray:
        return np.concatenate([np.asarray(p, dtype=dtype).ravel() for p in parts]) if parts else np.zeros(0, dtype)

    g = cat([ev.gradients[n] for n in names])
    value = cat([inputs[n] if n in inputs else np.full(shapes[i], np.nan) for i, n in enumerate(names)])

    def where(i: int) -> dict[str, Any]:
        k = int(np.searchsorted(offsets, i, side="right") - 1)
        width = int(np.prod(shapes[k][1:])) if len(shapes[k]) > 1 else 1
        row, col = divmod(i - int(offsets[k]), width)
        out: dict[str, Any] = {"input": names[k], "row": row, "column": col, "grad": float(g[i])}
        if not math.isnan(value[i]):
            out["value"] = float(value[i])
        return out

    finite = np.isfinite(g)
    absg = np.abs(np.where(finite, g, 0.0))
    good = absg[finite]
    with np.errstate(over="ignore", invalid="ignore"):
        ps_all = np.abs(cat([ev.per_sample[n] for n in names])) if ev.per_sample is not None else absg * ev.scale
    overflowed = finite & ~np.isfinite(ps_all)
    bad = ~finite | overflowed
    ps = ps_all[~bad]
    rms = stable_rms(ps)
    status = (
        "nonfinite" if bad.any() else "exploding" if rms > D.EXPLODING else "vanishing" if rms < D.VANISHING else "ok"
    )

    nonfinite = "gradient is NaN or ±inf"
    if overflowed.any():
        nonfinite += " (or finite, but its per-sample value, scale × gradient, overflows float64)"
    dead = (
        "gradient exactly 0: these elements teach the model nothing (a zero residual under "
        "MAE, a met hinge margin, a clamp, an ignored target)"
    )
    masks: list[tuple[str, np.ndarray, str]] = [("nonfinite", bad, nonfinite), ("dead", finite & (g == 0), dead)]
    if ev.spec.teaching.saturation is not None and inputs:
        sat = ev.spec.teaching.saturation(inputs, ev.params, ev.dtype, D.SATURATION_EPS)
        mask = cat([np.broadcast_to(sat[n], s) if n in sat else np.zeros(s, bool) for n, s in zip(names, shapes)], bool)
        saturated = (
            f"input at or within {D.SATURATION_EPS:g} of 0/1 (probabilities) or past "
            "the point where the sigmoid/softmax rounds to 0/1 (logits)"
        )
        masks.append(("saturated", mask, saturated))
    if reference is not None and reference.gradients:
        ref = cat([reference.gradients[n] for n in names])
        underflow = f"gradient is 0 in {ev.dtype} but not in {reference.dtype}: it underflowed"
        masks.append(("underflow", (g == 0) & (ref != 0) & np.isfinite(ref), underflow))
    findings = []
    for kind, mask, message in masks:
        idx = np.flatnonzero(mask)
        if idx.size:
            findings.append(
                {
                    "kind": kind,
                    "count": int(idx.size),
                    "fraction": idx.size / max(g.size, 1),
                    "message": message,
                    "examples": [where(int(i)) for i in idx[:5]],
                }
            )

    k = min(top, g.size)
    key = np.where(finite, absg, np.inf)
    position = np.arange(g.size)
    return {
        "status": status,
        "norm": stable_norm(good),
        "max_abs": float(good.max()) if good.size else 0.0,
        "min_abs": float(good.min()) if good.size else 0.0,
        "mean_abs": stable_mean(good),
        "nonfinite": int(bad.sum()),
        "elements": int(g.size),
        "scale": ev.scale,
        "per_sample_rms": rms,
        "per_sample_max_abs": float(ps.max()) if ps.size else 0.0,
        "fraction_vanishing": float(np.mean(ps < D.VANISHING)) if ps.size else 0.0,
        "findings": findings,
        "first": [where(i) for i in range(k)],
        "largest": [where(int(i)) for i in np.lexsort((position, -key))[:k]],
        "smallest": [where(int(i)) for i in np.lexsort((position, key))[:k]],
        "histogram": histogram(ps, int(np.sum(good == 0)), int(bad.sum())),
        "overflow": int(overflowed.sum()),
    }


def assert_matches_one_pass(health: D.Health, expected: dict) -> None:
    got = dataclasses.asdict(health)
    assert (got.pop("vanishing_threshold"), got.pop("exploding_threshold")) == (D.VANISHING, D.EXPLODING)
    assert_same(expected, got)


# ----------------------------------------------------------------------------- evaluations


def run(name: str, params: list[str], inputs: dict[str, np.ndarray], **kw: Any) -> Evaluation:
    spec = losses.get(name)
    return evaluate(spec, inputs, parse_params(spec, params), backend="torch", **kw)


def _mse() -> tuple:
    rng = np.random.default_rng(1)
    t = rng.normal(size=(7, 3))
    inputs = {"preds": t + rng.normal(size=(7, 3)), "targets": t}
    inputs["preds"][2, 1] = t[2, 1]  # a dead element
    return inputs, run("mse", [], inputs), None


def _ce() -> tuple:
    rng = np.random.default_rng(2)
    t = rng.integers(0, 4, 9).astype(float)
    t[[2, 5]] = -100.0  # ignored rows: dead gradients
    inputs = {"preds": rng.normal(0, 3, size=(9, 4)), "targets": t}
    return inputs, run("ce", ["weight=1,2,3,4"], inputs), None


def _bce_probabilities() -> tuple:
    p = np.array([1e-12, 0.4, 0.7, 1.0 - 1e-9, 0.5, 1e-300, 0.999, 0.2, 0.01, 1.0 - 1e-15, 0.3])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    inputs = {"preds": p, "targets": y}
    return inputs, run("bce", [], inputs), None


def _huber() -> tuple:
    p = np.array([0.0, 3.0, -250.0, 1e6, 0.25, 0.0, -0.5, 7.0, 1e-9, 2.0, -3.0, 0.0, 40.0])
    inputs = {"preds": p, "targets": np.zeros_like(p)}
    return inputs, run("huber", [], inputs), None


def _bce_logits_float32() -> tuple:
    x = np.array([95.0, 100.0, 104.0, 2.0, -3.0, 50.0, 120.0, 0.5, 88.0, 101.0]).reshape(5, 2)
    inputs = {"preds": x, "targets": np.ones((5, 2))}
    ev = run("bce", ["from_logits=true"], inputs, dtype="float32")
    return inputs, ev, run("bce", ["from_logits=true"], inputs)


def _mse_nonfinite() -> tuple:
    p = np.array([np.nan, 1.0, np.inf, 1e308, -1e308, 0.5, -np.inf, 0.0, 2.0, 1e308, 3.0, np.nan, 0.25])
    inputs = {"preds": p, "targets": np.zeros_like(p)}
    return inputs, run("mse", [], inputs), None


def _all_zero() -> tuple:
    t = np.random.default_rng(3).normal(size=(6, 2))
    inputs = {"preds": t.copy(), "targets": t}
    return inputs, run("mse", [], inputs), None


def _lsgan() -> tuple:
    rng = np.random.default_rng(4)
    inputs = {"real": rng.normal(0.8, 0.4, size=6), "fake": rng.normal(0.2, 0.4, size=9)}
    return inputs, run("lsgan-d", [], inputs), None


def _gan_hinge() -> tuple:
    rng = np.random.default_rng(5)
    inputs = {"real": rng.normal(1.0, 2.0, size=7), "fake": rng.normal(-1.0, 2.0, size=5)}
    return inputs, run("gan-hinge-d", [], inputs), None


def _mse_sum_wide() -> tuple:
    rng = np.random.default_rng(6)
    t = rng.normal(size=(5, 11))
    inputs = {"preds": t + rng.normal(size=(5, 11)) * 10.0 ** rng.integers(-30, 30, size=(5, 11)), "targets": t}
    return inputs, run("mse", [], inputs, reduction="sum"), None


def _tiny_after_zeros() -> tuple:
    """Zeros first, then subnormal and tiny gradients (a zero part must not set the scale)."""
    p = np.array([0.0, 0.0, 0.0, 1e-320, 0.0, 3e-321, 2e-300, 0.0, 5e-324])
    inputs = {"preds": p, "targets": np.zeros_like(p)}
    return inputs, run("mse", [], inputs, reduction="sum"), None


CASES: dict[str, Callable[[], tuple]] = {
    "mse": _mse,
    "ce-weighted-ignored": _ce,
    "bce-probabilities-saturated": _bce_probabilities,
    "huber": _huber,
    "bce-logits-float32-underflow": _bce_logits_float32,
    "mse-nan-inf-overflow": _mse_nonfinite,
    "all-zero": _all_zero,
    "lsgan-d-per-sample": _lsgan,
    "gan-hinge-d-per-sample": _gan_hinge,
    "mse-sum-60-decades": _mse_sum_wide,
    "tiny-after-zeros": _tiny_after_zeros,
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return CASES[request.param]()


def test_the_cases_cover_every_finding_and_status():
    """The cases are not all alike: each finding kind, per-sample gradients and overflow appear."""
    seen, statuses, overflow, per_sample = set(), set(), 0, 0
    for make in CASES.values():
        inputs, ev, ref = make()
        h = diagnose(ev, inputs, reference=ref)
        seen |= {f["kind"] for f in h.findings}
        statuses.add(h.status)
        overflow += h.overflow
        per_sample += ev.per_sample is not None
        assert len(h.histogram["edges"]) in (0, len(h.histogram["counts"]) + 1)
    assert seen == {"nonfinite", "dead", "saturated", "underflow"}
    assert {"ok", "nonfinite", "vanishing", "exploding"} <= statuses
    assert overflow > 0 and per_sample == 2
    inputs, ev, _ = _mse_sum_wide()
    assert diagnose(ev, inputs).histogram["edges"][1] - diagnose(ev, inputs).histogram["edges"][0] > 1


# ----------------------------------------------------------------------------- feeding


Ranges = list[tuple[str, int, int]]


def fixed(ev: Evaluation, size: int) -> Ranges:
    return [
        (name, start, min(start + size, g.shape[0]))
        for name, g in ev.gradients.items()
        for start in range(0, g.shape[0], size)
    ]


def uneven(ev: Evaluation, seed: int) -> Ranges:
    rng = np.random.default_rng(seed)
    out: Ranges = []
    for name, g in ev.gradients.items():
        cuts = sorted({0, g.shape[0], *rng.integers(0, g.shape[0] + 1, size=3).tolist()})
        out += [(name, a, b) for a, b in zip(cuts, cuts[1:])]
    return out


def accumulator(ev: Evaluation, reference: Evaluation | None = None, top: int = TOP) -> HealthAccumulator:
    return HealthAccumulator(
        {name: g.shape for name, g in ev.gradients.items()},
        ev.scale,
        top=top,
        dtype=ev.dtype,
        reference_dtype=reference.dtype if reference is not None else None,
    )


def feed(acc: HealthAccumulator, ev: Evaluation, inputs, reference: Evaluation | None, ranges: Ranges) -> None:
    """Rows as a streaming evaluation gives them: the gradient and its companions, sliced."""
    sat = {}
    if ev.spec.teaching.saturation is not None:
        sat = ev.spec.teaching.saturation(inputs, ev.params, ev.dtype, D.SATURATION_EPS)
    for name, a, b in ranges:
        g = ev.gradients[name]
        acc.add(
            name,
            a,
            g[a:b],
            np.asarray(inputs[name])[a:b] if name in inputs else None,
            per_sample=ev.per_sample[name][a:b] if ev.per_sample is not None else None,
            saturated=np.broadcast_to(sat[name], g.shape)[a:b] if name in sat else None,
            reference=reference.gradients[name][a:b] if reference is not None else None,
        )


def chunked(case, ranges: Ranges, top: int = TOP) -> D.Health:
    inputs, ev, ref = case
    acc = accumulator(ev, ref, top)
    feed(acc, ev, inputs, ref, ranges)
    return acc.result()


def split_and_merged(case, ranges: Ranges, pickled: bool, top: int = TOP) -> D.Health:
    """Ranges dealt alternately to two accumulators (each sees interleaved pieces), then merged."""
    inputs, ev, ref = case
    parts = [accumulator(ev, ref, top), accumulator(ev, ref, top)]
    for i, piece in enumerate(ranges):
        feed(parts[i % 2], ev, inputs, ref, [piece])
        if pickled:
            parts[i % 2] = pickle.loads(pickle.dumps(parts[i % 2]))
    if pickled:
        parts = [pickle.loads(pickle.dumps(p)) for p in parts]
    return parts[1].merge(parts[0]).result()


def tree(case, ranges: Ranges, seed: int, top: int = TOP) -> D.Health:
    """One accumulator per piece, merged pairwise in a random order, as a Dask tree reduction."""
    inputs, ev, ref = case
    rng = np.random.default_rng(seed)
    pending = []
    for piece in ranges:
        acc = accumulator(ev, ref, top)
        feed(acc, ev, inputs, ref, [piece])
        pending.append(pickle.loads(pickle.dumps(acc)))
    while len(pending) > 1:
        i, j = rng.choice(len(pending), size=2, replace=False)
        merged = pending[i].merge(pending[j])
        pending = [p for n, p in enumerate(pending) if n not in (i, j)] + [merged]
    return pending[0].result()


def whole(case, top: int = TOP) -> dict:
    inputs, ev, ref = case
    return dataclasses.asdict(diagnose(ev, inputs, reference=ref, top=top))


# ----------------------------------------------------------------------------- the tests


def test_diagnose_equals_the_one_pass_reference(case, monkeypatch):
    """diagnose (one chunk, and chunks of a single row) equals the whole-array computation."""
    inputs, ev, ref = case
    expected = one_pass(ev, inputs, ref, TOP)
    assert_matches_one_pass(diagnose(ev, inputs, reference=ref, top=TOP), expected)
    monkeypatch.setattr(D, "CHUNK_ELEMENTS", 1)
    assert_matches_one_pass(diagnose(ev, inputs, reference=ref, top=TOP), expected)


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_fixed_chunks(case, size):
    assert_same(whole(case), dataclasses.asdict(chunked(case, fixed(case[1], size))))


@pytest.mark.parametrize("seed", range(4))
def test_uneven_and_out_of_order_chunks(case, seed):
    ranges = uneven(case[1], seed)
    assert_same(whole(case), dataclasses.asdict(chunked(case, ranges)))
    np.random.default_rng(seed).shuffle(ranges)
    assert_same(whole(case), dataclasses.asdict(chunked(case, ranges)))
    assert_same(whole(case), dataclasses.asdict(chunked(case, ranges[::-1])))


@pytest.mark.parametrize("pickled", [False, True])
@pytest.mark.parametrize("size", [1, 3])
def test_two_accumulators_merged(case, size, pickled):
    ranges = fixed(case[1], size)
    assert_same(whole(case), dataclasses.asdict(split_and_merged(case, ranges, pickled)))
    assert_same(whole(case), dataclasses.asdict(split_and_merged(case, ranges[::-1], pickled)))


@pytest.mark.parametrize("seed", range(3))
def test_a_random_merge_tree_of_single_rows(case, seed):
    assert_same(whole(case), dataclasses.asdict(tree(case, fixed(case[1], 1), seed)))


def test_more_examples_asked_than_elements(case):
    """top beyond the element count: every element is listed, in the same order."""
    assert_same(whole(case, top=500), dataclasses.asdict(chunked(case, fixed(case[1], 2), top=500)))
    assert_same(whole(case, top=0), dataclasses.asdict(tree(case, fixed(case[1], 2), 0, top=0)))


def test_merge_leaves_its_operands_alone(case):
    inputs, ev, ref = case
    a, b = accumulator(ev, ref), accumulator(ev, ref)
    ranges = fixed(ev, 2)
    feed(a, ev, inputs, ref, ranges[::2])
    feed(b, ev, inputs, ref, ranges[1::2])
    before = pickle.dumps((a, b))
    merged = a.merge(b)
    assert pickle.dumps((a, b)) == before
    assert_same(whole(case), dataclasses.asdict(merged.result()))
    assert_same(whole(case), dataclasses.asdict(merged.result()))  # result() is repeatable


def test_no_gradients_at_all():
    inputs, ev, _ = _mse()
    empty = dataclasses.replace(ev, gradients={})
    h = diagnose(empty, inputs)
    assert_matches_one_pass(h, one_pass(empty, inputs, None, TOP))
    assert_same(dataclasses.asdict(h), dataclasses.asdict(HealthAccumulator({}, ev.scale).result()))
    assert h.elements == 0 and h.status == "vanishing" and h.histogram["edges"] == []


# ----------------------------------------------------------------------------- a broken merge is caught


@pytest.mark.parametrize(
    "break_it",
    [
        "no rescaling of partial sums",
        "examples not re-sorted",
        "extremes ranked by value only",
        "other's histogram dropped",
        "other's counts dropped",
    ],
)
def test_a_broken_merge_is_caught(monkeypatch, break_it):
    """The comparisons above fail when merging is subtly wrong (each way checked by a case)."""
    cases = [(case, whole(case)) for case in (make() for make in CASES.values())]  # before breaking
    if break_it == "no rescaling of partial sums":

        def merge(self, other):  # sums added as they are, each still relative to its own scale
            if not (self.count and other.count):
                return self if self.count else other
            out = D._Magnitudes(self.count + other.count, max(self.top, other.top), min(self.low, other.low))
            out.exponent = max(self.exponent, other.exponent)
            out.squares = (self.squares[0] + other.squares[0], 0.0)
            out.total = (self.total[0] + other.total[0], 0.0)
            return out

        monkeypatch.setattr(D._Magnitudes, "merge", merge)
    elif break_it == "examples not re-sorted":
        monkeypatch.setattr(D, "_by_position", lambda elements, k: elements[:k])
    elif break_it == "extremes ranked by value only":
        monkeypatch.setattr(D, "_by_rank", lambda ranked, k: sorted(ranked, key=lambda e: e[0])[:k])
    else:
        original = HealthAccumulator.merge

        def merge(self, other):
            out = original(self, other)
            if break_it == "other's histogram dropped":
                out.decades, out.powers = self.decades.copy(), self.powers.copy()
            else:
                out.counts = dict(self.counts)
            return out

        monkeypatch.setattr(HealthAccumulator, "merge", merge)
    caught = 0
    for case, expected in cases:
        try:
            assert_same(expected, dataclasses.asdict(split_and_merged(case, fixed(case[1], 1)[::-1], False)))
            assert_same(expected, dataclasses.asdict(tree(case, fixed(case[1], 1), 0)))
        except AssertionError:
            caught += 1
    assert caught > 0


# ----------------------------------------------------------------------------- the histogram


def histogram_of(values: np.ndarray, pieces: int, seed: int) -> dict:
    """The accumulator's histogram of ``values`` (taken as per-sample magnitudes, scale 1), fed
    in ``pieces`` random pieces to separate accumulators merged in a random order."""
    rng = np.random.default_rng(seed)
    cuts = sorted({0, values.size, *rng.integers(0, values.size + 1, size=pieces - 1).tolist()})
    parts = []
    for a, b in zip(cuts, cuts[1:]):
        acc = HealthAccumulator({"x": values.shape}, 1.0)
        acc.add("x", a, values[a:b])
        parts.append(acc)
    rng.shuffle(parts)
    total = parts[0]
    for p in parts[1:]:
        total = p.merge(total) if rng.random() < 0.5 else total.merge(p)
    return total.result().histogram


ADVERSARIAL = {
    "one value": [3.7],
    "one power of ten": [1.0],
    "powers of ten only": [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0],
    "a power of ten at the top": [0.5, 2.0, 100.0],
    "a power of ten at the bottom": [0.01, 0.5, 2.0],
    "one decade, two values": [2.0, 9.0],
    "just below a power of ten": [np.nextafter(1000.0, 0.0), 5.0],
    "just above a power of ten": [np.nextafter(1000.0, np.inf), 5.0],
    "25 decades, step 2, ends past the max": [1.0, 1e25 * 1.5],
    "24 decades exactly": [1.0, 1e24],
    "25 decades exactly": [1.0, 1e25],
    "48 decades, a power at the last edge": [1e-24, 3.0, 1e24],
    "49 decades of powers": [10.0**e for e in range(-24, 25)],
    "subnormals to the top of float64": [5e-324, 1e-310, 2.2e-308, 1.0, 1e300, 1.7976931348623157e308],
    "the smallest subnormal alone": [5e-324],
    "with zeros, NaN and inf": [0.0, 0.0, np.nan, np.inf, 2.0, 1e-5, -np.inf, 3e8],
    "nothing positive": [0.0, np.nan, 0.0],
    "negative values count by magnitude": [-1e-7, 1e-7, -1e12, 5.0],
}


@pytest.mark.parametrize("values", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_histogram_adversarial_values(values):
    values = np.array(values, dtype=np.float64)
    magnitude = np.abs(values)
    finite = np.isfinite(values)
    expected = histogram(magnitude[finite], zeros=int(np.sum(values == 0)), nonfinite=int(np.sum(~finite)))
    for pieces, seed in [(1, 0), (2, 1), (5, 2), (values.size, 3)]:
        assert histogram_of(values, pieces, seed) == expected


def test_histogram_equals_numpy_on_random_magnitudes():
    """Random values spread over random decade ranges (1 to 600 decades), exact powers mixed in."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        lo = int(rng.integers(-320, 300))
        span = int(rng.integers(0, min(600, 307 - lo)))
        values = 10.0 ** rng.uniform(lo, lo + span + 1e-9, size=int(rng.integers(1, 60)))
        values[rng.random(values.size) < 0.2] = 10.0 ** rng.integers(lo, lo + span + 1, size=1)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size == 0:
            continue
        logs = np.log10(values)
        lo_edge, hi_edge = math.floor(logs.min()), max(math.ceil(logs.max()), math.floor(logs.min()) + 1)
        step = max(1, math.ceil((hi_edge - lo_edge) / 24))
        edges = np.arange(lo_edge, hi_edge + step, step, dtype=np.float64)
        want = {"edges": edges.tolist(), "counts": np.histogram(logs, bins=edges)[0].tolist()}
        got = histogram_of(values, int(rng.integers(1, 6)), trial)
        assert {"edges": got["edges"], "counts": got["counts"]} == want, (lo, span, values)


# ----------------------------------------------------------------------------- misuse is refused


def test_missing_and_overlapping_rows_are_refused():
    inputs, ev, _ = _mse()
    acc = accumulator(ev)
    feed(acc, ev, inputs, None, [("preds", 0, 3), ("preds", 4, 7)])
    with pytest.raises(ValueError, match="never added"):
        acc.result()
    feed(acc, ev, inputs, None, [("preds", 2, 4)])
    with pytest.raises(ValueError, match="twice"):
        acc.result()
    with pytest.raises(ValueError, match="outside"):
        acc.add("preds", 6, ev.gradients["preds"][:3])
    with pytest.raises(ValueError, match="no gradient named"):
        acc.add("targets", 0, ev.gradients["preds"][:1])
    with pytest.raises(ValueError, match="shape"):
        acc.add("preds", 0, ev.gradients["preds"][:2, :2])
    with pytest.raises(ValueError, match="reference_dtype"):
        acc.add("preds", 0, ev.gradients["preds"][:1], reference=ev.gradients["preds"][:1])


def test_accumulators_of_different_data_do_not_merge():
    _, ev, _ = _mse()
    base = accumulator(ev)
    with pytest.raises(ValueError, match="cannot merge"):
        base.merge(HealthAccumulator({"preds": (8, 3)}, ev.scale, top=TOP))
    with pytest.raises(ValueError, match="cannot merge"):
        base.merge(HealthAccumulator({"preds": (7, 3)}, ev.scale * 2, top=TOP))
    with pytest.raises(ValueError, match="cannot merge"):
        base.merge(HealthAccumulator({"preds": (7, 3)}, ev.scale, top=TOP + 1))


def test_a_0d_gradient_is_one_row():
    acc = HealthAccumulator({"w": (), "x": (3,)}, 1.0)
    acc.add("x", 0, np.array([0.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    acc.add("w", 0, np.array(-5.0), np.array(0.5))
    h = acc.result()
    assert h.elements == 4 and h.largest[0] == {"input": "w", "row": 0, "column": 0, "grad": -5.0, "value": 0.5}
    assert h.findings[0]["examples"] == [{"input": "x", "row": 0, "column": 0, "grad": 0.0, "value": 1.0}]


def test_many_merges_do_not_lose_small_parts():
    """One large value, then 3000 pieces each too small to change a plain running sum of squares
    (each (x/2ᵉ)² is below half a unit in the last place of the sum): carried rounding errors
    keep them.  Reference: math.fsum of the squares (correctly rounded)."""
    x = np.array([1.0] + [5e-9] * 3000)
    acc = HealthAccumulator({"x": x.shape}, 1.0)
    for i in range(x.size):
        acc.add("x", i, x[i : i + 1])
    h = acc.result()
    exact = math.sqrt(math.fsum(float(v) ** 2 for v in x))
    assert h.norm == pytest.approx(exact, rel=1e-15, abs=0) and stable_norm(x) == pytest.approx(exact, rel=1e-15, abs=0)
    assert h.per_sample_rms == pytest.approx(exact / math.sqrt(x.size), rel=1e-15, abs=0)
    assert h.mean_abs == pytest.approx(math.fsum(x) / x.size, rel=1e-15, abs=0)
