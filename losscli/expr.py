"""Loss expressions: ``0.7*bce + 0.3*dice``, ``huber(delta=2) + 0.01*l2``, multi-task terms.

A hand-written tokenizer and recursive-descent parser.  User text is never given to
``eval``, ``exec``, ``compile`` or ``ast``: the only things an expression can name are
registered losses (through :func:`losscli.losses.get`), their declared parameters and
inputs, and data names, all as plain strings.

Grammar (EBNF; whitespace is ignored between tokens)::

    expression = sum ;
    sum        = product , { ( "+" | "-" ) , product } ;
    product    = unary , { "*" , unary } ;
    unary      = { "+" | "-" } , primary ;
    primary    = NUMBER | term | "(" , sum , ")" ;
    term       = NAME , [ "(" , [ arg , { "," , arg } ] , ")" ] ;
    arg        = NAME , "=" , value ;                  (* an input binding or a parameter *)
    value      = signed | NAME | "[" , signed , { "," , signed } , "]" ;
    signed     = [ "+" | "-" ] , NUMBER ;
    NAME       = letter_ , { letter_ | digit } , { "-" , letter , { letter_ | digit } } ;
    NUMBER     = ( digits , [ "." , [ digits ] ] | "." , digits ) , [ ( "e" | "E" ) , [ "+" | "-" ] , digits ] ;

Notes:

* A NAME may contain hyphens (``log-cosh``, ``l2-half``) when a letter follows the hyphen
  directly, so subtraction of two losses needs spaces: ``mse - mae`` (``mse-mae`` is read
  as one, unknown, name and the error says so).  ``mse-0.1*mae`` is fine.
* Inside a term's parentheses an argument named after a declared input of the loss binds
  that input to a data name (``ce(preds=cls_logits, targets=cls_labels)``); any other
  name must be a declared parameter (``huber(delta=2)``).  Parameter values: a number,
  ``true``/``false``, a bare word (choice parameters, ``none``), or for ``floats``
  parameters a bracketed list ``weight=[1, 2, 3]`` (a single number also works).
* The expression must stay linear in the losses: a product needs at least one side that
  is a pure number (``2*(mse + 0.5*mae)`` is fine, ``mse*mae`` is refused), and a bare
  number cannot be added to losses.  Constants are folded, so every expression becomes
  Σ cᵢ·termᵢ; identical terms are merged (``mse + mse`` is ``2*mse``).
* Limits: at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` nested
  parentheses; names containing ``__`` are refused.  Every error is one line pointing at
  the character (1-based), e.g. ``expected a loss name, a number or '(' at character 5 ('*')``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from losscli import losses
from losscli.errors import UsageError
from losscli.params import convert
from losscli.spec import LossSpec

MAX_LENGTH = 10_000
MAX_DEPTH = 50

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPACE = " \t\r\n"
_SINGLE = {"+": "op", "-": "op", "*": "op", "(": "(", ")": ")", "[": "[", "]": "]", ",": ",", "=": "="}
_HINTS = {
    "/": ("division is not supported", ": multiply by a number instead (e.g. 0.5*mse)"),
    ".": ("attribute access is not supported", ""),
    "'": ("quoted text is not supported", ""),
    '"': ("quoted text is not supported", ""),
    "^": ("powers are not supported", ""),
}


# ----------------------------------------------------------------------------- results


@dataclass
class Term:
    """One term of an expression: ``weight`` · loss(``params``) on the data ``bindings`` name.

    ``expr`` is the term's normalised source: the canonical loss name, then the bound
    inputs (declared order) and the parameters that differ from their defaults, e.g.
    ``huber(delta=2)`` or ``cross-entropy(preds=cls_logits, targets=cls_labels)``.
    ``params`` holds every parameter, defaults included, converted and range-checked.
    ``bindings`` maps a declared input to the data name it reads (only inputs bound to a
    different name are listed); ``position`` is the 1-based character where it starts.
    """

    expr: str
    weight: float
    spec: LossSpec
    params: dict[str, Any]
    bindings: dict[str, str] = field(default_factory=dict)
    position: int = 1

    def data_name(self, input_name: str) -> str:
        """The data name the declared input ``input_name`` reads."""
        return self.bindings.get(input_name, input_name)

    def data_names(self) -> dict[str, str]:
        """{declared input: data name} for every input of the loss."""
        return {inp.name: self.data_name(inp.name) for inp in self.spec.inputs}


@dataclass(frozen=True)
class DataInput:
    """A data name an expression reads: required by some term? differentiable in some term?"""

    name: str
    required: bool
    differentiable: bool
    used_by: tuple[str, ...]


@dataclass
class Expression:
    """A parsed expression: the total is Σ ``term.weight`` · term (see the module docstring).

    ``text`` is the source with runs of whitespace collapsed to one space.
    """

    text: str
    terms: list[Term]

    @property
    def normalised(self) -> str:
        """The folded form, e.g. ``2*mse + 1*mae`` for ``2*(mse + 0.5*mae)``."""
        out = ""
        for i, term in enumerate(self.terms):
            w = term.weight
            sign = "-" if w < 0 or (w == 0 and math.copysign(1.0, w) < 0) else "+"
            body = term.expr if abs(w) == 1 else f"{format_number(abs(w))}*{term.expr}"
            out += (f"- {body}" if sign == "-" else body) if i == 0 else f" {sign} {body}"
        return out

    def __str__(self) -> str:
        return self.normalised

    @property
    def is_plain(self) -> bool:
        """A single term of weight 1 (``mse``, ``huber(delta=2)``): same as the loss on its own."""
        return len(self.terms) == 1 and self.terms[0].weight == 1.0

    def inputs(self) -> list[DataInput]:
        """Every data name the terms read, in a stable order.

        First the unbound inputs of data terms under their declared names (``preds``,
        ``targets``), then the bound data names, then the unbound inputs of regularisers
        (``weights``); within each group, in order of first appearance.  Positional files
        on the command line map onto this order.
        """
        info: dict[str, dict[str, Any]] = {}
        for term in self.terms:
            for inp in term.spec.inputs:
                data = term.data_name(inp.name)
                if inp.name in term.bindings:
                    group = 1
                elif not term.spec.rule.has_samples:
                    group = 2
                else:
                    group = 0
                entry = info.setdefault(
                    data,
                    {"group": group, "order": len(info), "required": False, "differentiable": False, "used_by": []},
                )
                entry["group"] = min(entry["group"], group)
                entry["required"] |= inp.required
                entry["differentiable"] |= inp.differentiable
                if term.expr not in entry["used_by"]:
                    entry["used_by"].append(term.expr)
        ordered = sorted(info.items(), key=lambda kv: (kv[1]["group"], kv[1]["order"]))
        return [DataInput(name, e["required"], e["differentiable"], tuple(e["used_by"])) for name, e in ordered]

    def input_names(self) -> list[str]:
        """The data names the expression reads (see :meth:`inputs` for the order)."""
        return [d.name for d in self.inputs()]

    def required_inputs(self) -> list[str]:
        """The data names some term cannot do without (same order as :meth:`input_names`)."""
        return [d.name for d in self.inputs() if d.required]

    def check_inputs(self, available: Iterable[str]) -> None:
        """UsageError naming the first term whose required data is not in ``available``."""
        have = set(available)
        for term in self.terms:
            for inp in term.spec.inputs:
                data = term.data_name(inp.name)
                if inp.required and data not in have:
                    how = f"--input {data}=FILE or a key {data!r} in a JSON object / .npz file"
                    own = "" if data == inp.name else f" (its input {inp.name})"
                    raise UsageError(f"term '{term.expr}' needs data '{data}'{own}; give it with {how}")


def format_number(x: float) -> str:
    """A coefficient or parameter as it could be typed back: 2, 0.7, 1e-05."""
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


def _format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ",".join(format_number(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)


# ----------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # num, word, op, (, ), [, ], ",", =, end
    text: str
    pos: int  # 0-based offset into the source


def _shown(text: str, pos: int, token: str | None = None) -> str:
    if pos >= len(text):
        return "end of expression"
    piece = token if token else text[pos]
    if len(piece) > 24:
        piece = piece[:21] + "..."
    return repr(piece)


def _error(text: str, pos: int, message: str, token: str | None = None, after: str = "") -> UsageError:
    return UsageError(f"{message} at character {pos + 1} ({_shown(text, pos, token)}){after}")


def tokenize(text: str) -> list[_Token]:
    """The tokens of ``text``, ending with an ``end`` token; UsageError on a stray character."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if ch.isascii() and (ch.isalpha() or ch == "_"):
            m = _WORD.match(text, i)
            assert m is not None
            word = m.group()
            if "__" in word:
                raise _error(text, i, "names containing '__' are not allowed", word)
            tokens.append(_Token("word", word, i))
            i = m.end()
            continue
        if ch.isascii() and (ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit())):
            m = _NUMBER.match(text, i)
            assert m is not None
            tokens.append(_Token("num", m.group(), i))
            i = m.end()
            continue
        if ch == "*" and i + 1 < n and text[i + 1] == "*":
            raise _error(text, i, "powers ('**') are not supported", "**")
        if ch in _SINGLE:
            tokens.append(_Token(_SINGLE[ch], ch, i))
            i += 1
            continue
        message, after = _HINTS.get(ch, ("unexpected character", ""))
        raise _error(text, i, message, after=after)
    tokens.append(_Token("end", "", n))
    return tokens


