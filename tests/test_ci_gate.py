"""The CI gate: --baseline/--max-increase against a stored --json run, --junit reports of the
requested checks, and the README's GitHub Actions / GitLab snippets run as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ROOT, SAMPLE

FILES = (SAMPLE / "preds.csv", SAMPLE / "targets.csv")
MSE = 0.19846462500000003


def _baseline(write, value: float, reduction: str = "mean", loss: str = "mse"):
    return write("base.json", {"loss": loss, "value": value, "reduction": reduction})


@pytest.mark.parametrize(
    "stored, max_increase, passes",
    [
        (MSE, None, True),  # the same value passes with no allowance
        (MSE * 0.999, None, False),  # any rise fails without an allowance
        (MSE / 1.02, "2%", True),  # risen by exactly 2 % (to rounding): within 2 %
        (MSE / 1.021, "2%", False),
        (MSE - 0.01, "0.01", True),
        (MSE - 0.0101, "0.01", False),
        (0.5, None, True),  # it got better
    ],
)
def test_baseline_gate(cli, write, stored, max_increase, passes):
    args = ["compute", "mse", *FILES, "--baseline", _baseline(write, stored), "--json"]
    if max_increase:
        args += ["--max-increase", max_increase]
    r = cli(*args)
    assert r.exit_code == (0 if passes else 1), r.stderr
    (check,) = json.loads(r.stdout)["checks"]
    assert check["check"] == "baseline" and check["passed"] is passes
    if not passes:
        shown = max_increase or "0"
        assert r.stderr.strip() == f"losscli: check failed: {check['message']}"
        assert check["message"].startswith(f"mse {MSE:.10g} > baseline {stored:.10g} + {shown} (")


def test_baseline_from_a_real_run_of_each_command(cli, tmp_path):
    for command in (["compute", "mse"], ["grad", "mse"], ["compare", "mse,mae"]):
        stored = cli(*command, *FILES, "--json")
        base = tmp_path / f"{command[0]}.json"
        base.write_text(stored.stdout)
        r = cli(*command, *FILES, "--baseline", base, "--json")
        assert r.exit_code == 0, (command, r.stderr)
        out = json.loads(r.stdout)
        rows = out if isinstance(out, list) else [out]
        assert all([c["check"] for c in row["checks"]] == ["baseline"] for row in rows)


def test_grad_model_takes_a_baseline(cli, tmp_path):
    stored = cli("grad", "--model", "sigmoid_mlp", "--json")
    base = tmp_path / "model.json"
    obj = json.loads(stored.stdout)
    obj["value"] *= 0.9
    base.write_text(json.dumps(obj))
    r = cli("grad", "--model", "sigmoid_mlp", "--baseline", base, "--max-increase", "5%", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["checks"][0]["passed"] is False


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"loss": "mse", "value": 0.1, "reduction": "sum"}', "was computed with --reduction sum, this run with mean"),
        ('{"loss": "mae", "value": 0.1, "reduction": "mean"}', "the baseline has no result for 'mse' (it has mae)"),
        ('{"loss": "mse", "value": null, "reduction": "mean"}', "the baseline value of mse is null (NaN)"),
        ('{"loss": "mse", "value": [0.1, 0.2], "reduction": "none"}', "is not one number"),
        ('{"loss": "mse",\n "value": 0.1,,}', "line 2: the baseline is not JSON"),
        ("[1, 2]", "entry 1 is not a losscli result"),
    ],
)
def test_bad_baselines_are_input_errors(cli, write, content, expected):
    base = write("base.json", content)
    r = cli("compute", "mse", *FILES, "--baseline", base)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.strip().startswith(f"losscli: error: {base}")
    assert expected in r.stderr and r.stderr.count("\n") == 1


def test_gate_usage_errors(cli, write):
    r = cli("compute", "mse", *FILES, "--max-increase", "2%")
    assert r.exit_code == 2 and "--max-increase needs --baseline" in r.stderr
    r = cli("compute", "mse", *FILES, "--baseline", _baseline(write, MSE), "--max-increase", "-1%")
    assert r.exit_code == 2 and "finite number >= 0" in r.stderr
    r = cli("compute", "mse", *FILES, "--baseline", _baseline(write, MSE), "--reduction", "none")
    assert r.exit_code == 2 and "--baseline compares one value" in r.stderr
    r = cli("compute", "mse", *FILES, "--junit", write("x.xml", ""))
    assert r.exit_code == 2 and "--junit reports the checks you ask for" in r.stderr


def test_junit_report(cli, tmp_path):
    path = tmp_path / "junit.xml"
    r = cli("compare", "mse,mae", *FILES, "--fail-above", "0.25", "--junit", path)
    assert r.exit_code == 1
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1"
    cases = root.findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("losscli.compare", "mse: fail-above"),  # stable names: the threshold is not in them
        ("losscli.compare", "mae: fail-above"),
    ]
    assert [c.find("system-out").text for c in cases] == ["threshold: 0.25", "threshold: 0.25"]
    assert cases[0].find("failure") is None
    assert cases[1].find("failure").get("message") == "mae 0.277775 > --fail-above 0.25"
    assert root.find("testsuite/system-out").text == "mse = 0.19846462500000003, mae = 0.277775"


def test_junit_of_a_gradient_health_check(cli, tmp_path, write):
    path = tmp_path / "junit.xml"
    p = write("p.csv", "p\n0.5\n1e-12\n0.3\n")
    y = write("y.csv", "y\n1\n1\n0\n")
    r = cli("grad", "bce", p, y, "--strict", "--junit", path)
    assert r.exit_code == 1
    case = ET.parse(path).getroot().find("testsuite/testcase")
    assert (case.get("classname"), case.get("name")) == ("losscli.grad", "bce: gradient health")
    assert case.find("failure") is not None


def test_junit_reports_an_input_error_and_refuses_stdout(cli, tmp_path, write):
    path = tmp_path / "junit.xml"
    path.write_text("stale")
    bad = write("bad.json", "[1, 2]")
    r = cli("compute", "mse", *FILES, "--baseline", bad, "--junit", path)
    assert r.exit_code == 2
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("1", "1", "0")
    error = root.find("testsuite/testcase/error")
    assert (
        error.get("message") == f"{bad}: entry 1 is not a losscli result (expected an object with 'loss' or "
        "'expr' and 'value', as 'losscli compute/grad/compare --json' writes)"
    )
    r = cli("compute", "mse", *FILES, "--fail-above", "1", "--junit", "-")
    assert r.exit_code == 2 and "--junit needs a file path" in r.stderr


def _ci_snippet_commands() -> list[str]:
    """The `losscli ...` lines of the README's CI section (sh and yaml blocks), as written."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## In CI: a model-quality gate", 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in re.findall(r"```(?:sh|yaml)\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = line.strip().removeprefix("- ").strip()
            if line.startswith("losscli "):
                lines.append(line)
    return lines


