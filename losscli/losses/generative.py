"""Generative losses: GAN, hinge GAN, least-squares GAN and Wasserstein (WGAN) objectives, VAE-style
reconstruction, MMD.

Shapes:

* GAN / hinge / LSGAN / Wasserstein: ``real`` (n,) and ``fake`` (m,) discriminator (critic)
  outputs, raw logits or scores, one per sample; n and m may differ.  Any shape is accepted and read in
  row-major order (an n x 1 column is the same as n values).
* ``reconstruction``: ``preds`` and ``targets`` (N, D), one row per sample (a vector is
  N samples with D = 1).
* ``mmd``: ``x`` (n, d) and ``y`` (m, d), two samples of d-dimensional points (a vector
  is n points with d = 1).

Two-sample losses (``gan-discriminator``, ``gan-hinge-discriminator``, ``lsgan-discriminator``,
``wasserstein-critic``) are a sum of two
means, one over ``real`` and one over ``fake``.  Their elements are the per-sample terms
concatenated, ``[real terms..., fake terms...]`` (n + m values), so
``--reduction none`` lists them in that order and ``sum`` is Σ real terms + Σ fake terms;
``mean`` is mean(real terms) + mean(fake terms) (each term scaled by (n + m)/n or
(n + m)/m in ``Terms.mean_elements``), which is what the frameworks compute even when
n ≠ m.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from losscli.chains import Custom, outer_step, sigmoid_f, softplus_f
from losscli.errors import InputError
from losscli.examples import Example
from losscli.losses import _checks
from losscli.losses._ops import bce_probabilities, softplus
from losscli.losses.classification import CLIP, bce_scalar, report_clamped
from losscli.losses.regression import mae_scalar, mse_scalar
from losscli.reduction import POOLED, TWO_MEANS
from losscli.scalar import Scalar, derivation
from losscli.spec import Input, Param, Terms, define
from losscli.types import Array, Inputs, Params, Sources

FAMILY = "generative"


def _flat(xp: Any, a: Array) -> Array:
    return xp.reshape(a, (-1,))


def _two_sample(xp: Any, real_terms: Array, fake_terms: Array) -> Terms:
    """Elements [real..., fake...] in two parts; the TWO_MEANS rule gives mean(real) + mean(fake)."""
    n, m = int(real_terms.shape[0]), int(fake_terms.shape[0])
    return Terms(xp.concat([real_terms, fake_terms]), parts=(("real", n), ("fake", m)))


def _validate_nonempty(inputs: Inputs, params: Params, sources: Sources) -> None:
    _checks.non_empty(inputs, sources)


# ------------------------------------------------------------------------------ GAN


def gan_discriminator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """GAN discriminator loss on logits: BCE-with-logits of real vs 1 plus fake vs 0.

    ℓ_real,i = softplus(-D(xᵢ)) = -log σ(D(xᵢ)),  ℓ_fake,j = softplus(D(G(zⱼ))) = -log(1 - σ(D(G(zⱼ)))).
    L = mean_i ℓ_real,i + mean_j ℓ_fake,j.  Shapes: real (n,), fake (m,).
    """
    real, fake = _flat(xp, inputs["real"]), _flat(xp, inputs["fake"])
    return _two_sample(xp, softplus(xp, -real), softplus(xp, fake))


def gan_generator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """GAN generator loss on the discriminator's logits for fakes, fake (m,).

    non-saturating: ℓⱼ = softplus(-D(G(zⱼ))) = -log σ(D(G(zⱼ)));
    minimax:        ℓⱼ = -softplus(D(G(zⱼ))) = log(1 - σ(D(G(zⱼ)))).
    """
    fake = _flat(xp, inputs["fake"])
    if params["mode"] == "minimax":
        return Terms(-softplus(xp, fake))
    return Terms(softplus(xp, -fake))


def wasserstein_critic(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """WGAN critic loss: L = mean_j C(G(zⱼ)) - mean_i C(xᵢ); elements [-C(xᵢ)..., C(G(zⱼ))...]."""
    real, fake = _flat(xp, inputs["real"]), _flat(xp, inputs["fake"])
    return _two_sample(xp, -real, fake)


def wasserstein_generator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """WGAN generator loss: L = -mean_j C(G(zⱼ)); ℓⱼ = -C(G(zⱼ))."""
    return Terms(-_flat(xp, inputs["fake"]))


def _relu(xp: Any, x: Array) -> Array:
    """max(x, 0) with torch relu's gradient: 0 at x = 0 (xp.maximum would split it)."""
    return xp.where(x > 0, x, xp.zeros_like(x))


def gan_hinge_discriminator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Hinge GAN discriminator loss (SAGAN / BigGAN; StudioGAN ``d_hinge``) on raw outputs D.

    ℓ_real,i = relu(1 - D(xᵢ)),  ℓ_fake,j = relu(1 + D(G(zⱼ)));  L = mean_i ℓ_real,i + mean_j ℓ_fake,j.
    Shapes: real (n,), fake (m,); elements [real terms..., fake terms...].
    """
    real, fake = _flat(xp, inputs["real"]), _flat(xp, inputs["fake"])
    return _two_sample(xp, _relu(xp, 1.0 - real), _relu(xp, 1.0 + fake))


def gan_hinge_generator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Hinge GAN generator loss (StudioGAN ``g_hinge``): L = -mean_j D(G(zⱼ)); ℓⱼ = -D(G(zⱼ)).  fake (m,)."""
    return Terms(-_flat(xp, inputs["fake"]))