# ----------------------------------------------------------------------------- parser


@dataclass
class _Proto:
    """A term before folding: everything but its weight."""

    expr: str
    spec: LossSpec
    params: dict[str, Any]
    bindings: dict[str, str]
    pos: int


@dataclass
class _Form:
    """A linear form: a pure number (``terms`` empty) or Σ coef·term."""

    const: float
    terms: dict[str, list[Any]]  # expr -> [coefficient, _Proto]
    pos: int

    @property
    def is_const(self) -> bool:
        return not self.terms


class _Parser:
    def __init__(self, text: str, tokens: list[_Token] | None = None) -> None:
        self.text = text
        self.tokens = tokenize(text) if tokens is None else tokens
        self.i = 0

    # -- helpers
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def fail(self, tok: _Token, message: str, after: str = "") -> UsageError:
        return _error(self.text, tok.pos, message, tok.text or None, after)

    def operator_expected(self, tok: _Token, message: str, after: str = "") -> UsageError:
        prev = self.tokens[self.i - 1] if self.i > 0 else None
        if prev is not None and prev.kind in ("num", ")", "word") and tok.kind in ("num", "word", "("):
            if prev.kind == "num" and tok.kind in ("word", "("):
                after += "; put '*' between a number and a loss (e.g. 2*mse)"
            else:
                after += "; terms are joined with '+', '-' or '*'"
        return self.fail(tok, message, after)

    def finite(self, value: float, tok: _Token, what: str) -> float:
        if not math.isfinite(value):
            raise self.fail(tok, f"{what} is too large (not a finite number)")
        return value

    # -- grammar
    def parse(self) -> _Form:
        form = self.sum(0)
        tok = self.peek()
        if tok.kind == ")":
            raise self.fail(tok, "unmatched ')'")
        if tok.kind != "end":
            raise self.operator_expected(tok, "expected '+', '-', '*' or the end of the expression")
        return form

    def sum(self, depth: int) -> _Form:
        parts = [(1.0, self.product(depth))]
        while self.peek().kind == "op" and self.peek().text in "+-":
            sign = -1.0 if self.take().text == "-" else 1.0
            parts.append((sign, self.product(depth)))
        if len(parts) == 1:
            return parts[0][1]
        if any(not form.is_const for _, form in parts):
            for _, form in parts:
                if form.is_const:
                    raise _error(
                        self.text,
                        form.pos,
                        "a number cannot be added to losses",
                        after=": it has no gradient; use it as a weight, e.g. 0.5*mse",
                    )
            total = _Form(0.0, {}, parts[0][1].pos)
            for sign, form in parts:
                for key, (coef, proto) in form.terms.items():
                    entry = total.terms.setdefault(key, [0.0, proto])
                    entry[0] += sign * coef
            return total
        value = math.fsum(sign * form.const for sign, form in parts)
        return _Form(self.finite(value, _Token("num", "", parts[0][1].pos), "the sum"), {}, parts[0][1].pos)

    def product(self, depth: int) -> _Form:
        form = self.unary(depth)
        while self.peek().kind == "op" and self.peek().text == "*":
            star = self.take()
            right = self.unary(depth)
            if not form.is_const and not right.is_const:
                raise self.fail(
                    star,
                    "a product of two losses is not supported",
                    ": one side of '*' must be a number (an expression is a weighted sum of losses)",
                )
            if form.is_const and right.is_const:
                form = _Form(self.finite(form.const * right.const, star, "the product"), {}, form.pos)
            elif form.is_const:
                form = _scaled(right, form.const, self, star, form.pos)
            else:
                form = _scaled(form, right.const, self, star, form.pos)
        return form

    def unary(self, depth: int) -> _Form:
        sign = 1.0
        start = self.peek().pos
        while self.peek().kind == "op" and self.peek().text in "+-":
            if self.take().text == "-":
                sign = -sign
        form = self.primary(depth)
        if sign < 0:
            form = _scaled(form, -1.0, self, self.peek(), start)
        form.pos = start
        return form

    def primary(self, depth: int) -> _Form:
        tok = self.take()
        if tok.kind == "num":
            return _Form(self.finite(float(tok.text), tok, f"the number {tok.text}"), {}, tok.pos)
        if tok.kind == "word":
            proto = self.term(tok)
            return _Form(0.0, {proto.expr: [1.0, proto]}, tok.pos)
        if tok.kind == "(":
            if depth + 1 > MAX_DEPTH:
                raise self.fail(tok, f"parentheses are nested more than {MAX_DEPTH} deep")
            form = self.sum(depth + 1)
            close = self.peek()
            if close.kind != ")":
                raise self.operator_expected(close, "expected ')'", f" to close the '(' at character {tok.pos + 1}")
            self.take()
            form.pos = tok.pos
            return form
        raise self.fail(tok, "expected a loss name, a number or '('")

    def term(self, tok: _Token) -> _Proto:
        spec = _lookup(self.text, tok)
        params = {p.name: p.default for p in spec.params}
        bindings: dict[str, str] = {}
        seen: set[str] = set()
        if self.peek().kind == "(":
            self.take()
            if self.peek().kind == ")":
                self.take()
            else:
                while True:
                    self.argument(spec, params, bindings, seen)
                    nxt = self.take()
                    if nxt.kind == ")":
                        break
                    if nxt.kind != ",":
                        raise self.fail(nxt, f"expected ',' or ')' in the arguments of {spec.name}")
        parts = [f"{inp.name}={bindings[inp.name]}" for inp in spec.inputs if inp.name in bindings]
        parts += [f"{p.name}={_format_value(params[p.name])}" for p in spec.params if params[p.name] != p.default]
        expr = f"{spec.name}({', '.join(parts)})" if parts else spec.name
        return _Proto(expr, spec, params, bindings, tok.pos)

    def argument(self, spec: LossSpec, params: dict[str, Any], bindings: dict[str, str], seen: set[str]) -> None:
        name_tok = self.take()
        if name_tok.kind != "word":
            raise self.fail(name_tok, f"expected a parameter or input name of {spec.name}")
        name = name_tok.text.replace("-", "_")
        eq = self.take()
        if eq.kind != "=":
            raise self.fail(eq, f"expected '=' after {name_tok.text!r}")
        kind, value, vtok = self.value()
        if name in seen:
            raise self.fail(name_tok, f"{name!r} is given twice in {spec.name}(...)")
        seen.add(name)
        if name in spec.input_names:
            if kind != "word":
                raise self.fail(
                    vtok,
                    f"input {name} of {spec.name} must be bound to a data name, not a number",
                    f" (e.g. {name}=my_{name})",
                )
            if value != name:
                bindings[name] = value
            return
        param = spec.param(name)
        if param is None:
            valid_p = ", ".join(p.name for p in spec.params) or "none"
            valid_i = ", ".join(spec.input_names)
            raise self.fail(
                name_tok,
                f"{spec.name} has no parameter or input {name_tok.text!r}",
                f"; parameters: {valid_p}; inputs: {valid_i}",
            )
        if kind == "list" and param.kind != "floats":
            raise self.fail(vtok, f"parameter {name} of {spec.name} takes one value, not a list")
        try:
            params[name] = convert(param, value, spec)
        except UsageError as exc:
            raise UsageError(f"{exc.message} at character {vtok.pos + 1}") from None

    def value(self) -> tuple[str, str, _Token]:
        tok = self.peek()
        if tok.kind == "word":
            self.take()
            return "word", tok.text, tok
        if tok.kind == "[":
            self.take()
            items = [self.signed()]
            while self.peek().kind == ",":
                self.take()
                items.append(self.signed())
            close = self.take()
            if close.kind != "]":
                raise self.fail(close, "expected ',' or ']' in a list of numbers")
            return "list", ",".join(items), tok
        if tok.kind == "num" or (tok.kind == "op" and tok.text in "+-"):
            return "num", self.signed(), tok
        raise self.fail(tok, "expected a value: a number, true/false, a word, or a list [1, 2]")

    def signed(self) -> str:
        sign = ""
        if self.peek().kind == "op" and self.peek().text in "+-":
            sign = "-" if self.take().text == "-" else ""
        tok = self.take()
        if tok.kind != "num":
            raise self.fail(tok, "expected a number")
        return sign + tok.text


