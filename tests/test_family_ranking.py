"""Embedding, ranking and preference losses against their defining libraries (issue 11).

References, per test (named again in each docstring):

* triplet on 1-D inputs and with a cosine distance: torch.nn.functional.triplet_margin_loss and
  triplet_margin_with_distance_loss (installed), value and autograd gradients;
* dpo: TRL DPOTrainer.dpo_loss (huggingface/trl, trl/trainer/dpo_trainer.py, the v0.13-v0.19 form
  with loss_type / label_smoothing / reference_free) and its logged reward metrics
  (get_batch_loss_metrics), transcribed into torch below; for sigmoid also losscli's bpr and
  torch.nn.functional.logsigmoid;
* infonce, ntxent: pytorch-metric-learning NTXentLoss + get_all_pairs_indices + SelfSupervisedLoss
  (src/pytorch_metric_learning/losses/ntxent_loss.py, utils/loss_and_miner_utils.py,
  losses/self_supervised_loss.py) transcribed into torch; optax.ntxent (optax/losses/_self_supervised.py)
  transcribed, and the value of its own docstring example (log 3 = 1.0986123);
* supcon: pytorch-metric-learning SupConLoss with AvgNonZeroReducer transcribed; the Khosla et al.
  reference (HobbitLong/SupContrast losses.py SupConLoss) transcribed, to show how it differs.

None of TRL, pytorch-metric-learning or optax installs here (see the brief), hence the transcriptions.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.core import evaluate
from losscli.errors import InputError, UsageError
from losscli.params import parse_params
from tests.cases import CASES
from tests.test_losses import run

REDUCTIONS = ("mean", "sum", "none")
BACKENDS = ("numpy", "torch")


def t64(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def reduce(per: torch.Tensor, reduction: str) -> torch.Tensor:
    return per.mean() if reduction == "mean" else per.sum() if reduction == "sum" else per


def check(name, params, inputs, ref, *, differentiable, rtol=1e-12):
    """losscli's value (numpy and torch backends) and gradients (torch) == ref(tensors, reduction)
    for every reduction; gradients of 'none' are those of the sum, as losscli defines them."""
    for reduction in REDUCTIONS:
        leaves = {k: t64(v, grad=k in differentiable) for k, v in inputs.items()}
        expected = ref(leaves, reduction)
        (expected if reduction != "none" else expected.sum()).backward()
        for backend in BACKENDS:
            ev = run(name, params, inputs, backend, reduction=reduction)
            np.testing.assert_allclose(ev.value, expected.detach().numpy(), rtol=rtol, atol=1e-14)
        assert set(ev.gradients) == set(differentiable)
        for k in differentiable:
            np.testing.assert_allclose(ev.gradients[k], leaves[k].grad.numpy(), rtol=1e-10, atol=1e-13)


def case_list(loss: str, prefix: str = ""):
    return [pytest.param(c, id=c[0]) for c in CASES[loss] if c[0].startswith(prefix)]


# ----------------------------------------------------------------------------- 1. triplet, unbatched

TRIPLET = ("anchor", "positive", "negative")


@pytest.mark.parametrize("params", [[], ["p=1", "swap=true"], ["margin=3"], ["distance=cosine"]])
def test_triplet_unbatched_1d_inputs_are_one_embedding_as_torch(cli, write, params):
    """The reported wrong number: three one-column CSVs are ONE triplet of D-vectors, as torch reads
    1-D tensors (not D triplets of scalars).  Reference: torch F.triplet_margin_loss (and
    triplet_margin_with_distance_loss for the cosine distance) on 1-D tensors, every reduction, and
    the autograd gradients; through the CLI as the report ran it."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=5)
    d = {"anchor": a, "positive": a + rng.normal(0, 1.0, 5), "negative": a + rng.normal(0, 0.4, 5)}
    files = [write(f"{k}.csv", v) for k, v in d.items()]
    prm = parse_params(losses.get("triplet"), params)

    def ref(x, reduction):
        args = [x[k] for k in TRIPLET]
        if prm["distance"] == "cosine":
            return F.triplet_margin_with_distance_loss(
                *args,
                distance_function=lambda u, v: 1 - F.cosine_similarity(u, v, dim=-1),
                margin=prm["margin"],
                swap=prm["swap"],
                reduction=reduction,
            )
        return F.triplet_margin_loss(
            *args, margin=prm["margin"], p=prm["p"], eps=prm["eps"], swap=prm["swap"], reduction=reduction
        )

    leaves = {k: t64(v, grad=True) for k, v in d.items()}
    expected = ref(leaves, "mean")
    assert expected.dim() == 0 and expected.item() > 0  # one active triplet
    expected.backward()
    r = cli("grad", "triplet", *files, *sum((["-p", p] for p in params), []), "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 1
    assert out["inputs"]["anchor"]["shape"] == [5]
    assert out["value"] == pytest.approx(expected.item(), rel=1e-13)
    for k in TRIPLET:
        np.testing.assert_allclose(out["gradients"][k], leaves[k].grad.numpy(), rtol=1e-12, atol=1e-15)
    for reduction in REDUCTIONS:  # torch's 'none' on one triplet is a 0-d tensor: losscli's one element
        value = run("triplet", params, d, reduction=reduction).value
        assert np.asarray(value).reshape(-1).tolist() == pytest.approx([ref(leaves, reduction).item()], rel=1e-13)


# ----------------------------------------------------------------------------- 2. triplet, cosine distance


@pytest.mark.parametrize("case", case_list("triplet", "cosine"))
def test_triplet_cosine_matches_torch_triplet_margin_with_distance_loss(case):
    """Reference: torch F.triplet_margin_with_distance_loss(distance_function=1 - cosine_similarity(dim=-1,
    eps=cosine_eps), margin, swap), value for every reduction and autograd gradients."""
    _, params, factory = case
    d = factory(np.random.default_rng(61))
    prm = parse_params(losses.get("triplet"), params)

    def ref(x, reduction):
        return F.triplet_margin_with_distance_loss(
            *(x[k] for k in TRIPLET),
            distance_function=lambda u, v: 1 - F.cosine_similarity(u, v, dim=-1, eps=prm["cosine_eps"]),
            margin=prm["margin"],
            swap=prm["swap"],
            reduction=reduction,
        )

    check("triplet", params, d, ref, differentiable=TRIPLET)


def test_triplet_cosine_eps_floor_has_no_gradient_as_torch():
    """Reference: torch F.cosine_similarity clamps each norm at eps under NoGradGuard (ATen
    cosine_similarity): below eps the value uses eps but the gradient flows through the norm; a zero
    vector gets a finite gradient.  Checked against torch on norms below eps and an all-zero anchor."""
    rng = np.random.default_rng(62)
    d = {k: rng.normal(size=(4, 3)) for k in TRIPLET}
    d["anchor"][0] *= 1e-3  # ‖a‖ ≈ 1e-3 < cosine_eps = 0.01
    d["positive"][1] *= 1e-4
    d["anchor"][2] = 0.0
    params = ["distance=cosine", "cosine_eps=0.01", "margin=2"]

    def ref(x, reduction):
        return F.triplet_margin_with_distance_loss(
            *(x[k] for k in TRIPLET),
            distance_function=lambda u, v: 1 - F.cosine_similarity(u, v, dim=-1, eps=0.01),
            margin=2.0,
            reduction=reduction,
        )

    check("triplet", params, d, ref, differentiable=TRIPLET)
    grads = run("triplet", params, d, "torch").gradients
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_triplet_cosine_worked_element_equals_autograd():
    """Reference: torch autograd; the --explain chain for distance=cosine (no swap), every element."""
    from losscli.chains import worked_element

    for _, params, factory in [c for c in CASES["triplet"] if c[0].startswith("cosine") and "swap=true" not in c[1]]:
        d = factory(np.random.default_rng(63))
        ev = run("triplet", params, d, "torch")
        for name in TRIPLET:
            for index in np.ndindex(d[name].shape):
                chain = worked_element(ev, d, index, name)
                assert chain is not None
                assert chain.product == pytest.approx(float(ev.gradients[name][index]), rel=1e-12, abs=1e-300)


def test_triplet_refuses_what_torch_refuses():
    """Reference: torch 2.13 triplet_margin_loss and triplet_margin_with_distance_loss raise
    'margin must be greater than 0'; p and eps are pairwise_distance's, not cosine's."""
    spec = losses.get("triplet")
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(t64(a), t64(a), t64(a), margin=0.0)
    with pytest.raises(UsageError, match="margin"):
        parse_params(spec, ["margin=0"])
    with pytest.raises(UsageError, match="cosine_eps"):
        run("triplet", ["distance=cosine", "p=1"], {k: a for k in TRIPLET})


# ----------------------------------------------------------------------------------------- 3. DPO

DPO = ("chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps")


def trl_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, *, beta, loss_type, label_smoothing, reference_free):
    """TRL DPOTrainer.dpo_loss (huggingface/trl trl/trainer/dpo_trainer.py), transcribed for the loss types
    losscli offers; returns (losses, chosen_rewards, rejected_rewards) as TRL does."""
    logratios = chosen - rejected
    if reference_free:
        ref_logratios = torch.tensor([0], dtype=logratios.dtype)
    else:
        ref_logratios = ref_chosen - ref_rejected
    logits = logratios - ref_logratios
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * logits) * (1 - label_smoothing) - F.logsigmoid(-beta * logits) * label_smoothing
    elif loss_type == "robust":
        losses = (
            -F.logsigmoid(beta * logits) * (1 - label_smoothing) + F.logsigmoid(-beta * logits) * label_smoothing
        ) / (1 - 2 * label_smoothing)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * logits)
    elif loss_type == "ipo":
        losses = (logits - 1 / (2 * beta)) ** 2
    chosen_rewards = beta * (chosen - ref_chosen).detach()
    rejected_rewards = beta * (rejected - ref_rejected).detach()
    return losses, chosen_rewards, rejected_rewards


