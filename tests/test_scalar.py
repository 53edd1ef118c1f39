"""losscli.scalar: every step's value and local derivative, the derivation --explain prints,
and agreement with torch autograd where torch's conventions decide the answer."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from losscli import scalar as S
from losscli.scalar import Scalar, derivation

REL = 1e-12


def close(a: float, b: float, rel: float = REL, abs_: float = 0.0) -> bool:
    """Equal within ``rel``, with nan equal to nan and an infinity only equal to itself."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def value_and_grad(fn, x: float) -> tuple[float, float]:
    """fn over a Scalar leaf: its value and ∂/∂x from the backward pass."""
    leaf = Scalar.leaf(x, "x")
    out = fn(leaf)
    out.backward()
    return out.value, leaf.grad


def torch_value_and_grad(fn, x: float) -> tuple[float, float]:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = fn(t)
    out.backward()
    return out.item(), t.grad.item()


def central_difference(f, x: float) -> float:
    h = 1e-6 * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


# ------------------------------------------------------------------ one variable: value and derivative

UNARY = {
    # name: (over a Scalar, the same in math, points away from kinks)
    "x + c": (lambda s: s + 1.5, lambda x: x + 1.5, [-2.0, 0.3]),
    "c + x": (lambda s: 1.5 + s, lambda x: 1.5 + x, [-2.0, 0.3]),
    "x - c": (lambda s: s - 1.5, lambda x: x - 1.5, [-2.0, 0.3]),
    "c - x": (lambda s: 1.5 - s, lambda x: 1.5 - x, [-2.0, 0.3]),
    "x·c": (lambda s: s * -2.5, lambda x: x * -2.5, [-2.0, 0.3]),
    "c·x": (lambda s: -2.5 * s, lambda x: -2.5 * x, [-2.0, 0.3]),
    "x/c": (lambda s: s / 4.0, lambda x: x / 4.0, [-2.0, 0.3]),
    "c/x": (lambda s: 3.0 / s, lambda x: 3.0 / x, [-2.0, 0.3]),
    "-x": (lambda s: -s, lambda x: -x, [-2.0, 0.3]),
    "x·x": (lambda s: s * s, lambda x: x * x, [-2.0, 0.3]),
    "x + x": (lambda s: s + s, lambda x: x + x, [-2.0, 0.3]),
    "x/x": (lambda s: s / s, lambda x: 1.0, [-2.0, 0.3]),
    "x²": (lambda s: s**2, lambda x: x**2, [-2.0, 0.3]),
    "x³": (lambda s: s**3, lambda x: x**3, [-2.0, 0.3]),
    "x^0.5": (lambda s: s**0.5, lambda x: x**0.5, [0.3, 4.0]),
    "x^-1": (lambda s: s**-1, lambda x: 1 / x, [-2.0, 0.3]),
    "x^0": (lambda s: s**0, lambda x: 1.0, [-2.0, 0.3]),
    "log": (S.log, math.log, [0.3, 4.0]),
    "exp": (S.exp, math.exp, [-2.0, 0.3]),
    "sqrt": (S.sqrt, math.sqrt, [0.3, 4.0]),
    "abs": (S.abs_, abs, [-2.0, 0.3]),
    "tanh": (S.tanh, math.tanh, [-2.0, 0.3]),
    "sigmoid": (S.sigmoid, lambda x: 1 / (1 + math.exp(-x)), [-2.0, 0.3]),
    "softplus": (S.softplus, lambda x: math.log(1 + math.exp(x)), [-2.0, 0.3]),
    "max(x, c)": (lambda s: S.maximum(s, 0.5), lambda x: max(x, 0.5), [-2.0, 0.9]),
    "max(c, x)": (lambda s: S.maximum(0.5, s), lambda x: max(0.5, x), [-2.0, 0.9]),
    "clamp_min": (lambda s: S.clamp_min(s, 0.5), lambda x: max(x, 0.5), [-2.0, 0.9]),
    "where": (
        lambda s: S.where(s.value > 0, s * s, -s, "x > 0"),
        lambda x: x * x if x > 0 else -x,
        [-2.0, 0.3],
    ),
}


