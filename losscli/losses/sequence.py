"""Sequence losses: CTC (connectionist temporal classification) and seq2seq token cross-entropy.

Shapes:

* ``ctc``: ``log_probs`` (T, C) for one sequence or (T, N, C) for a batch (time first, as
  torch); ``targets`` (S,) for one sequence, (N, S) padded rows, or torch's concatenated 1-D
  form (S₁ + … + S_N,) with ``target_lengths``; optional ``input_lengths`` (N,) and
  ``target_lengths`` (N,).  Elements: one loss per sequence (N,).
* ``seq2seq``: ``preds`` (N, T, C) logits (batch first, classes last, as a decoder emits
  them) or (N·T, C) rows; ``targets`` (N, T) token ids or N·T ids.  Elements: one loss per
  counted token (tokens equal to ``ignore_index`` are left out), in row-major order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import Custom, outer_step
from losscli.errors import InputError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import log_softmax
from losscli.losses.classification import ce_row_chain, cross_entropy
from losscli.reduction import SEQUENCE_MEAN
from losscli.spec import Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "sequence"

NEG_INF = -math.inf


# ------------------------------------------------------------------------------- CTC


def _safe_logsumexp(xp: Any, v: Array, axis: int) -> Array:
    """log Σ exp(v) along ``axis``, max-subtracted, and -inf (not NaN) when every term is -inf.

    Written so that autograd never meets -inf - (-inf) or 0 · inf: a slice whose terms are
    all -inf takes a constant -inf branch and passes a zero gradient back.
    """
    m = xp.max(v, axis=axis, keepdims=True)
    finite = m > NEG_INF
    m0 = xp.where(finite, m, xp.zeros_like(m))
    s = xp.sum(xp.exp(v - m0), axis=axis, keepdims=True)
    s_safe = xp.where(finite, s, xp.ones_like(s))
    out = xp.where(finite, m0 + xp.log(s_safe), xp.full_like(m, NEG_INF))
    return xp.squeeze(out, axis=axis)


def _concatenated(xp: Any, inputs: Inputs, n: int) -> bool:
    """torch's 1-D targets for a batch: every sequence's labels one after another (S₁ + … + S_N),
    cut by target_lengths (a single sequence reads the same either way)."""
    return inputs["targets"].ndim == 1 and n > 1 and "target_lengths" in inputs


def _unconcatenate(xp: Any, flat: Array, lengths: Array, n: int) -> Array:
    """torch's concatenated targets as (N, S_max) rows padded with the first label (past each
    sequence's length the labels are never read: target_lengths masks them)."""
    int64 = xp.int64
    tl = xp.astype(xp.reshape(lengths, (n,)), int64)
    s_max = int(xp.max(tl))
    seq = xp.arange(n, dtype=int64)
    before = xp.where(seq[None, :] < seq[:, None], tl[None, :], xp.zeros((n, n), dtype=int64))
    offsets = xp.sum(before, axis=1)
    pos = xp.arange(s_max, dtype=int64)
    index = xp.where(pos[None, :] < tl[:, None], offsets[:, None] + pos[None, :], xp.zeros((n, s_max), dtype=int64))
    return xp.reshape(xp.take(flat, xp.reshape(index, (-1,)), axis=0), (n, s_max))


def _ctc_layout(xp: Any, inputs: Inputs) -> tuple[Array, Array, int, int]:
    """(log_probs as (T, N, C), targets as (N, S), N, S)."""
    lp = inputs["log_probs"]
    if lp.ndim == 2:
        lp = lp[:, None, :]
    n = lp.shape[1]
    tg = inputs["targets"]
    if _concatenated(xp, inputs, n):
        rows = _unconcatenate(xp, tg, inputs["target_lengths"], n)
        return lp, rows, n, int(rows.shape[1])
    size = 1
    for d in tg.shape:
        size *= d
    s = size // n
    return lp, xp.reshape(tg, (n, s)), n, s


