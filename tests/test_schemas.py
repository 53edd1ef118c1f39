"""Every JSON object losscli prints carries ``schema_version`` and validates against the schema
committed in losscli/schemas/ (Draft 2020-12): every loss's compute and grad on its bundled
data, expressions, --reduction none, checks, notes, compare, list, explain, --explain, --model."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from losscli import losses
from losscli.render import SCHEMA_VERSION
from tests.conftest import SAMPLE

SCHEMAS = Path(__file__).resolve().parent.parent / "losscli" / "schemas"
FILES = (SAMPLE / "preds.csv", SAMPLE / "targets.csv")


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(name: str, result) -> object:
    assert result.exit_code in (0, 1), result.stderr
    obj = json.loads(result.stdout)
    errors = sorted(validator(name).iter_errors(obj), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    for row in obj if isinstance(obj, list) else [obj]:
        assert row["schema_version"] == SCHEMA_VERSION
    return obj


def test_the_schemas_are_valid_and_every_command_has_one():
    names = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json"))
    assert names == ["compare", "compute", "explain", "grad", "grad-model", "list", "narrative"]
    for name in names:
        validator(name)


BUNDLED = sorted(n for n, s in losses.REGISTRY.items() if s.teaching.example is not None)


@pytest.mark.parametrize("loss", BUNDLED)
def test_compute_and_grad_of_every_bundled_loss(cli, loss):
    check("compute", cli("compute", loss, "--json"))
    check("grad", cli("grad", loss, "--json"))


@pytest.mark.parametrize(
    "args",
    [
        ("compute", "mse", *FILES, "-r", "none", "--json"),
        ("compute", "0.5*mse + mae", *FILES, "--json", "--fail-above", "0.1"),
        ("compute", "bce", SAMPLE / "explain_probs.csv", SAMPLE / "explain_labels.csv", "--json"),  # a clamp note
    ],
)
def test_compute_forms(cli, args):
    check("compute", cli(*args))


def test_grad_forms(cli):
    obj = check("grad", cli("grad", "0.5*mse + mae", *FILES, "--json", "--strict"))
    assert obj["shares"]
    check("grad", cli("grad", "huber", *FILES, "-r", "none", "--json"))


def test_a_failed_check_and_a_wrong_key_fail_the_schema(cli):
    obj = check("compute", cli("compute", "mse", *FILES, "--json", "--fail-above", "0.1"))
    assert obj["checks"][0]["message"]
    v = validator("compute")
    assert not v.is_valid({**obj, "unexpected": 1})  # the contract is closed: a new key needs a schema change
    assert not v.is_valid({k: x for k, x in obj.items() if k != "schema_version"})
    assert not v.is_valid({**obj, "reduction": "batchmean"})


def test_compare_list_explain_narrative_and_model(cli):
    check("compare", cli("compare", "mse,mae,0.5*huber", *FILES, "--grad", "--json", "--fail-above", "0.25"))
    check("compare", cli("compare", "mse,mae", *FILES, "--json"))
    obj = check("list", cli("list", "--json"))
    assert {s["name"] for s in obj["losses"]} == set(losses.REGISTRY)
    for loss in ("huber", "cross-entropy", "dpo", "linear-cross-entropy"):
        check("explain", cli("explain", loss, "--json"))
    check("narrative", cli("grad", "--explain", "--json"))
    check("grad-model", cli("grad", "--model", "recommender", "--json"))
    check("grad-model", cli("grad", "--model", "nan_layer", "--json", "--strict"))
