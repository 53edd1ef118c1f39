"""The shape of the code (issue 9): side tables name only registered losses, every loss is
whole on its spec, and the model layer never imports rendering."""

from __future__ import annotations

import re
import subprocess
import sys

from losscli import losses
from losscli.chains import Custom, Elementwise, RowWise
from losscli.examples import Example
from losscli.i18n_zh_tw import LOSS_TEXTS
from losscli.reduction import Rule
from tests.cases import CASES, NO_CHAIN
from tests.conftest import ROOT

# The model layer: everything but the CLI and the renderer.
MODEL_LAYER = [
    "losscli.spec",
    "losscli.reduction",
    "losscli.scalar",
    "losscli.core",
    "losscli.losses",
    "losscli.chains",
    "losscli.expr",
    "losscli.composite",
    "losscli.target",
    "losscli.diagnose",
    "losscli.explain",
    "losscli.examples",
    "losscli.params",
    "losscli.io.readers",
    "losscli.io.writers",
    "losscli.app",
    "losscli.options",
]


def readme_loss_names() -> set[str]:
    """Loss names in the README's 'Which definition each loss follows' table (first column)."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Which definition each loss follows", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in table.splitlines():
        first = line.split("|")[1].strip() if line.startswith("|") else ""
        if first and first != "loss" and not first.startswith("-"):
            names |= {n.strip() for n in first.split(",")}
    return {re.sub(r"\s*/\s*", "/", n) for n in names}


def check_registry() -> list[str]:
    """Every table keyed by a loss name names a registered loss, and every registered loss is
    in each table that must cover them all."""
    known = set(losses.REGISTRY)
    problems = [f"i18n_zh_tw.LOSS_TEXTS: unknown loss {k!r}" for k in sorted(set(LOSS_TEXTS) - known)]
    problems += [f"i18n_zh_tw.LOSS_TEXTS: no entry for {k!r}" for k in sorted(known - set(LOSS_TEXTS))]
    problems += [f"tests/cases: unknown loss {k!r}" for k in sorted(set(CASES) - known)]
    problems += [f"tests/cases: no cases for {k!r}" for k in sorted(known - set(CASES))]
    readme = set()
    for entry in readme_loss_names():
        readme |= set(entry.split("/"))
    problems += [f"README table: unknown loss {k!r}" for k in sorted(readme - known)]
    problems += [f"README table: no row for {k!r}" for k in sorted(known - readme)]
    return problems


def test_check_registry():
    assert check_registry() == []


def test_check_registry_can_fail(monkeypatch):
    monkeypatch.setitem(LOSS_TEXTS, "no-such-loss", {})
    assert check_registry() == ["i18n_zh_tw.LOSS_TEXTS: unknown loss 'no-such-loss'"]


def test_every_loss_is_whole_on_its_spec():
    for spec in losses.REGISTRY.values():
        assert isinstance(spec.rule, Rule), spec.name
        teaching = spec.teaching
        assert teaching.example is None or isinstance(teaching.example, Example), spec.name
        assert teaching.chain is None or isinstance(teaching.chain, (Elementwise, RowWise, Custom)), spec.name
        if teaching.example is not None:
            assert all(p.exists() for p in map(__import__("pathlib").Path, teaching.example.paths())), spec.name
    without_chain = {s.name for s in losses.REGISTRY.values() if s.teaching.chain is None}
    assert without_chain == {"ctc", "ssim", "perceptual", "l1", "l2", "l2-half"} | set(NO_CHAIN)
    without_example = {s.name for s in losses.REGISTRY.values() if s.teaching.example is None}
    assert without_example == {"perceptual", "l1", "l2", "l2-half"}


def test_model_layer_never_imports_rendering():
    code = (
        "import sys, importlib\n"
        f"for m in {MODEL_LAYER!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'losscli.render' or m.split('.')[0] in ('rich', 'typer', 'torch'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
