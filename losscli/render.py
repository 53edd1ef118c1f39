"""Turn evaluations, health reports and loss metadata into table, JSON, CSV or plain text.

The only module that prints results.  Results go to stdout; notes go to stderr.
JSON is always valid: NaN and ±inf become ``null`` and a note says where.
"""

from __future__ import annotations

import io
import json
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from losscli import SCHEMA_VERSION
from losscli.params import format_default
from losscli.spec import LossSpec

FORMATS = ("table", "json", "csv", "plain", "markdown")
# Every JSON object losscli prints carries SCHEMA_VERSION as ``schema_version``; the schemas are
# in losscli/schemas/ (tests/test_schemas.py checks every command's output against them).


def versioned(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with ``schema_version`` as its first key."""
    return {"schema_version": SCHEMA_VERSION, **obj}


# ------------------------------------------------------------------------ JSON helpers


def jsonable(value: Any, notes: list[str], where: str) -> Any:
    """``value`` with numpy arrays as nested lists and NaN/±inf as None (noted once per ``where``)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        notes.append(f"{where}: {value} written as null")
        return None
    if isinstance(value, (list, tuple)):
        before = len(notes)
        out = [jsonable(v, notes, where) for v in value]
        if len(notes) > before + 1:
            del notes[before + 1 :]
            notes[before] = f"{where}: non-finite values written as null"
        return out
    if isinstance(value, dict):
        return {k: jsonable(v, notes, f"{where}.{k}") for k, v in value.items()}
    return value


def dump_json(obj: Any, out: TextIO) -> None:
    """Write ``obj`` as one line of strict JSON (``allow_nan=False``)."""
    out.write(json.dumps(obj, allow_nan=False, ensure_ascii=False) + "\n")


def write_csv(out: TextIO, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """Header and rows as CSV (quoted where a field holds a comma, e.g. an expression)."""
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def fmt_number(x: float) -> str:
    """A float for humans: 10 significant digits."""
    return f"{x:.10g}"


def keep_digits(table: Any, console: Any = None) -> Any:
    """Never cut a number: a table keeps every cell whole.  When its natural width does not fit
    the console, it loses its vertical rules, then its rightmost columns, and says so in its caption."""
    for column in table.columns:
        column.no_wrap = True
    if console is None:
        return table
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement

    wide = Console(width=10_000, file=io.StringIO())

    def fits() -> bool:
        return Measurement.get(wide, wide.options, table).maximum <= console.width

    if fits():
        return table
    table.box, table.show_edge, table.pad_edge = box.SIMPLE_HEAD, False, False
    dropped = []
    while len(table.columns) > 1 and not fits():
        dropped.append(str(table.columns.pop().header))
    if dropped:
        table.caption = (
            f"not shown at this width: {', '.join(reversed(dropped))} (widen the terminal or use --format csv)"
        )
        table.caption_justify = "left"
    return table


def rich_console(out: TextIO) -> Any:
    """A rich console on ``out`` whose closed-pipe handling is the CLI's (exit 0), not rich's
    (which exits 1, the code losscli keeps for failed checks)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(file=out, highlight=False, soft_wrap=False)


# ------------------------------------------------------------------------ compute


def evaluation_dict(ev: Any, notes: list[str]) -> dict[str, Any]:
    """The ``compute`` JSON object (keys: loss, value, reduction, params, n, dtype)."""
    return {
        "loss": ev.spec.name,
        "value": jsonable(ev.value, notes, "value"),
        "reduction": ev.reduction,
        "params": jsonable({k: v for k, v in ev.params.items()}, notes, "params"),
        "n": ev.n,
        "dtype": ev.dtype,
        **({"extras": jsonable(ev.extras, notes, "extras")} if ev.extras else {}),
    }


def composite_dict(cev: Any, notes: list[str] | None = None) -> dict[str, Any]:
    """An expression's JSON object: loss (the expression text), value, reduction, params, n,
    dtype, terms; with gradients also gradients and shares.  NaN/±inf become None and, when
    ``notes`` is None, a ``notes`` list in the object says where."""
    own = notes is None
    notes = [] if notes is None else notes
    obj: dict[str, Any] = {
        "loss": cev.expression.text,
        "value": jsonable(cev.value, notes, "value"),
        "reduction": cev.reduction,
        "params": jsonable(cev.params, notes, "params"),
        "n": cev.n,
        "dtype": cev.dtype,
        "terms": jsonable(cev.terms, notes, "terms"),
    }
    if cev.backend == "torch":
        obj["gradients"] = jsonable(dict(cev.gradients), notes, "gradients")
        obj["shares"] = jsonable(cev.shares, notes, "shares")
    if own and notes:
        obj["notes"] = notes
    return obj


def checks_list(checks: Iterable[Any], notes: list[str]) -> list[dict[str, Any]]:
    """The requested checks as ``[{check, threshold, passed}]``, a failed one with its ``message``
    (the line said on stderr)."""
    out = []
    for c in checks:
        obj = {"check": c.check, "threshold": jsonable(c.threshold, notes, "checks"), "passed": c.passed}
        if not c.passed and c.message:
            obj["message"] = c.message
        out.append(obj)
    return out


def inputs_dict(provenance: Mapping[str, Any] | None) -> dict[str, Any]:
    """Which data went where: ``{input: {source, columns, shape}}`` (``key`` for a JSON/npz member)."""
    out: dict[str, Any] = {}
    for name, info in (provenance or {}).items():
        entry: dict[str, Any] = {"source": info.source, "columns": info.columns, "shape": list(info.shape)}
        if info.key is not None:
            entry["key"] = info.key
        out[name] = entry
    return out


def inputs_line(provenance: Mapping[str, Any] | None) -> str:
    """Which data went where, one input a line: ``inputs: preds   ← preds.csv, column yhat (40)``."""
    rows = []
    for name, info in (provenance or {}).items():
        where = info.source
        if info.key is not None:
            where += f", key {info.key}"
        if info.columns:
            shown = ", ".join(info.columns[:4]) + (
                f", … ({len(info.columns)} columns)" if len(info.columns) > 4 else ""
            )
            where += f", column{'s' if len(info.columns) > 1 else ''} {shown}"
        rows.append((name, f"{where} ({' x '.join(map(str, info.shape)) or 'scalar'})"))
    if not rows:
        return ""
    width = max(len(name) for name, _ in rows)
    lines = [f"{'inputs:' if k == 0 else '':<8}{name:<{width}} ← {where}" for k, (name, where) in enumerate(rows)]
    return "\n".join(lines)


def result_dict(
    result: Any,
    health: Any = None,
    *,
    checks: Iterable[Any] = (),
    inputs: Mapping[str, Any] | None = None,
    grad: bool = False,
) -> dict[str, Any]:
    """The compute (or, with ``health`` or ``grad``, grad) JSON object of a ``target.Result``, with the
    ``inputs`` read and the requested ``checks`` when there are any (``grad`` without ``health``:
    ``--no-health``, whose ``health`` is null)."""
    notes: list[str] = []
    grad = grad or health is not None
    if result.composite is None:
        obj = grad_dict(result.evaluation, health, notes) if grad else evaluation_dict(result.evaluation, notes)
    else:
        obj = composite_dict(result.composite, notes)
        if grad:
            obj["health"] = None if health is None else health_dict(health, notes)
    if inputs:
        obj["inputs"] = inputs_dict(inputs)
    checks = list(checks)
    if checks:
        obj["checks"] = checks_list(checks, notes)
    notes += getattr(result, "notes", [])
    if notes:
        obj["notes"] = notes
    return versioned(obj)


def compare_dicts(
    rows: list[Any], checks: list[list[Any]] | None = None, inputs: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """``compare``'s JSON list: each row's compute/grad object plus ``expr`` and, with gradients,
    ``grad_norm``, ``outlier_share`` and ``outlier_rows``; ``checks`` per row when requested."""
    out = []
    for k, row in enumerate(rows):
        notes: list[str] = []
        if hasattr(row.result, "expression"):
            obj = composite_dict(row.result, notes)
            if row.health is not None:
                obj["health"] = health_dict(row.health, notes)
        elif row.health is not None:
            obj = grad_dict(row.result, row.health, notes)
        else:
            obj = evaluation_dict(row.result, notes)
        if row.health is not None:
            obj["grad_norm"] = jsonable(row.grad_norm, notes, "grad_norm")
            obj["outlier_share"] = row.outlier_share
            obj["outlier_rows"] = row.outlier_rows
        if inputs:
            obj["inputs"] = inputs_dict({name: info for name, info in inputs.items() if name in _read_by(row)})
        obj["expr"] = row.expr
        if checks and checks[k]:
            obj["checks"] = checks_list(checks[k], notes)
        if notes:
            obj["notes"] = notes
        out.append(versioned(obj))
    return out


def _read_by(row: Any) -> set[str]:
    """The data names a compare row's loss or expression reads."""
    result = row.result
    if hasattr(result, "expression"):
        return set(result.expression.input_names())
    return set(result.spec.input_names)


def _elements_rows(values: Any) -> Iterable[tuple[int, int, float]]:
    import numpy as np

    arr = np.asarray(values)
    arr2 = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for r in range(arr2.shape[0]):
        for c in range(arr2.shape[1]):
            yield r, c, float(arr2[r, c])


def render_compute(
    result: Any,
    fmt: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    checks: Iterable[Any] = (),
    inputs: Mapping[str, Any] | None = None,
) -> None:
    """Print one result (a single loss or an expression; see ``target.Result``) in ``fmt``."""
    out = out or sys.stdout
    err = err or sys.stderr
    ev = result.evaluation
    checks = list(checks)
    if fmt == "json":
        dump_json(result_dict(result, checks=checks, inputs=inputs), out)
        return
    if fmt == "markdown":
        from losscli import markdown

        out.write(markdown.compute(jsonable(result_dict(result, checks=checks, inputs=inputs), [], "")))
        return
    none = ev.reduction == "none"
    if fmt == "plain":
        if none:
            out.write("\n".join(repr(float(v)) for v in ev.value.ravel()) + "\n")
        else:
            out.write(f"{ev.value!r}\n")
        return
    if fmt == "csv":
        if none:
            write_csv(out, ["row", "column", "value"], ((r, c, repr(v)) for r, c, v in _elements_rows(ev.value)))
        else:
            write_csv(out, ["loss", "reduction", "n", "value"], [(ev.spec.name, ev.reduction, ev.n, repr(ev.value))])
        return
    import numpy as np
    from rich.table import Table

    table = Table(title=ev.spec.name, title_justify="left")
    table.add_column("quantity", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    if none:
        vals = np.asarray(ev.value)
        table.add_row("elements", str(vals.size))
        table.add_row("mean", fmt_number(float(np.mean(vals))))
        table.add_row("sum", fmt_number(float(np.sum(vals))))
        table.add_row("max", fmt_number(float(np.max(vals))))
    else:
        table.add_row(f"loss ({ev.reduction})", fmt_number(ev.value))
    for key, value in ev.extras.items():
        if isinstance(value, (int, float)):
            table.add_row(key, fmt_number(float(value)) if isinstance(value, float) else str(value))
    table.add_row("samples (n)", str(ev.n))
    table.add_row("dtype", ev.dtype)
    for name, value in ev.params.items():
        table.add_row(f"param {name}", format_default(value))
    for c in checks:
        table.add_row(f"check {c.check} {format_default(c.threshold)}", "passed" if c.passed else "FAILED")
    console = rich_console(out)
    console.print(keep_digits(table, console))
    console.print(f"convention: {ev.spec.convention}", style="dim", markup=False)
    if inputs:
        console.print(inputs_line(inputs), style="dim", markup=False)
    if result.composite is not None:
        terms = Table(title="terms", title_justify="left")
        for col in ("term", "weight", "value", "weight x value"):
            terms.add_column(col, justify="right", overflow="fold")
        for t in result.composite.terms:
            v = np.sum(t["value"])
            terms.add_row(t["expr"], fmt_number(t["weight"]), fmt_number(v), fmt_number(t["weight"] * v))
        console.print(keep_digits(terms, console))
    if none:
        err.write("per-element values: use --format csv, plain or json\n")


# ------------------------------------------------------------------------ grad


def health_dict(h: Any, notes: list[str]) -> dict[str, Any]:
    """The ``health`` JSON object: status, raw and per-sample figures, findings, extremes, histogram."""
    return jsonable(
        {
            "status": h.status,
            "reason": h.reason(),
            "norm": h.norm,
            "max_abs": h.max_abs,
            "min_abs": h.min_abs,
            "mean_abs": h.mean_abs,
            "nonfinite": h.nonfinite,
            "elements": h.elements,
            "scale": h.scale,
            "per_sample_rms": h.per_sample_rms,
            "per_sample_max_abs": h.per_sample_max_abs,
            "fraction_vanishing": h.fraction_vanishing,
            "thresholds": {"vanishing": h.vanishing_threshold, "exploding": h.exploding_threshold},
            "findings": h.findings,
            "first": h.first,
            "largest": h.largest,
            "smallest": h.smallest,
            "histogram": h.histogram,
        },
        notes,
        "health",
    )


def grad_dict(ev: Any, health: Any, notes: list[str]) -> dict[str, Any]:
    """The ``grad`` JSON object: the compute keys plus gradients and health."""
    obj = evaluation_dict(ev, notes)
    streamed = getattr(ev, "chunk_rows", None) is not None and not ev.gradients
    # a streamed run holds no gradient whole: null here, and the notes say where they went
    obj["gradients"] = None if streamed else jsonable(dict(ev.gradients), notes, "gradients")
    obj["health"] = None if health is None else health_dict(health, notes)  # None: --no-health
    return obj


def _element_table(title: str, rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("input", "row", "col", "grad", "input value"):
        table.add_column(col, justify="right", overflow="fold")
    for e in rows:
        value = e.get("value")
        table.add_row(
            e["input"],
            str(e["row"]),
            str(e["column"]),
            fmt_number(e["grad"]),
            "" if value is None else fmt_number(value),
        )
    return table


def histogram_lines(hist: dict[str, Any], width: int = 40) -> list[str]:
    """The log10|g| histogram as text bars, one line per decade bin: labels padded to one width,
    bars padded to ``width`` and counts right-aligned, so every column lines up."""
    counts = hist.get("counts") or []
    edges = hist.get("edges") or []
    peak = max(counts + [hist.get("zeros", 0), 1])
    rows: list[tuple[str, int, bool]] = [
        (f"[1e{int(lo):+d}, 1e{int(hi):+d})", n, True) for lo, hi, n in zip(edges, edges[1:], counts)
    ]
    if hist.get("zeros"):
        rows.append(("exactly 0", hist["zeros"], True))
    if hist.get("nonfinite"):
        rows.append(("NaN / inf", hist["nonfinite"], False))
    if not rows:
        return []
    label_width = max(len(label) for label, _, _ in rows)
    count_width = max(len(str(n)) for _, n, _ in rows)
    lines = []
    for label, n, has_bar in rows:
        bar = "█" * max(1 if n else 0, round(width * n / peak)) if has_bar else ""
        lines.append(f"{label:<{label_width}}  {bar:<{width}} {n:>{count_width}}")
    return lines


def histogram_width(hist: dict[str, Any], columns: int) -> int:
    """Bar width that fits a panel ``columns`` wide: at most 40, at least 5."""
    labels = len("[1e-300, 1e-299)")
    counts = len(str(max((hist.get("counts") or []) + [hist.get("zeros", 0), hist.get("nonfinite", 0), 1])))
    return max(5, min(40, columns - labels - counts - 8))


def render_grad(
    result: Any,
    health: Any,
    fmt: str,
    *,
    top: int = 5,
    out: TextIO | None = None,
    checks: Iterable[Any] = (),
    inputs: Mapping[str, Any] | None = None,
) -> None:
    """Print value, gradients (summarised on screen) and health in ``fmt``."""
    out = out or sys.stdout
    ev = result.evaluation
    checks = list(checks)
    if fmt == "json":
        dump_json(result_dict(result, health, checks=checks, inputs=inputs, grad=True), out)
        return
    if fmt == "markdown":
        from losscli import markdown

        out.write(markdown.grad(jsonable(result_dict(result, health, checks=checks, inputs=inputs, grad=True), [], "")))
        return
    if fmt == "csv":
        from losscli.io.writers import gradients_long_table

        gradients_long_table(ev.gradients).write_csv(out)
        return
    if fmt == "plain":
        out.write(f"{ev.value!r}\n" if ev.reduction != "none" else f"{float(ev.value.sum())!r}\n")
        out.write(f"{'skipped' if health is None else health.status}\n")
        return
    from rich.panel import Panel
    from rich.table import Table

    console = rich_console(out)
    render_compute(result, "table", out=out, err=io.StringIO(), checks=checks, inputs=inputs)
    if result.composite is not None and result.composite.shares:
        shares = Table(title="each term's share of the gradient", title_justify="left")
        for col in ("term", "weight", "|weight x grad|", "share"):
            shares.add_column(col, justify="right", overflow="fold")
        for sh in result.composite.shares:
            frac = sh["fraction"]
            shares.add_row(
                sh["expr"], fmt_number(sh["weight"]), fmt_number(sh["grad_norm"]), "" if frac is None else f"{frac:.1%}"
            )
        console.print(keep_digits(shares, console))
    if health is None:
        console.print("gradient health: not worked out (--no-health)")
        return
    if top:
        console.print(
            keep_digits(_element_table("first elements (rows and columns are 0-based)", health.first), console)
        )
        console.print(keep_digits(_element_table("largest |grad|", health.largest), console))
        console.print(keep_digits(_element_table("smallest |grad|", health.smallest), console))
    summary = Table(title="gradient health", title_justify="left")
    summary.add_column("measure", overflow="fold")
    summary.add_column("raw", justify="right", overflow="fold")
    summary.add_column(f"per sample (x{health.scale:g})", justify="right", overflow="fold")
    summary.add_row("L2 norm", fmt_number(health.norm), "")
    summary.add_row("RMS", "", fmt_number(health.per_sample_rms))
    summary.add_row("max |g|", fmt_number(health.max_abs), fmt_number(health.per_sample_max_abs))
    summary.add_row("min |g|", fmt_number(health.min_abs), fmt_number(health.min_abs * health.scale))
    summary.add_row("mean |g|", fmt_number(health.mean_abs), fmt_number(health.mean_abs * health.scale))
    summary.add_row(f"share below {health.vanishing_threshold:g}", "", f"{health.fraction_vanishing:.1%}")
    summary.add_row("non-finite", str(health.nonfinite), "")
    console.print(keep_digits(summary, console))
    lines = histogram_lines(health.histogram, histogram_width(health.histogram, console.width))
    if lines:
        console.print(Panel("\n".join(lines), title="log10 |grad| per sample", title_align="left", expand=False))
    for f in health.findings:
        where = ", ".join(f"{e['input']}[{e['row']},{e['column']}]" for e in f["examples"])
        console.print(
            f"[bold yellow]{f['kind']}[/]: {f['count']} element(s) ({f['fraction']:.1%}) — "
            f"{f['message']}; e.g. {where}",
            markup=True,
            highlight=False,
        )
    colour = {"ok": "green", "vanishing": "yellow", "exploding": "red", "nonfinite": "red"}[health.status]
    console.print(f"status: [bold {colour}]{health.status}[/] ({health.reason()})")


# ------------------------------------------------------------------------ compare


def render_compare(
    compared: list[Any],
    fmt: str,
    with_grad: bool,
    out: TextIO | None = None,
    *,
    checks: list[list[Any]] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> None:
    """One row per loss: value, and with --grad the gradient norm, outlier share and health;
    a ``check`` column when checks were requested."""
    out = out or sys.stdout
    rows = compare_dicts(compared, checks, inputs)
    if fmt == "json":
        dump_json(rows, out)
        return
    if fmt == "markdown":
        from losscli import markdown

        out.write(markdown.compare(jsonable(rows, [], "")))
        return
    cols = ["expr", "value"] + (["grad_norm", "outlier_share", "health"] if with_grad else [])
    if checks and any(checks):
        cols.append("checks")

    exact = fmt in ("csv", "plain")  # machine-readable: full precision, shares as fractions

    def cell(row: dict[str, Any], col: str) -> str:
        v = row.get(col)
        if col == "health":
            return str(v["status"]) if v is not None else ""
        if col == "checks":
            return "passed" if all(c["passed"] for c in v or []) else "FAILED"
        if col == "outlier_share" and v is None:
            return ""
        if col == "outlier_share" and not exact:
            return f"{v:.1%}"
        if isinstance(v, float):
            return repr(v) if exact else fmt_number(v)
        return "NaN" if v is None else str(v)

    if fmt == "csv":
        write_csv(out, ["loss" if c == "expr" else c for c in cols], ([cell(row, c) for c in cols] for row in rows))
        return
    if fmt == "plain":
        for row in rows:
            out.write("\t".join(cell(row, c) for c in cols) + "\n")
        return
    from rich.table import Table

    title = f"{len(rows)} losses on the same data (n = {rows[0]['n']})"
    table = Table(title=None)
    for col in cols:
        table.add_column(
            "loss" if col == "expr" else col.replace("_", " "),
            justify="left" if col == "expr" else "right",
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(cell(row, c) for c in cols))
    console = rich_console(out)
    console.print(title, style="italic", highlight=False)  # above the table, not wrapped to its width
    console.print(keep_digits(table, console))
    if with_grad:
        rich_console(out).print(
            "outlier share: the part of Σ|∂L/∂preds| that goes to the 1% of rows with the largest |preds - targets|",
            highlight=False,
        )
    if inputs:
        rich_console(out).print(inputs_line(inputs), style="dim", markup=False)


# ------------------------------------------------------------------------ list / explain


def loss_summary(spec: LossSpec, lang: str = "en") -> dict[str, Any]:
    """The metadata of a loss as a JSON-ready dict (texts in ``lang``)."""
    from losscli.i18n import loss_text

    return {
        "name": spec.name,
        "aliases": list(spec.aliases),
        "family": spec.family,
        "summary": loss_text(spec, "summary", lang),
        "inputs": [
            {"name": i.name, "shape": i.shape, "differentiable": i.differentiable, "help": i.help} for i in spec.inputs
        ],
        "params": [
            {"name": p.name, "type": p.kind, "default": p.default, "valid": p.describe_range(), "help": p.help}
            for p in spec.params
        ],
        "formula": spec.formula,
        "derivative": loss_text(spec, "derivative", lang),
        "convention": loss_text(spec, "convention", lang),
        "differs": loss_text(spec, "differs", lang),
        "when": loss_text(spec, "when", lang),
        "reduction": {"element": spec.element_note, "mean": spec.mean_note},
    }


def render_list(groups: dict[str, list[LossSpec]], fmt: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        dump_json(versioned({"losses": [loss_summary(s) for specs in groups.values() for s in specs]}), out)
        return
    if fmt == "markdown":
        from losscli import markdown

        out.write(markdown.losses({family: [loss_summary(s) for s in specs] for family, specs in groups.items()}))
        return
    if fmt == "csv":
        write_csv(
            out,
            ["name", "family", "summary"],
            ((s.name, s.family, s.summary) for specs in groups.values() for s in specs),
        )
        return
    if fmt == "plain":
        out.write("".join(f"{s.name}\n" for specs in groups.values() for s in specs))
        return
    import textwrap

    console = rich_console(out)
    for family, specs in groups.items():
        console.print(f"[bold]{family}[/]")
        width = max(len(s.name) for s in specs)
        for s in specs:
            alias = f"  (also: {', '.join(s.aliases)})" if s.aliases else ""
            text = textwrap.fill(
                f"{s.name.ljust(width)}  {s.summary}{alias}",
                width=max(30, console.width - 2),
                initial_indent="  ",
                subsequent_indent=" " * (width + 4),
                break_on_hyphens=False,
            )
            console.print(text, markup=False, highlight=False)


def render_explain(spec: LossSpec, fmt: str, out: TextIO | None = None, lang: str = "en") -> None:
    out = out or sys.stdout
    info = loss_summary(spec, lang)
    if fmt == "json":
        dump_json(versioned(info), out)
        return
    if fmt == "markdown":
        from losscli import markdown

        out.write(markdown.explain(info))
        return
    from losscli.i18n import msg

    def m(key: str, **kw: Any) -> str:
        return msg(lang, key, **kw)

    lines = [
        f"{spec.name}: {info['summary']}",
        m("lbl_family", family=spec.family)
        + (m("lbl_aliases", aliases=", ".join(spec.aliases)) if spec.aliases else ""),
        "",
        m("lbl_formula", text=spec.formula),
        m("lbl_derivative", text=info["derivative"]),
        m("lbl_reduction", element=spec.element_note, mean=spec.mean_note),
        "",
        m("lbl_inputs"),
        *[
            f"  {i.name:<10} {i.shape:<14} {i.help}{'' if i.differentiable else m('lbl_no_gradient')}"
            f"{'' if i.required else m('lbl_optional')}"
            for i in spec.inputs
        ],
        "",
        m("lbl_params") if spec.params else m("lbl_no_params"),
        *[
            f"  {p.name:<16} {m('lbl_default')} {format_default(p.default):<8} {p.describe_range():<14} {p.help}"
            for p in spec.params
        ],
        "",
        m("lbl_convention", text=info["convention"]),
        m("lbl_others", text=info["differs"]),
        m("lbl_use", text=info["when"]),
    ]
    if spec.rule.sample_weights:
        lines.append(m("lbl_sample_weights"))
    if fmt == "table":
        from rich.panel import Panel
        from rich.text import Text

        rich_console(out).print(Panel(Text("\n".join(lines[2:])), title=lines[0], title_align="left"))
    else:
        out.write("\n".join(lines) + "\n")


# ------------------------------------------------------------------------ grad --explain


def render_narrative(
    sections: list[tuple[str, str]], out: Any = None, *, as_json: bool = False, fmt: str = "table", pager: bool = True
) -> None:
    """Print the sections as rich panels, as JSON ``{"sections": [{"title", "body"}]}``, or as
    Markdown (a heading and a preformatted block per section).  Panels longer than the terminal
    go through the pager when ``pager`` and :func:`_wants_pager` allow it."""
    if as_json or fmt == "json":
        dump_json(versioned({"sections": [{"title": t, "body": b} for t, b in sections]}), out or sys.stdout)
        return
    if fmt == "markdown":
        (out or sys.stdout).write(
            "".join((f"#### {t}\n\n```text\n{b}\n```\n\n" if t else f"**{b}**\n\n") for t, b in sections)
        )
        return
    from rich.panel import Panel
    from rich.text import Text

    from losscli.render import rich_console

    target = out or sys.stdout
    out_console = rich_console(target)
    renderables = [
        Text(body, style="bold") if not title else Panel(Text(body), title=title, title_align="left", expand=True)
        for title, body in sections
    ]
    if pager and _wants_pager(target):
        with out_console.capture() as captured:
            for r in renderables:
                out_console.print(r)
        text = captured.get()
        if text.count("\n") > out_console.height:
            import os
            import pydoc

            os.environ.setdefault("LESS", "-R")  # let less show the colours rich writes
            pydoc.pager(text)
            return
        target.write(text)
        return
    for r in renderables:
        out_console.print(r)


def _wants_pager(out: Any) -> bool:
    """A long --explain goes through the pager ($PAGER, else less) only for a person at a terminal:
    stdout is a TTY, and neither ``--no-pager`` nor ``LOSSCLI_PAGER=0`` said otherwise."""
    import os

    if out is not sys.stdout or os.environ.get("LOSSCLI_PAGER", "1") in ("0", "false", "no"):
        return False
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


# ------------------------------------------------------------------------ grad --model

_STAT_KEYS = (
    "grad_norm", "grad_rms", "grad_max", "param_norm", "grad_to_param", "zero_share", "nonfinite", "gain",
    "relative", "update_ratio",
)  # fmt: skip


def model_stat_dict(s: Any, notes: list[str], where: str) -> dict[str, Any]:
    """One parameter or layer: name, shape, numel, the measures, status and why."""
    obj: dict[str, Any] = {"name": s.name, "layer": s.layer, "shape": list(s.shape), "numel": s.numel}
    for key in _STAT_KEYS:
        obj[key] = jsonable(getattr(s, key), notes, f"{where}.{key}")
    obj["status"] = s.status
    obj["why"] = s.why
    if s.parameters:
        obj["parameters"] = list(s.parameters)
    return obj


def model_grad_dict(run: Any, binding: Any, checks: Iterable[Any] = ()) -> dict[str, Any]:
    """The ``grad --model`` JSON object (stable keys: loss, value, reduction, dtype, model,
    parameters, layers, global_norm, output_grad_l1, health, and checks when requested)."""
    notes: list[str] = []
    ev = run.evaluation
    model = binding.model
    h = run.health
    obj: dict[str, Any] = {
        "loss": ev.spec.name,
        "value": jsonable(ev.value, notes, "value"),
        "reduction": ev.reduction,
        "params": jsonable(dict(ev.params), notes, "params"),
        "dtype": run.dtype,
        "model": {
            "path": model.path,
            "kind": model.kind,
            "trusted": model.trusted,
            "inputs": [
                {"name": n, "shape": [d if isinstance(d, int) else str(d) for d in s], "dtype": t}
                for n, s, t in model.inputs
            ],
            "applications": [{"feeds": a.feeds, "files": a.sources} for a in binding.applications],
        },
        "parameters": [model_stat_dict(s, notes, f"parameters.{s.name}") for s in run.parameters],
        "layers": [model_stat_dict(s, notes, f"layers.{s.name}") for s in run.layers],
        "global_norm": jsonable(run.global_norm, notes, "global_norm"),
        "output_grad_l1": jsonable(run.output_grad_l1, notes, "output_grad_l1"),
        "health": {
            "status": h.status,
            "reason": h.reason(),
            "kinds": sorted(h.kinds()),
            "layers": {k: v for k, v in h.tripped.items()},
            "reference_layer": h.reference_layer,
            "dead_units": jsonable(h.dead_units, notes, "health.dead_units"),
            "nonfinite_origin": h.nonfinite_origin,
            "thresholds": {
                "vanishing_ratio": h.options.vanishing_ratio,
                "exploding_ratio": h.options.exploding_ratio,
                "vanishing_gain": h.options.vanishing_gain,
                "exploding_gain": h.options.exploding_gain,
                "dead_fraction": h.options.dead_fraction,
            },
        },
    }
    checks = list(checks)
    if checks:
        obj["checks"] = checks_list(checks, notes)
    if notes:
        obj["notes"] = notes
    return versioned(obj)


def _opt(x: float | None, spec: str = ".3g") -> str:
    return "—" if x is None else format(x, spec)


def render_model_grad(
    run: Any, binding: Any, fmt: str, *, out: TextIO | None = None, checks: Iterable[Any] = ()
) -> None:
    """Print ``grad --model``: per-layer and per-parameter tables, the log₁₀‖grad‖ bars, the verdict."""
    out = out or sys.stdout
    checks = list(checks)
    if fmt == "json":
        dump_json(model_grad_dict(run, binding, checks), out)
        return
    if fmt == "markdown":
        from losscli import markdown

        out.write(markdown.model(model_grad_dict(run, binding, checks)))
        return
    ev = run.evaluation
    if fmt == "plain":
        out.write(f"{ev.value!r}\n{run.health.status}\n")
        return
    if fmt == "csv":
        header = ["kind", "name", "shape", *_STAT_KEYS, "status"]
        rows = [
            ["parameter" if s in run.parameters else "layer", s.name, "x".join(map(str, s.shape)),
             *("" if getattr(s, k) is None else repr(getattr(s, k)) for k in _STAT_KEYS), s.status]
            for s in run.layers + run.parameters
        ]  # fmt: skip
        write_csv(out, header, rows)
        return
    from rich.table import Table

    console = rich_console(out)
    console.print(f"{ev.spec.name} = {fmt_number(float(ev.value))}  ({ev.reduction}, {run.dtype})")
    apps = "; ".join(f"{a.feeds} ← model({', '.join(a.sources)})" for a in binding.applications)
    console.print(f"model: {binding.model.path} ({binding.model.kind}); {apps}")
    layers = Table(title="layers in forward order (gain = RMS ∂L/∂θ per unit ‖∂L/∂output‖₁)", title_justify="left")
    cols = ["layer", "params", "‖grad‖", "RMS", "‖g‖/‖θ‖", "gain", "relative", "status", "max |g|", "‖θ‖", "zeros"]
    if run.health.options.lr is not None:
        cols.insert(5, "lr·‖g‖/‖θ‖")
    for c in cols:
        layers.add_column(c, justify="left" if c in ("layer", "status") else "right")
    for s in run.layers:
        cells = {
            "layer": s.name, "params": str(s.numel), "‖grad‖": _opt(s.grad_norm), "RMS": _opt(s.grad_rms),
            "‖g‖/‖θ‖": _opt(s.grad_to_param), "lr·‖g‖/‖θ‖": _opt(s.update_ratio), "gain": _opt(s.gain),
            "relative": _opt(s.relative), "status": s.status, "max |g|": _opt(s.grad_max), "‖θ‖": _opt(s.param_norm),
            "zeros": "—" if s.zero_share is None else f"{s.zero_share:.0%}",
        }  # fmt: skip
        layers.add_row(*(cells[c] for c in cols))
    console.print(keep_digits(layers, console))
    console.print("log₁₀ ‖grad‖ per layer (forward order)")
    for line in _flow_bars(run.layers, max(20, min(50, console.width - 40))):
        console.print(line, markup=False)
    h = run.health
    for d in h.dead_units:
        console.print(
            f"ReLU units never active in {d['layer']} ({d['op']}): {d['dead']} of {d['units']} ({d['fraction']:.0%})"
        )
    console.print(f"global norm (clip_grad_norm_): {fmt_number(run.global_norm)}")
    console.print(f"gradient health: {h.status} ({h.reason()})")
    for c in checks:
        console.print(f"check {c.check}: {'passed' if c.passed else 'FAILED'}")


def _flow_bars(layers: list[Any], width: int) -> list[str]:
    """One bar per layer, its length log₁₀‖grad‖ from the smallest (nonzero) to the largest."""
    logs = [math.log10(s.grad_norm) for s in layers if s.grad_norm]
    if not logs:
        return ["(no layer has a nonzero gradient)"]
    lo, hi = min(logs), max(logs)
    name_w = max(len(s.name) for s in layers)
    lines = []
    for s in layers:
        if s.grad_norm is None or not s.grad_norm:
            lines.append(f"{s.name:<{name_w}}  {'no gradient' if s.grad_norm is None else '0'}")
            continue
        v = math.log10(s.grad_norm)
        n = 1 + int(round((v - lo) / (hi - lo) * (width - 1))) if hi > lo else width
        mark = "" if s.status == "ok" else f"  {s.status}"
        lines.append(f"{s.name:<{name_w}}  {'█' * n} {v:+.1f}{mark}")
    return lines


# ------------------------------------------------------------------------ progress


class ChunkProgress:
    """``progress(rows_done, rows)`` for a chunked or streamed evaluation: a rich progress bar on stderr, drawn
    only when stderr is a terminal (never in a pipe or a CI log) and only once the command has run
    for ``after`` seconds (reading included), so quick commands never show one."""

    def __init__(self, what: str, stream: Any = None, after: float = 1.0) -> None:
        import time

        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.after = after
        self.start = time.monotonic()
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        """``total`` None (CSV text, rows not known ahead): a bar that pulses, with the rows so far."""
        import time

        if not self.tty:
            return
        if self.bar is None:
            if time.monotonic() - self.start < self.after:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeRemainingColumn(),
                console=rich_console(self.stream),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