@pytest.mark.parametrize("case", case_list("dpo"))
def test_dpo_matches_trl_dpo_loss(case):
    """Reference: TRL DPOTrainer.dpo_loss transcribed above (value per pair, TRL's mean, and sum),
    autograd gradients for the policy log-probs (the reference ones are frozen, as TRL's no_grad),
    and TRL's logged metrics rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins
    (get_batch_loss_metrics)."""
    _, params, factory = case
    d = factory(np.random.default_rng(71))
    prm = parse_params(losses.get("dpo"), params)

    def trl(x):
        return trl_dpo_loss(*(x[k] for k in DPO), **prm)

    check("dpo", params, d, lambda x, reduction: reduce(trl(x)[0], reduction), differentiable=DPO[:2])
    _, chosen, rejected = trl({k: t64(v) for k, v in d.items()})
    extras = run("dpo", params, d).extras
    assert extras["rewards/chosen"] == pytest.approx(chosen.mean().item(), rel=1e-13)
    assert extras["rewards/rejected"] == pytest.approx(rejected.mean().item(), rel=1e-13)
    assert extras["rewards/accuracies"] == (chosen > rejected).double().mean().item()
    assert extras["rewards/margins"] == pytest.approx((chosen - rejected).mean().item(), rel=1e-12)


