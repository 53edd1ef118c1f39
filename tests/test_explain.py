"""grad --explain: the worked element equals autograd for every two-input loss, the six
sections are there, the bundled example, and the issue's crafted verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from losscli import losses
from losscli.chains import worked_element
from losscli.core import evaluate
from losscli.diagnose import diagnose
from losscli.explain import choose_element, finite_difference, graph_lines
from losscli.params import parse_params
from tests.cases import CASES, NO_CHAIN, OTHER_ARITY_CHAINS
from tests.conftest import SAMPLE

# Losses with two inputs whose gradient is not derived by hand: SSIM goes through two
# Gaussian filters per pixel and perceptual through a user's network. Their --explain
# shows autograd's value and the finite-difference check instead.
NO_HAND_DERIVATION = {"ssim", "perceptual"} | set(NO_CHAIN)
TWO_INPUT = [
    (name, cid, params, fac)
    for name, cases in CASES.items()
    if len(losses.get(name).inputs) == 2
    for cid, params, fac in cases
    if name not in NO_HAND_DERIVATION
]


def test_every_two_input_loss_is_covered():
    two = {n for n, s in losses.REGISTRY.items() if len(s.inputs) == 2}
    assert two - NO_HAND_DERIVATION == {c[0] for c in TWO_INPUT}
    assert [(c[0], c[1]) for c in OTHER_ARITY if c[0] == "triplet"] == [("triplet", "default")]
    assert {c[0] for c in OTHER_ARITY} == {"gan-generator", "wasserstein-generator", "contrastive", "triplet"} | (
        OTHER_ARITY_CHAINS
    )


# One- and three-input losses with a hand derivation (triplet only for p = 2 without swap).
OTHER_ARITY = [
    (name, cid, params, fac)
    for name in ("gan-generator", "wasserstein-generator", "contrastive", "triplet", *sorted(OTHER_ARITY_CHAINS))
    for cid, params, fac in CASES[name]
    if not (name == "triplet" and cid != "default")
]


@pytest.mark.parametrize("case", TWO_INPUT + OTHER_ARITY, ids=lambda c: f"{c[0]}-{c[1]}")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_worked_element_equals_autograd(case, reduction):
    name, _, params, factory = case
    spec = losses.get(name)
    inputs = factory(np.random.default_rng(21))
    ev = evaluate(spec, inputs, parse_params(spec, params), backend="torch", reduction=reduction)
    assert set(ev.gradients) == {i.name for i in spec.inputs if i.differentiable} != set()
    for inp, grad in ev.gradients.items():
        picks = {choose_element(ev, inp, None), tuple(0 for _ in grad.shape)}
        for index in picks:
            chain = worked_element(ev, inputs, index, inp)
            assert chain is not None
            assert chain.product == pytest.approx(float(grad[index]), rel=1e-12, abs=1e-300)


def test_finite_difference_agrees_and_stays_in_the_domain():
    spec = losses.get("bce")
    inputs = {"preds": np.array([0.3, 1e-12, 0.9]), "targets": np.array([0.0, 1.0, 1.0])}
    ev = evaluate(spec, inputs, parse_params(spec, []), backend="torch")
    fd, h = finite_difference(ev, inputs, "preds", (1,))
    assert h < 1e-12  # the step shrank so that p - h stays >= 0
    assert fd == pytest.approx(ev.gradients["preds"][1], rel=1e-6)


def test_graph_walk_names_torch_nodes_down_to_the_leaves():
    spec = losses.get("mse")
    inputs = {"preds": np.array([1.0, 2.0]), "targets": np.array([0.0, 0.0])}
    ev = evaluate(spec, inputs, {}, backend="torch", keep_graph=True)
    lines = graph_lines(ev.graph, {id(t): n for n, t in ev.leaves.items()})
    assert lines[0] == "DivBackward0"
    assert any("MulBackward0" in line for line in lines)
    assert any("AccumulateGrad → preds.grad" in line for line in lines)
    assert "(shared: see above)" in lines[-1]  # r * r: the Sub node feeds Mul twice


def run_explain(cli, *args):
    r = cli("grad", *args, "--explain")
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_bundled_example_has_six_sections(cli):
    out = run_explain(cli)
    assert out.startswith("Bundled example")
    for title in (
        "1. The loss",
        "2. The autograd graph",
        "3. One element by hand",
        "4. Finite-difference",
        "5. Gradient health",
        "6. Gradients accumulate",
    ):
        assert title in out
    assert "they agree" in out and "AccumulateGrad" in out and "from_logits=true" in out
    assert "x2" in out  # the gradient doubled after a second backward()


def test_explain_on_own_files_and_element(cli):
    out = run_explain(cli, "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--element", "7")
    assert "preds[7]" in out and "they agree" in out and "below 1e-7" in out


@pytest.mark.parametrize("loss", ["huber", "cross-entropy", "kl-div", "gan-discriminator", "dice", "bpr", "ssim"])
def test_explain_with_bundled_data(cli, loss):
    out = run_explain(cli, loss)
    assert "6. Gradients accumulate" in out


def test_explain_rmse_zero_residual_explains_the_nan(cli, write):
    p = write("p.csv", np.ones(4))
    out = run_explain(cli, "rmse", p, p)
    assert "nonfinite" in out and "0/0" in out


def test_explain_in_traditional_chinese(cli):
    out = run_explain(cli, "--lang", "zh-TW")
    assert "內建範例" in out and "連鎖律" in out


def test_explain_refuses_expressions(cli):
    r = cli("grad", "mse + mae", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--explain")
    assert r.exit_code == 2 and "single loss" in r.stderr


# ------------------------------------------------------------------ crafted verdicts (issue 3)


def health(cli, *args):
    r = cli("grad", *args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)["health"]


def kinds(h):
    return {f["kind"]: f for f in h["findings"]}


def test_dead_hinge_with_every_margin_met(cli, write):
    y = np.array([1, -1, 1, -1, 1.0])
    h = health(cli, "hinge", write("p.csv", 3 * y), write("t.csv", y))
    assert kinds(h)["dead"]["count"] == 5 and h["status"] == "vanishing"


def test_saturated_bce_probability(cli, write):
    h = health(cli, "bce", write("p.csv", np.array([1e-12, 0.4, 0.7])), write("t.csv", np.array([1.0, 0.0, 1.0])))
    sat = kinds(h)["saturated"]
    assert sat["count"] == 1 and sat["examples"][0]["row"] == 0


def test_float32_underflow_is_a_finding(cli, write):
    # BCE from logits on confident, correct logits: σ(-x) is ~1e-39..1e-44 (float32 subnormal
    # or zero) but representable in float64.
    x = np.array([95.0, 100.0, 104.0, 2.0])
    y = np.ones(4)
    h32 = health(cli, "bce", write("p.csv", x), write("t.csv", y), "-p", "from_logits=true", "--dtype", "float32")
    h64 = health(cli, "bce", write("p.csv", x), write("t.csv", y), "-p", "from_logits=true")
    assert "underflow" in kinds(h32) and "underflow" not in kinds(h64)
    assert kinds(h32)["underflow"]["count"] >= 1


def test_fail_on_chooses_what_strict_fails(cli, write):
    y = np.array([1, -1, 1, -1.0])
    p = write("p.csv", np.array([3.0, -3.0, 0.5, 0.2]))
    t = write("t.csv", y)
    ok = cli("grad", "hinge", p, t, "--strict")
    assert ok.exit_code == 0  # status ok although two elements are dead
    dead = cli("grad", "hinge", p, t, "--strict", "--fail-on", "dead", "-f", "plain")
    assert dead.exit_code == 1 and "dead" in dead.stderr
    assert cli("grad", "hinge", p, t, "--strict", "--fail-on", "exploding").exit_code == 0
    assert cli("grad", "hinge", p, t, "--strict", "--fail-on", "bogus").exit_code == 2


def test_histogram_and_extremes_in_json(cli):
    h = health(cli, "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "--top", "3")
    assert sum(h["histogram"]["counts"]) + h["histogram"]["zeros"] == 40
    assert len(h["histogram"]["edges"]) == len(h["histogram"]["counts"]) + 1
    assert [e["row"] for e in h["largest"]][:2] == [7, 23]  # the two outliers in the sample data
    assert len(h["smallest"]) == 3
    g = [abs(e["grad"]) for e in h["largest"]]
    assert g == sorted(g, reverse=True)


def test_diagnose_is_scale_invariant_for_weighted_cross_entropy():
    spec = losses.get("ce")
    rng = np.random.default_rng(0)
    z, t = rng.normal(size=(5, 3)), rng.integers(0, 3, 5).astype(float)
    params = parse_params(spec, ["weight=1,2,3"])
    a = diagnose(evaluate(spec, {"preds": z, "targets": t}, params, backend="torch"))
    b = diagnose(evaluate(spec, {"preds": np.tile(z, (300, 1)), "targets": np.tile(t, 300)}, params, backend="torch"))
    assert a.per_sample_rms == pytest.approx(b.per_sample_rms, rel=1e-10)
    assert a.status == b.status == "ok"


def test_extremes_are_ordered_and_stable_under_ties():
    from losscli.diagnose import _extremes

    key = np.array([3.0, 1.0, 1.0, 2.0, 1.0, 0.5])
    assert _extremes(key, 2) == [5, 1]
    assert _extremes(key, 4) == [5, 1, 2, 4]
    assert _extremes(-key, 2) == [0, 3]
    assert _extremes(np.ones(5), 3) == [0, 1, 2]
    assert _extremes(key, 10) == [5, 1, 2, 4, 3, 0]
    rng = np.random.default_rng(0)
    big = rng.integers(0, 50, 10_000).astype(float)
    assert _extremes(big, 7) == list(np.argsort(big, kind="stable")[:7])


def test_regulariser_gradient_is_not_scaled_by_the_data_term_rows(cli, write):
    """'mse + 0.01*l2' with 1000 rows: the l2 gradient (0.02 w) must not be multiplied by N."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=1000)
    p, t = write("p.csv", y + rng.normal(0, 0.5, 1000)), write("t.csv", y)
    w = write("w.csv", np.full(1000, 1000.0))
    h = health(cli, "mse + 0.01*l2", p, t, "--input", f"weights={w}")
    assert h["status"] == "ok"
    per_sample = np.r_[2 * (np.loadtxt(p) - np.loadtxt(t)), np.full(1000, 20.0)]
    assert h["per_sample_rms"] == pytest.approx(np.sqrt(np.mean(per_sample**2)), rel=1e-9)


