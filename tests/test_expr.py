"""The loss-expression parser: grammar, folding, per-term parameters and bindings, one-line
errors pointing at the character, and refusal of anything that is not an expression."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from losscli import expr as expr_module
from losscli.errors import LossCliError, UsageError
from losscli.expr import MAX_DEPTH, MAX_LENGTH, parse


def weights(text: str) -> dict[str, float]:
    return {t.expr: t.weight for t in parse(text).terms}


def refused(text: str) -> str:
    """The one-line message of the UsageError ``parse(text)`` raises."""
    with pytest.raises(UsageError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert isinstance(info.value, LossCliError) and info.value.exit_code == 2
    return message


# ------------------------------------------------------------------------------ grammar


def test_plain_name_is_one_term_of_weight_one():
    ex = parse("mse")
    assert len(ex.terms) == 1 and ex.is_plain
    term = ex.terms[0]
    assert (term.expr, term.weight, term.spec.name, term.params, term.bindings) == ("mse", 1.0, "mse", {}, {})
    assert ex.input_names() == ["preds", "targets"] and ex.required_inputs() == ["preds", "targets"]


def test_plain_name_with_params_keeps_every_default():
    term = parse("huber(delta=2)").terms[0]
    assert term.expr == "huber(delta=2)" and term.params == {"delta": 2.0}
    ce = parse("ce").terms[0]
    assert ce.expr == "cross-entropy"
    assert ce.params == {
        "from_logits": True,
        "label_smoothing": 0.0,
        "ignore_index": -100,
        "weight": None,
        "normalize": False,
    }


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mse + 2*mae", {"mse": 1, "mae": 2}),
        ("2*mse + mae*3", {"mse": 2, "mae": 3}),
        ("mse + 2*mae*3", {"mse": 1, "mae": 6}),
        ("(mse + mae)*2", {"mse": 2, "mae": 2}),
        ("2*(mse + 0.5*mae)", {"mse": 2, "mae": 1}),
        ("2*(3*(mse + mae) - mae)", {"mse": 6, "mae": 4}),
        ("mse - 2*mae + huber", {"mse": 1, "mae": -2, "huber": 1}),
        ("mse - (mae - huber)", {"mse": 1, "mae": -1, "huber": 1}),
    ],
)
def test_precedence_and_parentheses(text, expected):
    assert weights(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-mse", {"mse": -1}),
        ("+mse", {"mse": 1}),
        ("--mse", {"mse": 1}),
        ("mse - -mae", {"mse": 1, "mae": 1}),
        ("-2*-mse", {"mse": 2}),
        ("-(mse - 2*mae)", {"mse": -1, "mae": 2}),
        ("2*-(mae)", {"mae": -2}),
    ],
)
def test_unary_minus(text, expected):
    assert weights(text) == expected


@pytest.mark.parametrize(
    "text, weight",
    [
        ("(1 + 2)*mse", 3.0),
        ("(2 - 0.5)*(mse)", 1.5),
        ("0.5*2*mse", 1.0),
        ("2*3*4*mse", 24.0),
        ("((((2))))*mse", 2.0),
        ("mse*(1 - 0.25)", 0.75),
        ("-(1 - 3)*mse", 2.0),
    ],
)
def test_constant_folding(text, weight):
    assert weights(text) == {"mse": weight}


@pytest.mark.parametrize(
    "text, weight",
    [
        ("1e-3*mse", 1e-3),
        ("2.5E+2*mse", 250.0),
        (".5*mse", 0.5),
        ("5.*mse", 5.0),
        ("1E3*mse", 1000.0),
        ("0.0001*mse", 1e-4),
        ("12e-1*mse", 1.2),
    ],
)
def test_scientific_notation_numbers(text, weight):
    assert weights(text) == {"mse": pytest.approx(weight, rel=1e-15)}


def test_whitespace_anywhere_and_text_is_collapsed():
    a = parse("0.7*bce+0.3*mse")
    b = parse(" \t0.7 *\n bce +\r\n 0.3\t* mse ")
    assert (
        [(t.expr, t.weight) for t in a.terms] == [(t.expr, t.weight) for t in b.terms] == [("bce", 0.7), ("mse", 0.3)]
    )
    assert b.text == "0.7 * bce + 0.3 * mse"
    assert parse("huber( delta = 2 )").terms[0].params == {"delta": 2.0}


def test_identical_terms_are_merged_in_order_of_appearance():
    assert weights("mse + mse") == {"mse": 2}
    assert weights("0.5*mse + mae + 0.5*mse") == {"mse": 1, "mae": 1}
    assert list(weights("mae + mse + mae")) == ["mae", "mse"]
    assert weights("huber(delta=1) + huber") == {"huber": 2}  # delta=1 is the default
    assert weights("huber(delta=2) + huber(delta=3)") == {"huber(delta=2)": 1, "huber(delta=3)": 1}
    assert weights("mse(preds=preds) + mse") == {"mse": 2}  # binding an input to its own name
    assert weights("mse - mse") == {"mse": 0}


def test_aliases_resolve_to_canonical_names():
    assert weights("l2-loss + 2*MSE + smooth_l1(beta=0.5)") == {"mse": 3, "smooth-l1(beta=0.5)": 1}
    assert weights("log-cosh + l2-half") == {"log-cosh": 1, "l2-half": 1}


def test_normalised_form():
    assert parse("2*(mse + 0.5*mae)").normalised == "2*mse + mae"
    assert parse("-mse - 0.25*huber(delta=2)").normalised == "- mse - 0.25*huber(delta=2)"
    assert str(parse("0.7*bce + 0.3*mse")) == "0.7*bce + 0.3*mse"
    ex = parse("bce(from_logits=true, pos_weight=[0.5, 1, 3])")
    assert ex.normalised == "bce(from_logits=true, pos_weight=[0.5,1,3])"
    assert parse(ex.normalised).terms[0].params == ex.terms[0].params  # round trip


# ------------------------------------------------------------------------- parameters


def test_parameter_values_of_every_kind():
    p = parse("ce(weight=[1, 2, 3.5], label_smoothing=0.1, from_logits=false, ignore_index=-1)").terms[0].params
    assert p == {
        "weight": (1.0, 2.0, 3.5),
        "label_smoothing": 0.1,
        "from_logits": False,
        "ignore_index": -1,
        "normalize": False,
    }
    assert isinstance(p["ignore_index"], int)
    assert parse("ce(weight=2)").terms[0].params["weight"] == (2.0,)
    assert parse("ce(weight=[-0, +2e0])").terms[0].params["weight"] == (0.0, 2.0)
    assert parse("bce(pos_weight=none, from-logits=true)").terms[0].params == {
        "from_logits": True,
        "pos_weight": None,
        "clip": None,
        "weight": None,
        "label_smoothing": 0.0,
    }
    assert parse("multi-margin(p=2)").terms[0].params == {"margin": 1.0, "p": 2, "weight": None}
    assert parse("focal(alpha=-1, gamma=+1.5)").terms[0].params == {"alpha": -1.0, "gamma": 1.5}
    assert parse("mse()").terms[0].expr == "mse"


def test_parameters_are_per_term():
    ex = parse("huber(delta=0.5) + 0.1*huber(delta=5)")
    assert [(t.expr, t.weight, t.params["delta"]) for t in ex.terms] == [
        ("huber(delta=0.5)", 1.0, 0.5),
        ("huber(delta=5)", 0.1, 5.0),
    ]


# --------------------------------------------------------------------------- bindings

MULTI = "ce(preds=cls_logits, targets=cls_labels) + 0.5*mse(preds=box_pred, targets=box_true)"


def test_bindings_of_a_multi_task_expression():
    ex = parse(MULTI)
    a, b = ex.terms
    assert (a.expr, a.weight, a.spec.name) == (
        "cross-entropy(preds=cls_logits, targets=cls_labels)",
        1.0,
        "cross-entropy",
    )
    assert a.bindings == {"preds": "cls_logits", "targets": "cls_labels"}
    assert (b.expr, b.weight, b.bindings) == (
        "mse(preds=box_pred, targets=box_true)",
        0.5,
        {"preds": "box_pred", "targets": "box_true"},
    )
    assert b.data_names() == {"preds": "box_pred", "targets": "box_true"}
    assert ex.input_names() == ["cls_logits", "cls_labels", "box_pred", "box_true"]
    info = {d.name: d for d in ex.inputs()}
    assert info["cls_logits"].differentiable and not info["cls_labels"].differentiable
    assert info["box_true"].used_by == ("mse(preds=box_pred, targets=box_true)",)


def test_bindings_and_params_mix_and_are_normalised_in_declared_order():
    term = parse("huber(delta=2, targets=y2, preds=p2)").terms[0]
    assert term.expr == "huber(preds=p2, targets=y2, delta=2)"
    assert term.params == {"delta": 2.0} and term.bindings == {"preds": "p2", "targets": "y2"}


def test_input_order_unbound_first_then_bound_then_weights():
    assert parse("mse + 0.01*l2").input_names() == ["preds", "targets", "weights"]
    assert parse("0.01*l2 + mse").input_names() == ["preds", "targets", "weights"]
    ex = parse("0.01*l1 + ce(preds=a, targets=b) + mse + mae(targets=b)")
    assert ex.input_names() == ["preds", "targets", "a", "b", "weights"]
    assert ex.required_inputs() == ex.input_names()
    assert parse("l2(weights=enc) + l2").input_names() == ["enc", "weights"]
    assert parse("mse(preds=x-y-z, targets=t_2)").input_names() == ["x-y-z", "t_2"]


def test_check_inputs_names_the_term_and_how_to_supply_it():
    parse("mse + 0.01*l2").check_inputs(["preds", "targets", "weights"])
    with pytest.raises(UsageError, match=r"term 'l2' needs data 'weights'; give it with --input weights=FILE"):
        parse("mse + 0.01*l2").check_inputs(["preds", "targets"])
    with pytest.raises(
        UsageError,
        match=r"term 'mse\(preds=box_pred, targets=box_true\)' needs data "
        r"'box_pred' \(its input preds\)",
    ):
        parse(MULTI).check_inputs(["cls_logits", "cls_labels", "box_true"])


# ----------------------------------------------------------------------------- errors

ERRORS = [
    # text, message fragment, 1-based character it points at (None: no position)
    ("0.7*bce + *", "expected a loss name, a number or '(' at character 11 ('*')", 11),
    ("0.7*bce + 0.3*", "expected a loss name, a number or '(' at character 15 (end of expression)", 15),
    ("mse*mae", "a product of two losses is not supported at character 4 ('*')", 4),
    ("2*(mse + mae)*(0.5*huber)", "a product of two losses is not supported at character 14", 14),
    ("(mse - mse)*mae", "a product of two losses is not supported", 12),
    ("mse + 1", "a number cannot be added to losses at character 7 ('1')", 7),
    ("2 - mse", "a number cannot be added to losses at character 1 ('2')", 1),
    ("mse + (1 + 2)", "a number cannot be added to losses at character 7 ('(')", 7),
    ("2 + 3", "the expression has no loss in it", None),
    ("", "empty loss expression", None),
    ("   \t", "empty loss expression", None),
    ("2mse", "at character 2 ('mse'); put '*' between a number and a loss", 2),
    ("2 (mse)", "at character 3 ('('); put '*' between a number and a loss", 3),
    ("mse mae", "expected '+', '-', '*' or the end of the expression at character 5 ('mae')", 5),
    ("(mse", "expected ')' at character 5 (end of expression) to close the '(' at character 1", 5),
    ("(mse mae)", "expected ')' at character 6 ('mae')", 6),
    ("mse)", "unmatched ')' at character 4", 4),
    ("()", "expected a loss name, a number or '(' at character 2 (')')", 2),
    ("mse/2", "division is not supported at character 4 ('/')", 4),
    ("mse**2", "powers ('**') are not supported at character 4", 4),
    ("mse^2", "powers are not supported at character 4", 4),
    ("mse; mae", "unexpected character at character 4 (';')", 4),
    ("mse + mäe", "unexpected character at character 8 ('ä')", 8),
    ("1e999*mse", "the number 1e999 is too large", 1),
    ("1e300*1e300*mse", "the product is too large", 6),
    ("bcee", "unknown loss 'bcee' at character 1; did you mean bce", 1),
    ("0.5*mse + 0.5*hubr(delta=2)", "unknown loss 'hubr' at character 15; did you mean huber", 15),
    ("mse-mae", "unknown loss 'mse-mae' at character 1", 1),
    ("huber(delta=-1)", "parameter delta of huber must be > 0, got -1 at character 13", 13),
    ("huber(delta=big)", "parameter delta of huber must be a number, got 'big' at character 13", 13),
    ("bce(from_logits=maybe)", "must be true or false, got 'maybe' at character 17", 17),
    (
        "huber(deltaa=1)",
        "huber has no parameter or input 'deltaa' at character 7 ('deltaa'); parameters: delta; inputs: preds, targets",
        7,
    ),
    ("mse(delta=1)", "mse has no parameter or input 'delta' at character 5", 5),
    ("huber(delta=[1, 2])", "parameter delta of huber takes one value, not a list at character 13 ('[')", 13),
    ("ce(weight=[1, 2)", "expected ',' or ']' in a list of numbers at character 16 (')')", 16),
    ("ce(weight=[])", "expected a number at character 12 (']')", 12),
    ("ce(weight=[1, x])", "expected a number at character 15 ('x')", 15),
    ("huber(delta=1, delta=2)", "'delta' is given twice in huber(...) at character 16", 16),
    ("mse(preds=a, preds=b)", "'preds' is given twice", 14),
    ("mse(preds=1)", "input preds of mse must be bound to a data name, not a number at character 11 ('1')", 11),
    ("huber(delta)", "expected '=' after 'delta' at character 12 (')')", 12),
    ("huber(delta=2", "expected ',' or ')' in the arguments of huber at character 14 (end of expression)", 14),
    ("huber(delta=2,)", "expected a parameter or input name of huber at character 15 (')')", 15),
    ("huber(=2)", "expected a parameter or input name of huber at character 7 ('=')", 7),
    ("huber(delta==2)", "expected a value: a number, true/false, a word, or a list [1, 2] at character 13 ('=')", 13),
    ("mse(preds=a b)", "expected ',' or ')' in the arguments of mse at character 13 ('b')", 13),
]


@pytest.mark.parametrize("text, fragment, char", ERRORS, ids=[e[0] or "empty" for e in ERRORS])
def test_errors_are_one_line_and_point_at_the_character(text, fragment, char):
    message = refused(text)
    assert fragment in message
    if char is not None:
        assert re.search(rf"at character {char}\b", message), message


def test_hyphenated_unknown_name_suggests_spaces_for_subtraction():
    assert "put spaces around '-' (e.g. 'mse - mae')" in refused("mse-mae")
    assert weights("mse-0.5*mae") == {"mse": 1, "mae": -0.5}  # a digit after '-' is never a name


def test_newlines_in_the_expression_never_reach_the_message():
    message = refused("mse +\n\n*mae")
    assert "at character 8 ('*')" in message


def test_long_tokens_are_shortened_in_messages():
    message = refused("mse + " + "x" * 200)
    assert len(message) < 400 and "..." in message


# --------------------------------------------------------------------------- security


def test_import_call_is_refused_and_nothing_runs(tmp_path: Path):
    target = tmp_path / "x"
    message = refused(f"__import__('os').system('touch {target}')")
    assert "names containing '__' are not allowed at character 1 ('__import__')" in message
    assert not target.exists()
    message = refused(f'mse + exec(\'open("{target}", "w")\')')
    assert 'quoted text is not supported at character 12 ("\'")' in message
    assert not target.exists()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("mse.__class__", "attribute access is not supported at character 4 ('.')"),
        ("__class__", "names containing '__' are not allowed at character 1 ('__class__')"),
        ("mse + __builtins__", "names containing '__' are not allowed at character 7"),
        ("mse(preds=__dict__)", "names containing '__' are not allowed at character 11"),
        ("huber(__init__=1)", "names containing '__' are not allowed at character 7"),
        ("mse.real", "attribute access is not supported at character 4"),
        ("mse['a']", "quoted text is not supported at character 5"),
        ("(lambda: 0)()", "at character 8 (':')"),
        ("mse if 1 else mae", "at character 5 ('if')"),
        ("[mse]", "expected a loss name, a number or '(' at character 1 ('[')"),
        ("mse\x00", "unexpected character at character 4 ('\\x00')"),
    ],
)
def test_python_syntax_is_not_an_expression(text, fragment):
    assert fragment in refused(text)


def test_source_never_evaluates_user_text():
    source = Path(expr_module.__file__).read_text()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("#", "*")))
    calls = re.findall(r"(?<![\w.])(eval|exec|compile|__import__|getattr|setattr|vars|globals|locals)\(", code)
    assert calls == []  # re.compile(...) of a constant pattern is fine: it is an attribute call
    assert "literal_eval" not in code and "import ast" not in code and "importlib" not in code


def test_a_huge_expression_is_refused_before_it_is_tokenized(monkeypatch):
    """Refused by its length alone (no work proportional to it), not timed: timings stay out of tests."""

    def no_tokenizing(text):
        raise AssertionError("a too-long expression reached the tokenizer")

    monkeypatch.setattr("losscli.expr.tokenize", no_tokenizing)
    message = refused("mse+" * 25_000)
    assert f"expression is too long (100000 characters; the limit is {MAX_LENGTH})" == message


def test_ten_thousand_nested_parentheses_are_refused_without_recursion_error():
    message = refused("(" * 10_000 + "mse" + ")" * 10_000)
    assert "too long" in message
    message = refused("(" * 3_000 + "mse" + ")" * 3_000)  # under the length limit
    assert message == f"parentheses are nested more than {MAX_DEPTH} deep at character {MAX_DEPTH + 1} ('(')"
    message = refused("(" * 4_990)
    assert f"nested more than {MAX_DEPTH} deep" in message


def test_nesting_up_to_the_limit_is_fine():
    assert weights("(" * MAX_DEPTH + "2*mse" + ")" * MAX_DEPTH) == {"mse": 2}
    assert "nested more than" in refused("(" * (MAX_DEPTH + 1) + "mse" + ")" * (MAX_DEPTH + 1))


def test_long_flat_expressions_within_the_limit_parse_without_recursion():
    assert weights("-" * 9_000 + "mse") == {"mse": 1}  # 9,000 unary minus signs
    assert weights("+".join(["mse"] * 2_400)) == {"mse": 2400}
    assert weights("*".join(["1"] * 4_000) + "*mse") == {"mse": 1}
