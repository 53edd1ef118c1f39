"""kl-div's torch options, jsd, the hinge and least-squares GAN losses and CTC's torch input
forms, against their defining libraries (torch, scipy, StudioGAN's and torchgan's sources
transcribed), float64, every reduction each offers; plus the registry-wide checks on the cases
tests/cases_generative.EXTRA_CASES keeps apart, and the CLI as a person runs it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.spatial.distance
import torch
import torch.nn.functional as F

from losscli import losses
from losscli.params import parse_params
from tests import test_explain, test_losses
from tests.cases_generative import EXTRA_CASES, FAMILY_CASES, kl_spatial
from tests.conftest import SAMPLE
from tests.test_cli import one_error_line
from tests.test_losses import refuses, run, t

RTOL = 1e-12
ATOL = 1e-14
GRAD_RTOL = 1e-10
GRAD_ATOL = 1e-13
BACKENDS = ("numpy", "torch")


# ------------------------------------------------------- registry-wide checks on EXTRA_CASES

EXTRA = [(loss, cid, params, fac) for loss, cs in EXTRA_CASES.items() for cid, params, fac in cs]


def extra_id(case) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_extra_cases_backend_parity(case, reduction):
    test_losses.test_backend_parity(case, reduction)


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
def test_extra_cases_gradient_matches_central_differences(case):
    test_losses.test_gradient_matches_central_differences(case)


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
def test_extra_cases_float32_close_to_float64(case):
    test_losses.test_float32_close_to_float64(case)


@pytest.mark.parametrize("case", EXTRA, ids=extra_id)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_extra_cases_worked_element_equals_autograd(case, reduction):
    test_explain.test_worked_element_equals_autograd(case, reduction)


# ------------------------------------------------------------------------------- kl-div


def torch_kl(x: torch.Tensor, d: dict[str, np.ndarray], p: dict, reduction: str) -> torch.Tensor:
    """torch.nn.functional.kl_div(log q, target, reduction, log_target) on losscli's inputs."""
    log_q = x if p["log_input"] else torch.log(x)
    return F.kl_div(log_q, t(d["targets"]), reduction=reduction, log_target=p["log_target"])


KL_CASES = [c for c in EXTRA_CASES["kl-div"]] + [
    ("probs", [], lambda rng: {"preds": _rows(rng), "targets": _rows(rng)}),
]


def _rows(rng):
    a = rng.uniform(0.05, 1.0, size=(5, 4))
    return a / a.sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("case", KL_CASES, ids=lambda c: c[0])
