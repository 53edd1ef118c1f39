"""Gradient health: is the gradient usable, and on what scale is that judged?

With ``reduction=mean`` every per-element gradient carries a 1/N factor (1/Σw for a
weighted mean), so raw magnitudes shrink as a file grows.  Verdicts are therefore
judged on the *per-sample* gradient gₛ = scale · g (scale = N, Σw, or 1 for sum/none),
summarised by its root mean square

    rms = √( (1/M) Σⱼ gₛⱼ² )      over the M elements of every differentiable input,

which does not change when the same rows are repeated.  Status, first match wins:

* ``nonfinite``  any gradient element is NaN or ±inf, or overflows to ±inf on the per-sample
  scale (scale · g beyond float64, e.g. MSE at a residual of 1e308: 2r/N is finite, 2r is not);
* ``exploding``  rms > ``exploding`` (default 1e4);
* ``vanishing``  rms < ``vanishing`` (default 1e-7);
* ``ok``         otherwise.

Element-level findings come on top of the status (each ``{kind, count, fraction,
examples}``): ``nonfinite``; ``dead`` (gradient exactly 0: MAE at a zero residual, a hinge
beyond its margin, a clamp, an ignored target); ``saturated`` (probabilities within
``saturation_eps`` of 0 or 1, logits whose sigmoid/softmax rounds to 0 or 1); and, for a
float32 run compared with float64, ``underflow`` (zero in float32, not in float64).

All of it is gathered by a :class:`HealthAccumulator`, piece by piece: :func:`diagnose` feeds
it ``CHUNK_ELEMENTS`` at a time, and a streaming or Dask evaluation feeds it each chunk or
partition of rows as it comes and merges the accumulators; either way the result is that
of one pass over the whole gradient.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losscli.core import Evaluation

VANISHING = 1e-7
EXPLODING = 1e4
SATURATION_EPS = 1e-7
FAIL_ON = ("vanishing", "exploding", "nonfinite", "dead", "saturated", "underflow")
EXAMPLES = 5


@dataclass
class Health:
    """Summary figures of all gradients together (raw and per-sample) and the verdict."""

    status: str
    norm: float
    max_abs: float
    min_abs: float
    mean_abs: float
    nonfinite: int
    elements: int
    scale: float
    per_sample_rms: float
    per_sample_max_abs: float
    fraction_vanishing: float
    vanishing_threshold: float
    exploding_threshold: float
    findings: list[dict[str, Any]] = field(default_factory=list)
    first: list[dict[str, Any]] = field(default_factory=list)
    largest: list[dict[str, Any]] = field(default_factory=list)
    smallest: list[dict[str, Any]] = field(default_factory=list)
    histogram: dict[str, Any] = field(default_factory=dict)
    overflow: int = 0  # of the nonfinite: finite gradients whose per-sample value overflows

    def reason(self) -> str:
        """One sentence saying why the status is what it is."""
        if self.status == "nonfinite":
            tail = (
                f" ({self.overflow} of them only per sample: scale × gradient overflows float64)"
                if self.overflow
                else ""
            )
            return f"{self.nonfinite} of {self.elements} gradient elements are NaN or infinite{tail}"
        if self.status == "exploding":
            return f"per-sample gradient RMS {self.per_sample_rms:.3g} > {self.exploding_threshold:g}"
        if self.status == "vanishing":
            return f"per-sample gradient RMS {self.per_sample_rms:.3g} < {self.vanishing_threshold:g}"
        return (
            f"per-sample gradient RMS {self.per_sample_rms:.3g} within "
            f"[{self.vanishing_threshold:g}, {self.exploding_threshold:g}]"
        )

    def kinds(self) -> set[str]:
        """The status (unless ok) and every finding kind present: what --fail-on matches."""
        return ({self.status} - {"ok"}) | {f["kind"] for f in self.findings}

    def failed(self, fail_on: tuple[str, ...] | None) -> bool:
        """``--strict`` verdict: any listed kind present (default: status not ok)."""
        if fail_on is None:
            return self.status != "ok"
        return bool(self.kinds() & set(fail_on))


def _locate(name: str, shape: tuple[int, ...], flat_index: int, grad: float, value: float | None) -> dict[str, Any]:
    """Element ``flat_index`` of an input as {input, row, column, grad, value} (0-based)."""
    width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    row, col = divmod(int(flat_index), width)
    out: dict[str, Any] = {"input": name, "row": row, "column": col, "grad": grad}
    if value is not None:
        out["value"] = value
    return out


def stable_norm(values: np.ndarray) -> float:
    """The L2 norm of finite values without overflow: m·√Σ(x/m)² with m = max|x| (1e200 stays 1e200;
    inf only when the norm itself is beyond float64, as for two values of 1.5e308)."""
    values = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    top = float(values.max())
    if top == 0 or not math.isfinite(top):
        return top
    return top * math.sqrt(float(np.sum(np.square(values / top))))


def stable_rms(values: np.ndarray) -> float:
    """√(mean x²) of finite values, m·√mean(x/m)²: never overflows (it is at most max|x|)."""
    values = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    top = float(values.max())
    if top == 0 or not math.isfinite(top):
        return top
    return min(top * math.sqrt(float(np.mean(np.square(values / top)))), top)


def stable_mean(values: np.ndarray) -> float:
    """mean |x| of finite values, m·mean(|x|/m): no overflow in the sum (1e308 twice gives 1e308)."""
    values = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        return 0.0
    top = float(values.max())
    if top == 0 or not math.isfinite(top):
        return top
    return min(top * float(np.mean(values / top)), top)


def _extremes(key: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` smallest ``key`` values, in order (ties by position).

    Finds the k-th value with ``np.partition`` and selects around it: linear time even when
    millions of gradients tie (``argpartition`` degrades badly there).
    """
    if k == 0:
        return []
    if k >= key.size:
        return [int(i) for i in np.argsort(key, kind="stable")[:k]]
    at_min = np.flatnonzero(key == key.min())
    if at_min.size >= k:  # saturated gradients: the extreme value itself is shared k times
        return [int(i) for i in at_min[:k]]
    kth = np.partition(key, k - 1)[k - 1]
    below = np.flatnonzero(key < kth)
    ties = np.flatnonzero(key == kth)[: k - below.size]
    chosen = np.concatenate([below, ties])
    return [int(i) for i in chosen[np.argsort(key[chosen], kind="stable")]]