def test_dpo_sigmoid_is_bpr_on_beta_scaled_log_ratios():
    """Reference: losscli's bpr and torch -logsigmoid: sigmoid DPO with label_smoothing 0 is
    bpr(pos = β(chosen - ref_chosen), neg = β(rejected - ref_rejected)), value and gradient (× β)."""
    d = CASES["dpo"][0][2](np.random.default_rng(72))
    beta = 0.3
    pos = beta * (d["chosen_logps"] - d["ref_chosen_logps"])
    neg = beta * (d["rejected_logps"] - d["ref_rejected_logps"])
    ev = run("dpo", [f"beta={beta}"], d, "torch", reduction="none")
    bpr = run("bpr", [], {"pos": pos, "neg": neg}, "torch", reduction="none")
    np.testing.assert_allclose(ev.value, bpr.value, rtol=1e-12)
    np.testing.assert_allclose(ev.value, (-F.logsigmoid(t64(pos) - t64(neg))).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ev.gradients["chosen_logps"], beta * bpr.gradients["pos"], rtol=1e-12)
    np.testing.assert_allclose(ev.gradients["rejected_logps"], beta * bpr.gradients["neg"], rtol=1e-12)


def test_dpo_starts_at_log_2_when_policy_equals_reference():
    """Reference: the DPO paper's starting point, by hand: Δ = 0 gives -log σ(0) = log 2 for sigmoid,
    1 for hinge and 1/(4β²) for ipo."""
    logps = np.array([-40.0, -75.5, -12.25])
    d = {"chosen_logps": logps, "rejected_logps": logps - 3, "ref_chosen_logps": logps, "ref_rejected_logps": logps - 3}
    assert run("dpo", [], d).value == pytest.approx(math.log(2), rel=1e-15)
    assert run("dpo", ["loss_type=hinge"], d).value == 1.0
    assert run("dpo", ["loss_type=ipo", "beta=0.5"], d).value == pytest.approx(1.0, rel=1e-15)


