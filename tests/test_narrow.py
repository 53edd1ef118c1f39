"""The screen in a narrow terminal (issue 8): numbers are never cut with an ellipsis, lines fit
the width, the histogram lines up."""

from __future__ import annotations

import pytest

from losscli.render import histogram_lines
from tests.conftest import SAMPLE

P, T = SAMPLE / "preds.csv", SAMPLE / "targets.csv"
COMMANDS = [
    ["list"],
    ["compute", "mse", P, T],
    ["compute", "0.7*mse + 0.3*mae", P, T],
    ["grad", "bce", SAMPLE / "explain_probs.csv", SAMPLE / "explain_labels.csv", "--top", "3"],
    ["compare", "mse,mae,huber,log-cosh", P, T, "--grad"],
]


@pytest.fixture
def narrow(cli, monkeypatch):
    def run(width: int, *args):
        monkeypatch.setenv("COLUMNS", str(width))
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
        return r.stdout

    return run


@pytest.mark.parametrize("width", [60, 40])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(map(str, a[:2])))
def test_no_ellipsis_and_every_line_fits(narrow, width, args):
    out = narrow(width, *args)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width


def test_dropped_columns_are_named(narrow):
    out = narrow(40, "compare", "mse,mae,huber,log-cosh", P, T, "--grad")
    flat = " ".join(out.split())
    assert "not shown at this width: outlier share, health" in flat
    assert "0.07841501821" in out and "0.0484032113" in out  # every digit of what is shown


def test_wide_terminal_keeps_the_boxed_table(narrow):
    out = narrow(120, "compare", "mse,mae", P, T, "--grad")
    assert "┏" in out and "not shown" not in out


def test_histogram_columns_line_up():
    hist = {"edges": [-12, -11, -10, 0, 1], "counts": [3, 0, 125, 7], "zeros": 2, "nonfinite": 1}
    lines = histogram_lines(hist, width=20)
    assert lines == [
        "[1e-12, 1e-11)  " + "█" + " " * 19 + "   3",
        "[1e-11, 1e-10)  " + " " * 20 + "   0",
        "[1e-10, 1e+0)   " + "█" * 20 + " 125",
        "[1e+0, 1e+1)    " + "█" + " " * 19 + "   7",
        "exactly 0       " + "█" + " " * 19 + "   2",
        "NaN / inf       " + " " * 20 + "   1",
    ]
    assert {len(line) for line in lines} == {40}  # labels, bars and right-aligned counts in columns