def _scaled(form: _Form, k: float, parser: _Parser, tok: _Token, pos: int) -> _Form:
    if form.is_const:
        return _Form(parser.finite(form.const * k, tok, "the product"), {}, pos)
    terms = {}
    for key, (coef, proto) in form.terms.items():
        terms[key] = [parser.finite(coef * k, tok, "the weight"), proto]
    return _Form(0.0, terms, pos)


def _lookup(text: str, tok: _Token) -> LossSpec:
    if len(tok.text) > 64:
        raise UsageError(
            f"unknown loss {_shown(text, tok.pos, tok.text)} at character {tok.pos + 1} (see 'losscli list')"
        )
    try:
        return losses.get(tok.text)
    except UsageError as exc:
        message = exc.message
        quoted = f"unknown loss {tok.text!r}"
        located = f"{quoted} at character {tok.pos + 1}"
        message = message.replace(quoted, located, 1) if quoted in message else f"{message} at character {tok.pos + 1}"
        if "-" in tok.text:
            message += "; to subtract losses put spaces around '-' (e.g. 'mse - mae')"
        raise UsageError(message) from None


# ----------------------------------------------------------------------------- entry point


def parse(text: str) -> Expression:
    """Parse a loss expression (see the module docstring) into folded, validated terms.

    Raises :class:`~losscli.errors.UsageError` (one line, pointing at the character) for
    anything malformed, too long, too deeply nested, non-linear or unknown.
    """
    _check_text(text)
    return _expression(text, _Parser(text))


