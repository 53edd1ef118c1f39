"""``--format markdown``: the CI summary of every command, built from the JSON objects."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE

FILES = (SAMPLE / "preds.csv", SAMPLE / "targets.csv")


def esc(path) -> str:
    return str(path).replace("_", "\\_")


def test_compute_markdown_whole(cli):
    r = cli("compute", "mse", *FILES, "--fail-above", "0.1", "-f", "markdown")
    assert r.exit_code == 1
    assert r.stdout == (
        "### losscli compute: `mse`\n\n"
        "| loss | reduction | n | dtype | params | value |\n"
        "|---|---|---|---|---|---|\n"
        "| mse | mean | 40 | float64 | - | 0.198464625 |\n\n"
        "| check | threshold | result |\n"
        "|---|---|---|\n"
        "| fail-above | 0.1 | ❌ FAILED: loss 0.198464625 > --fail-above 0.1 |\n\n"
        f"inputs: `preds` ← {esc(FILES[0])}; `targets` ← {esc(FILES[1])}\n"
    )


def test_markdown_numbers_are_the_json_numbers(cli):
    js = json.loads(cli("compute", "huber", *FILES, "-p", "delta=0.5", "--json").stdout)
    md = cli("compute", "huber", *FILES, "-p", "delta=0.5", "-f", "markdown").stdout
    row = md.splitlines()[4].split("|")
    assert float(row[6]) == float(f"{js['value']:.10g}")
    assert row[5].strip() == "delta=0.5"


def test_expression_markdown_lists_its_terms(cli):
    md = cli("compute", "0.5*mse+mae", *FILES, "-f", "markdown").stdout
    assert "| term | weight | value |\n|---|---|---|\n| mse | 0.5 | 0.198464625 |\n| mae | 1 | 0.277775 |\n" in md


def test_grad_markdown_has_the_verdict_and_findings(cli, write):
    p = write("p.csv", "p\n0.5\n1e-12\n0.3\n")
    y = write("y.csv", "y\n1\n1\n0\n")
    r = cli("grad", "bce", p, y, "-f", "markdown", "--strict")
    assert r.exit_code == 1
    md = r.stdout
    assert md.startswith("### losscli grad: `bce`\n")
    assert "| status | **" in md
    assert "| finding | count | share | what |" in md
    assert "| gradient health | FAILED" not in md and "❌ FAILED" in md


def test_compare_markdown_one_row_per_entry_and_checks(cli):
    r = cli("compare", "mse,mae,huber", *FILES, "--grad", "--fail-above", "0.25", "-f", "markdown")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[2] == "| entry | value | reduction | n | grad norm | outlier share | health |"
    assert [line.split("|")[1].strip() for line in lines[4:7]] == ["mse", "mae", "huber"]
    assert "| mae | fail-above | 0.25 | ❌ FAILED: mae 0.277775 > --fail-above 0.25 |" in lines
    assert "| mse | fail-above | 0.25 | ✅ passed |" in lines


def test_model_markdown_has_a_row_per_layer(cli):
    r = cli("grad", "--model", "sigmoid_mlp", "-f", "markdown")
    assert r.exit_code == 0, r.stderr
    js = json.loads(cli("grad", "--model", "sigmoid_mlp", "--json").stdout)
    md = r.stdout
    for layer in js["layers"]:
        assert f"| {layer['name']} | {layer['grad_norm']:.10g} |" in md
    assert f"**{js['health']['status']}**" in md


def test_list_and_explain_markdown(cli):
    md = cli("list", "-f", "markdown").stdout
    assert md.startswith("| family | loss | summary | aliases |\n|---|---|---|---|\n| regression | `mse` |")
    ex = cli("explain", "huber", "-f", "markdown").stdout
    assert ex.startswith("### `huber`: ")
    assert "| delta | 1 | > 0 |" in ex
    assert "\\|r\\|" in ex  # a | inside a formula is escaped, so the table and the list stay intact


def test_explain_narrative_markdown(cli):
    r = cli("grad", "--explain", "-f", "markdown")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("#### ") == 6
    assert r.stdout.count("```text\n") == 6


def test_expressions_render_as_written(cli):
    """GitHub would turn 0.7*bce + 0.3*focal italic: the * and _ are escaped; an expression's
    parameters are listed per term; the gradient shares of its terms are a table."""
    logits, labels = SAMPLE / "binary_logits.csv", SAMPLE / "binary_labels.csv"
    md = cli("grad", "0.7*bce(from_logits=true) + 0.3*focal", logits, labels, "-f", "markdown").stdout
    assert "| 0.7\\*bce(from\\_logits=true) + 0.3\\*focal | mean | 30 |" in md
    assert "bce(from\\_logits=true): from\\_logits=true, pos\\_weight=none" in md
    assert "| term | weight | grad norm | share of the gradient |" in md
    assert "| status | **ok** |" in md  # bold on purpose, not escaped