def test_the_readme_ci_snippets_run_as_written(tmp_path):
    commands = _ci_snippet_commands()
    assert len(commands) == 4
    (tmp_path / "sample_data").symlink_to(SAMPLE.resolve())
    summary = tmp_path / "summary.md"
    env = dict(
        os.environ, GITHUB_STEP_SUMMARY=str(summary), PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"
    )
    for command in commands:
        r = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (command, r.stderr)
        assert shlex.split(command)[0] == "losscli"
    report = ET.parse(tmp_path / "losscli-junit.xml").getroot()
    assert report.get("failures") == "0" and int(report.get("tests")) >= 2
    assert summary.read_text().startswith("### losscli compare\n")
    assert json.loads((tmp_path / "grad.json").read_text())["health"]["status"] == "ok"


def test_a_baseline_must_be_the_same_measurement(cli, tmp_path):
    stored = tmp_path / "huber5.json"
    stored.write_text(cli("compute", "huber", *FILES, "-p", "delta=5", "--json").stdout)
    r = cli("compute", "huber", *FILES, "--baseline", stored)
    assert r.exit_code == 2
    assert "was computed with parameters {'delta': 5.0}, this run with {'delta': 1.0}" in r.stderr
    f32 = tmp_path / "f32.json"
    f32.write_text(cli("compute", "mse", *FILES, "--dtype", "float32", "--json").stdout)
    r = cli("compute", "mse", *FILES, "--baseline", f32)
    assert r.exit_code == 2 and "--dtype float32, this run with float64" in r.stderr
    fewer = tmp_path / "fewer.json"
    obj = json.loads(cli("compute", "mse", *FILES, "--json").stdout)
    fewer.write_text(json.dumps({**obj, "n": 19}))
    r = cli("compute", "mse", *FILES, "--baseline", fewer)
    assert r.exit_code == 2 and "number of samples (n) 19, this run with 40" in r.stderr


def test_baseline_matching_and_rounding(cli, tmp_path):
    # grad (torch) and compute (numpy) may sum in another order: one rounding step is not a regression
    g = tmp_path / "grad.json"
    g.write_text(cli("grad", "mse", *FILES, "--json").stdout)
    assert cli("compute", "mse", *FILES, "--baseline", g).exit_code == 0
    # white space in an expression does not matter
    e = tmp_path / "expr.json"
    e.write_text(cli("compute", "0.5*mse+mae", *FILES, "--json").stdout)
    assert cli("compute", "0.5*mse + mae", *FILES, "--baseline", e).exit_code == 0
    # a compare entry serves a single-loss run with the same parameters
    c = tmp_path / "compare.json"
    c.write_text(cli("compare", "mae,huber(delta=0.1)", *FILES, "--json").stdout)
    r = cli("compute", "huber", *FILES, "-p", "delta=0.1", "--baseline", c, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["checks"][0]["passed"] is True
    r = cli("compute", "huber", *FILES, "-p", "delta=0.2", "--baseline", c)
    assert r.exit_code == 2 and "has no result for 'huber'" in r.stderr


def test_the_bundled_baseline_is_a_valid_compare_output():
    import jsonschema

    from tests.test_schemas import SCHEMAS

    schema = json.loads((SCHEMAS / "compare.schema.json").read_text())
    jsonschema.validate(json.loads((SAMPLE / "baseline_regression.json").read_text()), schema)