def _is_padding(xp: Any, tg: Array, blank: int) -> Array:
    """Padding labels: negative, NaN or equal to the blank (used only without target_lengths)."""
    return (tg < 0) | (tg == blank) | (tg != tg)


def ctc(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """CTC negative log-likelihood per sequence, -log Σ_{π ∈ B⁻¹(y)} Π_t p_t(π_t).

    Forward (α) recursion in log space over the extended label sequence
    l' = (blank, y₁, blank, y₂, …, y_S, blank) of length 2S + 1:
    α₀(0) = log p₀(blank), α₀(1) = log p₀(y₁);
    α_t(s) = log p_t(l'_s) + logsumexp(α_{t-1}(s), α_{t-1}(s-1), α_{t-1}(s-2) if l'_s ≠ blank and l'_s ≠ l'_{s-2});
    ℓ = -logsumexp(α_{T-1}(2S), α_{T-1}(2S-1)).
    The loop runs over time steps only; batch and label positions are vectorised, and each
    sequence's α is frozen once t reaches its input length.
    Shapes: log_probs (T, N, C) or (T, C); targets (N, S) or (S,); elements (N,).
    """
    lp, tg, n, s_max = _ctc_layout(xp, inputs)
    blank = int(params["blank"])
    if params["from_logits"]:
        lp = log_softmax(xp, lp, axis=-1)
    t_max, _, n_classes = lp.shape
    dtype = lp.dtype
    int64 = xp.int64

    if "input_lengths" in inputs:
        in_len = xp.astype(xp.reshape(inputs["input_lengths"], (n,)), int64)
    else:
        in_len = xp.full((n,), t_max, dtype=int64)
    pos = xp.arange(s_max, dtype=int64)
    if "target_lengths" in inputs:
        tgt_len = xp.astype(xp.reshape(inputs["target_lengths"], (n,)), int64)
        used = pos[None, :] < tgt_len[:, None]
    else:
        used = ~_is_padding(xp, tg, blank)
        tgt_len = xp.sum(xp.astype(used, int64), axis=1)

    # labels (padding replaced by the blank so that every index is valid), then l'
    labels = xp.astype(xp.where(used, tg, xp.full_like(tg, float(blank))), int64)
    blanks = xp.full((n, s_max), blank, dtype=int64)
    ext = xp.reshape(xp.stack([blanks, labels], axis=2), (n, 2 * s_max))
    ext = xp.concat([ext, xp.full((n, 1), blank, dtype=int64)], axis=1)
    width = 2 * s_max + 1

    # log p_t(l'_s) for every t, sequence and position: (T, N, 2S + 1)
    index = xp.broadcast_to(ext[None, :, :], (t_max, n, width))
    lp_ext = xp.take_along_axis(lp, index, axis=2)

    k2 = min(2, width)
    prev2 = xp.concat([xp.full((n, k2), -1, dtype=int64), ext[:, : width - k2]], axis=1)
    skip = (ext != blank) & (ext != prev2)
    s_idx = xp.arange(width, dtype=int64)[None, :]
    ext_len = 2 * tgt_len[:, None] + 1

    def neg(cols: int) -> Array:
        return xp.full((n, cols), NEG_INF, dtype=dtype)

    alpha = xp.where((s_idx < 2) & (s_idx < ext_len), lp_ext[0], neg(width))
    k1 = min(1, width)
    for t in range(1, t_max):
        a1 = xp.concat([neg(k1), alpha[:, : width - k1]], axis=1)
        a2 = xp.concat([neg(k2), alpha[:, : width - k2]], axis=1)
        a2 = xp.where(skip, a2, neg(width))
        new = _safe_logsumexp(xp, xp.stack([alpha, a1, a2], axis=0), axis=0) + lp_ext[t]
        alpha = xp.where((in_len > t)[:, None], new, alpha)

    last = 2 * tgt_len[:, None]
    final = (s_idx == last) | (s_idx == last - 1)
    log_lik = _safe_logsumexp(xp, xp.where(final, alpha, neg(width)), axis=1)
    # no frames (input length 0, as torch allows): probability 1 for the empty target, else 0
    empty = xp.where(tgt_len == 0, xp.zeros_like(log_lik), xp.full_like(log_lik, NEG_INF))
    log_lik = xp.where(in_len == 0, empty, log_lik)
    loss = -log_lik
    if params["zero_infinity"]:
        loss = xp.where(xp.isinf(loss), xp.zeros_like(loss), loss)
    divisor = xp.astype(xp.maximum(tgt_len, xp.ones_like(tgt_len)), dtype)
    return Terms(loss, mean_elements=loss / divisor)


def _whole(a: np.ndarray) -> np.ndarray:
    return np.isfinite(a) & (a == np.round(a))


def _validate_ctc(inputs: Inputs, params: Params, sources: Sources) -> None:
    lp, tg = inputs["log_probs"], inputs["targets"]
    src_lp = sources.get("log_probs", "log_probs")
    src_tg = sources.get("targets", "targets")
    _checks.ndim_in(inputs, sources, "log_probs", (2, 3), "T x C (one sequence) or T x N x C (a batch, time first)")
    if lp.shape[0] == 0:
        raise InputError("log_probs has no time steps", source=src_lp)
    n = 1 if lp.ndim == 2 else lp.shape[1]
    t_max, n_classes = lp.shape[0], lp.shape[-1]
    if n == 0:
        raise InputError("log_probs has a batch of 0 sequences", source=src_lp)
    if n_classes < 2:
        raise InputError(f"log_probs has {n_classes} class; CTC needs the blank plus at least one label", source=src_lp)
    blank = params["blank"]
    if not 0 <= blank < n_classes:
        raise InputError(
            f"blank = {blank} is not a class of log_probs (which has {n_classes} classes, 0 to {n_classes - 1})"
        )
    if not params["from_logits"]:
        _checks.fail_at(
            sources, "log_probs", lp, lp > 0, "log-probabilities (<= 0; use -p from_logits=true for raw scores)"
        )
    # targets: (S,) for one sequence, (N, S) padded rows for a batch, or torch's concatenated
    # 1-D form (S₁ + … + S_N labels) with target_lengths
    concatenated = tg.ndim == 1 and n > 1 and "target_lengths" in inputs
    if tg.ndim == 2 and tg.shape[0] != n:
        raise InputError(
            f"targets has {tg.shape[0]} rows but log_probs holds {n} sequence(s); "
            "give one padded row of labels per sequence",
            source=src_tg,
        )
    if tg.ndim > 2 or (tg.ndim < 2 and n != 1 and not concatenated):
        what = (
            "S labels"
            if n == 1
            else f"{n} x S (one padded row of labels per sequence), or every sequence's labels concatenated "
            "(1-D, torch's form) with target_lengths"
        )
        raise InputError(f"targets must be {what}, got shape {_checks._fmt_shape(tg.shape)}", source=src_tg)
    tg2 = tg.reshape(n, -1) if tg.size and not concatenated else np.zeros((n, 0))
    s_max = tg.size if concatenated else tg2.shape[1]

    lengths: dict[str, np.ndarray] = {}
    for name, low, high in (("input_lengths", 0, t_max), ("target_lengths", 0, s_max)):
        if name not in inputs:
            continue
        arr = inputs[name]
        if arr.size != n:
            raise InputError(
                f"{name} has {arr.size} value(s) but there are {n} sequence(s)", source=sources.get(name, name)
            )
        flat = arr.reshape(-1)
        _checks.fail_at(sources, name, flat, ~_whole(flat), "a whole number")
        _checks.fail_at(sources, name, flat, (flat < low) | (flat > high), f"in [{low}, {high}]")
        lengths[name] = flat.astype(np.int64)
    in_len = lengths.get("input_lengths", np.full(n, t_max, dtype=np.int64))

    if concatenated:
        tgt_len = lengths["target_lengths"]
        if int(tgt_len.sum()) != tg.size:
            raise InputError(
                f"target_lengths add up to {int(tgt_len.sum())} but targets holds {tg.size} labels; 1-D targets "
                "for a batch are every sequence's labels concatenated, so they must add up to its length (as torch)",
                source=sources.get("target_lengths", "target_lengths"),
            )
        shape_tg, used_v = tg, np.ones(tg.shape, dtype=bool)
    elif "target_lengths" in lengths:
        tgt_len = lengths["target_lengths"]
        used = np.arange(s_max)[None, :] < tgt_len[:, None]
    else:
        pad = (tg2 < 0) | (tg2 == blank) | np.isnan(tg2)
        after_pad = np.cumsum(pad, axis=1) > 0
        bad = after_pad & ~pad
        if bad.any():
            r, c = np.argwhere(bad)[0]
            first = int(np.argmax(pad[r]))
            raise InputError(
                f"data row {r + 1}, column {c + 1}: targets has label {tg2[r, c]:g} after padding "
                f"({tg2[r, first]:g} in column {first + 1}); a label may not equal the blank ({blank}), "
                "and padding (values < 0 or equal to the blank) may only follow the labels "
                "(or give target_lengths)",
                source=src_tg,
            )
        used = ~pad
        tgt_len = used.sum(axis=1)
    if not concatenated:
        shape_tg = tg2 if tg.ndim == 2 else tg2.reshape(-1)
        used_v = used if tg.ndim == 2 else used.reshape(-1)
    _checks.fail_at(sources, "targets", shape_tg, used_v & ~_whole(shape_tg), "whole label indices")
    _checks.fail_at(
        sources,
        "targets",
        shape_tg,
        used_v & ((shape_tg < 0) | (shape_tg >= n_classes)),
        f"a label index in [0, {n_classes - 1}] other than the blank ({blank})",
    )
    _checks.fail_at(
        sources, "targets", shape_tg, used_v & (shape_tg == blank), f"a label other than the blank ({blank})"
    )
    if not params["zero_infinity"]:
        too_long = np.flatnonzero(tgt_len > in_len)
        if too_long.size:
            i = int(too_long[0])
            row = f"sequence {i + 1}: " if n > 1 else ""
            raise InputError(
                f"{row}target length {int(tgt_len[i])} exceeds input length {int(in_len[i])}, so no CTC "
                "alignment exists (torch returns inf); shorten the target, or pass -p zero_infinity=true "
                "to count such sequences as 0",
                source=src_tg,
            )


# --------------------------------------------------------------------------- seq2seq


def _token_rows(xp: Any, inputs: Inputs) -> tuple[Array, Array]:
    z = inputs["preds"]
    n_classes = z.shape[-1]
    return xp.reshape(z, (-1, n_classes)), xp.reshape(inputs["targets"], (-1,))


def seq2seq(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Token-level cross-entropy of a sequence decoder (torch ``cross_entropy`` on flattened tokens).

    ℓ_k = -(1 - ε) log softmax(z_k)_{y_k} - (ε / C) Σ_c log softmax(z_k)_c for every token k
    with y_k ≠ ignore_index;  L = mean over those tokens.
    Shapes: preds (N, T, C) or (N·T, C); targets (N, T) or (N·T,); elements (tokens counted,).
    """
    z, t = _token_rows(xp, inputs)
    keep = t != params["ignore_index"]
    ce_params = {
        "from_logits": True,
        "label_smoothing": params["label_smoothing"],
        "ignore_index": params["ignore_index"],
        "weight": None,
    }
    terms = cross_entropy(xp, {"preds": z[keep, :], "targets": t[keep]}, ce_params)
    return Terms(terms.elements)


def _report_seq2seq(ev: Any, inputs: Inputs) -> dict[str, Any]:
    elements = np.asarray(ev.elements, dtype=np.float64)
    tokens = int(elements.size)
    mean = float(np.sum(elements)) / tokens if tokens else math.nan
    try:
        perplexity = math.exp(mean)
    except OverflowError:
        perplexity = math.inf
    return {"perplexity": perplexity, "tokens": tokens}


def _validate_seq2seq(inputs: Inputs, params: Params, sources: Sources) -> None:
    z, t = inputs["preds"], inputs["targets"]
    src_t = sources.get("targets", "targets")
    _checks.ndim_in(
        inputs, sources, "preds", (2, 3), "N x T x C logits (batch, time, classes) or (N*T) x C rows of logits"
    )
    n_classes = z.shape[-1]
    if n_classes < 2:
        raise InputError(
            f"preds has {n_classes} class column; token cross-entropy needs a vocabulary of at least 2",
            source=sources.get("preds"),
        )
    if z.ndim == 3:
        ok = t.shape == z.shape[:2] or (t.ndim == 1 and t.size == z.shape[0] * z.shape[1])
        want = f"{z.shape[0]} x {z.shape[1]} token ids (or {z.shape[0] * z.shape[1]} flattened)"
    else:
        ok = t.ndim in (1, 2) and t.size == z.shape[0]
        want = f"{z.shape[0]} token ids, one per row of preds"
    if not ok:
        raise InputError(
            f"targets has shape {_checks._fmt_shape(t.shape)} but preds has shape "
            f"{_checks._fmt_shape(z.shape)}; expected {want}",
            source=src_t,
        )
    ignore = params["ignore_index"]
    valid = t != ignore
    _checks.fail_at(sources, "targets", t, valid & ~_whole(t), f"whole token ids (or ignore_index {ignore})")
    _checks.fail_at(
        sources,
        "targets",
        t,
        valid & ((t < 0) | (t >= n_classes)),
        f"a token id in [0, {n_classes - 1}] (or ignore_index {ignore})",
    )
    if not valid.any():
        raise InputError(
            f"every target token equals ignore_index {ignore}: no tokens to average over (torch would return NaN)",
            source=src_t,
        )


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ included
# (see losscli.chains), or None when it has no derivation for that input.


def seq2seq_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    z, t = inputs["preds"], inputs["targets"]
    classes = z.shape[-1]
    z2, t1 = z.reshape(-1, classes), t.reshape(-1)
    token = int(np.ravel_multi_index(index[:-1], z.shape[:-1]))
    params = {**ev.params, "from_logits": True, "weight": None}
    fwd, local = ce_row_chain(z2[token], t1[token], index[-1], params)
    formula, outer = outer_step(ev, ev.denominator)
    return [("token", token), *fwd], [("∂L/∂ℓₜ", formula, outer), *local]


# ----------------------------------------------------------------------------- specs

SPECS = [
    define(
        name="ctc",
        example=Example(("ctc_batch.json",), what="a batch of 3 utterances: log-probabilities, targets and lengths"),
        aliases=("ctc-loss", "connectionist-temporal-classification"),
        family=FAMILY,
        summary="connectionist temporal classification loss (alignment-free sequence labelling)",
        inputs=(
            Input(
                "log_probs",
                "T x C or T x N x C",
                "per-frame log-probabilities (log_softmax output; raw scores with from_logits=true), time first",
            ),
            Input(
                "targets",
                "S, N x S, or S₁+…+S_N",
                "label sequence(s): padded rows for a batch, or every sequence's labels concatenated "
                "(torch's 1-D form, with target_lengths)",
                differentiable=False,
            ),
            Input(
                "input_lengths", "N", "frames used per sequence (default: all T)", differentiable=False, required=False
            ),
            Input(
                "target_lengths",
                "N",
                "labels per sequence (default: labels before the padding, padding = values < 0 or equal to the blank)",
                differentiable=False,
                required=False,
            ),
        ),
        params=(
            Param("blank", "int", 0, "class index of the blank", low=0),
            Param("zero_infinity", "bool", False, "count impossible alignments (inf) as 0, with a zero gradient"),
            Param("from_logits", "bool", False, "log_probs are raw scores: apply log_softmax over C first"),
        ),
        formula="ℓₙ = -log Σ_{π ∈ B⁻¹(yₙ)} Π_{t<Tₙ} p_t(π_t)  (B removes repeats then blanks), by the α "
        "recursion over l' = (blank, y₁, blank, …, y_S, blank);  L = (1/N) Σₙ ℓₙ / max(Sₙ, 1)",
        derivative="∂ℓₙ/∂log p_t(c) = -(1/P) Σ_{s: l'_s = c} α_t(s) β_t(s) / p_t(c) (minus the "
        "posterior occupancy of class c at frame t); 0 for t ≥ Tₙ",
        convention="torch.nn.functional.ctc_loss(blank=0, reduction='mean', zero_infinity=False): "
        "'mean' divides each sequence's loss by its target length (clamped to >= 1), then averages; "
        "targets padded (N x S) or concatenated (1-D, summing to target_lengths), one sequence as T x C, "
        "and input lengths of 0, as torch takes them",
        differs="torch's backward w.r.t. log_probs returns exp(log_probs) - occupancy (the gradient "
        "w.r.t. the logits, assuming log_softmax follows); losscli reports the true gradient -occupancy "
        "(the two agree once the gradient goes through log_softmax, e.g. from_logits=true). Keras CTC "
        "takes logits (batch first) with 0 as blank and padding; optax ctc_loss gives a large finite "
        "value (log_epsilon=-1e5) instead of inf for impossible alignments. A target longer than its "
        "input is refused unless zero_infinity=true. Without target_lengths, padding is read as values < 0 "
        "or equal to the blank; one sequence's 1-D targets may be longer than its target_lengths (torch "
        "refuses that), the rest is not read.",
        when="Speech and handwriting recognition: frame-level outputs, unaligned label sequences.",
        fn=ctc,
        validate=_validate_ctc,
        reduction=SEQUENCE_MEAN,
        element_note="per sequence (negative log-likelihood)",
        mean_note="mean over sequences of loss / target length (torch 'mean')",
        references=("Graves et al. 2006, Connectionist Temporal Classification, ICML",),
    ),
    define(
        name="seq2seq",
        chain=Custom(seq2seq_chain),
        example=Example(("seq2seq_batch.json",), what="decoder logits for 3 sequences, padding -100"),
        aliases=("token-cross-entropy", "sequence-cross-entropy", "seq2seq-ce", "lm"),
        family=FAMILY,
        summary="token-level cross-entropy of a sequence decoder, padding ignored; reports perplexity",
        inputs=(
            Input("preds", "N x T x C or (N*T) x C", "decoder logits, batch first, one column per vocabulary entry"),
            Input(
                "targets", "N x T or N*T", "target token ids; ignore_index (-100) marks padding", differentiable=False
            ),
        ),
        params=(
            Param("label_smoothing", "float", 0.0, "ε: mix targets with the uniform distribution", low=0.0, high=1.0),
            Param("ignore_index", "int", -100, "token ids equal to this are not counted (padding)"),
        ),
        formula="ℓ_k = -(1 - ε) log softmax(z_k)_{y_k} - (ε/C) Σ_c log softmax(z_k)_c over tokens "
        "y_k ≠ ignore_index;  L = (1/K) Σ_k ℓ_k (K counted tokens);  perplexity = exp(L)",
        derivative="∂ℓ_k/∂z_{kc} = softmax(z_k)_c - ((1 - ε) [c = y_k] + ε/C); 0 for ignored tokens",
        convention="torch.nn.functional.cross_entropy(preds.reshape(-1, C), targets.reshape(-1), "
        "ignore_index=-100, label_smoothing) (Hugging Face labels use -100 for padding)",
        differs="Averages per counted token over the whole batch, not per sequence then over sequences; "
        "Keras SparseCategoricalCrossentropy(ignore_class) likewise. torch returns NaN when every token "
        "is ignored (losscli refuses the input). With label smoothing the reported perplexity is exp of "
        "the smoothed loss. --reduction none lists the counted tokens only, in row-major order.",
        when="Training language models, translation and other autoregressive decoders.",
        fn=seq2seq,
        validate=_validate_seq2seq,
        report=_report_seq2seq,
        element_note="per counted token (ignored tokens left out)",
        mean_note="mean over counted tokens",
    ),
]