def parse_list(text: str) -> list[Expression]:
    """Parse a comma list of expressions (``compare``'s ``mse,huber(delta=2),0.5*mse + 0.5*mae``).

    Commas inside parentheses or brackets belong to their term; every error points at its
    character in the whole list, as :func:`parse` does for one expression.
    """
    _check_text(text)
    tokens = tokenize(text)
    pieces: list[list[_Token]] = [[]]
    depth = 0
    for tok in tokens[:-1]:
        depth += tok.kind in ("(", "[")
        depth -= tok.kind in (")", "]")
        if tok.kind == "," and depth == 0:
            pieces[-1].append(_Token("end", "", tok.pos))
            pieces.append([])
        else:
            pieces[-1].append(tok)
    pieces[-1].append(tokens[-1])
    out = []
    start = 0
    for piece in pieces:
        end = piece[-1].pos
        if len(piece) == 1:
            raise _error(text, end, "empty entry in the comma list of losses", after=": write e.g. 'mse,mae,huber'")
        out.append(_expression(text[start:end], _Parser(text, piece)))
        start = end + 1
    return out


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise UsageError("a loss expression must be text")
    if len(text) > MAX_LENGTH:
        raise UsageError(f"expression is too long ({len(text)} characters; the limit is {MAX_LENGTH})")
    if not text.strip():
        raise UsageError("empty loss expression: give a loss name such as mse, or e.g. '0.7*bce + 0.3*mse'")


def _expression(text: str, parser: _Parser) -> Expression:
    form = parser.parse()
    if form.is_const:
        raise UsageError("the expression has no loss in it: weight a loss, e.g. '0.5*mse'")
    terms = [
        Term(
            expr=key,
            weight=float(coef),
            spec=proto.spec,
            params=proto.params,
            bindings=proto.bindings,
            position=proto.pos + 1,
        )
        for key, (coef, proto) in form.terms.items()
    ]
    return Expression(text=" ".join(text.split()), terms=terms)