@pytest.mark.parametrize("name", UNARY)
def test_value_and_derivative_against_math(name):
    fn, ref, points = UNARY[name]
    for x in points:
        value, grad = value_and_grad(fn, x)
        assert close(value, ref(x)), (name, x, value)
        fd = central_difference(ref, x)
        assert close(grad, fd, rel=1e-6, abs_=1e-9), (name, x, grad, fd)


BINARY = {
    "a + b": (lambda a, b: a + b, lambda a, b: a + b),
    "a - b": (lambda a, b: a - b, lambda a, b: a - b),
    "a·b": (lambda a, b: a * b, lambda a, b: a * b),
    "a/b": (lambda a, b: a / b, lambda a, b: a / b),
    "max(a, b)": (S.maximum, max),
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize(("a", "b"), [(0.7, -1.3), (-2.0, 0.4)])
def test_two_variable_derivatives_against_math(name, a, b):
    fn, ref = BINARY[name]
    sa, sb = Scalar.leaf(a, "a"), Scalar.leaf(b, "b")
    out = fn(sa, sb)
    out.backward()
    assert close(out.value, ref(a, b))
    assert close(sa.grad, central_difference(lambda t: ref(t, b), a), rel=1e-6, abs_=1e-9)
    assert close(sb.grad, central_difference(lambda t: ref(a, t), b), rel=1e-6, abs_=1e-9)


def test_constants_get_no_node():
    p = Scalar.leaf(2.0, "p")
    out = 3.0 * (p - 1) / 2
    assert [node.label for node in out.topological()] == ["p", "p - 1", "3·(p - 1)", "3·(p - 1)/2"]
    assert [len(node.parents) for node in out.topological()] == [0, 1, 1, 1]


def test_a_parent_used_twice_is_one_edge():
    x = Scalar.leaf(3.0, "x")
    square = x * x
    assert [(e.parent, e.local, e.formula) for e in square.parents] == [(x, 6.0, "2x")]
    double = x + x
    assert [(e.parent, e.local, e.formula) for e in double.parents] == [(x, 2.0, "1 + 1")]


def test_a_name_given_later_shows_in_the_text():
    p, y = Scalar.leaf(1.0, "p"), Scalar.leaf(0.5, "y")
    r = p - y
    out = r * r
    assert (out.label, out.parents[0].formula) == ("(p - y)²", "2(p - y)")
    r.named("r = p - y")
    assert (out.label, out.parents[0].formula) == ("r²", "2r")


# ------------------------------------------------------------------ torch's conventions, float64


CONVENTIONS = {
    # name: (over a Scalar, the same in torch, points where the convention decides)
    "abs at 0": (S.abs_, torch.abs, [0.0, -0.0]),
    "clamp_min at the boundary": (lambda s: S.clamp_min(s, 0.5), lambda t: torch.clamp(t, min=0.5), [0.5, 0.4, 0.6]),
    "clamp_min at 0": (lambda s: S.clamp_min(s, 0.0), lambda t: torch.clamp_min(t, 0.0), [0.0]),
    "maximum with a constant, tie": (
        lambda s: S.maximum(s, 0.5),
        lambda t: torch.maximum(t, torch.tensor(0.5, dtype=torch.float64)),
        [0.5],
    ),
    "sigmoid, far out": (S.sigmoid, torch.sigmoid, [-800.0, -40.0, 0.0, 40.0, 800.0]),
    "softplus, far out": (S.softplus, F.softplus, [-800.0, -40.0, 0.0, 40.0, 800.0]),
    "tanh, far out": (S.tanh, torch.tanh, [-40.0, 0.0, 40.0]),
    "exp overflows to inf": (S.exp, torch.exp, [1000.0, -1000.0]),
    "sqrt at 0": (S.sqrt, torch.sqrt, [0.0]),
    "sqrt below 0": (S.sqrt, torch.sqrt, [-1.0]),
    "log at 0": (S.log, torch.log, [0.0]),
    "log below 0": (S.log, torch.log, [-1.0]),
    "x^0 at 0": (lambda s: s**0, lambda t: t**0, [0.0]),
    "x^0.5 at 0": (lambda s: s**0.5, lambda t: t**0.5, [0.0]),
    "x^0.5 below 0": (lambda s: s**0.5, lambda t: t**0.5, [-4.0]),
    "x^-1 at 0": (lambda s: s**-1, lambda t: t**-1, [0.0]),
    "1/x at 0": (lambda s: 1 / s, lambda t: 1 / t, [0.0]),
    "x/0": (lambda s: s / 0.0, lambda t: t / 0.0, [2.0, 0.0]),
    "x^2 huge": (lambda s: s**2, lambda t: t**2, [1e200]),
    # torch.where passes 0 to the branch not taken, and 0·inf inside it is nan
    "where with an inf derivative in the other branch": (
        lambda s: S.where(s.value > 0, S.sqrt(s), 0.0),
        lambda t: torch.where(t > 0, torch.sqrt(t), torch.zeros((), dtype=torch.float64)),
        [0.0, 4.0],
    ),
}


@pytest.mark.parametrize("name", CONVENTIONS)
def test_conventions_match_torch(name):
    fn, torch_fn, points = CONVENTIONS[name]
    for x in points:
        ours = value_and_grad(fn, x)
        theirs = torch_value_and_grad(torch_fn, x)
        assert close(ours[0], theirs[0]) and close(ours[1], theirs[1]), (name, x, ours, theirs)


def test_far_out_values_are_not_flattened():
    # the values torch gives at ±40 are small but not zero: no cancellation
    assert S.sigmoid(Scalar.leaf(-40.0, "x")).value == pytest.approx(4.248354255291589e-18, rel=1e-15)
    assert S.softplus(Scalar.leaf(-40.0, "x")).value == pytest.approx(4.248354255291589e-18, rel=1e-15)
    assert value_and_grad(S.softplus, -40.0)[1] == pytest.approx(4.248354255291589e-18, rel=1e-15)
    assert S.softplus(Scalar.leaf(800.0, "x")).value == 800.0


@pytest.mark.parametrize(("a", "b"), [(0.5, 0.5), (-2.0, -2.0), (0.0, 0.0)])
def test_maximum_tie_splits_like_torch(a, b):
    sa, sb = Scalar.leaf(a, "a"), Scalar.leaf(b, "b")
    S.maximum(sa, sb).backward()
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    torch.maximum(ta, tb).backward()
    assert (sa.grad, sb.grad) == (ta.grad.item(), tb.grad.item()) == (0.5, 0.5)


@pytest.mark.parametrize(
    ("p", "y"), [(0.0, 1.0), (0.0, 0.0), (1e-20, 1.0), (0.3, 0.4), (1.0, 1.0), (1.0, 0.0), (1.0 - 1e-16, 0.5)]
)
def test_op_carries_a_conventional_derivative(p, y):
    """BCELoss: forward with log clamped at -100, backward torch's (p - y)/max(p(1-p), ε) where
    ε is 1e-12 as torch stores it, a float32."""
    eps = 9.999999960041972e-13
    pp = Scalar.leaf(p, "p")
    log_p = max(math.log(p), -100.0) if p > 0 else -100.0
    log_q = max(math.log1p(-p), -100.0) if p < 1 else -100.0
    loss = S.op(
        -(y * log_p + (1 - y) * log_q),
        [(pp, (p - y) / max(p * (1 - p), eps), "(p - y)/max(p(1-p), 1e-12)")],
        "ℓ = -(y log p + (1-y) log(1-p))",
    )
    d = derivation(loss, pp)
    tp = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    out = F.binary_cross_entropy(tp, torch.tensor(y, dtype=torch.float64))
    out.backward()
    assert close(loss.value, out.item()) and close(d.gradient, tp.grad.item()), (loss.value, d.gradient, out, tp.grad)
    assert d.steps == [("∂ℓ/∂p", "(p - y)/max(p(1-p), 1e-12)", (p - y) / max(p * (1 - p), eps))]


# ------------------------------------------------------------------ derivation: one path


def test_single_path_chain_is_a_product():
    p, y = Scalar.leaf(0.7, "p"), Scalar.leaf(0.2, "y")
    r = (p - y).named("r = p - y")
    loss = (r * r).named("ℓ = r²")
    d = derivation(loss, p)
    rv = 0.7 - 0.2
    assert d.forward == [("p", 0.7), ("y", 0.2), ("r = p - y", rv), ("ℓ = r²", rv * rv)]
    assert d.steps == [("∂ℓ/∂r", "2r", 2 * rv), ("∂r/∂p", "1", 1.0)]
    assert d.combine == "product"
    assert d.product == d.gradient == 2 * rv
    assert d.factors == [2 * rv, 1.0]


def test_outer_steps_come_first_and_are_multiplied_in():
    p, y = Scalar.leaf(0.7, "p"), Scalar.leaf(0.2, "y")
    r = (p - y).named("r = p - y")
    loss = (r * r).named("ℓ = r²")
    d = derivation(loss, y, outer=[("∂L/∂ℓ", "1/4", 0.25)])
    rv = 0.7 - 0.2
    assert d.steps == [("∂L/∂ℓ", "1/4", 0.25), ("∂ℓ/∂r", "2r", 2 * rv), ("∂r/∂y", "-1", -1.0)]
    assert d.gradient == pytest.approx(0.25 * 2 * rv * -1.0, rel=1e-15)
    assert d.factors == [0.25, 2 * rv, -1.0]


def test_derivation_twice_gives_the_same_answer():
    x = Scalar.leaf(0.3, "x")
    loss = S.tanh(x) * S.exp(x)
    first = derivation(loss, x)
    again = derivation(loss, x)
    assert first == again
    assert first.gradient == pytest.approx((1 - math.tanh(0.3) ** 2) * math.exp(0.3) + math.tanh(0.3) * math.exp(0.3))


def test_derivation_of_an_unrelated_leaf_is_refused():
    x, z = Scalar.leaf(1.0, "x"), Scalar.leaf(2.0, "z")
    with pytest.raises(ValueError, match="does not depend on z"):
        derivation(S.exp(x), z)


def test_unnamed_steps_are_labelled_by_their_expression():
    x, y = Scalar.leaf(-1.0, "x"), Scalar.leaf(2.0, "y")
    d = derivation(S.sigmoid(-(x * y)) / (1 - y), x)
    assert [label for label, _ in d.forward] == ["x", "y", "x·y", "-(x·y)", "σ(-(x·y))", "1 - y", "σ(-(x·y))/(1 - y)"]
    assert [(sym, formula) for sym, formula, _ in d.steps] == [
        ("∂(σ(-(x·y))/(1 - y))/∂σ(-(x·y))", "1/(1 - y)"),
        ("∂σ(-(x·y))/∂(-(x·y))", "σ(-(x·y))(1 - σ(-(x·y)))"),
        ("∂(-(x·y))/∂(x·y)", "-1"),
        ("∂(x·y)/∂x", "y"),
    ]


# ------------------------------------------------------------------ derivation: several paths (BCE with logits)


def bce_with_logits(x: float, y: float, w: float) -> tuple[Scalar, Scalar]:
    xs, ys, ws = Scalar.leaf(x, "x", "logit"), Scalar.leaf(y, "y"), Scalar.leaf(w, "w")
    pos = (ws * ys * S.softplus(-xs).named("a = softplus(-x)")).named("w·y·a")
    neg = ((1 - ys) * S.softplus(xs).named("b = softplus(x)")).named("(1-y)·b")
    return (pos + neg).named("ℓ = w·y·softplus(-x) + (1-y)·softplus(x)"), xs


def test_bce_with_logits_is_worked_node_by_node():
    loss, x = bce_with_logits(2.5, 0.3, 1.0)
    d = derivation(loss, x)
    assert d.combine == "backprop"
    assert [label for label, _ in d.forward] == [
        "w",
        "y",
        "w·y",
        "x (logit)",
        "-x",
        "a = softplus(-x)",
        "w·y·a",
        "1 - y",
        "b = softplus(x)",
        "(1-y)·b",
        "ℓ = w·y·softplus(-x) + (1-y)·softplus(x)",
    ]
    assert [(sym, formula) for sym, formula, _ in d.steps] == [
        ("∂ℓ/∂((1-y)·b)", "1"),
        ("∂ℓ/∂b", "∂ℓ/∂((1-y)·b)·(1 - y)"),
        ("∂ℓ/∂(w·y·a)", "1"),
        ("∂ℓ/∂a", "∂ℓ/∂(w·y·a)·w·y"),
        ("∂ℓ/∂(-x)", "∂ℓ/∂a·σ(-x)"),
        ("∂ℓ/∂x", "-∂ℓ/∂(-x) + ∂ℓ/∂b·σ(x)"),
    ]
    assert d.steps[-1][2] == d.gradient == d.product
    assert d.factors == [d.gradient]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


@pytest.mark.parametrize("x", [-40.0, -3.0, 0.0, 2.5, 40.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("w", [1.0, 2.5])
def test_bce_with_logits_gradient_matches_torch(x, y, w):
    loss, xs = bce_with_logits(x, y, w)
    d = derivation(loss, xs)
    assert d.combine == "backprop"
    exact = (1 - y) * _sigmoid(x) - w * y * _sigmoid(-x)
    assert close(d.gradient, exact), (d.gradient, exact)

    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(
        t, torch.tensor(y, dtype=torch.float64), pos_weight=torch.tensor(w, dtype=torch.float64)
    )
    out.backward()
    # torch forms its value as (1-y)x + (1+(w-1)y)(log1p(e^-|x|) + max(-x, 0)) and its gradient
    # from σ(x) - y: where terms cancel (x = -40, y = 0 gives -40 + 40 = 0 for the exact 4e-18;
    # x = 40, y = 1 gives σ(x) - 1 = 0 for the exact -σ(-x) ≈ -4e-18) torch is off by a few
    # ulps of |x| (value) or of 1 (gradient), so those are the absolute tolerances.
    assert close(loss.value, out.item(), abs_=4 * 2**-52 * max(1.0, abs(x))), (loss.value, out.item())
    assert close(d.gradient, t.grad.item(), abs_=4 * 2**-52), (d.gradient, t.grad.item())


# ------------------------------------------------------------------ focal loss, written once


def focal_scalar(x: float, y: float, alpha: float, gamma: float) -> tuple[Scalar, Scalar]:
    """torchvision's sigmoid_focal_loss for one element, over Scalars."""
    xs, ys = Scalar.leaf(x, "x", "logit"), Scalar.leaf(y, "y")
    p = S.sigmoid(xs).named("p = σ(x)")
    ce = (ys * S.softplus(-xs) + (1 - ys) * S.softplus(xs)).named("ce = BCEWithLogits(x, y)")
    p_t = (p * ys + (1 - p) * (1 - ys)).named("pₜ = p·y + (1-p)(1-y)")
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        alpha_t = (alpha * ys + (1 - alpha) * (1 - ys)).named("αₜ = αy + (1-α)(1-y)")
        loss = alpha_t * loss
    return loss.named("ℓ = αₜ (1-pₜ)^γ ce"), xs


def focal_torch(x: float, y: float, alpha: float, gamma: float) -> tuple[float, float]:
    """The same formula in torch (torchvision.ops.sigmoid_focal_loss, reduction none)."""
    inputs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor(y, dtype=torch.float64)
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    loss.backward()
    return loss.item(), inputs.grad.item()


@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 1.2, 4.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.25, 0.0), (-1.0, 0.5), (0.6, 3.0)])
def test_focal_matches_torch_autograd(x, y, alpha, gamma):
    loss, xs = focal_scalar(x, y, alpha, gamma)
    d = derivation(loss, xs)
    value, grad = focal_torch(x, y, alpha, gamma)
    assert close(loss.value, value), (loss.value, value)
    assert close(d.gradient, grad), (d.gradient, grad)
    assert d.combine == "backprop"  # x reaches ℓ through p and through ce
    assert d.steps[-1][0] == "∂ℓ/∂x"


# ------------------------------------------------------------------ the module stays light


def test_scalar_imports_only_the_standard_maths():
    import losscli.scalar

    tree = ast.parse(Path(losscli.scalar.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"__future__", "math", "dataclasses", "typing"}