@pytest.mark.parametrize("loss", ["dice", "iou", "tversky"])
def test_region_verdict_does_not_depend_on_image_size(loss):
    spec = losses.get(loss)
    rng = np.random.default_rng(4)

    def verdict(size):
        y = (rng.uniform(size=(size, size)) < 0.3).astype(float)
        p = np.clip(y * 0.8 + rng.uniform(0, 0.2, size=(size, size)), 0, 1)
        return diagnose(evaluate(spec, {"preds": p, "targets": y}, parse_params(spec, []), backend="torch"))

    small, large = verdict(16), verdict(512)
    assert small.status == large.status == "ok"
    assert large.per_sample_rms == pytest.approx(small.per_sample_rms, rel=0.3)


def test_mmd_reports_its_samples():
    spec = losses.get("mmd")
    x, y = np.random.default_rng(5).normal(size=(20, 2)), np.random.default_rng(6).normal(size=(25, 2))
    ev = evaluate(spec, {"x": x, "y": y}, parse_params(spec, []))
    assert ev.n == 45


@pytest.mark.parametrize("loss", ["wasserstein-critic", "gan-discriminator"])
def test_two_sample_losses_scale_each_input_by_its_own_count(loss):
    """mean(real) + mean(fake) with 16 and 12 samples: per-sample gradients are the per-sample
    losses' derivatives (±1 for the critic), whatever the two counts."""
    spec = losses.get(loss)
    rng = np.random.default_rng(7)
    inputs = {"real": rng.normal(size=16), "fake": rng.normal(size=12)}
    mean = diagnose(evaluate(spec, inputs, {}, backend="torch"))
    total = diagnose(evaluate(spec, inputs, {}, backend="torch", reduction="sum"))
    assert mean.per_sample_rms == pytest.approx(total.per_sample_rms, rel=1e-12)
    if loss == "wasserstein-critic":
        assert mean.per_sample_rms == pytest.approx(1.0, rel=1e-12)