def histogram(per_sample_abs: np.ndarray, zeros: int, nonfinite: int, max_bins: int = 24) -> dict[str, Any]:
    """Counts of log10|g| in whole-decade bins (per-sample scale), plus zero and non-finite counts
    (non-finite values passed in are left out of the bins: ``nonfinite`` counts them)."""
    positive = per_sample_abs[(per_sample_abs > 0) & np.isfinite(per_sample_abs)]
    if positive.size == 0:
        return {"scale": "per-sample", "edges": [], "counts": [], "zeros": zeros, "nonfinite": nonfinite}
    logs = np.log10(positive)
    lo, hi = math.floor(float(logs.min())), math.ceil(float(logs.max()))
    hi = max(hi, lo + 1)
    step = max(1, math.ceil((hi - lo) / max_bins))
    edges = np.arange(lo, hi + step, step, dtype=np.float64)
    counts, _ = np.histogram(logs, bins=edges)
    return {
        "scale": "per-sample",
        "edges": edges.tolist(),
        "counts": counts.astype(int).tolist(),
        "zeros": zeros,
        "nonfinite": nonfinite,
    }


# diagnose() hands the accumulator at most this many gradient elements at a time (one row at
# least), so that what it allocates is a few chunk-sized arrays, never the gradient's size; at
# 16384 (128 KiB a float64 temporary) they stay in a core's L2 cache: on 10M elements this was
# faster than 1 << 16 and 1 << 18 (0.24 s against 0.33 s and 0.38 s; the whole-array version 0.8 s)
CHUNK_ELEMENTS = 1 << 14