def lsgan_discriminator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Least-squares GAN discriminator loss (Mao et al. 2017; torchgan ``least_squares_discriminator_loss``).

    ℓ_real,i = ½ (D(xᵢ) - b)²,  ℓ_fake,j = ½ (D(G(zⱼ)) - a)²;  L = mean_i ℓ_real,i + mean_j ℓ_fake,j
    (= ½ [mean (D(x) - b)² + mean (D(G(z)) - a)²]).  Shapes: real (n,), fake (m,).
    """
    real, fake = _flat(xp, inputs["real"]), _flat(xp, inputs["fake"])
    r, f = real - params["b"], fake - params["a"]
    return _two_sample(xp, 0.5 * r * r, 0.5 * f * f)


def lsgan_generator(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Least-squares GAN generator loss (torchgan ``least_squares_generator_loss``): ℓⱼ = ½ (D(G(zⱼ)) - c)²."""
    f = _flat(xp, inputs["fake"]) - params["c"]
    return Terms(0.5 * f * f)


# --------------------------------------------------------------------- reconstruction


def _rows(xp: Any, a: Array) -> Array:
    return xp.reshape(a, (-1, 1)) if a.ndim == 1 else xp.reshape(a, (a.shape[0], -1))


def reconstruction(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Per-sample reconstruction error, summed (or averaged) over the D features of a row.

    e_{ij} = (p_{ij} - y_{ij})² (mse), |p_{ij} - y_{ij}| (mae), or
    -[y log p + (1 - y) log(1 - p)] with logs clamped at -100 (bce, as torch BCELoss);
    ℓᵢ = Σ_j e_{ij} (feature_reduction=sum) or (1/D) Σ_j e_{ij} (mean);  L = (1/N) Σᵢ ℓᵢ.
    Shapes: preds, targets (N, D); elements (N,).
    """
    p, y = _rows(xp, inputs["preds"]), _rows(xp, inputs["targets"])
    kind = params["kind"]
    if kind == "mae":
        err = xp.abs(p - y)
    elif kind == "bce":
        err = bce_probabilities(xp, p, y, params.get("clip"))
    else:
        r = p - y
        err = r * r
    per_row = xp.sum(err, axis=1)
    if params["feature_reduction"] == "mean":
        per_row = per_row / p.shape[1]
    return Terms(per_row)


def _validate_reconstruction(inputs: Inputs, params: Params, sources: Sources) -> dict[str, Any] | None:
    _checks.same_shape(inputs, sources, "preds", "targets")
    _checks.non_empty(inputs, sources)
    if params["kind"] != "bce":
        if params.get("clip") is not None:
            raise InputError(f"clip applies to kind=bce only (kind is {params['kind']})")
        return None
    _checks.in_range(inputs, sources, "preds", 0.0, 1.0, hint="apply a sigmoid to logits first")
    _checks.in_range(inputs, sources, "targets", 0.0, 1.0)
    return None


# ------------------------------------------------------------------------------- MMD


def _points(a: Array, xp: Any | None = None) -> Array:
    if a.ndim == 1:
        return a[:, None]
    if a.ndim == 2:
        return a
    return xp.reshape(a, (a.shape[0], -1)) if xp is not None else a.reshape(a.shape[0], -1)


def _sq_dists(xp: Any, a: Array, b: Array) -> Array:
    """‖aᵢ - bⱼ‖² by broadcasting (exact, smooth: no sqrt, no Gram-matrix cancellation)."""
    diff = a[:, None, :] - b[None, :, :]
    return xp.sum(diff * diff, axis=-1)


def _pooled_samples(inputs: Mapping[str, Any]) -> int:
    """n + m: MMD's samples (its three loss elements are kernel means, not samples)."""
    return int(inputs["x"].shape[0] + inputs["y"].shape[0])


def mmd(xp: Any, inputs: Inputs, params: Params) -> Terms:
    """Squared maximum mean discrepancy with the Gaussian kernel k(a, b) = exp(-γ ‖a - b‖²).

    biased:   MMD² = mean_{i,i'} k(xᵢ, xᵢ') + mean_{j,j'} k(yⱼ, yⱼ') - 2 mean_{i,j} k(xᵢ, yⱼ)
    unbiased: the two within-sample means skip the diagonal (divide by n(n-1), m(m-1)).
    Shapes: x (n, d), y (m, d).  Elements: the three terms [E k(x,x'), E k(y,y'), -2 E k(x,y)];
    mean and sum both give their total, MMD².
    """
    x, y = _points(inputs["x"], xp), _points(inputs["y"], xp)
    gamma = params["gamma"]
    n, m = x.shape[0], y.shape[0]
    kxx = xp.exp(-gamma * _sq_dists(xp, x, x))
    kyy = xp.exp(-gamma * _sq_dists(xp, y, y))
    kxy = xp.exp(-gamma * _sq_dists(xp, x, y))
    if params["estimator"] == "unbiased":
        # the diagonal k(a, a) = exp(0) = 1 exactly
        txx = (xp.sum(kxx) - n) / (n * (n - 1))
        tyy = (xp.sum(kyy) - m) / (m * (m - 1))
    else:
        txx = xp.sum(kxx) / (n * n)
        tyy = xp.sum(kyy) / (m * m)
    txy = -2.0 * xp.sum(kxy) / (n * m)
    elements = xp.stack([txx, tyy, txy])
    return Terms(elements)


def median_heuristic_gamma(x: np.ndarray, y: np.ndarray) -> float:
    """γ = 1 / median ‖a - b‖² over the distinct pairs a ≠ b (by index) of the pooled sample.

    The zero diagonal (each point with itself) is left out; a median of 0 (more than half
    of the pairs coincide) raises InputError.
    """
    z = np.concatenate([_points(x), _points(y)], axis=0)
    k = z.shape[0]
    i, j = np.triu_indices(k, 1)
    d2 = np.sum((z[i] - z[j]) ** 2, axis=1)
    med = float(np.median(d2))
    if not med > 0:
        raise InputError(
            "mmd: the median squared distance between the pooled points of x and y is 0 "
            "(most points coincide), so the median heuristic has no bandwidth; set -p gamma=VALUE"
        )
    return 1.0 / med


def _resolve_mmd(inputs: Inputs, params: Params) -> dict[str, Any]:
    out = dict(params)
    if out.get("gamma") is not None:
        return out
    x, y = inputs.get("x"), inputs.get("y")
    if x is None or y is None or x.ndim > 2 or y.ndim > 2:
        return out  # validate reports the problem with file names
    x2, y2 = _points(x), _points(y)
    if x2.shape[1] != y2.shape[1] or x2.shape[0] + y2.shape[0] < 2 or x2.shape[0] == 0 or y2.shape[0] == 0:
        return out
    if not (np.all(np.isfinite(x2)) and np.all(np.isfinite(y2))):
        return out
    out["gamma"] = median_heuristic_gamma(x2, y2)
    return out


def _check_pairs_fit(inputs: Inputs, sources: Sources) -> None:
    """MMD reads every pair of points at once (it cannot be taken a chunk of rows at a time): refuse,
    before allocating, pairs whose differences would not fit in this machine's memory."""
    x, y = inputs.get("x"), inputs.get("y")
    if x is None or y is None or x.ndim == 0 or y.ndim == 0:
        return
    n, m = int(x.shape[0]), int(y.shape[0])
    d = max(int(np.prod(x.shape[1:])), 1)
    # the pooled pair distances of the median heuristic, and each kernel's n x m x d differences
    # (twice: the difference and its square, kept for the backward pass)
    needed = 8 * max((n + m) ** 2, 2 * d * max(n * n, m * m, n * m))
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    if physical > 0 and needed > physical:
        raise InputError(
            f"mmd compares every pair of points at once: n = {n:,} and m = {m:,} points of {d} values need about "
            f"{needed / 1e9:.3g} GB, more than this machine's {physical / 1e9:.3g} GB; estimate it on a random "
            "subset of the points (a few thousand per sample), which is how MMD is usually computed",
            source=sources.get("x", "x"),
        )


def _validate_mmd(inputs: Inputs, params: Params, sources: Sources) -> dict[str, Any]:
    """Check the two samples and return the params with gamma resolved (median heuristic)."""
    _check_pairs_fit(inputs, sources)
    params = _resolve_mmd(inputs, params)
    _checks.non_empty(inputs, sources)
    for name in ("x", "y"):
        _checks.ndim_in(inputs, sources, name, (1, 2), "a matrix of points, one per row (n x d)")
    x, y = _points(inputs["x"]), _points(inputs["y"])
    if x.shape[1] != y.shape[1]:
        raise InputError(
            f"x has {x.shape[1]} columns ({sources.get('x', 'x')}) but y has {y.shape[1]} "
            f"({sources.get('y', 'y')}); both samples must have the same dimension d"
        )
    if params["estimator"] == "unbiased":
        for name, arr in (("x", x), ("y", y)):
            if arr.shape[0] < 2:
                raise InputError(
                    f"{name} has {arr.shape[0]} row; the unbiased MMD estimator needs at least 2 points per sample",
                    source=sources.get(name, name),
                )
    if params["gamma"] is None:
        raise InputError("mmd: gamma could not be resolved from the data; set -p gamma=VALUE")
    return params


# ----------------------------------------------------------------------------- the chain rule for --explain
# Each takes (ev, inputs, name, index) and returns (forward, local) with the outer ∂L/∂ℓ included
# (see losscli.chains), or None when it has no derivation for that input.


def gan_discriminator_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    x = float(inputs[name][index])
    formula, outer = outer_step(ev, inputs[name].size)
    if name == "real":
        fwd = [("r (logit on a real sample)", x), ("ℓ = softplus(-r)", softplus_f(-x))]
        return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂r", "-σ(-r)", -sigmoid_f(-x))]
    fwd = [("f (logit on a fake sample)", x), ("ℓ = softplus(f)", softplus_f(x))]
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "σ(f)", sigmoid_f(x))]