def test_dpo_refuses_what_it_cannot_read():
    """Reference: TRL's documented ranges (label_smoothing in [0, 0.5], robust divides by 1 - 2ε,
    label_smoothing unused by hinge and ipo) and log-probabilities <= 0 (hand-stated)."""
    d = CASES["dpo"][0][2](np.random.default_rng(73))
    with pytest.raises(UsageError, match="label_smoothing applies to loss_type=sigmoid"):
        run("dpo", ["loss_type=hinge", "label_smoothing=0.1"], d)
    with pytest.raises(UsageError, match="< 0.5"):
        run("dpo", ["loss_type=robust", "label_smoothing=0.5"], d)
    bad = dict(d, rejected_logps=np.r_[d["rejected_logps"][:2], 0.4, d["rejected_logps"][3:]])
    with pytest.raises(InputError, match=r"p.csv: data row 3: rejected_logps must be a log-probability \(<= 0\)"):
        evaluate(losses.get("dpo"), bad, parse_params(losses.get("dpo"), []), sources={"rejected_logps": "p.csv"})
    with pytest.raises(InputError, match="one log-probability of each kind per pair"):
        run("dpo", [], dict(d, ref_chosen_logps=d["ref_chosen_logps"][:-1]))


# ------------------------------------------------------------------------------ 4. InfoNCE / NT-Xent


def pml_get_all_pairs_indices(labels, ref_labels=None):
    """pytorch-metric-learning utils/loss_and_miner_utils.py get_all_pairs_indices, transcribed."""
    if ref_labels is None:
        ref_labels = labels
    matches = (labels.unsqueeze(1) == ref_labels.unsqueeze(0)).byte()
    diffs = matches ^ 1
    if ref_labels is labels:
        matches.fill_diagonal_(0)
    a1, p = torch.where(matches)
    a2, n = torch.where(diffs)
    return a1, p, a2, n


def pml_ntxent(embeddings, labels, temperature, ref_emb=None, ref_labels=None):
    """pytorch-metric-learning NTXentLoss._compute_loss (losses/ntxent_loss.py) with its default
    CosineSimilarity (F.normalize, then a matmul) and MeanReducer, transcribed: per positive pair."""
    a1, p, a2, n = pml_get_all_pairs_indices(labels, ref_labels)
    q = F.normalize(embeddings, p=2, dim=1)
    r = q if ref_emb is None else F.normalize(ref_emb, p=2, dim=1)
    mat = q @ r.t()
    dtype = mat.dtype
    pos_pairs = mat[a1, p].unsqueeze(1) / temperature
    neg_pairs = mat[a2, n] / temperature
    n_per_p = (a2.unsqueeze(0) == a1.unsqueeze(1)).type(dtype)
    neg_pairs = neg_pairs * n_per_p
    neg_pairs[n_per_p == 0] = torch.finfo(dtype).min  # c_f.neg_inf
    max_val = torch.max(pos_pairs, torch.max(neg_pairs, dim=1, keepdim=True)[0]).detach()
    numerator = torch.exp(pos_pairs - max_val).squeeze(1)
    denominator = torch.sum(torch.exp(neg_pairs - max_val), dim=1) + numerator
    return -torch.log((numerator / denominator) + torch.finfo(dtype).tiny)