# floor(log10 x) of a positive finite float64 lies in [-324, 308]: one counter per decade
_DECADE_LO = -330
_DECADES = 650
_FINDINGS = ("nonfinite", "dead", "saturated", "underflow")

# an element kept as an example: (flat position, gradient, input value or None)
_Element = tuple[int, float, float | None]
# a candidate for largest/smallest: (sort key, flat position, gradient, input value or None)
_Ranked = tuple[float, int, float, float | None]


# the scale exponent of no values, or of zeros only: below any float's (math.frexp gives ≥ -1073),
# so that merging such a part never scales another part's sums down (into underflow)
_NO_EXPONENT = -2000


def _two_sum(a: float, b: float, c: float) -> tuple[float, float]:
    """a + b + c as an unevaluated pair (sum, rounding error): a, b the parts' sums, c their
    errors.  Adding this way, the rounding of the merges does not grow with their number."""
    s = a + b
    v = s - a
    err = (a - (s - v)) + (b - v) + c
    hi = s + err
    return hi, err - (hi - s)


@dataclass
class _Magnitudes:
    """A mergeable summary of non-negative finite values: how many, their max and min, and the
    sums Σ(x/2ᵉ)² and Σ x/2ᵉ, 2ᵉ the power of two just above the max, that the overflow-safe
    norm, RMS and mean are made of (as :func:`stable_norm`, :func:`stable_rms`,
    :func:`stable_mean`, which divide by the max itself).

    Scaling by a power of two is exact, so two parts' sums are brought to the common scale
    without rounding, and they are added with their rounding error carried along (``_two_sum``):
    merged in any order and any number of pieces, the figures agree with one pass over all
    values to a few units in the last place."""

    count: int = 0
    top: float = 0.0
    low: float = math.inf
    exponent: int = _NO_EXPONENT  # the scale 2ᵉ: top = m·2ᵉ with ½ ≤ m < 1 (math.frexp); none when top is 0
    squares: tuple[float, float] = (0.0, 0.0)  # Σ (x/2ᵉ)² as (sum, error)
    total: tuple[float, float] = (0.0, 0.0)  # Σ x/2ᵉ as (sum, error)

    @classmethod
    def of(cls, values: np.ndarray) -> _Magnitudes:
        if values.size == 0:
            return cls()
        out = cls(int(values.size), float(values.max()), float(values.min()))
        if out.top > 0:
            out.exponent = math.frexp(out.top)[1]
            ratio = np.ldexp(values, -out.exponent)  # exact, but where a tiny value underflows
            out.total = (float(np.sum(ratio)), 0.0)
            out.squares = (float(np.sum(np.square(ratio, out=ratio))), 0.0)
        return out

    def merge(self, other: _Magnitudes) -> _Magnitudes:
        """Both parts together: each part's sums brought to the common scale, then added."""
        if other.count == 0:
            return replace(self)
        if self.count == 0:
            return replace(other)
        out = _Magnitudes(self.count + other.count, max(self.top, other.top), min(self.low, other.low))
        if out.top > 0:
            out.exponent = max(self.exponent, other.exponent)
            a, b = (self.exponent - out.exponent, other.exponent - out.exponent)  # ≤ 0: shifts down
            out.squares = _two_sum(
                math.ldexp(self.squares[0], 2 * a),
                math.ldexp(other.squares[0], 2 * b),
                math.ldexp(self.squares[1], 2 * a) + math.ldexp(other.squares[1], 2 * b),
            )
            out.total = _two_sum(
                math.ldexp(self.total[0], a),
                math.ldexp(other.total[0], b),
                math.ldexp(self.total[1], a) + math.ldexp(other.total[1], b),
            )
        return out

    def _scaled(self, x: float) -> float:
        """x · 2ᵉ; inf beyond float64 (as the norm of two values of 1.5e308)."""
        try:
            return math.ldexp(x, self.exponent)
        except OverflowError:
            return math.inf

    def max(self) -> float:
        return self.top if self.count else 0.0

    def min(self) -> float:
        return self.low if self.count else 0.0

    def norm(self) -> float:
        return self._scaled(math.sqrt(sum(self.squares))) if self.top > 0 else self.max()

    def rms(self) -> float:
        return min(self._scaled(math.sqrt(sum(self.squares) / self.count)), self.top) if self.top > 0 else self.max()

    def mean(self) -> float:
        return min(self._scaled(sum(self.total) / self.count), self.top) if self.top > 0 else self.max()