def wasserstein_critic_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    formula, outer = outer_step(ev, inputs[name].size)
    sign = 1.0 if name == "fake" else -1.0
    fwd = [(f"{name} score", float(inputs[name][index]))]
    return fwd, [("∂L/∂(term)", formula, outer), (f"∂(±{name})/∂{name}", "+1 for fake, -1 for real", sign)]


def reconstruction_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    p_all, y_all = inputs["preds"], inputs["targets"]
    rows = p_all.shape[0]  # a 1-D input is N rows of one feature
    width = p_all.size // rows
    kind = ev.params["kind"]
    error = {"mse": mse_scalar, "mae": mae_scalar, "bce": bce_scalar}[kind]
    p = Scalar.leaf(float(p_all[index]), "p")
    prm = {"from_logits": False, "clip": ev.params.get("clip")}
    e = error(p, Scalar.leaf(float(y_all[index]), "y"), prm).named("e = " + kind + "(p, y)")
    formula, outer = outer_step(ev, rows)
    inner = (
        ("∂ℓᵢ/∂eᵢⱼ", "1 (features summed)", 1.0)
        if ev.params["feature_reduction"] == "sum"
        else ("∂ℓᵢ/∂eᵢⱼ", f"1/{width} (features averaged)", 1.0 / width)
    )
    d = derivation(e, p, outer=[("∂L/∂ℓᵢ", formula, outer), inner])
    return d.forward, d.steps, d.combine