def test_kl_div_matches_torch(case):
    """Every torch reduction: batchmean, sum (batchmean=true or false), none and mean (batchmean=false,
    torch's pointwise terms and Σ / (N·C)); value on both backends and the gradient, float64."""
    _, params, factory = case
    d = factory(np.random.default_rng(4))
    p = parse_params(losses.get("kl-div"), params)
    ours_to_torch = {"sum": "sum", "mean": "batchmean"}
    if not p["batchmean"]:
        ours_to_torch = {"sum": "sum", "mean": "mean", "none": "none"}
    for ours, theirs in ours_to_torch.items():
        x = t(d["preds"], grad=True)
        ref = torch_kl(x, d, p, theirs)
        if d["preds"].ndim == 1 and theirs == "batchmean":  # torch divides a 1-D input by C; losscli by 1
            ref = ref * d["preds"].shape[0]
        ref.sum().backward()
        for backend in BACKENDS:
            ev = run("kl-div", params, d, backend, reduction=ours)
            np.testing.assert_allclose(ev.value, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ev.gradients["preds"], x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_kl_div_reductions_by_hand():
    """batchmean=false: mean = Σ / (N·C) = batchmean / C; none lists the N x C pointwise terms,
    whose row sums are batchmean's elements."""
    d = EXTRA_CASES["kl-div"][2][2](np.random.default_rng(5))  # torch_mean: 6 x 4, with a zero target
    batch = run("kl-div", [], d)
    elementwise = run("kl-div", ["batchmean=false"], d)
    assert elementwise.value == pytest.approx(batch.value / 4, rel=1e-14)
    pointwise = run("kl-div", ["batchmean=false"], d, reduction="none").value
    assert pointwise.shape == (6, 4) and pointwise[0, 1] == 0.0  # 0 log 0 = 0
    np.testing.assert_allclose(pointwise.sum(axis=1), run("kl-div", [], d, reduction="none").value, rtol=1e-14)
    spatial = kl_spatial(np.random.default_rng(6))
    rows = run("kl-div", [], spatial, reduction="none").value
    assert rows.shape == (3,)
    assert run("kl-div", [], spatial).value == pytest.approx(rows.sum() / 3, rel=1e-14)


def test_kl_div_log_target_equals_probability_target():
    d = EXTRA_CASES["kl-div"][0][2](np.random.default_rng(7))  # log_target: targets are log p
    as_probs = {"preds": d["preds"], "targets": np.exp(d["targets"])}
    for backend in BACKENDS:
        a = run("kl-div", ["log_target=true"], d, backend).value
        assert a == pytest.approx(run("kl-div", [], as_probs, backend).value, rel=1e-13)


def test_kl_div_log_target_minus_inf_is_nan_as_torch():
    q = np.array([[0.5, 0.5]])
    log_p = np.array([[-np.inf, 0.0]])
    ref = F.kl_div(t(np.log(q)), t(log_p), reduction="batchmean", log_target=True)
    assert math.isnan(ref.item())
    assert math.isnan(run("kl-div", ["log_target=true"], {"preds": q, "targets": log_p}).value)


def test_kl_div_bad_inputs():
    d = EXTRA_CASES["kl-div"][0][2](np.random.default_rng(8))
    message = refuses("kl-div", [], d, r"data row 1, column 1: targets must be in \[0, 1\]")
    assert message.startswith("targets.csv: ") and message.endswith("pass -p log_target=true")
    probs = {"preds": d["preds"], "targets": np.exp(d["targets"])}
    refuses("kl-div", ["log_target=true"], probs, r"targets must be log-probabilities \(<= 0\) with log_target=true")
    refuses("kl-div", [], {"preds": np.log(d["preds"]), "targets": probs["targets"]}, "pass -p log_input=true")
    refuses("kl-div", [], {"preds": d["preds"], "targets": probs["targets"][:, :3]}, "they must match")


# ---------------------------------------------------------------------------------- jsd


JSD_CASES = FAMILY_CASES["jsd"] + EXTRA_CASES["jsd"]


def torch_jsd(x: torch.Tensor, p: torch.Tensor, base: float | None) -> torch.Tensor:
    """½ KL(P || M) + ½ KL(Q || M) per row through torch's kl_div (KL(target || exp(input))),
    natural log, mean over rows."""
    x2, p2 = (x[None, :], p[None, :]) if x.ndim == 1 else (x, p)
    log_m = torch.log(0.5 * (p2 + x2))
    per_row = 0.5 * F.kl_div(log_m, p2, reduction="none").sum(-1) + 0.5 * F.kl_div(log_m, x2, reduction="none").sum(-1)
    return per_row / (1.0 if base is None else math.log(base))


@pytest.mark.parametrize("case", JSD_CASES, ids=lambda c: c[0])
def test_jsd_matches_scipy(case):
    """The value is the square of scipy's Jensen-Shannon distance (base e unless base is given),
    per row, averaged; the gradient is torch's through kl_div and ½ log(q / m) / N by hand."""
    _, params, factory = case
    d = factory(np.random.default_rng(9))
    base = parse_params(losses.get("jsd"), params)["base"]
    q2 = np.atleast_2d(d["preds"])
    p2 = np.atleast_2d(d["targets"])
    rows = scipy.spatial.distance.jensenshannon(p2, q2, base=base, axis=1) ** 2
    x = t(d["preds"], grad=True)
    ref = torch_jsd(x, t(d["targets"]), base).mean()
    ref.backward()
    for backend in BACKENDS:
        np.testing.assert_allclose(run("jsd", params, d, backend, reduction="none").value, rows, rtol=1e-11)
        assert run("jsd", params, d, backend).value == pytest.approx(rows.mean(), rel=1e-11)
        assert run("jsd", params, d, backend, reduction="sum").value == pytest.approx(rows.sum(), rel=1e-11)
        np.testing.assert_allclose(run("jsd", params, d, backend).value, ref.item(), rtol=RTOL)
    g = run("jsd", params, d, "torch").gradients["preds"]
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)
    m = 0.5 * (q2 + p2)
    by_hand = 0.5 * np.log(q2 / m) / len(q2) / (1.0 if base is None else math.log(base))
    np.testing.assert_allclose(g.reshape(q2.shape), by_hand, rtol=1e-12)


