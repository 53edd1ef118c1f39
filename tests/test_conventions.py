"""The ecosystem's conventions: shell completion of commands, losses and parameters (Typer's
own), --lang from the locale, LOSSCLI_FORMAT, and a pager for a long --explain on a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from losscli.i18n import locale_lang
from tests.conftest import ROOT, SAMPLE, FakeTerminal

RUN = "import sys; sys.argv[0] = 'losscli'; from losscli.cli import main; main()"


def _complete(words: str, cword: int) -> list[str]:
    env = dict(os.environ, _LOSSCLI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    out = subprocess.run([sys.executable, "-c", RUN], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_completion_of_commands_losses_and_parameters():
    assert _complete("losscli com", 1) == ["compute", "compare"]
    assert _complete("losscli compute hub", 2) == ["huber"]
    assert set(_complete("losscli grad cross", 2)) == {"cross-entropy"}
    assert "ce" in _complete("losscli compute c", 2)  # aliases too
    assert _complete("losscli compute huber -p ", 4) == ["delta="]
    assert _complete("losscli grad cross-entropy a.csv b.csv -p la", 6) == ["label_smoothing="]
    assert _complete("losscli compute no-such-loss -p ", 4) == []
    assert _complete("losscli explain linear-c", 2) == ["linear-cross-entropy", "linear-ce"]
    assert _complete("losscli compare mse,hu", 2) == ["mse,huber"]  # the item after the last comma
    assert _complete("losscli plot mse,mae,log-c", 2) == ["mse,mae,log-cosh"]
    assert _complete("losscli compute mse a b -r s", 6) == ["sum"]
    assert _complete("losscli compute mse a b --format m", 6) == ["markdown"]
    assert _complete("losscli grad --model s", 3) == ["sigmoid_mlp"]
    assert _complete("losscli explain mse --lang z", 4) == ["zh-TW"]
    assert _complete("losscli grad mse a b --fail-on n", 6) == ["nonfinite"]


def test_completion_scripts_are_offered(cli):
    out = cli("--help")
    assert "--install-completion" in out.stdout and "--show-completion" in out.stdout


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"LANG": "zh_TW.UTF-8"}, "zh-TW"),
        ({"LC_ALL": "zh_TW", "LANG": "en_US.UTF-8"}, "zh-TW"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_TW.UTF-8"}, "en"),  # LC_ALL wins
        ({"LC_MESSAGES": "zh_Hant", "LANG": "C"}, "zh-TW"),
        ({"LANG": "zh_CN.UTF-8"}, "en"),  # simplified Chinese is not what the texts are in
        ({}, "en"),
    ],
)
def test_lang_from_the_locale(env, expected):
    assert locale_lang(env) == expected


def test_explain_follows_the_locale_and_lang_overrides_it(cli, monkeypatch):
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_TW.UTF-8")
    assert cli("explain", "mse").stdout.count("均方誤差") >= 1
    assert "均方誤差" not in cli("explain", "mse", "--lang", "en").stdout
    assert "均方誤差" not in cli("explain", "mse", "--json").stdout  # machine output does not follow the locale
    assert "均方誤差" in cli("explain", "mse", "--json", "--lang", "zh-TW").stdout
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert "均方誤差" not in cli("explain", "mse").stdout


def test_format_from_the_environment(cli, monkeypatch):
    monkeypatch.setenv("LOSSCLI_FORMAT", "json")
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert json.loads(r.stdout)["loss"] == "mse"
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv", "-f", "plain")
    assert (
        float(r.stdout)
        == json.loads(cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv").stdout)["value"]
    )
    monkeypatch.setenv("LOSSCLI_FORMAT", "yaml")
    r = cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv")
    assert r.exit_code == 2 and "--format (or LOSSCLI_FORMAT) must be one of" in r.stderr
    monkeypatch.setenv("LOSSCLI_FORMAT", "JSON")
    assert json.loads(cli("compute", "mse", SAMPLE / "preds.csv", SAMPLE / "targets.csv").stdout)["loss"] == "mse"


def test_long_explain_goes_through_the_pager_only_on_a_terminal(monkeypatch):
    from losscli import render

    paged: list[str] = []
    monkeypatch.setattr("pydoc.pager", lambda text: paged.append(text))
    sections = [(f"section {i}", "line\n" * 20) for i in range(6)]
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    render.render_narrative(sections)
    assert len(paged) == 1 and paged[0].count("section ") == 6 and "".join(terminal.parts) == ""
    render.render_narrative(sections, pager=False)  # --no-pager
    assert len(paged) == 1 and "".join(terminal.parts).count("section ") == 6
    monkeypatch.setenv("LOSSCLI_PAGER", "0")
    render.render_narrative(sections)
    assert len(paged) == 1
    monkeypatch.delenv("LOSSCLI_PAGER")
    terminal.parts.clear()
    render.render_narrative([("short", "one line")])  # fits the screen: no pager
    assert len(paged) == 1 and "one line" in "".join(terminal.parts)


def test_no_pager_in_a_pipe(cli, monkeypatch):
    monkeypatch.setattr("pydoc.pager", lambda text: pytest.fail("paged into a pipe"))
    r = cli("grad", "--explain")
    assert r.exit_code == 0 and r.stdout.count("╭─") >= 6