def mmd_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    """∂MMD²/∂(one coordinate of one sample), kernel k(u, v) = exp(-γ‖u - v‖²), ∂k/∂u = -2γ(u - v)k."""
    x, y = (a.reshape(a.shape[0], -1) for a in (inputs["x"], inputs["y"]))
    own, other = (x, y) if name == "x" else (y, x)
    row, col = (index[0], index[1] if len(index) > 1 else 0)
    g = ev.params["gamma"]
    u = own[row]

    def dk(others: np.ndarray) -> np.ndarray:
        diff = u[None, :] - others
        return -2 * g * diff[:, col] * np.exp(-g * np.sum(diff * diff, axis=1))

    n, m = own.shape[0], other.shape[0]
    same = dk(own)
    if ev.params["estimator"] == "unbiased":
        same_term = 2 * (np.sum(same) - same[row]) / (n * (n - 1))
    else:
        same_term = 2 * np.sum(same) / (n * n)
    cross_term = -2 * np.sum(dk(other)) / (n * m)
    fwd = [
        (f"{name}[{row}, {col}]", float(u[col])),
        ("γ", g),
        ("Σ ∂k(self)", float(np.sum(same))),
        ("Σ ∂k(cross)", float(np.sum(dk(other)))),
    ]
    return (
        fwd,
        [
            ("∂MMD²/∂(within-sample term)", "2 Σ ∂k / n²  (n(n-1) unbiased)", same_term),
            ("∂MMD²/∂(cross term)", "-2 Σ ∂k / (n m)", cross_term),
        ],
        "sum",
    )


def gan_generator_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    f = float(inputs["fake"][index])
    formula, outer = outer_step(ev, inputs["fake"].size)
    if ev.params["mode"] == "minimax":
        fwd = [("f (logit on a fake sample)", f), ("ℓ = -softplus(f) = log(1 - σ(f))", -softplus_f(f))]
        return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "-σ(f)", -sigmoid_f(f))]
    fwd = [("f (logit on a fake sample)", f), ("ℓ = softplus(-f) = -log σ(f)", softplus_f(-f))]
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "-σ(-f)", -sigmoid_f(-f))]


def wasserstein_generator_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    formula, outer = outer_step(ev, inputs["fake"].size)
    return [("fake score", float(inputs["fake"][index]))], [("∂L/∂(-fake)", formula, outer), ("∂(-f)/∂f", "-1", -1.0)]


def gan_hinge_discriminator_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    x = float(inputs[name][index])
    formula, outer = outer_step(ev, inputs[name].size)
    if name == "real":
        fwd = [("r (D on a real sample)", x), ("ℓ = relu(1 - r)", max(1.0 - x, 0.0))]
        return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂r", "-1 where r < 1, else 0", -1.0 if x < 1.0 else 0.0)]
    fwd = [("f (D on a fake sample)", x), ("ℓ = relu(1 + f)", max(1.0 + x, 0.0))]
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "1 where f > -1, else 0", 1.0 if x > -1.0 else 0.0)]


def lsgan_discriminator_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    x = float(inputs[name][index])
    formula, outer = outer_step(ev, inputs[name].size)
    label, symbol = ("b", "r") if name == "real" else ("a", "f")
    target = float(ev.params[label])
    fwd = [
        (f"{symbol} (D on a {name} sample)", x),
        (label, target),
        (f"ℓ = ½ ({symbol} - {label})²", 0.5 * (x - target) ** 2),
    ]
    return fwd, [("∂L/∂ℓ", formula, outer), (f"∂ℓ/∂{symbol}", f"{symbol} - {label}", x - target)]


