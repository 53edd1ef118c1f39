"""``--format markdown``: a summary a CI job can append to ``$GITHUB_STEP_SUMMARY`` or post as a
pull-request comment (GitHub-flavoured Markdown tables).

Built from the same objects ``--json`` prints (:mod:`losscli.render`'s ``*_dict`` functions), so
the two formats cannot disagree.  Part of the render layer; no rich, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PASSED, FAILED = "✅ passed", "❌ FAILED"


_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<|"})


class Raw(str):
    """Markdown written on purpose (``**ok**``): a cell that is not escaped."""


def _escape(text: str) -> str:
    """Text that GitHub renders as written: ``*``, ``_``, backticks, brackets, ``<``, ``>`` and ``|``
    escaped (``0.7*bce + 0.3*focal`` would otherwise turn italic)."""
    if isinstance(text, Raw):
        return str(text)
    return text.translate(_SPECIAL)


def _cell(value: Any) -> str:
    """A value for a table cell: numbers to 10 significant digits, markdown escaped; None (a NaN
    or ±inf, null in JSON) shown as such."""
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "NaN/inf (null)"
    if isinstance(value, dict):
        return _escape(_params(value))
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:.10g}" if math.isfinite(value) else str(value)
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_cell(v) for v in value)
    else:
        text = _escape(str(value))
    return text.replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _checks(checks: Sequence[Mapping[str, Any]], label: str = "") -> str:
    if not checks:
        return ""
    rows = [
        ((label,) if label else ())
        + (
            c["check"],
            c["threshold"],
            PASSED if c["passed"] else FAILED + (f": {c['message']}" if c.get("message") else ""),
        )
        for c in checks
    ]
    return "\n" + table((("entry",) if label else ()) + ("check", "threshold", "result"), rows)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_plain(v) for v in value)
    return "none" if value is None else str(value)


def _params(params: Mapping[str, Any]) -> str:
    """``k=v, ...`` as ``-p`` takes them; an expression's parameters per term: ``term(k=v); ...``."""
    if params and all(isinstance(v, dict) for v in params.values()):
        return "; ".join(f"{term}: {_params(p)}" for term, p in params.items()) or "-"
    return ", ".join(f"{k}={_plain(v)}" for k, v in params.items()) or "-"


def _inputs(obj: Mapping[str, Any]) -> str:
    inputs = obj.get("inputs") or {}
    if not inputs:
        return ""
    parts = [f"`{name}` ← {_escape(str(info.get('source', '?')))}" for name, info in inputs.items()]
    return "\ninputs: " + "; ".join(parts) + "\n"


def _notes(obj: Mapping[str, Any]) -> str:
    notes = obj.get("notes") or []
    return "".join(f"\n> {n}\n" for n in notes)


def compute(obj: Mapping[str, Any], command: str = "compute") -> str:
    """``compute`` (or the value part of ``grad``) as a heading, a one-row table, the terms of an
    expression, and the requested checks."""
    out = [f"### losscli {command}: `{obj['loss']}`\n\n"]
    value = obj["value"]
    shown = f"{len(value)} values (reduction none)" if isinstance(value, list) else value
    out.append(
        table(
            ("loss", "reduction", "n", "dtype", "params", "value"),
            [(obj["loss"], obj["reduction"], obj.get("n"), obj.get("dtype"), _params(obj.get("params", {})), shown)],
        )
    )
    if obj.get("terms"):
        out.append(
            "\n" + table(("term", "weight", "value"), [(t["expr"], t["weight"], t["value"]) for t in obj["terms"]])
        )
    out.append(_checks(obj.get("checks", [])))
    out.append(_inputs(obj))
    out.append(_notes(obj))
    return "".join(out)


