"""The fused LLM-head loss: cross-entropy of hidden states through an output weight matrix,
computed in chunks of rows so that the N x V logits are never held at once.

``linear-cross-entropy`` is torch 2.13's ``torch.nn.functional.linear_cross_entropy(input,
linear_weight, target)``: the value of ``cross_entropy(linear(hidden, linear_weight), targets)``.
Its function runs ``chunk_rows`` rows at a time:

* numpy: a loop over row chunks, each chunk's (rows x V) logits reduced to its per-row losses
  and dropped before the next;
* torch: a ``torch.autograd.Function`` whose forward does the same loop and keeps only the
  inputs and each row's log-sum-exp (N values), and whose backward recomputes each chunk's
  logits, their softmax, ∂ℓ/∂z = softmax - ỹ, and accumulates ∂H = ∂z W and ∂W += ∂zᵀ H
  chunk by chunk.  Autograd then never holds more than one chunk's logits, forward or backward
  (a plain loop of array-API chunks would keep every chunk's logits for the backward).

The loop is over chunks of rows, never over elements.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from losscli.chains import Custom, outer_step
from losscli.errors import InputError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import quiet
from losscli.losses.classification import COUNTED_MEAN
from losscli.spec import Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "classification"

DEFAULT_CHUNK_ROWS = 4096


def _is_torch(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "torch"


@quiet
def _chunk_losses(
    xp: Any, h: Array, w: Array, k: Array, keep: Array, w_y: Array, w_c: Array | None, eps: float
) -> tuple[Array, Array]:
    """Per-row losses and log-sum-exp of one chunk of rows (the chunk's logits are local).

    ℓᵢ = (1 - ε) w_{yᵢ} (lseᵢ - z_{i,yᵢ}) + (ε / V) Σ_c w_c (lseᵢ - z_{ic}), 0 for ignored rows;
    ignored rows are zeroed before the product, so whatever they hold stays out."""
    h = xp.where(keep[:, None], h, xp.zeros_like(h))
    z = h @ w.T
    m = xp.max(z, axis=-1, keepdims=True)
    lse = (m + xp.log(xp.sum(xp.exp(z - m), axis=-1, keepdims=True)))[:, 0]
    z_y = xp.take_along_axis(z, k[:, None], axis=-1)[:, 0]
    zero = xp.zeros_like(lse)
    loss = xp.where(w_y != 0, (1.0 - eps) * w_y * (lse - z_y), zero)
    if eps > 0:
        n_classes = z.shape[-1]
        if w_c is None:
            smooth = lse - xp.sum(z, axis=-1) / n_classes
        else:
            smooth = (lse * xp.sum(w_c) - xp.sum(z * w_c[None, :], axis=-1)) / n_classes
        loss = loss + xp.where(keep, eps * smooth, zero)
    return loss, lse


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


@functools.cache
def _torch_function() -> Any:
    """The torch autograd Function (built on first use: the model layer never imports torch)."""
    import array_api_compat.torch as xpt
    import torch

    class LinearCrossEntropy(torch.autograd.Function):
        """Per-row losses (N,) of cross_entropy(h Wᵀ, y), chunked forward and backward."""

        @staticmethod
        def forward(ctx: Any, h: Any, w: Any, k: Any, keep: Any, w_y: Any, w_c: Any, eps: float, rows: int) -> Any:
            n = h.shape[0]
            loss = h.new_empty(n)
            lse = h.new_empty(n)
            for lo, hi in _chunks(n, rows):
                loss[lo:hi], lse[lo:hi] = _chunk_losses(xpt, h[lo:hi], w, k[lo:hi], keep[lo:hi], w_y[lo:hi], w_c, eps)
            ctx.save_for_backward(h, w, k, keep, w_y, w_c, lse)
            ctx.eps, ctx.rows = eps, rows
            return loss

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            h, w, k, keep, w_y, w_c, lse = ctx.saved_tensors
            eps, rows = ctx.eps, ctx.rows
            n, n_classes = h.shape[0], w.shape[0]
            need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
            grad_h = torch.zeros_like(h) if need_h else None
            grad_w = torch.zeros_like(w) if need_w else None
            sum_w = float(n_classes) if w_c is None else w_c.sum()
            for lo, hi in _chunks(n, rows):
                kept = keep[lo:hi]
                hc = torch.where(kept[:, None], h[lo:hi], torch.zeros_like(h[lo:hi]))
                s = torch.exp(hc @ w.T - lse[lo:hi, None])  # the chunk's softmax, recomputed
                hard = (1.0 - eps) * w_y[lo:hi]
                dz = s * (hard + (eps / n_classes) * sum_w)[:, None]
                if eps > 0:
                    dz = dz - (eps / n_classes) * (1.0 if w_c is None else w_c[None, :])
                dz[torch.arange(hi - lo), k[lo:hi]] -= hard
                dz = dz * torch.where(kept, grad[lo:hi], torch.zeros_like(grad[lo:hi]))[:, None]
                if grad_h is not None:
                    grad_h[lo:hi] = dz @ w
                if grad_w is not None:
                    grad_w += dz.T @ hc
                del s, dz
            return grad_h, grad_w, None, None, None, None, None, None

    return LinearCrossEntropy


def linear_cross_entropy(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Cross-entropy of the logits hidden @ linear_weightᵀ with class-index targets, per row.

    hidden (N, H), linear_weight (V, H), targets (N,) -> elements (N,), weights w_{yᵢ} (0 for
    ignore_index), so the mean is Σᵢ ℓᵢ / Σᵢ w_{yᵢ} as torch's weighted cross-entropy mean.
    ℓᵢ = (1 - ε) w_{yᵢ} (-log softmax(zᵢ)_{yᵢ}) + (ε / V) Σ_c w_c (-log softmax(zᵢ)_c), zᵢ = W hᵢ.
    Computed ``chunk_rows`` rows at a time (see the module docstring)."""
    h, w, t = inputs["hidden"], inputs["linear_weight"], inputs["targets"]
    eps = float(params["label_smoothing"])
    rows = int(params["chunk_rows"])
    keep = t != params["ignore_index"]
    k = xp.astype(xp.where(keep, t, xp.zeros_like(t)), xp.int64)
    cw = params["weight"]
    w_c = None if cw is None else xp.asarray(np.asarray(cw, dtype=np.float64), dtype=h.dtype)
    zero = xp.zeros(t.shape, dtype=h.dtype)
    w_y = xp.where(keep, xp.ones_like(zero) if w_c is None else xp.take(w_c, k), zero)
    if _is_torch(h):
        loss = _torch_function().apply(h, w, k, keep, w_y, w_c, eps, rows)
    else:
        parts = [
            _chunk_losses(xp, h[lo:hi], w, k[lo:hi], keep[lo:hi], w_y[lo:hi], w_c, eps)[0]
            for lo, hi in _chunks(h.shape[0], rows)
        ]
        loss = xp.concat(parts) if parts else zero
    return Terms(loss, weights=w_y)


def _validate(inputs: Inputs, params: Params, sources: Sources) -> None:
    h, w, t = inputs["hidden"], inputs["linear_weight"], inputs["targets"]
    _checks.ndim_in(inputs, sources, "hidden", (2,), "an N x H matrix of hidden states (one row per token)")
    _checks.ndim_in(
        inputs, sources, "linear_weight", (2,), "a V x H matrix (one row per vocabulary entry, nn.Linear(H, V).weight)"
    )
    n, dim = h.shape
    vocab, dim_w = w.shape
    if dim_w != dim:
        raise InputError(
            f"linear_weight has {dim_w} columns but hidden has {dim} ({sources.get('hidden', 'hidden')}); "
            "linear_weight is V x H, as nn.Linear(H, V).weight is stored",
            source=sources.get("linear_weight"),
        )
    if vocab < 2:
        raise InputError(
            f"linear_weight has {vocab} row; cross-entropy needs one row per class (>= 2)",
            source=sources.get("linear_weight"),
        )
    cw = params["weight"]
    if cw is not None and len(cw) != vocab:
        raise InputError(f"weight has {len(cw)} values but linear_weight has {vocab} rows (classes)")
    _checks.ndim_in(inputs, sources, "targets", (1,), "N class indices, one per row of hidden")
    if t.shape[0] != n:
        raise InputError(
            f"hidden has {n} rows ({sources.get('hidden', 'hidden')}) but targets has "
            f"{t.shape[0]} ({sources.get('targets', 'targets')}); they must match"
        )
    ignore = params["ignore_index"]
    valid = t != ignore
    _checks.fail_at(
        sources, "targets", t, valid & (t != np.round(t)), f"whole class indices (or ignore_index {ignore})"
    )
    _checks.fail_at(
        sources,
        "targets",
        t,
        valid & ((t < 0) | (t >= vocab)),
        f"a class index in [0, {vocab - 1}] (or ignore_index {ignore})",
    )


# ----------------------------------------------------------------------------- the chain rule for --explain


def _dlogits(inputs: Mapping[str, np.ndarray], params: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """∂ℓᵢ/∂z_{ic} for every row (0 for ignored rows), the softmax, and the kept rows, in float64
    (one pass: --explain runs on small data)."""
    h, w, t = (np.asarray(inputs[n], dtype=np.float64) for n in ("hidden", "linear_weight", "targets"))
    vocab = w.shape[0]
    eps = params["label_smoothing"]
    cw = np.ones(vocab) if params["weight"] is None else np.asarray(params["weight"], dtype=np.float64)
    keep = t != params["ignore_index"]
    k = np.where(keep, t, 0).astype(int)
    z = np.where(keep[:, None], h, 0.0) @ w.T
    s = np.exp(z - z.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(s)
    onehot[np.arange(len(k)), k] = 1.0
    w_y = np.where(keep, cw[k], 0.0)
    dz = (1 - eps) * w_y[:, None] * (s - onehot) + (eps / vocab) * (s * cw.sum() - cw[None, :])
    return np.where(keep[:, None], dz, 0.0), s, keep


def linear_ce_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂L/∂h_ij = ∂L/∂ℓᵢ · Σ_c (∂ℓᵢ/∂z_ic) W_cj;  ∂L/∂W_cj = Σᵢ ∂L/∂ℓᵢ · (∂ℓᵢ/∂z_ic) h_ij."""
    if name not in ("hidden", "linear_weight"):
        return None
    dz, s, keep = _dlogits(inputs, ev.params)
    h, w, t = inputs["hidden"], inputs["linear_weight"], inputs["targets"]
    formula, outer = outer_step(ev, ev.denominator)
    rule = "(1-ε) w_y (s_c - [c = y]) + (ε/V)(s_c Σw - w_c), s = softmax(W hᵢ)"
    if name == "hidden":
        i, j = index
        fwd: list[tuple[str, Any]] = [("row i", i), ("target yᵢ", int(t[i]))]
        if keep[i]:
            fwd.append(("softmax(zᵢ)_y", float(s[i, int(t[i])])))
        local = [
            ("∂L/∂ℓᵢ", formula, outer),
            ("∂ℓᵢ/∂h_ij", f"Σ_c (∂ℓᵢ/∂z_ic) W_cj, ∂ℓᵢ/∂z_ic = {rule}", math.fsum(dz[i] * w[:, j])),
        ]
        return fwd, local
    c, j = index
    steps = [
        (
            f"row {i}",
            f"∂L/∂ℓᵢ · ∂ℓᵢ/∂z_ic · h_ij ({formula} · {dz[i, c]:.6g} · {h[i, j]:.6g})",
            outer * dz[i, c] * h[i, j],
        )
        for i in np.flatnonzero(keep)
    ]
    return [("class c", c), ("column j", j), ("rows summed", int(keep.sum()))], steps, "sum"


# ----------------------------------------------------------------------------- specs

SPECS = [
    define(
        name="linear-cross-entropy",
        chain=Custom(linear_ce_chain),
        example=Example(
            ("linear_ce_batch.json",),
            what="16 hidden states (H = 8), a 50-word output layer and target tokens, two of them padding (-100)",
        ),
        aliases=("fused-linear-cross-entropy", "linear-ce", "lm-head-cross-entropy", "chunked-cross-entropy"),
        family=FAMILY,
        summary="fused LLM-head loss: cross-entropy of hidden @ Wᵀ, in row chunks (no N x V logits)",
        inputs=(
            Input("hidden", "N x H", "hidden states (one row per token) fed to the output layer"),
            Input("linear_weight", "V x H", "output layer weight, nn.Linear(H, V).weight (one row per class)"),
            Input("targets", "N", "class (token) indices; ignore_index (-100) marks padding", differentiable=False),
        ),
        params=(
            Param("label_smoothing", "float", 0.0, "ε: mix targets with the uniform distribution", low=0.0, high=1.0),
            Param("ignore_index", "int", -100, "targets equal to this are skipped (padding)"),
            Param("weight", "floats", None, "per-class weights w_c as a comma list (V values)"),
            Param(
                "chunk_rows",
                "int",
                DEFAULT_CHUNK_ROWS,
                "rows of hidden per chunk: peak memory ~ chunk_rows x V logits (forward and backward); "
                "the value does not depend on it",
                low=1,
            ),
        ),
        formula="Σᵢ ℓᵢ / Σᵢ w_{yᵢ} over rows whose target is not ignore_index (w = 1: the mean over counted "
        "rows);  ℓᵢ = (1 - ε) w_{yᵢ} (-log softmax(zᵢ)_{yᵢ}) + (ε / V) Σ_c w_c (-log softmax(zᵢ)_c),  "
        "zᵢ = W hᵢ (logits, never stored for all rows);  computed chunk_rows rows at a time, forward and "
        "backward (the backward recomputes each chunk's softmax)",
        derivative="∂ℓᵢ/∂zᵢ = g_i = (1 - ε) w_y (softmax(zᵢ) - e_y) + (ε/V)(softmax(zᵢ) Σw - w);  "
        "∂ℓ/∂H = G W,  ∂ℓ/∂W = Gᵀ H (G = the rows g_i, accumulated chunk by chunk); 0 for ignored rows",
        convention="torch.nn.functional.linear_cross_entropy(hidden, linear_weight, targets, weight, "
        "reduction, ignore_index=-100, label_smoothing=0) of torch 2.13 (= cross_entropy(linear(h, W), y)); "
        "chunk_rows plays the part of LinearCrossEntropyOptions(batch_chunk_size=...)",
        differs="torch's chunked path (options=LinearCrossEntropyOptions(...)) refuses label smoothing and "
        "falls back to the unfused reference with a warning (losscli chunks it too); torch's default "
        "options=None is unfused, and LinearCrossEntropyOptions() picks the chunk size itself "
        "(chunking_method 'aspect_ratio:2'). Liger's LigerFusedLinearCrossEntropyLoss and Apple's "
        "cut-cross-entropy (linear_cross_entropy(e, c, targets)) compute the same value with fused GPU "
        "kernels (cut-cross-entropy's default ignore_index is also -100; Liger adds z-loss and softcapping "
        "options). No optional bias here (torch's linear_bias). When every target is ignored torch's mean is "
        "NaN: losscli refuses --reduction mean then, and sum/none give 0 as torch does.",
        when="Training language models with a large vocabulary: the N x V logits of the output layer "
        "dominate memory; chunking keeps them to chunk_rows x V at a time.",
        fn=linear_cross_entropy,
        validate=_validate,
        reduction=COUNTED_MEAN,
        element_note="per row (token)",
        mean_note="weighted mean over counted rows",
        references=(
            "torch.nn.functional.linear_cross_entropy (PyTorch 2.13)",
            "Wijmans et al. 2024, Cut Your Losses in Large-Vocabulary Language Models (cut-cross-entropy)",
        ),
    ),
]
