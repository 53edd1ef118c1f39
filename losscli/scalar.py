"""Scalar maths with its own chain rule: each elementwise loss written once, worked by hand.

A micrograd-style :class:`Scalar` (after karpathy/micrograd ``engine.py``) holds a value, the
step that made it (its ``label``, e.g. ``"r = p - y"``) and one :class:`Edge` per parent: the
parent, the local derivative ∂self/∂parent as a number and as formula text.  A loss written
over Scalars therefore carries its forward steps *and* its local derivatives, and
:func:`derivation` turns one gradient element into what ``grad --explain`` prints: the
forward values, the local derivatives along the chain (or the backward pass node by node
when the input reaches the loss by several paths) and the resulting gradient.

Everything here is plain Python :mod:`math` in float64, never numpy or torch, so that its
agreement with torch autograd stays an independent check.  Where torch has a convention for
a derivative that is not unique (a kink, a tie, a boundary) the functions below follow
torch's autograd, each noted in its docstring.  Arithmetic follows IEEE 754 as torch does
(``1/0`` is ``inf``, ``log(0)`` is ``-inf``, ``exp(1000)`` is ``inf``, ``sqrt(-1)`` is
``nan``) instead of raising as Python's ``math`` would.

Text conventions: a node's *symbol* is its label up to ``" = "`` (``"r = p - y"`` → ``r``);
a node made by an operator and never named is labelled by its expression (``p - y``), built
from its parents' symbols when it is read, so naming a parent later still shows.  Products
are written ``a·b``, powers ``r²`` or ``a^k``, ``σ`` is the logistic sigmoid.  Python numbers
mixed into the arithmetic are constants: they get no node and no edge, and appear in the
text as numbers.  A leaf that is data (a target, a weight) is a leaf like any other; it is
shown in the forward steps and simply not asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal, Sequence, Union

Step = tuple[str, str, float]  # (symbol such as "∂ℓ/∂r", formula such as "2r", value)
Text = Union[str, Callable[[], str]]
Operand = Union["Scalar", float, int]

# Precedence of a node's text, to know when it needs parentheses inside another expression.
_COND, _ADD, _MUL, _NEG, _POW, _ATOM = range(6)

_SUPERSCRIPT = {2: "²", 3: "³", 4: "⁴"}


# ------------------------------------------------------------------ IEEE-754 arithmetic


def _div(a: float, b: float) -> float:
    """``a / b`` with IEEE results for a zero divisor (``±inf``, ``nan`` for ``0/0``)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan


def _is_odd_integer(k: float) -> bool:
    return math.isfinite(k) and k == math.floor(k) and k % 2 == 1


def _pow(a: float, k: float) -> float:
    """``a ** k`` as C's ``pow``: ``nan`` for a negative base with a non-integer exponent."""
    try:
        return math.pow(a, k)
    except OverflowError:
        return -math.inf if a < 0 and _is_odd_integer(k) else math.inf
    except ValueError:
        if a == 0:  # zero to a negative power
            return math.copysign(math.inf, a) if _is_odd_integer(k) else math.inf
        return math.nan


def _sigmoid(x: float) -> float:
    """σ(x) = 1/(1 + e^-x), evaluated so that neither branch overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # x < 0 (or nan): e ≤ 1
    return e / (1.0 + e)


def _sign(x: float) -> float:
    """sign(x): 0 at 0 and, as torch's ``abs`` backward, 0 at nan."""
    return float((x > 0) - (x < 0))


def _number(c: float) -> str:
    return f"{c:.6g}"


# ------------------------------------------------------------------ the graph


def _resolve(text: Text) -> str:
    return text if isinstance(text, str) else text()


@dataclass(frozen=True)
class Edge:
    """One parent of a node: ``local`` is ∂node/∂parent, ``formula`` that derivative as text."""

    parent: Scalar
    local: float
    text: Text = field(repr=False)

    @property
    def formula(self) -> str:
        return _resolve(self.text)


def _joined(a: Text, b: Text) -> Callable[[], str]:
    return lambda: f"{_resolve(a)} + {_resolve(b)}"