def lsgan_generator_chain(ev: Any, inputs: Mapping[str, np.ndarray], name: str, index: tuple[int, ...]):
    f = float(inputs["fake"][index])
    c = float(ev.params["c"])
    formula, outer = outer_step(ev, inputs["fake"].size)
    fwd = [("f (D on a fake sample)", f), ("c", c), ("ℓ = ½ (f - c)²", 0.5 * (f - c) ** 2)]
    return fwd, [("∂L/∂ℓ", formula, outer), ("∂ℓ/∂f", "f - c", f - c)]


# ----------------------------------------------------------------------------- specs

REAL = Input("real", "n", "discriminator logits D(x) on real samples")
FAKE = Input("fake", "m", "discriminator logits D(G(z)) on generated samples")
CRITIC_REAL = Input("real", "n", "critic scores C(x) on real samples")
CRITIC_FAKE = Input("fake", "m", "critic scores C(G(z)) on generated samples")
D_REAL = Input("real", "n", "discriminator outputs D(x) on real samples (raw scores, no sigmoid)")
D_FAKE = Input("fake", "m", "discriminator outputs D(G(z)) on generated samples (raw scores, no sigmoid)")
TWO_SAMPLE_ELEMENTS = "per sample, real terms then fake terms (n + m values)"
TWO_SAMPLE_MEAN = "mean over real + mean over fake (not one mean over n + m)"

MMD_POOLED = replace(POOLED, samples=_pooled_samples, scale=lambda inputs, reduction: float(_pooled_samples(inputs)))

