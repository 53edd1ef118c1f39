"""Traditional Chinese (zh-TW) texts: completeness, no stale keys, placeholders, constants kept."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest
from typer.testing import CliRunner

from losscli import losses
from losscli.cli import app
from losscli.i18n import LOSS_FIELDS, MESSAGES, loss_text
from losscli.i18n_zh_tw import LOSS_TEXTS

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e-?\d+)?")
# Dotted code names (torch.nn.MSELoss, optax.l2_loss): the brief's [A-Za-z_]+\.[A-Za-z_.]+ with digits
# allowed after the first character, so that names such as optax.l2_loss are checked whole.
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*")
# Dotted tokens that are English abbreviations, not code: a translation rightly drops them.
ABBREVIATIONS = {"e.g", "i.e", "w.r.t", "cf", "vs"}
# Fields that are prose: their translation must contain Chinese.
PROSE_FIELDS = ("summary", "differs", "when")
# Lower-case words of derivative/convention texts that are code, maths or library names,
# not English prose (so a formula-only field may stay as it is in English).
IDENTIFIERS = {
    "torch",
    "optax",
    "keras",
    "scipy",
    "skimage",
    "kornia",
    "torchgan",
    "torchvision",
    "softmax",
    "softplus",
    "sigmoid",
    "logsigmoid",
    "tanh",
    "sqrt",
    "sign",
    "cosh",
    "mean",
    "median",
    "batchmean",
    "minimax",
    "none",
    "true",
    "false",
}

NAMES = sorted(losses.REGISTRY)


def cases(fields=LOSS_FIELDS):
    return [pytest.param(name, field, id=f"{name}-{field}") for name in NAMES for field in fields]


def english(name: str, field: str) -> str:
    return getattr(losses.REGISTRY[name], field)


def chinese(name: str, field: str) -> str:
    return LOSS_TEXTS[name][field]


def prose_words(text: str) -> list[str]:
    """English prose words (4+ letters) of ``text`` once code, calls, quotes and names are removed."""
    t = re.sub(r"'[^']*'", " ", text)  # quoted strings: 'mean', 'multilabel'
    previous = None
    while previous != t:  # calls, innermost first: f(a, g(b))
        previous = t
        t = re.sub(r"[A-Za-z_][\w.]*\([^()]*\)", " ", t)
    t = re.sub(r"\w+=\S+", " ", t)  # key=value
    t = DOTTED.sub(" ", t)  # torch.nn.MSELoss
    words = re.findall(r"(?<![\w\-./])[A-Za-z]{4,}(?![\w\-./(])", t)
    # Capitalised words are names (Keras, Hadsell, LeCun); the rest must not be known identifiers.
    return [w for w in words if w[0].islower() and w not in IDENTIFIERS]


def numbers(text: str) -> Counter:
    return Counter(m.group(0) for m in NUMBER.finditer(text))


def dotted_names(text: str) -> set[str]:
    found = {m.group(0).rstrip(".") for m in DOTTED.finditer(text)}
    return {d for d in found if d.lower() not in ABBREVIATIONS}


# ----------------------------------------------------------------------- 1. complete


def test_every_registered_loss_is_translated():
    missing = [n for n in NAMES if n not in LOSS_TEXTS]
    assert not missing, f"no zh-TW texts for: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_all_five_fields_present_and_nonempty(name):
    texts = LOSS_TEXTS.get(name, {})
    assert set(texts) == set(LOSS_FIELDS), f"{name}: fields {sorted(texts)}"
    for field in LOSS_FIELDS:
        assert isinstance(texts[field], str) and texts[field].strip(), f"{name}.{field} is empty"


@pytest.mark.parametrize("name,field", cases(PROSE_FIELDS))
def test_prose_fields_are_chinese(name, field):
    assert CJK.search(chinese(name, field)), f"{name}.{field} has no CJK character: {chinese(name, field)!r}"


@pytest.mark.parametrize("name,field", cases(("derivative", "convention")))
def test_maths_fields_translate_their_words(name, field):
    words = prose_words(english(name, field))
    if words:
        zh = chinese(name, field)
        assert CJK.search(zh), f"{name}.{field}: English has prose words {words} but zh-TW has no CJK: {zh!r}"
        assert zh != english(name, field)


def test_prose_detector_sees_prose_and_ignores_maths():
    assert prose_words("∂L/∂pᵢ = 2 (pᵢ - yᵢ) / N") == []
    assert prose_words("torch.nn.functional.kl_div(log q, p, reduction='batchmean') = scipy.stats.entropy(p, q)") == []
    assert prose_words("torch.nn.MSELoss (= Keras MeanSquaredError, optax squared_error)") == []
    assert "undefined" in prose_words("∂L/∂pᵢ = (pᵢ - yᵢ) / (N · L); undefined (NaN) when every residual is 0")
    assert "reduction" in prose_words("torchvision.ops.sigmoid_focal_loss(alpha=0.25, gamma=2), reduction mean")


def test_loss_text_returns_chinese_for_zh_tw_and_english_for_en():
    spec = losses.REGISTRY["mse"]
    assert loss_text(spec, "summary", "zh-TW") == LOSS_TEXTS["mse"]["summary"]
    assert loss_text(spec, "summary", "en") == spec.summary


# ----------------------------------------------------------------------- 2. no stale keys


def test_no_stale_keys():
    stale = sorted(set(LOSS_TEXTS) - set(losses.REGISTRY))
    assert not stale, f"LOSS_TEXTS keys that are not registered canonical loss names: {stale}"


def test_no_unknown_fields():
    extra = {n: sorted(set(t) - set(LOSS_FIELDS)) for n, t in LOSS_TEXTS.items() if set(t) - set(LOSS_FIELDS)}
    assert not extra


# ----------------------------------------------------------------------- 3. narrative messages


def placeholders(template: str) -> Counter:
    return Counter(field for _, field, _, _ in string.Formatter().parse(template) if field is not None)


@pytest.mark.parametrize("key", sorted(MESSAGES["en"]))
def test_messages_have_same_placeholders(key):
    assert key in MESSAGES["zh-TW"], f"MESSAGES['zh-TW'] lacks {key!r}"
    assert set(placeholders(MESSAGES["zh-TW"][key])) == set(placeholders(MESSAGES["en"][key])), key


def test_no_extra_message_keys():
    assert set(MESSAGES["zh-TW"]) == set(MESSAGES["en"])


# ----------------------------------------------------------------------- 4. constants kept


@pytest.mark.parametrize("name,field", cases())
def test_numbers_are_kept(name, field):
    missing = numbers(english(name, field)) - numbers(chinese(name, field))
    assert not missing, f"{name}.{field}: zh-TW drops numbers {dict(missing)}"


@pytest.mark.parametrize("name,field", cases())
def test_dotted_code_names_are_kept(name, field):
    zh = chinese(name, field)
    missing = sorted(d for d in dotted_names(english(name, field)) if d not in zh)
    assert not missing, f"{name}.{field}: zh-TW drops {missing}"


def test_extractors():
    assert numbers("[1e-7, 1 - 1e-7], alpha=0.25, ~710, -100") == Counter(
        {"1e-7": 2, "1": 1, "0.25": 1, "710": 1, "100": 1}
    )
    assert dotted_names("torch.nn.BCELoss (e.g. VGG16); optax.l2_loss(w) summed.") == {
        "torch.nn.BCELoss",
        "optax.l2_loss",
    }


# ----------------------------------------------------------------------- 5. CLI


def test_cli_explain_zh_tw():
    r = CliRunner().invoke(app, ["explain", "mse", "--lang", "zh-TW", "-f", "plain"])
    assert r.exit_code == 0, r.output
    assert CJK.search(r.stdout)
    assert LOSS_TEXTS["mse"]["when"] in r.stdout


def test_cli_explain_unknown_lang():
    r = CliRunner().invoke(app, ["explain", "mse", "--lang", "fr", "-f", "plain"])
    assert r.exit_code == 2