def test_jsd_is_symmetric_bounded_and_zero_for_equal_rows():
    d = FAMILY_CASES["jsd"][0][2](np.random.default_rng(10))
    swapped = {"preds": d["targets"] + 0.0, "targets": d["preds"]}
    swapped["preds"][swapped["preds"] == 0] = 1e-300  # jsd refuses q = 0; its term is 0 either way
    assert run("jsd", [], swapped).value == pytest.approx(run("jsd", [], d).value, rel=1e-12)
    disjoint = {"preds": np.array([[1.0, 1e-300], [0.5, 0.5]]), "targets": np.array([[0.0, 1.0], [0.5, 0.5]])}
    np.testing.assert_allclose(run("jsd", [], disjoint, reduction="none").value, [math.log(2), 0.0], atol=1e-15)
    assert run("jsd", ["base=2"], disjoint, reduction="none").value[0] == pytest.approx(1.0, rel=1e-15)


def test_jsd_bad_inputs():
    d = FAMILY_CASES["jsd"][0][2](np.random.default_rng(11))
    zero_q = {"preds": d["targets"], "targets": d["preds"]}  # row 3 of preds has a 0
    message = refuses("jsd", [], zero_q, r"data row 3, column 1: preds must be > 0")
    assert message.startswith("preds.csv: ")
    refuses("jsd", [], {"preds": d["preds"] * 2, "targets": d["targets"]}, r"preds must be in \[0, 1\]")
    refuses("jsd", [], {"preds": d["preds"][None], "targets": d["targets"][None]}, "rows of distributions")


# ------------------------------------------------------------------------------ GAN
# Transcribed sources (neither library is installed here):
# PyTorch-StudioGAN src/utils/losses.py, d_hinge / g_hinge (reduction: mean only);
# torchgan torchgan/losses/functional.py, least_squares_discriminator_loss /
# least_squares_generator_loss with torchgan.utils.reduce ('mean', 'sum', else unreduced).


def studiogan_d_hinge(d_logit_real, d_logit_fake):
    return torch.mean(F.relu(1.0 - d_logit_real)) + torch.mean(F.relu(1.0 + d_logit_fake))


def studiogan_g_hinge(g_logit_fake):
    return -torch.mean(g_logit_fake)


def torchgan_reduce(x, reduction=None):
    if reduction == "mean":
        return torch.mean(x)
    elif reduction == "sum":
        return torch.sum(x)
    else:
        return x


def least_squares_generator_loss(dgz, c=1.0, reduction="mean"):
    return 0.5 * torchgan_reduce((dgz - c) ** 2, reduction)


def least_squares_discriminator_loss(dx, dgz, a=0.0, b=1.0, reduction="mean"):
    return 0.5 * (torchgan_reduce((dx - b) ** 2, reduction) + torchgan_reduce((dgz - a) ** 2, reduction))