def pml_self_supervised(embeddings, ref_emb, temperature, symmetric):
    """SelfSupervisedLoss(NTXentLoss(temperature), symmetric).forward (losses/self_supervised_loss.py)."""
    labels = torch.arange(embeddings.shape[0])
    if symmetric:
        return pml_ntxent(torch.cat([embeddings, ref_emb]), torch.cat([labels, labels]), temperature)
    return pml_ntxent(embeddings, labels, temperature, ref_emb=ref_emb, ref_labels=labels.clone())


def optax_ntxent(embeddings, labels, temperature=0.07):
    """optax.ntxent (optax/losses/_self_supervised.py) transcribed into torch, with
    optax.cosine_similarity(epsilon=finfo.eps): safe_norm gives max(‖x‖, eps) without a gradient below."""
    eps = torch.finfo(embeddings.dtype).eps
    norm = torch.linalg.vector_norm(embeddings, dim=-1, keepdim=True)
    unit = embeddings / torch.where(norm <= eps, torch.full_like(norm, eps), norm)
    xcs = (unit @ unit.t()) / temperature
    matches = labels.unsqueeze(1) == labels.unsqueeze(0)
    diffs = ~matches
    matches = matches & ~torch.eye(matches.shape[0], dtype=torch.bool)
    minus_inf = torch.full_like(xcs, float("-inf"))
    xcs_diffs = torch.where(diffs, xcs, minus_inf)
    xcs_matches = torch.where(matches, xcs, minus_inf)
    xcs_max = torch.max(torch.cat([xcs_diffs, xcs_matches], dim=-1), dim=1, keepdim=True)[0].detach()
    numer = xcs_matches - xcs_max
    denom = torch.sum(torch.exp(xcs_diffs - xcs_max), dim=1, keepdim=True) + torch.exp(numer)
    log_softm = numer - torch.log(denom)
    return -torch.where(matches, log_softm, torch.zeros_like(log_softm)).sum() / matches.sum()


@pytest.mark.parametrize("case", case_list("infonce"))
def test_infonce_matches_pytorch_metric_learning_ntxent(case):
    """Reference: pytorch-metric-learning SelfSupervisedLoss(NTXentLoss(temperature), symmetric)
    transcribed above: the per-anchor losses in its pair order, their mean (MeanReducer) and sum,
    autograd gradients of both views; the symmetric mean against optax.ntxent transcribed, the two
    views given to it as one batch with labels 0..N-1 twice."""
    _, params, factory = case
    d = factory(np.random.default_rng(81))
    prm = parse_params(losses.get("infonce"), params)
    tau = prm["temperature"]

    def ref(x, reduction):
        return reduce(pml_self_supervised(x["embeddings"], x["ref_emb"], tau, prm["symmetric"]), reduction)

    check("infonce", params, d, ref, differentiable=("embeddings", "ref_emb"))
    n = d["embeddings"].shape[0]
    assert run("infonce", params, d, reduction="none").value.shape == ((2 * n,) if prm["symmetric"] else (n,))
    if prm["symmetric"]:
        batch = t64(np.concatenate([d["embeddings"], d["ref_emb"]]))
        labels = torch.cat([torch.arange(n), torch.arange(n)])
        assert run("infonce", params, d).value == pytest.approx(optax_ntxent(batch, labels, tau).item(), rel=1e-12)
        as_labels = {"embeddings": batch.numpy(), "labels": labels.double().numpy()}
        assert run("ntxent", params, as_labels).value == pytest.approx(run("infonce", params, d).value, rel=1e-13)


@pytest.mark.parametrize("case", case_list("ntxent"))
def test_ntxent_matches_pytorch_metric_learning_and_optax(case):
    """Reference: pytorch-metric-learning NTXentLoss(temperature)(embeddings, labels) transcribed above
    (per positive pair in its row-major pair order, MeanReducer, sum, autograd gradients) and
    optax.ntxent transcribed (the mean)."""
    _, params, factory = case
    d = factory(np.random.default_rng(83))
    tau = parse_params(losses.get("ntxent"), params)["temperature"]
    check(
        "ntxent",
        params,
        d,
        lambda x, reduction: reduce(pml_ntxent(x["embeddings"], x["labels"], tau), reduction),
        differentiable=("embeddings",),
    )
    expected = optax_ntxent(t64(d["embeddings"]), t64(d["labels"]), tau).item()
    assert run("ntxent", params, d).value == pytest.approx(expected, rel=1e-12)