def grad(obj: Mapping[str, Any]) -> str:
    """``grad``: the value, the gradient health verdict and its findings, the requested checks."""
    h = obj["health"]
    body = compute({k: v for k, v in obj.items() if k not in ("checks", "inputs", "notes")}, "grad")
    if h is None:  # --no-health
        return "".join([body, "\n_gradient health: not worked out (--no-health)_\n", _checks(obj.get("checks", [])),
                        _inputs(obj), _notes(obj)])  # fmt: skip
    rows = [
        ("status", Raw(f"**{h['status']}**")),
        ("reason", h.get("reason")),
        ("gradient norm", h.get("norm")),
        ("per-sample RMS", h.get("per_sample_rms")),
        ("max abs", h.get("max_abs")),
        ("non-finite", h.get("nonfinite")),
        ("elements", h.get("elements")),
    ]
    out = [body, "\n" + table(("gradient health", ""), rows)]
    if obj.get("shares"):
        out.append(
            "\n"
            + table(
                ("term", "weight", "grad norm", "share of the gradient"),
                [(t["expr"], t["weight"], t["grad_norm"], f"{100 * t['fraction']:.3g}%") for t in obj["shares"]],
            )
        )
    if h.get("findings"):
        out.append(
            "\n"
            + table(
                ("finding", "count", "share", "what"),
                [(f["kind"], f["count"], f"{100 * f['fraction']:.3g}%", f["message"]) for f in h["findings"]],
            )
        )
    out.append(_checks(obj.get("checks", [])))
    out.append(_inputs(obj))
    out.append(_notes(obj))
    return "".join(out)


def compare(objs: Sequence[Mapping[str, Any]]) -> str:
    """``compare``: one row per entry (with ``--grad`` its gradient norm, outlier share and health)."""
    with_grad = any("health" in o for o in objs)
    header = ["entry", "value", "reduction", "n"] + (["grad norm", "outlier share", "health"] if with_grad else [])
    rows = []
    for o in objs:
        row = [o["expr"], o["value"], o["reduction"], o.get("n")]
        if with_grad:
            h = o.get("health") or {}
            share = o.get("outlier_share")
            row += [o.get("grad_norm"), None if share is None else f"{100 * share:.3g}%", h.get("status")]
        rows.append(row)
    out = ["### losscli compare\n\n", table(header, rows)]
    checks = [c | {"entry": o["expr"]} for o in objs for c in o.get("checks", [])]
    if checks:
        out.append(
            "\n"
            + table(
                ("entry", "check", "threshold", "result"),
                [
                    (
                        c["entry"],
                        c["check"],
                        c["threshold"],
                        PASSED if c["passed"] else FAILED + (f": {c['message']}" if c.get("message") else ""),
                    )
                    for c in checks
                ],
            )
        )
    if objs:
        out.append(_inputs(objs[0]))
    return "".join(out)


def model(obj: Mapping[str, Any]) -> str:
    """``grad --model``: the loss, the network's verdict, one row per layer, the requested checks."""
    h = obj["health"]
    out = [
        f"### losscli grad: `{obj['loss']}` on `{obj['model']['path']}`\n\n",
        table(
            ("loss", "reduction", "value", "global grad norm", "health"),
            [(obj["loss"], obj["reduction"], obj["value"], obj["global_norm"], Raw(f"**{h['status']}**"))],
        ),
        f"\n{h.get('reason', '')}\n\n",
        table(
            ("layer", "‖grad‖₂", "grad RMS", "gain", "relative", "zero share", "status", "why"),
            [
                (
                    s["name"],
                    s.get("grad_norm"),
                    s.get("grad_rms"),
                    s.get("gain"),
                    s.get("relative"),
                    s.get("zero_share"),
                    s.get("status"),
                    s.get("why") or "",
                )
                for s in obj["layers"]
            ],
        ),
    ]
    out.append(_checks(obj.get("checks", [])))
    return "".join(out)


def losses(groups: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """``list``: one table of every loss by family."""
    rows = [
        (family, Raw(f"`{s['name']}`"), s["summary"], ", ".join(s.get("aliases", [])))
        for family, specs in groups.items()
        for s in specs
    ]
    return table(("family", "loss", "summary", "aliases"), rows)


def explain(summary: Mapping[str, Any]) -> str:
    """``explain LOSS``: the formula, derivative, convention and parameters."""
    out = [f"### `{summary['name']}`: {summary['summary']}\n\n"]
    for key in ("formula", "derivative", "convention", "differs", "when"):
        if summary.get(key):
            out.append(f"- **{key}**: {_cell(summary[key])}\n")
    params = summary.get("params") or []
    if params:
        out.append(
            "\n"
            + table(
                ("parameter", "default", "range", "meaning"),
                [(p["name"], p.get("default"), p.get("valid"), p.get("help")) for p in params],
            )
        )
    return "".join(out)