def _by_position(elements: list[_Element], k: int) -> list[_Element]:
    return sorted(elements, key=lambda e: e[0])[:k]


def _by_rank(ranked: list[_Ranked], k: int) -> list[_Ranked]:
    return sorted(ranked, key=lambda e: (e[0], e[1]))[:k]


class HealthAccumulator:
    """:func:`diagnose`'s figures gathered piece by piece, so that a gradient is never held whole.

    ``shapes`` are the full shapes of the differentiable inputs' gradients, in the order they are
    flattened into one index space (the order of ``ev.gradients``); ``scale`` is the per-sample
    factor (``ev.scale``); ``dtype`` / ``reference_dtype`` name the evaluation's precision and
    the float64 reference's in the underflow finding.  Feed it row ranges with :meth:`add` (in
    any order, never overlapping), combine accumulators that saw disjoint pieces with
    :meth:`merge` (the state is plain numbers, lists and small numpy arrays: it pickles, e.g.
    between Dask workers), and read the :class:`Health` with :meth:`result`: the same as one
    pass over everything.  Counts, examples, extremes (ties by flat position) and the histogram
    (per-decade counts, see :meth:`_histogram`) are exact whatever the pieces; norm, RMS and
    mean come from sums scaled by a power of two (exact to rescale) and added with their
    rounding carried (:class:`_Magnitudes`): equal to a few units in the last place.

    A finding appears when it has elements, so one not applicable stays absent: pass no
    ``saturated`` pieces for a loss without a saturation check, no ``reference`` pieces
    without a float64 reference.
    """

    def __init__(
        self,
        shapes: Mapping[str, tuple[int, ...]],
        scale: float,
        *,
        vanishing: float = VANISHING,
        exploding: float = EXPLODING,
        top: int = EXAMPLES,
        dtype: str = "float64",
        reference_dtype: str | None = None,
        saturation_eps: float = SATURATION_EPS,
    ) -> None:
        self.names = list(shapes)
        self.shapes = [tuple(int(d) for d in shapes[n]) for n in self.names]
        sizes = [math.prod(s) for s in self.shapes]
        self.offsets = [0, *itertools.accumulate(sizes)]
        self.elements = self.offsets[-1]
        self.scale = scale
        self.vanishing = vanishing
        self.exploding = exploding
        self.top = top
        self.dtype = dtype
        self.reference_dtype = reference_dtype
        self.saturation_eps = saturation_eps
        self.seen: dict[str, list[tuple[int, int]]] = {n: [] for n in self.names}  # row ranges added
        self.nonfinite = 0  # NaN/±inf gradients, and finite ones whose per-sample value overflows
        self.overflow = 0  # of those, the finite ones
        self.vanishing_count = 0  # per-sample values (of the elements not non-finite) < vanishing
        self.counts = dict.fromkeys(_FINDINGS, 0)
        self.examples: dict[str, list[_Element]] = {kind: [] for kind in _FINDINGS}
        self.raw = _Magnitudes()  # |g| of the finite gradients
        self.per_sample = _Magnitudes()  # per-sample |g| of the elements not counted non-finite
        self.decades = np.zeros(_DECADES, np.int64)  # per-sample values > 0 by ⌊log10⌋
        self.powers = np.zeros(_DECADES, np.int64)  # of those, the ones whose log10 is a whole number
        self.first: list[_Element] = []
        self.largest: list[_Ranked] = []  # key -|g| (-inf when non-finite)
        self.smallest: list[_Ranked] = []  # key |g| (inf when non-finite)

    # ------------------------------------------------------------------------------- feeding

    def add(
        self,
        name: str,
        start_row: int,
        grad: np.ndarray,
        value: np.ndarray | None = None,
        *,
        per_sample: np.ndarray | None = None,
        saturated: np.ndarray | None = None,
        reference: np.ndarray | None = None,
    ) -> None:
        """Rows ``[start_row, start_row + len(grad))`` of input ``name``'s gradient.

        ``value``: the input's values there (examples show them); ``per_sample``: the
        per-sample gradient there when the evaluation has one (``ev.per_sample``; otherwise
        ``|grad| · scale``); ``saturated``: the saturation mask there (broadcastable to
        ``grad``); ``reference``: the float64 reference gradient there (underflow finding).
        A 0-d gradient is one row: ``start_row`` 0.
        """
        if name not in self.seen:
            raise ValueError(f"no gradient named {name!r} (expected one of {', '.join(self.names) or 'none'})")
        k = self.names.index(name)
        shape = self.shapes[k]
        g = np.asarray(grad, dtype=np.float64)
        if shape:
            if g.shape[1:] != shape[1:] or g.ndim != len(shape):
                raise ValueError(f"gradient piece of {name!r} has shape {g.shape}, expected (rows, *{shape[1:]})")
            rows, width, total = g.shape[0], math.prod(shape[1:]), shape[0]
        else:
            if g.size != 1:
                raise ValueError(f"gradient of {name!r} is 0-d, got a piece of shape {g.shape}")
            rows, width, total = 1, 1, 1
        stop = start_row + rows
        if start_row < 0 or stop > total:
            raise ValueError(f"rows {start_row}..{stop} of {name!r} are outside 0..{total}")
        if rows == 0:
            return
        if shape and rows > 1 and rows * width > 2 * CHUNK_ELEMENTS:
            # a large piece in cache-sized slices: each pass over a slice stays in cache (about 3x faster)
            step = max(1, CHUNK_ELEMENTS // max(width, 1))

            def part(extra: np.ndarray | None, lo: int) -> np.ndarray | None:
                if extra is None:
                    return None
                extra = np.asarray(extra)
                return extra[lo : lo + step] if extra.ndim and extra.shape[0] == rows else extra

            for lo in range(0, rows, step):
                self.add(
                    name,
                    start_row + lo,
                    g[lo : lo + step],
                    part(value, lo),
                    per_sample=part(per_sample, lo),
                    saturated=part(saturated, lo),
                    reference=part(reference, lo),
                )
            return
        self._saw(name, start_row, stop)
        piece_shape = g.shape
        g = g.reshape(-1)
        n = g.size
        if n == 0:
            return
        base = self.offsets[k] + start_row * width

        def flat(extra: np.ndarray, what: str, dtype: Any = np.float64) -> np.ndarray:
            out = np.asarray(extra, dtype=dtype).reshape(-1)
            if out.size != n:
                raise ValueError(f"{what} piece of {name!r} has {out.size} elements, the gradient piece {n}")
            return out

        values = None if value is None else flat(value, "value")

        def element(i: int) -> _Element:
            v = None if values is None else float(values[i])
            return (base + i, float(g[i]), None if v is None or math.isnan(v) else v)

        def note(kind: str, mask: np.ndarray) -> None:
            count = int(np.count_nonzero(mask))
            if not count:
                return
            self.counts[kind] += count
            kept = self.examples[kind]
            if len(kept) >= EXAMPLES and kept[-1][0] < base:
                return  # the examples are all before this piece already
            idx = np.flatnonzero(mask)[:EXAMPLES]
            self.examples[kind] = _by_position(kept + [element(int(i)) for i in idx], EXAMPLES)

        finite = np.isfinite(g)
        all_finite = bool(finite.all())
        absg = np.abs(g)
        if not all_finite:
            absg[~finite] = 0.0
        with np.errstate(over="ignore", invalid="ignore"):  # scale · g beyond float64 is inf: counted
            ps = np.abs(flat(per_sample, "per-sample")) if per_sample is not None else absg * self.scale
        bad = ~np.isfinite(ps)
        if not all_finite:
            bad |= ~finite
        n_bad = int(np.count_nonzero(bad))
        if n_bad:
            self.overflow += int(np.count_nonzero(bad & finite))
            self.nonfinite += n_bad
            note("nonfinite", bad)
        note("dead", g == 0)
        if saturated is not None:
            note("saturated", np.broadcast_to(np.asarray(saturated, dtype=bool), piece_shape).reshape(-1))
        if reference is not None:
            if self.reference_dtype is None:
                raise ValueError("reference pieces need the accumulator's reference_dtype")
            ref = flat(reference, "reference")
            note("underflow", (g == 0) & (ref != 0) & np.isfinite(ref))

        self.raw = self.raw.merge(_Magnitudes.of(absg if all_finite else absg[finite]))
        kept = ps[~bad] if n_bad else ps
        self.per_sample = self.per_sample.merge(_Magnitudes.of(kept))
        self.vanishing_count += int(np.count_nonzero(kept < self.vanishing))
        positive = kept[kept > 0]
        if positive.size:
            logs = np.log10(positive)
            decade = np.floor(logs)
            whole = logs == decade
            idx = decade.astype(np.intp) - _DECADE_LO
            self.decades += np.bincount(idx, minlength=_DECADES)
            self.powers += np.bincount(idx[whole], minlength=_DECADES)

        if base < self.top:
            self.first = _by_position(self.first + [element(i) for i in range(min(self.top - base, n))], self.top)
        k_top = min(self.top, n)
        if k_top > 0:
            key = absg
            if not all_finite:
                key = absg.copy()
                key[~finite] = np.inf  # non-finite elements rank as the largest
            small = [self._ranked(float(key[i]), element(i)) for i in self._candidates(key, k_top, self.smallest)]
            neg = np.negative(key, out=key)  # the last use of key (and of absg)
            large = [self._ranked(float(neg[i]) + 0.0, element(i)) for i in self._candidates(neg, k_top, self.largest)]
            self.smallest = _by_rank(self.smallest + small, self.top)
            self.largest = _by_rank(self.largest + large, self.top)

    def _candidates(self, key: np.ndarray, k: int, kept: list[_Ranked]) -> list[int]:
        """The piece's ``k`` smallest ``key`` positions that could still rank among ``kept``: once ``top``
        are kept, only keys up to the worst kept one (ties may win by position) are looked at."""
        if len(kept) >= self.top and key.size > 4 * k:
            worst = kept[-1][0]
            inside = np.flatnonzero(key <= worst)
            if inside.size < key.size // 4:
                return [int(inside[i]) for i in _extremes(key[inside], min(k, inside.size))]
        return _extremes(key, k)

    @staticmethod
    def _ranked(key: float, element: _Element) -> _Ranked:
        return (key, *element)

    def _saw(self, name: str, start: int, stop: int) -> None:
        ranges = self.seen[name]
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], stop)
        else:
            ranges.append((start, stop))

    # ------------------------------------------------------------------------------- merging

    def _settings(self) -> tuple[Any, ...]:
        return (
            self.names,
            self.shapes,
            self.scale,
            self.vanishing,
            self.exploding,
            self.top,
            self.dtype,
            self.reference_dtype,
            self.saturation_eps,
        )

    def merge(self, other: HealthAccumulator) -> HealthAccumulator:
        """A new accumulator of both (which saw disjoint pieces of the same gradients); both are left as they were."""
        if self._settings() != other._settings():
            raise ValueError("cannot merge gradient health of different shapes, scale or settings")
        out = copy.copy(self)
        out.seen = {n: _coalesce(self.seen[n] + other.seen[n]) for n in self.names}
        out.nonfinite = self.nonfinite + other.nonfinite
        out.overflow = self.overflow + other.overflow
        out.vanishing_count = self.vanishing_count + other.vanishing_count
        out.counts = {kind: self.counts[kind] + other.counts[kind] for kind in _FINDINGS}
        out.examples = {kind: _by_position(self.examples[kind] + other.examples[kind], EXAMPLES) for kind in _FINDINGS}
        out.raw = self.raw.merge(other.raw)
        out.per_sample = self.per_sample.merge(other.per_sample)
        out.decades = self.decades + other.decades
        out.powers = self.powers + other.powers
        out.first = _by_position(self.first + other.first, self.top)
        out.largest = _by_rank(self.largest + other.largest, self.top)
        out.smallest = _by_rank(self.smallest + other.smallest, self.top)
        return out

    # ------------------------------------------------------------------------------- the result

    def _check_complete(self) -> None:
        for name, shape in zip(self.names, self.shapes):
            if math.prod(shape) == 0:
                continue
            rows = shape[0] if shape else 1
            at = 0
            for start, stop in sorted(self.seen[name]):
                if start < at:
                    raise ValueError(f"gradient health: rows {start}..{min(at, stop)} of {name!r} were added twice")
                if start > at:
                    break
                at = stop
            if at != rows:
                raise ValueError(f"gradient health: rows from {at} of {name!r} (of {rows}) were never added")

    def _where(self, element: _Element) -> dict[str, Any]:
        position, grad, value = element
        k = bisect.bisect_right(self.offsets, position) - 1
        return _locate(self.names[k], self.shapes[k], position - self.offsets[k], grad, value)

    def _histogram(self, max_bins: int = 24) -> dict[str, Any]:
        """:func:`histogram` of everything added, from the per-decade counts: with whole-decade
        edges, a value's bin is its decade's, except that np.histogram's last bin is closed
        (a value exactly at the last edge, necessarily the max, counts in it)."""
        out: dict[str, Any] = {
            "scale": "per-sample",
            "edges": [],
            "counts": [],
            "zeros": self.counts["dead"],
            "nonfinite": self.nonfinite,
        }
        present = np.flatnonzero(self.decades)
        if present.size == 0:
            return out
        lo, top = int(present[0]), int(present[-1])  # the lowest and the highest decade (as indices)
        hi = top if self.powers[top] == self.decades[top] else top + 1  # ⌈max log10⌉
        hi = max(hi, lo + 1)
        step = max(1, math.ceil((hi - lo) / max_bins))
        edges = np.arange(lo, hi + step, step)  # as histogram() makes them, shifted by _DECADE_LO
        below = np.concatenate([[0], np.cumsum(self.decades)])  # below[j]: values in decades < j
        counts = below[np.minimum(edges[1:], _DECADES)] - below[edges[:-1]]
        if edges[-1] < _DECADES:  # np.histogram's last bin is closed: a value at the last edge is in it
            counts[-1] += self.powers[edges[-1]]
        out["edges"] = (edges + _DECADE_LO).astype(np.float64).tolist()
        out["counts"] = counts.astype(int).tolist()
        return out

    def result(self) -> Health:
        """The :class:`Health` of everything added: every row of every input, exactly once."""
        self._check_complete()
        rms = self.per_sample.rms()
        if self.nonfinite:
            status = "nonfinite"
        elif rms > self.exploding:
            status = "exploding"
        elif rms < self.vanishing:
            status = "vanishing"
        else:
            status = "ok"
        messages = {
            "nonfinite": "gradient is NaN or ±inf"
            + (" (or finite, but its per-sample value, scale × gradient, overflows float64)" if self.overflow else ""),
            "dead": "gradient exactly 0: these elements teach the model nothing (a zero residual under "
            "MAE, a met hinge margin, a clamp, an ignored target)",
            "saturated": f"input at or within {self.saturation_eps:g} of 0/1 (probabilities) or past "
            "the point where the sigmoid/softmax rounds to 0/1 (logits)",
            "underflow": f"gradient is 0 in {self.dtype} but not in {self.reference_dtype}: it underflowed",
        }
        findings = [
            {
                "kind": kind,
                "count": self.counts[kind],
                "fraction": self.counts[kind] / max(self.elements, 1),
                "message": messages[kind],
                "examples": [self._where(e) for e in self.examples[kind]],
            }
            for kind in _FINDINGS
            if self.counts[kind]
        ]
        k = min(self.top, self.elements)
        kept = self.per_sample.count
        return Health(
            status=status,
            norm=self.raw.norm(),
            max_abs=self.raw.max(),
            min_abs=self.raw.min(),
            mean_abs=self.raw.mean(),
            nonfinite=self.nonfinite,
            elements=self.elements,
            scale=self.scale,
            per_sample_rms=rms,
            per_sample_max_abs=self.per_sample.max(),
            fraction_vanishing=self.vanishing_count / kept if kept else 0.0,
            vanishing_threshold=self.vanishing,
            exploding_threshold=self.exploding,
            findings=findings,
            first=[self._where(e) for e in self.first[:k]],
            largest=[self._where(e[1:]) for e in self.largest[:k]],
            smallest=[self._where(e[1:]) for e in self.smallest[:k]],
            histogram=self._histogram(),
            overflow=self.overflow,
        )


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Row ranges sorted, touching ones joined (overlapping ones kept apart: result() reports them)."""
    out: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], stop)
        else:
            out.append((start, stop))
    return out


def diagnose(
    ev: Evaluation,
    inputs: Mapping[str, np.ndarray] | None = None,
    *,
    vanishing: float = VANISHING,
    exploding: float = EXPLODING,
    saturation_eps: float = SATURATION_EPS,
    top: int = EXAMPLES,
    reference: Evaluation | None = None,
) -> Health:
    """Summarise ``ev.gradients`` and give a verdict with findings (see the module docstring).

    ``inputs`` (the numpy inputs) give the saturation check and example values;
    ``reference`` is a float64 evaluation of the same data, compared with a float32 ``ev``
    for gradients that underflow to zero.  The gradients go through a
    :class:`HealthAccumulator` ``CHUNK_ELEMENTS`` at a time: what this allocates besides the
    saturation masks is a few chunk-sized arrays.
    """
    inputs = inputs or {}
    references = reference.gradients if reference is not None and reference.gradients else None
    acc = HealthAccumulator(
        {name: np.shape(g) for name, g in ev.gradients.items()},
        ev.scale,
        vanishing=vanishing,
        exploding=exploding,
        top=top,
        dtype=ev.dtype,
        reference_dtype=reference.dtype if reference is not None and references is not None else None,
        saturation_eps=saturation_eps,
    )
    masks: Mapping[str, np.ndarray] = {}
    if ev.spec.teaching.saturation is not None and inputs:
        masks = ev.spec.teaching.saturation(inputs, ev.params, ev.dtype, saturation_eps)
    for name, grad in ev.gradients.items():
        grad = np.asarray(grad)
        shape = grad.shape if grad.ndim else (1,)  # a 0-d gradient is one row
        value = np.asarray(inputs[name]) if name in inputs else None
        per_sample = ev.per_sample.get(name) if ev.per_sample is not None else None
        ref = references.get(name) if references is not None else None
        rows = grad.reshape(shape)
        parts = {
            "value": value.reshape(shape) if value is not None and value.size == grad.size else None,
            "per_sample": None if per_sample is None else np.asarray(per_sample).reshape(shape),
            "saturated": np.broadcast_to(masks[name], grad.shape).reshape(shape) if name in masks else None,
            "reference": None if ref is None else np.asarray(ref).reshape(shape),
        }
        step = max(1, CHUNK_ELEMENTS // max(math.prod(shape[1:]), 1))
        for start in range(0, shape[0], step):
            piece = {key: None if part is None else part[start : start + step] for key, part in parts.items()}
            acc.add(
                name,
                start,
                rows[start : start + step],
                piece["value"],
                per_sample=piece["per_sample"],
                saturated=piece["saturated"],
                reference=piece["reference"],
            )
    return acc.result()