def test_ntxent_optax_docstring_example_gives_log_3():
    """Reference: optax.ntxent's own docstring example: 1-d embeddings [0.0897, 1.629, 0.862, 0.136],
    labels [0, 0, 1, 1], temperature 0.07 print 'loss: 1.0986123' (every cosine is 1, so log 3)."""
    d = {
        "embeddings": np.array([[0.08969027], [1.6291292], [0.8622629], [0.13612625]]),
        "labels": np.array([0, 0, 1, 1.0]),
    }
    for backend in BACKENDS:
        value = run("ntxent", [], d, backend).value
        assert value == pytest.approx(math.log(3), rel=1e-14)
        assert round(value, 7) == 1.0986123


def test_infonce_and_ntxent_bad_inputs():
    """Reference: pytorch-metric-learning's input rules (2-D embeddings; a batch with positive and
    negative pairs, without which it returns 0) and SelfSupervisedLoss's two views of one shape."""
    x = np.random.default_rng(82).normal(size=(4, 3))
    with pytest.raises(InputError, match="v2.csv.* row for row; for one batch with labels use the loss ntxent"):
        evaluate(
            losses.get("infonce"),
            {"embeddings": x, "ref_emb": np.zeros(4)},
            parse_params(losses.get("infonce"), []),
            sources={"ref_emb": "v2.csv"},
        )
    with pytest.raises(InputError, match="at least 2 rows"):
        run("infonce", [], {"embeddings": x[:1], "ref_emb": x[:1]})
    with pytest.raises(InputError, match="no two rows share a label"):
        run("ntxent", [], {"embeddings": x, "labels": np.arange(4.0)})
    with pytest.raises(InputError, match="no negative pair"):
        run("ntxent", [], {"embeddings": x, "labels": np.ones(4)})
    with pytest.raises(InputError, match="N x d matrix"):
        run("infonce", [], {"embeddings": x[0], "ref_emb": x[0]})


# ----------------------------------------------------------------------------------------- 5. SupCon


def pml_supcon(embeddings, labels, temperature):
    """pytorch-metric-learning SupConLoss._compute_loss (losses/supcon_loss.py, via GenericPairLoss's
    mat_based_loss) with CosineSimilarity and lmu.logsumexp(keep_mask, add_one=False), transcribed;
    returns (per-anchor losses, AvgNonZeroReducer's mean of the losses > 0)."""
    a1, p, a2, n = pml_get_all_pairs_indices(labels)
    q = F.normalize(embeddings, p=2, dim=1)
    mat = q @ q.t()
    pos_mask, neg_mask = torch.zeros_like(mat), torch.zeros_like(mat)
    pos_mask[a1, p] = 1
    neg_mask[a2, n] = 1
    mat = mat / temperature
    mat = mat - mat.max(dim=1, keepdim=True)[0].detach()
    keep = (pos_mask + neg_mask).bool()
    denominator = torch.logsumexp(mat.masked_fill(~keep, torch.finfo(mat.dtype).min), dim=1, keepdim=True)
    denominator = denominator.masked_fill(~torch.any(keep, dim=1, keepdim=True), 0)
    log_prob = mat - denominator
    mean_log_prob_pos = (pos_mask * log_prob).sum(dim=1) / (pos_mask.sum(dim=1) + torch.finfo(mat.dtype).tiny)
    losses_ = -mean_log_prob_pos
    return losses_, losses_[losses_ > 0].mean()