SPECS = [
    define(
        name="gan-discriminator",
        chain=Custom(gan_discriminator_chain),
        example=Example(
            ("gan_real_logits.csv", "gan_fake_logits.csv"),
            what="discriminator logits on 16 real and 12 generated samples",
        ),
        aliases=("gan-d", "gan-disc", "discriminator"),
        family=FAMILY,
        summary="GAN discriminator loss (BCE-with-logits, real vs 1 and fake vs 0)",
        inputs=(REAL, FAKE),
        params=(),
        formula="L = (1/n) Σᵢ softplus(-D(xᵢ)) + (1/m) Σⱼ softplus(D(G(zⱼ)))  "
        "(= BCEWithLogits(real, 1) + BCEWithLogits(fake, 0))",
        derivative="∂L/∂D(xᵢ) = -σ(-D(xᵢ)) / n = (σ(D(xᵢ)) - 1) / n;  ∂L/∂D(G(zⱼ)) = σ(D(G(zⱼ))) / m",
        convention="torch: F.binary_cross_entropy_with_logits(real, ones) + "
        "F.binary_cross_entropy_with_logits(fake, zeros) (DCGAN; TF-GAN modified_discriminator_loss with "
        "label_smoothing=0, its default is 0.25)",
        differs="Some code averages once over the concatenated batch, which halves the value when "
        "n = m; --reduction sum gives Σ real terms + Σ fake terms; none lists real terms then fake terms.",
        when="Training the discriminator of a standard (non-Wasserstein) GAN.",
        fn=gan_discriminator,
        reduction=TWO_MEANS,
        validate=_validate_nonempty,
        element_note=TWO_SAMPLE_ELEMENTS,
        mean_note=TWO_SAMPLE_MEAN,
        references=("Goodfellow et al. 2014, Generative Adversarial Nets",),
    ),
    define(
        name="gan-generator",
        chain=Custom(gan_generator_chain),
        example=Example(("gan_fake_logits.csv",), what="discriminator logits on 12 generated samples"),
        aliases=("gan-g", "gan-gen", "generator"),
        family=FAMILY,
        summary="GAN generator loss, non-saturating (default) or minimax",
        inputs=(FAKE,),
        params=(
            Param(
                "mode",
                "choice",
                "non-saturating",
                "non-saturating: -log D(G(z)); minimax: log(1 - D(G(z)))",
                choices=("non-saturating", "minimax"),
            ),
        ),
        formula="non-saturating: L = (1/m) Σⱼ softplus(-D(G(zⱼ)));  "
        "minimax: L = -(1/m) Σⱼ softplus(D(G(zⱼ))) = (1/m) Σⱼ log(1 - σ(D(G(zⱼ))))",
        derivative="non-saturating: ∂L/∂D(G(zⱼ)) = -σ(-D(G(zⱼ))) / m;  minimax: -σ(D(G(zⱼ))) / m",
        convention="torch: F.binary_cross_entropy_with_logits(fake, ones) (non-saturating); "
        "-F.binary_cross_entropy_with_logits(fake, zeros) (minimax); TF-GAN modified/minimax_generator_loss",
        differs="The minimax form saturates: when D confidently rejects fakes (D(G(z)) ≪ 0) its "
        "gradient σ(D(G(z))) vanishes; the non-saturating form was proposed for that reason.",
        when="Training the generator of a standard GAN; keep non-saturating unless studying the original game.",
        fn=gan_generator,
        validate=_validate_nonempty,
        element_note="per generated sample",
        mean_note="mean over generated samples",
        references=("Goodfellow et al. 2014, Generative Adversarial Nets",),
    ),
    define(
        name="wasserstein-critic",
        chain=Custom(wasserstein_critic_chain),
        example=Example(("gan_real_logits.csv", "gan_fake_logits.csv"), what="critic scores"),
        aliases=("wgan-critic", "wgan-d", "wasserstein-d"),
        family=FAMILY,
        summary="Wasserstein GAN critic loss mean(C(fake)) - mean(C(real))",
        inputs=(CRITIC_REAL, CRITIC_FAKE),
        params=(),
        formula="L = (1/m) Σⱼ C(G(zⱼ)) - (1/n) Σᵢ C(xᵢ)",
        derivative="∂L/∂C(xᵢ) = -1/n;  ∂L/∂C(G(zⱼ)) = 1/m  (constant: the critic's Lipschitz "
        "constraint, clipping or gradient penalty, is not part of this loss)",
        convention="WGAN (Arjovsky et al. 2017), as TF-GAN wasserstein_discriminator_loss / torchgan",
        differs="Sign conventions vary: some code maximises mean(C(real)) - mean(C(fake)) instead; "
        "the gradient penalty of WGAN-GP is not included. --reduction none lists -C(xᵢ) then C(G(zⱼ)).",
        when="Training a WGAN critic; its negative estimates the Wasserstein-1 distance (up to the Lipschitz constant).",
        fn=wasserstein_critic,
        reduction=TWO_MEANS,
        validate=_validate_nonempty,
        element_note="per sample: -C(x) for real, C(G(z)) for fake (n + m values)",
        mean_note=TWO_SAMPLE_MEAN,
        references=("Arjovsky, Chintala, Bottou 2017, Wasserstein GAN",),
    ),
    define(
        name="wasserstein-generator",
        chain=Custom(wasserstein_generator_chain),
        example=Example(("gan_fake_logits.csv",), what="critic scores on generated samples"),
        aliases=("wgan-generator", "wgan-g", "wasserstein-g"),
        family=FAMILY,
        summary="Wasserstein GAN generator loss -mean(C(fake))",
        inputs=(CRITIC_FAKE,),
        params=(),
        formula="L = -(1/m) Σⱼ C(G(zⱼ))",
        derivative="∂L/∂C(G(zⱼ)) = -1/m",
        convention="WGAN (Arjovsky et al. 2017), as TF-GAN wasserstein_generator_loss / torchgan",
        differs="Same sign conventions caveat as wasserstein-critic.",
        when="Training a WGAN generator.",
        fn=wasserstein_generator,
        validate=_validate_nonempty,
        element_note="per generated sample (-C(G(z)))",
        mean_note="mean over generated samples",
        references=("Arjovsky, Chintala, Bottou 2017, Wasserstein GAN",),
    ),
    define(
        name="gan-hinge-discriminator",
        chain=Custom(gan_hinge_discriminator_chain),
        example=Example(
            ("gan_real_logits.csv", "gan_fake_logits.csv"),
            what="discriminator outputs on 16 real and 12 generated samples (some inside the margin)",
        ),
        aliases=("gan-hinge-d", "hinge-gan-discriminator"),
        family=FAMILY,
        summary="hinge GAN discriminator loss mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))",
        inputs=(D_REAL, D_FAKE),
        params=(),
        formula="L = (1/n) Σᵢ max(0, 1 - D(xᵢ)) + (1/m) Σⱼ max(0, 1 + D(G(zⱼ)))",
        derivative="∂L/∂D(xᵢ) = -1/n where D(xᵢ) < 1, else 0;  ∂L/∂D(G(zⱼ)) = 1/m where D(G(zⱼ)) > -1, "
        "else 0 (0 on the hinge itself, as torch relu)",
        convention="the SAGAN / BigGAN hinge loss as PyTorch-StudioGAN d_hinge (src/utils/losses.py): "
        "torch.mean(F.relu(1. - d_logit_real)) + torch.mean(F.relu(1. + d_logit_fake))",
        differs="Some code averages once over the concatenated real and fake outputs, which halves the value "
        "when n = m. Outputs beyond the margin (D(x) > 1 on real, D(G(z)) < -1 on fake) get a gradient of "
        "exactly 0. --reduction sum gives Σ real terms + Σ fake terms; none lists real terms then fake terms.",
        when="Training the discriminator of SNGAN / SAGAN / BigGAN-style models (hinge loss, spectral norm).",
        fn=gan_hinge_discriminator,
        reduction=TWO_MEANS,
        validate=_validate_nonempty,
        element_note=TWO_SAMPLE_ELEMENTS,
        mean_note=TWO_SAMPLE_MEAN,
        references=(
            "Lim & Ye 2017, Geometric GAN",
            "Miyato et al. 2018, Spectral Normalization for GANs",
            "Zhang et al. 2019, Self-Attention GANs",
        ),
    ),
    define(
        name="gan-hinge-generator",
        chain=Custom(wasserstein_generator_chain),
        example=Example(("gan_fake_logits.csv",), what="discriminator outputs on 12 generated samples"),
        aliases=("gan-hinge-g", "hinge-gan-generator"),
        family=FAMILY,
        summary="hinge GAN generator loss -mean(D(fake))",
        inputs=(D_FAKE,),
        params=(),
        formula="L = -(1/m) Σⱼ D(G(zⱼ))",
        derivative="∂L/∂D(G(zⱼ)) = -1/m",
        convention="the SAGAN / BigGAN generator loss as PyTorch-StudioGAN g_hinge (src/utils/losses.py): "
        "-torch.mean(d_logit_fake)",
        differs="The same numbers as wasserstein-generator: the hinge is in the discriminator's loss only. "
        "Some code trains the generator of a hinge discriminator with the non-saturating softplus(-D(G(z))) "
        "instead (gan-generator).",
        when="Training the generator against a hinge-loss discriminator.",
        fn=gan_hinge_generator,
        validate=_validate_nonempty,
        element_note="per generated sample (-D(G(z)))",
        mean_note="mean over generated samples",
        references=("Lim & Ye 2017, Geometric GAN", "Zhang et al. 2019, Self-Attention GANs"),
    ),
    define(
        name="lsgan-discriminator",
        chain=Custom(lsgan_discriminator_chain),
        example=Example(
            ("lsgan_real_scores.csv", "lsgan_fake_scores.csv"),
            what="least-squares discriminator outputs on 10 real and 8 generated samples",
        ),
        aliases=("lsgan-d", "least-squares-gan-discriminator"),
        family=FAMILY,
        summary="least-squares GAN discriminator loss ½ mean((D(real) - b)²) + ½ mean((D(fake) - a)²)",
        inputs=(D_REAL, D_FAKE),
        params=(
            Param("a", "float", 0.0, "the label for generated samples"),
            Param("b", "float", 1.0, "the label for real samples"),
        ),
        formula="L = (1/n) Σᵢ ½ (D(xᵢ) - b)² + (1/m) Σⱼ ½ (D(G(zⱼ)) - a)²  (a = 0, b = 1 by default)",
        derivative="∂L/∂D(xᵢ) = (D(xᵢ) - b) / n;  ∂L/∂D(G(zⱼ)) = (D(G(zⱼ)) - a) / m",
        convention="Mao et al. 2017 LSGAN as torchgan.losses.functional least_squares_discriminator_loss(dx, dgz, "
        "a=0.0, b=1.0) = 0.5 * (mean((dx - b)**2) + mean((dgz - a)**2)); PyTorch-StudioGAN d_ls is the "
        "same for a = 0, b = 1",
        differs="The ½ factors differ between implementations: torchgan, StudioGAN d_ls and PyTorch-GAN's "
        "lsgan.py (0.5 * (MSE(real, 1) + MSE(fake, 0))) all halve the discriminator loss, but lsgan.py does "
        "not halve the generator's (see lsgan-generator). StudioGAN takes one mean over the summed terms "
        "(the same when n = m). The paper's other coding is a = -1, b = 1 (c = 0 for the generator).",
        when="Training the discriminator of a least-squares GAN (gradients that do not vanish for "
        "fakes on the right side of the boundary).",
        fn=lsgan_discriminator,
        reduction=TWO_MEANS,
        validate=_validate_nonempty,
        element_note="per sample: ½ (D(x) - b)² for real, ½ (D(G(z)) - a)² for fake (n + m values)",
        mean_note=TWO_SAMPLE_MEAN,
        references=("Mao et al. 2017, Least Squares Generative Adversarial Networks, ICCV",),
    ),
    define(
        name="lsgan-generator",
        chain=Custom(lsgan_generator_chain),
        example=Example(("lsgan_fake_scores.csv",), what="least-squares discriminator outputs on 8 generated samples"),
        aliases=("lsgan-g", "least-squares-gan-generator"),
        family=FAMILY,
        summary="least-squares GAN generator loss ½ mean((D(fake) - c)²)",
        inputs=(D_FAKE,),
        params=(Param("c", "float", 1.0, "the value the generator wants D to give its samples"),),
        formula="L = (1/m) Σⱼ ½ (D(G(zⱼ)) - c)²  (c = 1 by default)",
        derivative="∂L/∂D(G(zⱼ)) = (D(G(zⱼ)) - c) / m",
        convention="Mao et al. 2017 LSGAN as torchgan.losses.functional least_squares_generator_loss(dgz, c=1.0) "
        "= 0.5 * mean((dgz - c)**2); PyTorch-StudioGAN g_ls is the same for c = 1",
        differs="PyTorch-GAN's lsgan.py uses MSELoss(D(G(z)), 1) without the ½: twice this value and "
        "gradient. The paper's other coding uses c = 0 (with a = -1, b = 1).",
        when="Training the generator of a least-squares GAN.",
        fn=lsgan_generator,
        validate=_validate_nonempty,
        element_note="per generated sample (½ (D(G(z)) - c)²)",
        mean_note="mean over generated samples",
        references=("Mao et al. 2017, Least Squares Generative Adversarial Networks, ICCV",),
    ),
    define(
        name="reconstruction",
        chain=Custom(reconstruction_chain),
        example=Example(("recon.json",), what="an autoencoder's 6 x 8 output probabilities and binary inputs"),
        aliases=("recon", "vae-reconstruction", "reconstruction-loss"),
        family=FAMILY,
        summary="autoencoder / VAE reconstruction loss, summed over features, averaged over samples",
        inputs=(
            Input("preds", "N x D", "reconstructions (probabilities in [0, 1] for kind=bce)"),
            Input("targets", "N x D", "original samples (in [0, 1] for kind=bce)", differentiable=False),
        ),
        params=(
            Param(
                "kind",
                "choice",
                "mse",
                "per-feature error: squared, absolute or binary cross-entropy",
                choices=("mse", "mae", "bce"),
            ),
            Param(
                "feature_reduction",
                "choice",
                "sum",
                "how the D feature errors of a row are combined",
                choices=("sum", "mean"),
            ),
            replace(CLIP, help="kind=bce only; " + CLIP.help.removeprefix("probabilities only. ")),
        ),
        formula="ℓᵢ = Σ_j e(p_{ij}, y_{ij})  (or (1/D) Σ_j with feature_reduction=mean),  "
        "e = (p - y)² | |p - y| | -[y log p + (1 - y) log(1 - p)] (logs clamped at -100, or p clipped "
        "to [c, 1 - c] with -p clip=c as bce);  L = (1/N) Σᵢ ℓᵢ",
        derivative="∂L/∂p_{ij} = e'(p_{ij}, y_{ij}) / N (÷ D with feature_reduction=mean): "
        "2 (p - y), sign(p - y) or (p - y) / (p (1 - p))",
        convention="the VAE convention (Kingma & Welling 2014; PyTorch VAE example: "
        "F.binary_cross_entropy(recon, x, reduction='sum') / N, F.mse_loss(..., reduction='sum') / N)",
        differs="torch MSELoss/BCELoss with reduction='mean' divide by N·D, which is "
        "feature_reduction=mean here; Keras VAE examples sum over pixels then average over the batch.",
        when="Autoencoders and the likelihood term of a VAE ELBO (bce for Bernoulli pixels, mse for Gaussian).",
        fn=reconstruction,
        validate=_validate_reconstruction,
        report=report_clamped,
        element_note="per sample (row), features summed or averaged",
        mean_note="mean over samples (rows)",
        references=("Kingma & Welling 2014, Auto-Encoding Variational Bayes",),
    ),
    define(
        name="mmd",
        chain=Custom(mmd_chain),
        example=Example(("mmd_x.csv", "mmd_y.csv"), what="two 2-D samples of 20 and 25 points"),
        aliases=("mmd2", "maximum-mean-discrepancy"),
        family=FAMILY,
        summary="squared maximum mean discrepancy between two samples (Gaussian kernel)",
        inputs=(
            Input("x", "n x d", "first sample, one point per row"),
            Input("y", "m x d", "second sample, one point per row"),
        ),
        params=(
            Param(
                "gamma",
                "float",
                None,
                "kernel width γ in exp(-γ ‖a - b‖²); none: median heuristic "
                "1 / median of the pooled pairwise squared distances (distinct pairs)",
                low=0.0,
                low_open=True,
            ),
            Param(
                "estimator",
                "choice",
                "biased",
                "biased keeps the kernel diagonal (MMD² >= 0); unbiased drops it (can be < 0)",
                choices=("biased", "unbiased"),
            ),
        ),
        formula="k(a, b) = exp(-γ ‖a - b‖²);  MMD² = (1/n²) Σ_{i,i'} k(xᵢ, xᵢ') + (1/m²) Σ_{j,j'} k(yⱼ, yⱼ') "
        "- (2/nm) Σ_{i,j} k(xᵢ, yⱼ)  (unbiased: the first two sums skip i = i', j = j' and divide by "
        "n(n-1), m(m-1))",
        derivative="∂MMD²/∂xᵢ = -(4γ/n²) Σ_{i'} k(xᵢ, xᵢ')(xᵢ - xᵢ') + (4γ/nm) Σⱼ k(xᵢ, yⱼ)(xᵢ - yⱼ) "
        "(biased; γ is held fixed, also when it comes from the median heuristic)",
        convention="Gretton et al. 2012 MMD² with scikit-learn rbf_kernel exp(-γ ‖a - b‖²); "
        "median heuristic γ = 1 / median ‖a - b‖² over distinct pooled pairs",
        differs="Some code writes the kernel as exp(-‖a - b‖² / (2σ²)) (γ = 1/(2σ²)), or takes the "
        "median of distances rather than squared distances, or includes the zero diagonal in the "
        "median; unbiased MMD² can be negative.",
        when="Comparing two samples / distributions (two-sample tests, MMD-GAN, domain adaptation).",
        fn=mmd,
        validate=_validate_mmd,
        reduction=MMD_POOLED,
        element_note="the three terms E k(x,x'), E k(y,y'), -2 E k(x,y) (their sum is MMD²)",
        mean_note="MMD² (mean and sum both give the total of the three terms)",
        references=("Gretton et al. 2012, A Kernel Two-Sample Test, JMLR 13",),
    ),
]