def _merge(edges: Iterable[Edge]) -> tuple[Edge, ...]:
    """One edge per parent: a parent used twice gets its local derivatives added."""
    out: dict[int, Edge] = {}
    for e in edges:
        prev = out.get(id(e.parent))
        if prev is None:
            out[id(e.parent)] = e
        else:
            out[id(e.parent)] = Edge(e.parent, prev.local + e.local, _joined(prev.text, e.text))
    return tuple(out.values())


class Scalar:
    """A float that remembers how it was made.

    ``value`` is the number, ``label`` the step as shown (``"r = p - y"``; a leaf's label is
    its symbol, ``"p"``), ``parents`` its :class:`Edge` s and ``grad`` ∂root/∂self after
    :meth:`backward` on some root.  Supports ``+ - * /``, unary ``-`` and ``**`` with a
    constant exponent, mixed freely with Python numbers (constants).  Identity, not value,
    is equality: two Scalars are the same node only if they are the same object.
    """

    __slots__ = ("value", "parents", "grad", "_label", "_auto", "_symbol", "_level")

    def __init__(self, value: float, label: Text = "", parents: Iterable[Edge] = (), *, level: int = _ATOM) -> None:
        self.value = float(value)
        self.parents: tuple[Edge, ...] = _merge(parents)
        self.grad = 0.0
        self._label: str | None = None
        self._auto: Text = label
        self._symbol: str | None = None
        self._level = level

    # ---------------------------------------------------------------- naming

    @classmethod
    def leaf(cls, value: float, symbol: str, note: str = "") -> Scalar:
        """An input: ``Scalar.leaf(0.7, "p")``; ``note`` is shown beside the symbol in the
        forward steps (``leaf(x, "x", "logit")`` → ``"x (logit)"``) but not in formulas."""
        node = cls(value)
        node._label = f"{symbol} ({note})" if note else symbol
        node._symbol = symbol
        return node

    def named(self, label: str) -> Scalar:
        """Set the step's label (``"r = p - y"``, symbol ``r``) and return self."""
        self._label = label
        self._symbol = None
        return self

    @property
    def label(self) -> str:
        return self._label if self._label is not None else _resolve(self._auto)

    @property
    def symbol(self) -> str:
        """The name formulas use for this node: the label up to ``" = "``."""
        if self._symbol is not None:
            return self._symbol
        return self.label.split(" = ", 1)[0]

    def _wrapped(self, min_level: int) -> str:
        """The symbol, parenthesised when its precedence is below ``min_level``."""
        sym = self.symbol
        if self._label is not None or self._symbol is not None:
            level = _named_level(sym)
        else:
            level = self._level
        return f"({sym})" if level < min_level else sym

    def __repr__(self) -> str:
        return f"Scalar({self.value!r}, {self.label!r})"

    def __float__(self) -> float:
        return self.value

    # ---------------------------------------------------------------- arithmetic

    def __add__(self, other: Operand) -> Scalar:
        if isinstance(other, Scalar):
            return Scalar(
                self.value + other.value,
                lambda: f"{self._wrapped(_ADD)} + {other._wrapped(_MUL if other._is_neg() else _ADD)}",
                (Edge(self, 1.0, "1"), Edge(other, 1.0, "1")),
                level=_ADD,
            )
        if isinstance(other, (int, float)):
            c = float(other)
            return Scalar(
                self.value + c,
                lambda: f"{self._wrapped(_ADD)} {'-' if c < 0 else '+'} {_number(abs(c))}",
                (Edge(self, 1.0, "1"),),
                level=_ADD,
            )
        return NotImplemented

    def __radd__(self, other: float | int) -> Scalar:
        if not isinstance(other, (int, float)):
            return NotImplemented
        c = float(other)
        return Scalar(
            c + self.value,
            lambda: f"{_number(c)} + {self._wrapped(_MUL if self._is_neg() else _ADD)}",
            (Edge(self, 1.0, "1"),),
            level=_ADD,
        )

    def __sub__(self, other: Operand) -> Scalar:
        if isinstance(other, Scalar):
            return Scalar(
                self.value - other.value,
                lambda: f"{self._wrapped(_ADD)} - {other._wrapped(_MUL)}",
                (Edge(self, 1.0, "1"), Edge(other, -1.0, "-1")),
                level=_ADD,
            )
        if isinstance(other, (int, float)):
            return self + (-float(other))
        return NotImplemented

    def __rsub__(self, other: float | int) -> Scalar:
        if not isinstance(other, (int, float)):
            return NotImplemented
        c = float(other)
        return Scalar(
            c - self.value, lambda: f"{_number(c)} - {self._wrapped(_MUL)}", (Edge(self, -1.0, "-1"),), level=_ADD
        )

    def __neg__(self) -> Scalar:
        return Scalar(-self.value, lambda: f"-{self._wrapped(_POW)}", (Edge(self, -1.0, "-1"),), level=_NEG)

    def __mul__(self, other: Operand) -> Scalar:
        if other is self:  # r·r: one edge, local derivative 2r
            return self**2
        if isinstance(other, Scalar):
            return Scalar(
                self.value * other.value,
                lambda: f"{self._wrapped(_MUL)}·{other._wrapped(_POW)}",
                (Edge(self, other.value, lambda: other.symbol), Edge(other, self.value, lambda: self.symbol)),
                level=_MUL,
            )
        if isinstance(other, (int, float)):
            c = float(other)
            return Scalar(
                self.value * c,
                lambda: f"{self._wrapped(_MUL)}·{_constant(c)}",
                (Edge(self, c, _number(c)),),
                level=_MUL,
            )
        return NotImplemented

    def __rmul__(self, other: float | int) -> Scalar:
        if not isinstance(other, (int, float)):
            return NotImplemented
        c = float(other)
        return Scalar(
            c * self.value, lambda: f"{_constant(c)}·{self._wrapped(_POW)}", (Edge(self, c, _number(c)),), level=_MUL
        )

    def __truediv__(self, other: Operand) -> Scalar:
        if isinstance(other, Scalar):
            a, b = self.value, other.value
            return Scalar(
                _div(a, b),
                lambda: f"{self._wrapped(_MUL)}/{other._wrapped(_POW)}",
                (
                    Edge(self, _div(1.0, b), lambda: f"1/{other._wrapped(_POW)}"),
                    Edge(other, _div(-a, b * b), lambda: f"-{self._wrapped(_POW)}/{other._wrapped(_ATOM)}²"),
                ),
                level=_MUL,
            )
        if isinstance(other, (int, float)):
            c = float(other)
            return Scalar(
                _div(self.value, c),
                lambda: f"{self._wrapped(_MUL)}/{_constant(c)}",
                (Edge(self, _div(1.0, c), f"1/{_constant(c)}"),),
                level=_MUL,
            )
        return NotImplemented

    def __rtruediv__(self, other: float | int) -> Scalar:
        if not isinstance(other, (int, float)):
            return NotImplemented
        c, b = float(other), self.value
        return Scalar(
            _div(c, b),
            lambda: f"{_constant(c)}/{self._wrapped(_POW)}",
            (Edge(self, _div(-c, b * b), lambda: f"{_number(-c)}/{self._wrapped(_ATOM)}²"),),
            level=_MUL,
        )

    def __pow__(self, k: float | int) -> Scalar:
        """``self ** k`` for a constant ``k``; ∂/∂self = k·self^(k-1), and 0 when k = 0 even
        at self = 0 (torch's ``pow`` backward)."""
        if isinstance(k, Scalar) or not isinstance(k, (int, float)):
            return NotImplemented
        k = float(k)
        a = self.value
        local = 0.0 if k == 0 else k * _pow(a, k - 1)

        def formula() -> str:
            if k == 0:
                return "0"
            if k == 1:
                return "1"
            base = self._wrapped(_ATOM)
            power = base if k == 2 else f"{base}{_power(k - 1)}"
            joiner = "·" if power[0].isdigit() or power[0] in ".-" else ""
            return f"{_number(k)}{joiner}{power}"

        return Scalar(
            _pow(a, k), lambda: f"{self._wrapped(_ATOM)}{_power(k)}", (Edge(self, local, formula),), level=_POW
        )

    # ---------------------------------------------------------------- helpers for text

    def _is_neg(self) -> bool:
        return self._label is None and self._symbol is None and self._level == _NEG

    def symbolic(self) -> str:
        """This node's symbol as a factor in a product (parenthesised when compound)."""
        return self._wrapped(_POW)

    # ---------------------------------------------------------------- backward

    def topological(self) -> list[Scalar]:
        """Every node this one depends on, parents before children, self last."""
        order: list[Scalar] = []
        seen: set[int] = set()
        stack: list[tuple[Scalar, int]] = [(self, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if id(node) in seen:
                    continue
                seen.add(id(node))
            if i < len(node.parents):
                stack.append((node, i + 1))
                parent = node.parents[i].parent
                if id(parent) not in seen:
                    stack.append((parent, 0))
            else:
                order.append(node)
        return order

    def backward(self) -> None:
        """Set ``grad`` = ∂self/∂node on every node of this graph (micrograd's pass: a
        topological sort, ``self.grad = 1``, then in reverse order ``parent.grad += local ·
        node.grad``).  Grads are reset first, so nothing accumulates across calls."""
        order = self.topological()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for e in node.parents:
                e.parent.grad += e.local * node.grad


def _named_level(sym: str) -> int:
    """The precedence of a symbol a person wrote: compound unless no operator shows outside
    brackets (``r``, ``pₜ``, ``σ(x)`` are atoms; ``1-y``, ``w·y`` are not)."""
    depth = 0
    for i, ch in enumerate(sym):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in " ·/+-^*":
            return _NEG if i == 0 and ch == "-" and _named_level(sym[1:]) == _ATOM else _COND
    return _ATOM


def _constant(c: float) -> str:
    text = _number(c)
    return f"({text})" if c < 0 else text


def _power(k: float) -> str:
    if k == math.floor(k) and int(k) in _SUPERSCRIPT:
        return _SUPERSCRIPT[int(k)]
    text = _number(k)
    return f"^{text}" if k >= 0 else f"^({text})"


def _as_scalar(x: Operand) -> Scalar | None:
    return x if isinstance(x, Scalar) else None


# ------------------------------------------------------------------ functions


def op(value: float, parents: Sequence[tuple[Scalar, float, str]], label: str) -> Scalar:
    """A custom step: ``value`` with local derivatives given as ``(parent, ∂/∂parent, formula)``.

    For steps whose backward is a convention rather than the derivative of the forward, e.g.
    torch's ``BCELoss`` backward ``(p - y)/max(p(1-p), 1e-12)`` beside a forward with
    ``log`` clamped at -100.
    """
    return Scalar(value, label, (Edge(p, float(d), f) for p, d, f in parents))


def log(x: Scalar) -> Scalar:
    """log x; ∂/∂x = 1/x (``inf`` at 0, where the value is ``-inf``)."""
    return Scalar(
        _log(x.value), lambda: f"log({x.symbol})", (Edge(x, _div(1.0, x.value), lambda: f"1/{x.symbolic()}"),)
    )


def exp(x: Scalar) -> Scalar:
    """e^x; ∂/∂x = e^x, written with this node's symbol."""
    value = _exp(x.value)
    out = Scalar(value, lambda: f"exp({x.symbol})")
    out.parents = (Edge(x, value, lambda: out.symbol),)
    return out


def sqrt(x: Scalar) -> Scalar:
    """√x; ∂/∂x = 1/(2√x), ``inf`` at 0 as torch."""
    value = _sqrt(x.value)
    out = Scalar(value, lambda: f"√{x._wrapped(_ATOM)}")
    out.parents = (Edge(x, _div(1.0, 2.0 * value), lambda: f"1/(2·{out.symbolic()})"),)
    return out


def abs_(x: Scalar) -> Scalar:
    """|x|; ∂/∂x = sign(x), 0 at x = 0 (torch's ``abs`` backward)."""
    return Scalar(abs(x.value), lambda: f"|{x.symbol}|", (Edge(x, _sign(x.value), lambda: f"sign({x.symbol})"),))


def tanh(x: Scalar) -> Scalar:
    """tanh x; ∂/∂x = 1 - tanh²x, from the output as torch computes it."""
    value = math.tanh(x.value)
    out = Scalar(value, lambda: f"tanh({x.symbol})")
    out.parents = (Edge(x, 1.0 - value * value, lambda: f"1 - {out._wrapped(_ATOM)}²"),)
    return out


def sigmoid(x: Scalar) -> Scalar:
    """σ(x) = 1/(1 + e^-x), without overflow at any x (``e^x/(1 + e^x)`` for x < 0).

    ∂/∂x = σ(x)(1 - σ(x)), from the output as torch's sigmoid backward computes it; where
    σ(x) rounds to 1 (x ≳ 37) this is 0, as torch's, although σ(x)σ(-x) would be below 1e-16.
    """
    value = _sigmoid(x.value)
    out = Scalar(value, lambda: f"σ({x.symbol})")
    out.parents = (Edge(x, value * (1.0 - value), lambda: f"{out.symbolic()}(1 - {out.symbol})"),)
    return out


def softplus(x: Scalar) -> Scalar:
    """softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), no overflow or cancellation;
    ∂/∂x = σ(x).  (torch's ``softplus`` returns x itself above its threshold 20, so its
    derivative there is exactly 1 where σ(x) = 1 - e^-x; they agree once σ(x) rounds to 1.)"""
    v = x.value
    value = v if math.isnan(v) else max(v, 0.0) + math.log1p(math.exp(-abs(v)))
    return Scalar(value, lambda: f"softplus({x.symbol})", (Edge(x, _sigmoid(v), lambda: f"σ({x.symbol})"),))


def maximum(a: Operand, b: Operand) -> Scalar:
    """max(a, b), ``nan`` if either is; ∂/∂a = 1 where a > b, 0 where a < b, ½ on a tie
    (torch's ``maximum`` backward splits a tie evenly), likewise for b."""
    sa, sb = _as_scalar(a), _as_scalar(b)
    if sa is None and sb is None:
        raise TypeError("maximum needs at least one Scalar")
    va, vb = float(a), float(b)
    value = math.nan if math.isnan(va) or math.isnan(vb) else max(va, vb)
    ta = (lambda: sa.symbol) if sa is not None else (lambda: _number(va))
    tb = (lambda: sb.symbol) if sb is not None else (lambda: _number(vb))

    def local(first: bool) -> tuple[float, Text]:
        mine, theirs = (ta, tb) if first else (tb, ta)
        if va == vb:
            return 0.5, lambda: f"½ ({mine()} = {theirs()}, tie split)"
        larger = va > vb if first else vb > va
        smaller = va < vb if first else vb < va
        if smaller:
            return 0.0, lambda: f"0 ({mine()} < {theirs()})"
        return 1.0, (lambda: f"1 ({mine()} > {theirs()})") if larger else "1"

    edges = []
    if sa is not None:
        edges.append(Edge(sa, *local(True)))
    if sb is not None:
        edges.append(Edge(sb, *local(False)))
    return Scalar(value, lambda: f"max({ta()}, {tb()})", edges)


def where(cond: bool, a: Operand, b: Operand, cond_text: str = "cond") -> Scalar:
    """``a if cond else b`` keeping both branches, as ``torch.where``: ∂/∂a = 1 if cond else
    0, ∂/∂b the opposite.  Like torch, an ``inf`` derivative inside the branch not taken turns
    into ``nan`` (0·inf); choose with a Python ``if`` on ``.value`` to show only one branch.
    ``cond_text`` names the condition in the text, e.g. ``"|r| < δ"``."""
    sa, sb = _as_scalar(a), _as_scalar(b)
    if sa is None and sb is None:
        raise TypeError("where needs at least one Scalar")
    ta = (lambda: sa._wrapped(_ADD)) if sa is not None else (lambda: _number(float(a)))
    tb = (lambda: sb._wrapped(_ADD)) if sb is not None else (lambda: _number(float(b)))
    edges = []
    if sa is not None:
        edges.append(Edge(sa, 1.0 if cond else 0.0, f"1 ({cond_text})" if cond else f"0 (not {cond_text})"))
    if sb is not None:
        edges.append(Edge(sb, 0.0 if cond else 1.0, f"0 ({cond_text})" if cond else f"1 (not {cond_text})"))
    value = float(a) if cond else float(b)
    return Scalar(value, lambda: f"{ta()} if {cond_text} else {tb()}", edges, level=_COND)


def clamp_min(x: Scalar, lo: float) -> Scalar:
    """max(x, lo) as ``torch.clamp(x, min=lo)``: ∂/∂x = 1 where x ≥ lo (the boundary included,
    as torch's clamp backward), else 0; ``nan`` stays ``nan`` with derivative 0."""
    v = x.value
    value = v if math.isnan(v) else max(v, lo)
    keep = v >= lo
    text = f"1 ({x.symbol} ≥ {_number(lo)})" if keep else f"0 ({x.symbol} < {_number(lo)})"
    return Scalar(value, lambda: f"clamp({x.symbol}, min={_number(lo)})", (Edge(x, 1.0 if keep else 0.0, text),))


# ------------------------------------------------------------------ the worked element


@dataclass
class Derivation:
    """One gradient element worked by hand, as ``grad --explain`` prints it.

    ``forward``: (label, value) of every node the root depends on, leaves first, root last.
    ``steps``: the ``outer`` steps given to :func:`derivation` (e.g. ∂L/∂ℓ of the reduction),
    then, when ``combine == "product"`` (the leaf reaches the root by one path), the local
    derivatives along that path from the root down to the leaf; when ``combine ==
    "backprop"`` (several paths), ∂ℓ/∂s for each node s on a path, in reverse topological
    order, each a sum over the uses of s, ending with the leaf.
    ``gradient``: ∂L/∂leaf = (∏ outer values) · ∂root/∂leaf, from the backward pass.
    """

    forward: list[tuple[str, float]]
    steps: list[Step]
    combine: Literal["product", "backprop"]
    gradient: float
    outer_steps: int = 0

    @property
    def product(self) -> float:
        """The gradient the hand derivation gives (same as ``gradient``)."""
        return self.gradient

    @property
    def factors(self) -> list[float]:
        """The numbers whose product is the gradient: every step for a product; for the
        backward pass the outer steps and the leaf's ∂ℓ/∂leaf (the last step)."""
        if self.combine == "product":
            return [v for _, _, v in self.steps]
        return [v for _, _, v in self.steps[: self.outer_steps]] + [self.steps[-1][2]]


def _factor(formula: str) -> str:
    return f"({formula})" if " " in formula or formula.startswith("-") else formula


def derivation(root: Scalar, leaf: Scalar, outer: list[Step] | None = None) -> Derivation:
    """Work ∂root/∂leaf by hand: the forward steps, the local derivatives and their
    combination.  ``outer`` are steps outside the elementwise loss (e.g. ``("∂L/∂ℓ", "1/4",
    0.25)`` for a mean over four), put first and multiplied in.  Runs ``root.backward()``
    afresh, so calling it again is safe.  Raises ValueError if the root does not depend on
    the leaf."""
    order = root.topological()
    if not any(node is leaf for node in order):
        raise ValueError(f"{root.symbol} does not depend on {leaf.symbol}")
    root.backward()
    outer = list(outer or [])
    top = root.symbol
    scale = 1.0
    for _, _, v in outer:
        scale *= v
    gradient = leaf.grad if not outer else scale * leaf.grad

    paths: dict[int, int] = {}
    for node in order:
        paths[id(node)] = 1 if node is leaf else sum(paths[id(e.parent)] for e in node.parents)

    forward = [(node.label, node.value) for node in order]
    if paths[id(root)] == 1:
        steps: list[Step] = []
        node = root
        while node is not leaf:
            edge = next(e for e in node.parents if paths[id(e.parent)])
            steps.append((f"∂{node._wrapped(_ATOM)}/∂{edge.parent._wrapped(_ATOM)}", edge.formula, edge.local))
            node = edge.parent
        return Derivation(forward, outer + steps, "product", gradient, len(outer))

    on_path = [node for node in order if paths[id(node)]]
    uses: dict[int, list[tuple[Scalar, Edge]]] = {id(node): [] for node in on_path}
    for node in on_path:
        for e in node.parents:
            if paths[id(e.parent)]:
                uses[id(e.parent)].append((node, e))
    steps = []
    for node in reversed(on_path):
        if node is root:
            continue
        terms = []
        for user, e in uses[id(node)]:
            formula = e.formula
            if user is root:
                terms.append(formula)
            elif formula in ("1", "-1"):
                terms.append(f"{formula[:-1]}∂{top}/∂{user._wrapped(_ATOM)}")
            else:
                terms.append(f"∂{top}/∂{user._wrapped(_ATOM)}·{_factor(formula)}")
        text = terms[0] + "".join(f" - {t[1:]}" if t.startswith("-") else f" + {t}" for t in terms[1:])
        steps.append((f"∂{top}/∂{node._wrapped(_ATOM)}", text, node.grad))
    return Derivation(forward, outer + steps, "backprop", gradient, len(outer))