def khosla_supcon(features, labels, temperature, base_temperature):
    """HobbitLong/SupContrast losses.py SupConLoss.forward, contrast_mode='all', transcribed
    (features [bsz, n_views, d], not normalised inside; anchors without a positive count as 0)."""
    batch_size = features.shape[0]
    labels = labels.contiguous().view(-1, 1)
    mask = torch.eq(labels, labels.T).double()
    contrast_count = features.shape[1]
    contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
    anchor_feature, anchor_count = contrast_feature, contrast_count
    anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    mask = mask.repeat(anchor_count, contrast_count)
    logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(batch_size * anchor_count).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mask_pos_pairs = mask.sum(1)
    mask_pos_pairs = torch.where(mask_pos_pairs < 1e-6, 1, mask_pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
    loss = -(temperature / base_temperature) * mean_log_prob_pos
    return loss.view(anchor_count, batch_size).mean()


@pytest.mark.parametrize("case", case_list("supcon"))
def test_supcon_matches_pytorch_metric_learning_supcon(case):
    """Reference: pytorch-metric-learning SupConLoss + AvgNonZeroReducer transcribed above: per-anchor
    losses ('none', 'sum'), the reducer's mean, autograd gradients.  And how the Khosla et al.
    reference differs: on normalised features with base_temperature = temperature its value is the
    sum over anchors / N (an anchor without a positive counted as 0)."""
    _, params, factory = case
    d = factory(np.random.default_rng(91))
    tau = parse_params(losses.get("supcon"), params)["temperature"]

    def ref(x, reduction):
        per, mean = pml_supcon(x["embeddings"], x["labels"], tau)
        return mean if reduction == "mean" else reduce(per, reduction)

    check("supcon", params, d, ref, differentiable=("embeddings",))
    unit = d["embeddings"] / np.linalg.norm(d["embeddings"], axis=1, keepdims=True)
    khosla = khosla_supcon(t64(unit)[:, None, :], t64(d["labels"]), tau, tau).item()
    total = run("supcon", params, d, reduction="sum").value
    assert khosla == pytest.approx(total / len(d["labels"]), rel=1e-12)
    assert run("supcon", params, d).value == pytest.approx(total / 8, rel=1e-14)  # 8 of 9 anchors have a positive


def test_supcon_bad_inputs():
    """Reference: pytorch-metric-learning returns 0 without a positive or a negative pair; one label per row."""
    x = np.random.default_rng(92).normal(size=(4, 3))
    with pytest.raises(InputError, match=r"l.csv: no two rows share a label"):
        evaluate(
            losses.get("supcon"),
            {"embeddings": x, "labels": np.arange(4.0)},
            parse_params(losses.get("supcon"), []),
            sources={"labels": "l.csv"},
        )
    with pytest.raises(InputError, match="one label per row"):
        run("supcon", [], {"embeddings": x, "labels": np.zeros(3)})
    with pytest.raises(InputError, match="whole-number class label"):
        run("supcon", [], {"embeddings": x, "labels": np.array([0, 0, 1.5, 1])})
    with pytest.raises(InputError, match="N x d matrix"):
        run("supcon", [], {"embeddings": x[0], "labels": np.zeros(3)})


# ------------------------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize(
    ("loss", "args"),
    [("dpo", []), ("infonce", []), ("ntxent", []), ("supcon", []), ("triplet", ["-p", "distance=cosine"])],
)
def test_bundled_examples_run(cli, loss, args):
    r = cli("compute", loss, *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["loss"] == loss and math.isfinite(out["value"]) and out["value"] > 0
    g = cli("grad", loss, *args, "--explain")
    assert g.exit_code == 0, g.stderr
    assert "6. Gradients accumulate" in g.stdout


def test_dpo_bundled_example_reports_trl_metrics(cli):
    out = json.loads(cli("compute", "dpo", "--format", "json").stdout)
    assert set(out["extras"]) == {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"}
    assert out["n"] == 8 and out["extras"]["rewards/accuracies"] == 0.875


def test_cli_bad_input_is_one_line_naming_the_file(cli, write):
    rows = "chosen_logps,rejected_logps,ref_chosen_logps,ref_rejected_logps\n-10,-12,-11,-11\n0.9,-3,-2,-4\n"
    path = write("prefs.csv", rows)
    r = cli("compute", "dpo", path)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f"losscli: error: {path}: data row 2: chosen_logps must be a log-probability (<= 0), got 0.9; "
        "give log π(y|x), the sum of token log-probs"
    )
    v1 = write("v1.csv", np.random.default_rng(1).normal(size=(4, 3)))
    v2 = write("v2.csv", np.arange(4.0))
    r = cli("compute", "infonce", v1, v2)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert str(v2) in r.stderr and "use the loss ntxent" in r.stderr