def check_two_sample(name, params, d, ref_fn, reductions=("mean",)):
    """Value (both backends) and the gradients of real and fake against ``ref_fn(real, fake, reduction)``."""
    for reduction in reductions:
        real, fake = t(d["real"], grad=True), t(d["fake"], grad=True)
        ref = ref_fn(real, fake, reduction)
        ref.backward()
        for backend in BACKENDS:
            assert run(name, params, d, backend, reduction=reduction).value == pytest.approx(ref.item(), rel=RTOL)
        ev = run(name, params, d, "torch", reduction=reduction)
        np.testing.assert_allclose(ev.gradients["real"], real.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)
        np.testing.assert_allclose(ev.gradients["fake"], fake.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


def check_one_sample(name, params, d, ref_fn, reductions=("mean",)):
    for reduction in reductions:
        fake = t(d["fake"], grad=True)
        ref = ref_fn(fake, reduction)
        ref.backward()
        for backend in BACKENDS:
            assert run(name, params, d, backend, reduction=reduction).value == pytest.approx(ref.item(), rel=RTOL)
        ev = run(name, params, d, "torch", reduction=reduction)
        np.testing.assert_allclose(ev.gradients["fake"], fake.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("case", FAMILY_CASES["gan-hinge-discriminator"], ids=lambda c: c[0])
def test_gan_hinge_discriminator_matches_studiogan(case):
    d = case[2](np.random.default_rng(40))
    assert len(d["real"]) != len(d["fake"])
    check_two_sample("gan-hinge-discriminator", case[1], d, lambda r, f, _: studiogan_d_hinge(r, f))
    # sum and none: the per-sample hinge terms, real then fake
    terms = np.r_[np.maximum(1 - d["real"], 0), np.maximum(1 + d["fake"], 0)]
    for backend in BACKENDS:
        np.testing.assert_allclose(run("gan-hinge-discriminator", [], d, backend, reduction="none").value, terms)
        s = run("gan-hinge-discriminator", [], d, backend, reduction="sum").value
        assert s == pytest.approx(terms.sum(), rel=RTOL)


def test_gan_hinge_discriminator_outputs_beyond_the_margin_get_no_gradient():
    d = {"real": np.array([2.5, 0.5, 1.5]), "fake": np.array([-3.0, 0.2])}
    ev = run("gan-hinge-discriminator", [], d, "torch")
    assert ev.value == pytest.approx(0.5 / 3 + 1.2 / 2, rel=1e-15)
    np.testing.assert_array_equal(ev.gradients["real"], [0.0, -1 / 3, 0.0])
    np.testing.assert_array_equal(ev.gradients["fake"], [0.0, 0.5])


@pytest.mark.parametrize("case", FAMILY_CASES["gan-hinge-generator"], ids=lambda c: c[0])
def test_gan_hinge_generator_matches_studiogan(case):
    d = case[2](np.random.default_rng(41))
    check_one_sample("gan-hinge-generator", case[1], d, lambda f, _: studiogan_g_hinge(f))
    for reduction in ("sum", "none"):
        ours = run("gan-hinge-generator", [], d, reduction=reduction).value
        np.testing.assert_allclose(ours, run("wasserstein-generator", [], d, reduction=reduction).value, rtol=0)


@pytest.mark.parametrize("case", FAMILY_CASES["lsgan-discriminator"], ids=lambda c: c[0])
def test_lsgan_discriminator_matches_torchgan(case):
    d = case[2](np.random.default_rng(42))
    p = parse_params(losses.get("lsgan-discriminator"), case[1])
    check_two_sample(
        "lsgan-discriminator",
        case[1],
        d,
        lambda r, f, red: least_squares_discriminator_loss(r, f, a=p["a"], b=p["b"], reduction=red),
        reductions=("mean", "sum"),
    )
    # torchgan's unreduced form adds the two arrays (n = m only); losscli lists real terms then fake terms
    r, f = t(d["real"]), t(d["fake"])
    halves = np.r_[
        least_squares_discriminator_loss(r, r * 0 + p["b"], a=p["b"], b=p["b"], reduction=None).numpy(),
        least_squares_generator_loss(f, c=p["a"], reduction=None).numpy(),
    ]
    for backend in BACKENDS:
        np.testing.assert_allclose(run("lsgan-discriminator", case[1], d, backend, reduction="none").value, halves)


@pytest.mark.parametrize("case", FAMILY_CASES["lsgan-generator"], ids=lambda c: c[0])
def test_lsgan_generator_matches_torchgan(case):
    d = case[2](np.random.default_rng(43))
    c = parse_params(losses.get("lsgan-generator"), case[1])["c"]
    check_one_sample(
        "lsgan-generator",
        case[1],
        d,
        lambda f, red: least_squares_generator_loss(f, c=c, reduction=red),
        reductions=("mean", "sum"),
    )
    want = least_squares_generator_loss(t(d["fake"]), c=c, reduction=None).numpy()
    for backend in BACKENDS:
        np.testing.assert_allclose(run("lsgan-generator", case[1], d, backend, reduction="none").value, want)


def test_lsgan_default_labels_are_studiogan_d_ls_and_g_ls():
    """StudioGAN's d_ls/g_ls (src/utils/losses.py) are torchgan's with a = 0, b = c = 1 (n = m for d_ls,
    which takes one mean of the summed terms)."""
    d = FAMILY_CASES["lsgan-discriminator"][0][2](np.random.default_rng(44))
    real, fake = t(d["real"][:6]), t(d["fake"][:6])
    d_ls = (0.5 * (real - torch.ones_like(real)) ** 2 + 0.5 * fake**2).mean()
    g_ls = (0.5 * (fake - torch.ones_like(fake)) ** 2).mean()
    same = {"real": d["real"][:6], "fake": d["fake"][:6]}
    assert run("lsgan-discriminator", [], same).value == pytest.approx(d_ls.item(), rel=1e-14)
    assert run("lsgan-generator", [], {"fake": d["fake"][:6]}).value == pytest.approx(g_ls.item(), rel=1e-14)


def test_gan_bad_inputs_name_the_file():
    refuses("gan-hinge-discriminator", [], {"real": np.array([1.0]), "fake": np.zeros(0)}, "fake is empty")
    message = refuses("lsgan-generator", [], {"fake": np.zeros(0)}, "fake is empty")
    assert message.startswith("fake.csv: ")


# ---------------------------------------------------------------------------------- CTC


def torch_ctc_from_logits(z, targets, input_lengths, target_lengths, reduction, **kw):
    """torch.nn.functional.ctc_loss on log_softmax(z): its backward is then the true gradient
    w.r.t. the logits (directly on log_probs torch returns exp(log_probs) - occupancy)."""
    return F.ctc_loss(F.log_softmax(z, dim=-1), targets, input_lengths, target_lengths, reduction=reduction, **kw)


def check_ctc(d, params, torch_args, **kw):
    """Value for none/sum/mean on both backends and the logits gradient, against torch."""
    for reduction in ("none", "sum", "mean"):
        z = t(d["log_probs"], grad=True)
        ref = torch_ctc_from_logits(z, *torch_args, reduction=reduction, **kw)
        ref.sum().backward()
        for backend in BACKENDS:
            ev = run("ctc", ["from_logits=true", *params], d, backend, reduction=reduction)
            np.testing.assert_allclose(
                ev.value, np.ravel(ref.detach().numpy()) if reduction == "none" else ref.item(), rtol=RTOL, atol=ATOL
            )
        np.testing.assert_allclose(ev.gradients["log_probs"], z.grad.numpy(), rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_ctc_concatenated_targets_match_torch():
    """torch's 1-D targets (S₁ + … + S_N labels) with target_lengths, as F.ctc_loss takes them, equal
    the padded 2-D form."""
    rng = np.random.default_rng(50)
    z = rng.normal(0, 2, size=(12, 4, 6))
    lengths = np.array([3, 0, 5, 2])
    flat = np.array([1, 4, 4, 2, 3, 3, 5, 1, 5, 5], dtype=float)
    d = {
        "log_probs": z,
        "targets": flat,
        "input_lengths": np.array([12.0, 7.0, 11.0, 4.0]),
        "target_lengths": lengths.astype(float),
    }
    args = (torch.tensor(flat).long(), torch.tensor([12, 7, 11, 4]), torch.tensor(lengths))
    check_ctc(d, [], args)
    padded = np.full((4, 5), -1.0)
    start = 0
    for i, n in enumerate(lengths):
        padded[i, :n] = flat[start : start + n]
        start += n
    as_rows = {**d, "targets": padded}
    for reduction in ("none", "mean"):
        np.testing.assert_array_equal(
            run("ctc", ["from_logits=true"], d, reduction=reduction).value,
            run("ctc", ["from_logits=true"], as_rows, reduction=reduction).value,
        )


def test_ctc_concatenated_zero_infinity_and_empty_input_match_torch():
    rng = np.random.default_rng(51)
    z = rng.normal(0, 1.5, size=(5, 3, 4))
    d = {
        "log_probs": z,
        "targets": np.array([2.0, 1.0, 3.0, 1.0, 2.0]),
        "input_lengths": np.array([5.0, 0.0, 2.0]),
        "target_lengths": np.array([2.0, 0.0, 3.0]),
    }
    args = (torch.tensor([2, 1, 3, 1, 2]), torch.tensor([5, 0, 2]), torch.tensor([2, 0, 3]))
    check_ctc(d, ["zero_infinity=true"], args, zero_infinity=True)
    none = run("ctc", ["from_logits=true", "zero_infinity=true"], d, reduction="none").value
    assert none[1] == 0.0 and none[2] == 0.0  # no frames and no labels: probability 1; impossible: zeroed
    message = refuses("ctc", ["from_logits=true"], d, "sequence 3: target length 3 exceeds input length 2")
    assert message.startswith("targets.csv: ")


def test_ctc_unbatched_matches_torch():
    """One sequence as T x C: torch takes 1-D targets and 0-d lengths (reduction 'none' gives a 0-d loss)."""
    rng = np.random.default_rng(52)
    z = rng.normal(0, 1.5, size=(9, 5))
    d = {
        "log_probs": z,
        "targets": np.array([4.0, 2.0, 2.0]),
        "input_lengths": np.array([8.0]),
        "target_lengths": np.array([3.0]),
    }
    check_ctc(d, [], (torch.tensor([4, 2, 2]), torch.tensor(8), torch.tensor(3)))
    check_ctc(
        {"log_probs": z, "targets": d["targets"]}, [], (torch.tensor([4, 2, 2]), torch.tensor(9), torch.tensor(3))
    )
    # torch's padded (1, S) targets for an unbatched input: labels past target_lengths are not read
    rows = {**d, "targets": np.array([[4.0, 2.0, 2.0, 1.0]])}
    check_ctc(rows, [], (torch.tensor([[4, 2, 2, 1]]), torch.tensor(8), torch.tensor(3)))


def test_ctc_concatenated_bad_inputs():
    lp = np.log(np.full((6, 2, 4), 0.25))
    refuses("ctc", [], {"log_probs": lp, "targets": np.array([1.0, 2.0, 3.0])}, r"targets must be 2 x S")
    message = refuses(
        "ctc",
        [],
        {"log_probs": lp, "targets": np.array([1.0, 2.0, 3.0]), "target_lengths": np.array([2.0, 2.0])},
        r"target_lengths add up to 4 but targets holds 3 labels",
    )
    assert message.startswith("target_lengths.csv: ")
    refuses(
        "ctc",
        [],
        {"log_probs": lp, "targets": np.array([1.0, 0.0, 3.0]), "target_lengths": np.array([2.0, 1.0])},
        r"data row 2: targets must be a label other than the blank \(0\)",
    )


# ---------------------------------------------------------------------------------- CLI


def test_cli_jsd_bundled_example_and_scipy(cli):
    r = cli("compute", "jsd", "--format", "plain")
    assert r.exit_code == 0, r.stderr
    q = np.loadtxt(SAMPLE / "jsd_preds.csv", delimiter=",", skiprows=1)
    p = np.loadtxt(SAMPLE / "jsd_targets.csv", delimiter=",", skiprows=1)
    expected = np.mean(scipy.spatial.distance.jensenshannon(p, q, axis=1) ** 2)
    assert float(r.stdout) == pytest.approx(expected, rel=1e-12)
    assert cli("grad", "jsd", "--explain").exit_code == 0


def test_cli_kl_div_torch_mean_and_pointwise_none(cli):
    r = cli("compute", "kl-div", "-p", "batchmean=false", "--reduction", "none", "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    q = np.loadtxt(SAMPLE / "kl_preds.csv", delimiter=",", skiprows=1)
    p = np.loadtxt(SAMPLE / "kl_targets.csv", delimiter=",", skiprows=1)
    ref = F.kl_div(t(np.log(q)), t(p), reduction="none").numpy()
    np.testing.assert_allclose(np.array(got["value"]), ref, rtol=1e-12)
    assert cli("grad", "kl-div", "-p", "batchmean=false", "--explain").exit_code == 0


def test_cli_bad_distribution_file_is_one_line_naming_it(cli, write):
    q = write("q.csv", "a,b\n0.5,0.5\n0.0,1.0\n")
    p = write("p.csv", "a,b\n0.2,0.8\n0.6,0.4\n")
    r = cli("compute", "jsd", q, p)
    assert r.exit_code == 2
    assert one_error_line(r) == (
        f"losscli: error: {q}: data row 2, column 1: preds must be > 0 (at q = 0 the gradient ½ log(q / m) "
        "is -inf), got 0; smooth the distribution, e.g. (q + 1e-12) / sum"
    )
    r = cli("compute", "kl-div", p, write("lp.csv", "a,b\n-1.6,-0.2\n-0.5,-0.9\n"))
    assert r.exit_code == 2 and "lp.csv: data row 1, column 1: targets must be in [0, 1]" in one_error_line(r)


@pytest.mark.parametrize(
    "loss, files",
    [
        ("gan-hinge-discriminator", ("gan_real_logits.csv", "gan_fake_logits.csv")),
        ("gan-hinge-generator", ("gan_fake_logits.csv",)),
        ("lsgan-discriminator", ("lsgan_real_scores.csv", "lsgan_fake_scores.csv")),
        ("lsgan-generator", ("lsgan_fake_scores.csv",)),
    ],
)
def test_cli_gan_bundled_examples(cli, loss, files):
    r = cli("compute", loss, "--format", "plain")
    assert r.exit_code == 0, r.stderr
    cols = [np.loadtxt(SAMPLE / f, skiprows=1) for f in files]
    by_hand = {
        "gan-hinge-discriminator": lambda: np.mean(np.maximum(1 - cols[0], 0)) + np.mean(np.maximum(1 + cols[1], 0)),
        "gan-hinge-generator": lambda: -np.mean(cols[0]),
        "lsgan-discriminator": lambda: 0.5 * np.mean((cols[0] - 1) ** 2) + 0.5 * np.mean(cols[1] ** 2),
        "lsgan-generator": lambda: 0.5 * np.mean((cols[0] - 1) ** 2),
    }[loss]()
    assert float(r.stdout) == pytest.approx(by_hand, rel=1e-14)
    assert cli("grad", loss, "--explain").exit_code == 0


def test_cli_gan_bad_file_is_one_line_naming_it(cli, write):
    real = write("real.csv", "score\n0.9\nabc\n")
    fake = write("fake.csv", "score\n0.1\n")
    r = cli("compute", "lsgan-discriminator", real, fake)
    assert r.exit_code == 2 and str(real) in one_error_line(r)


def test_cli_ctc_concatenated_json_matches_torch(cli, write):
    rng = np.random.default_rng(53)
    lp = torch.log_softmax(torch.tensor(rng.normal(0, 1.5, size=(6, 2, 4))), dim=-1)
    batch = {"log_probs": lp.tolist(), "targets": [1, 2, 3, 3, 1], "input_lengths": [6, 5], "target_lengths": [2, 3]}
    path = write("batch.json", batch)
    r = cli("compute", "ctc", path, "--json")
    assert r.exit_code == 0, r.stderr
    ref = F.ctc_loss(lp, torch.tensor([1, 2, 3, 3, 1]), torch.tensor([6, 5]), torch.tensor([2, 3]))
    assert json.loads(r.stdout)["value"] == pytest.approx(ref.item(), rel=1e-12)
    bad = write("bad.json", {**batch, "target_lengths": [2, 2]})
    r = cli("compute", "ctc", bad)
    assert r.exit_code == 2
    assert one_error_line(r) == (
        f"losscli: error: {bad}: target_lengths add up to 4 but targets holds 5 labels; 1-D targets for a batch "
        "are every sequence's labels concatenated, so they must add up to its length (as torch)"
    )
