"""The ``losscli`` command line.  Each command parses options, calls the library, renders.

No maths and no file parsing here: see ``core``, ``io``, ``diagnose`` and ``render``.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, List, Optional

import typer

from losscli import __version__
from losscli.errors import EXIT_CHECK_FAILED, LossCliError, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Exact loss values and autograd gradients from CSV/JSON/NPY/Parquet files, with gradient "
    "health checks.  Exit codes: 0 ok, 1 a requested check failed, 2 usage or input error.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _fail(message: str, code: int) -> None:
    typer.echo(f"losscli: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a LossCliError into one line on stderr and its exit code (2); silence numpy's
    floating-point warnings (non-finite results are reported in the output instead)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import numpy as np

        try:
            # NaN and inf results are reported in the output (null + a note in JSON), so
            # numpy's RuntimeWarnings would only add noise on stderr
            with np.errstate(all="ignore"):
                result = fn(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
            return result
        except LossCliError as exc:
            _fail(f"error: {exc}", exc.exit_code)
        except OSError as exc:
            if not _is_broken_pipe(exc):
                raise
            _silence_stdout()
            raise typer.Exit(0) from None

    return wrapper


def _is_broken_pipe(exc: OSError) -> bool:
    """The reader of stdout went away (``| head``); polars reports it as a plain OSError."""
    return isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE or "Broken pipe" in str(exc)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _version(value: bool) -> None:
    if value:
        typer.echo(f"losscli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """losscli: a loss calculator and gradient inspector."""


# ---------------------------------------------------------------- shared options

LossArg = typer.Argument(
    ..., help="Loss name or alias (see 'losscli list'), or an expression such as '0.7*bce + 0.3*dice'."
)
FilesArg = typer.Argument(None, help="Input files in the loss's input order ('-' = stdin).", show_default=False)
ParamOpt = typer.Option(None, "--param", "-p", help="Loss parameter name=value (repeatable).")
InputOpt = typer.Option(None, "--input", "-i", help="Bind a named input: NAME=FILE (repeatable).")
ColOpt = typer.Option(None, "--col", help="Column for a named input: NAME=COLUMN (repeatable).")
PredColOpt = typer.Option(None, "--pred-col", help="Column (name, 0-based index, or comma list) for preds.")
TargetColOpt = typer.Option(None, "--target-col", help="Column (name, 0-based index, or comma list) for targets.")
FormatInOpt = typer.Option(None, "--input-format", help="csv, tsv, json, ndjson, npy, npz or parquet.")
DelimOpt = typer.Option(None, "--delimiter", help="CSV delimiter (default: detected among , ; tab).")
NonfiniteOpt = typer.Option(False, "--allow-nonfinite", help="Accept NaN/inf in the inputs.")
ReductionOpt = typer.Option("mean", "--reduction", "-r", help="mean, sum or none.")
DtypeOpt = typer.Option("float64", "--dtype", help="float64 or float32.")
FormatOpt = typer.Option("table", "--format", "-f", help="table, json, csv or plain.")
JsonOpt = typer.Option(False, "--json", help="Same as --format json.")
WeightsOpt = typer.Option(None, "--sample-weights", help="FILE of per-sample weights: mean becomes Σ sᵢℓᵢ / Σ sᵢ.")


def _pairs(items: Optional[List[str]], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{option} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _load(
    target: Any,
    files: Optional[List[str]],
    inputs: Optional[List[str]],
    cols: Optional[List[str]],
    pred_col: Optional[str],
    target_col: Optional[str],
    input_format: Optional[str],
    delimiter: Optional[str],
    allow_nonfinite: bool,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the target's inputs from files (positional, --input NAME=FILE, columns), or the
    bundled example when a single loss gets no files at all."""
    from losscli.io.readers import bind_sources, load_inputs

    names, required = target.input_names, target.required
    named = _pairs(inputs, "--input")
    columns: dict[str, Any] = _pairs(cols, "--col")
    if pred_col is not None:
        columns["preds"] = pred_col
    if target_col is not None:
        columns["targets"] = target_col
    unknown = [n for n in set(named) | set(columns) if n not in names]
    if unknown:
        raise UsageError(
            f"{target.name} has no input named {', '.join(sorted(unknown))}; its inputs are {', '.join(names)}"
        )
    files = list(files or [])
    if not files and not named:
        example = target.example
        if example is None:
            raise UsageError(
                f"{target.name} needs input files ({', '.join(names)}); there is no bundled example for it"
            )
        files = example.paths()
        columns = {}
        typer.echo(
            f"losscli: no files given: using the bundled example for {target.name} ({', '.join(example.files)})",
            err=True,
        )
    arrays = load_inputs(
        names,
        files,
        columns=columns,
        named_files=named,
        input_format=input_format,
        delimiter=delimiter,
        allow_nonfinite=allow_nonfinite,
        required=required,
    )
    return arrays, bind_sources(names, files, named, required=required)


def _sample_weights(path: Optional[str], input_format: Optional[str], delimiter: Optional[str]) -> Any:
    if path is None:
        return None
    from losscli.io.readers import load_inputs

    return load_inputs(["sample_weights"], [path], input_format=input_format, delimiter=delimiter)["sample_weights"]


@dataclass
class _Inputs:
    """The inputs several losses need together (for compare)."""

    name: str
    input_names: list[str]
    required: list[str]
    spec: Any = None


def _split_top_level(text: str) -> list[str]:
    """Split 'mse,huber(delta=2),ce(weight=[1,2])' at commas outside parentheses/brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    if not all(parts):
        raise UsageError(f"compare expects a comma list of losses, got {text!r}")
    return parts


def _format(fmt: str, as_json: bool) -> str:
    from losscli.render import FORMATS

    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def _fail_on(text: Optional[str], allowed: tuple[str, ...]) -> Optional[tuple[str, ...]]:
    if text is None:
        return None
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in allowed]
    if bad or not kinds:
        raise UsageError(f"--fail-on takes a comma list of {', '.join(allowed)}; got {text!r}")
    return kinds


def _element(text: Optional[str], ev: Any) -> Optional[tuple[int, ...]]:
    """--element ROW or ROW,COL as an index into the first differentiable input, checked."""
    if text is None:
        return None
    try:
        index = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--element expects ROW or ROW,COL (0-based integers), got {text!r}") from None
    shape = next(iter(ev.gradients.values())).shape
    full = index + (0,) * (len(shape) - len(index))
    if len(full) != len(shape) or any(not 0 <= i < n for i, n in zip(full, shape)):
        raise UsageError(f"--element {text} is outside the input's shape {' x '.join(map(str, shape))}")
    return full


def _check_bounds(value: Any, fail_above: Optional[float], fail_below: Optional[float]) -> None:
    """Exit 1 (after the value was printed) when a requested bound is violated."""
    if fail_above is None and fail_below is None:
        return
    if math.isnan(value):
        _fail("check failed: the loss is NaN", EXIT_CHECK_FAILED)
    if fail_above is not None and value > fail_above:
        _fail(f"check failed: loss {value:.10g} > --fail-above {fail_above:g}", EXIT_CHECK_FAILED)
    if fail_below is not None and value < fail_below:
        _fail(f"check failed: loss {value:.10g} < --fail-below {fail_below:g}", EXIT_CHECK_FAILED)


# ---------------------------------------------------------------- commands


@app.command()
@user_errors
def compute(
    loss: str = LossArg,
    files: Optional[List[str]] = FilesArg,
    param: Optional[List[str]] = ParamOpt,
    input: Optional[List[str]] = InputOpt,
    col: Optional[List[str]] = ColOpt,
    pred_col: Optional[str] = PredColOpt,
    target_col: Optional[str] = TargetColOpt,
    input_format: Optional[str] = FormatInOpt,
    delimiter: Optional[str] = DelimOpt,
    allow_nonfinite: bool = NonfiniteOpt,
    reduction: str = ReductionOpt,
    dtype: str = DtypeOpt,
    fmt: str = FormatOpt,
    as_json: bool = JsonOpt,
    sample_weights: Optional[str] = WeightsOpt,
    fail_above: Optional[float] = typer.Option(None, "--fail-above", help="Exit 1 if the loss is above X."),
    fail_below: Optional[float] = typer.Option(None, "--fail-below", help="Exit 1 if the loss is below X."),
) -> None:
    """Compute a loss value, or a weighted sum of losses such as "0.7*bce + 0.3*dice".

    Runs on numpy: torch is not imported (except for losses that run a torch model).
    """
    from losscli.render import render_compute
    from losscli.target import resolve

    target = resolve(loss, param or [])
    fmt = _format(fmt, as_json)
    if reduction == "none" and (fail_above is not None or fail_below is not None):
        raise UsageError("--fail-above/--fail-below need a single value: use --reduction mean or sum")
    arrays, sources = _load(target, files, input, col, pred_col, target_col, input_format, delimiter, allow_nonfinite)
    weights = _sample_weights(sample_weights, input_format, delimiter)
    result = target.run(
        arrays, backend="numpy", reduction=reduction, dtype=dtype, sources=sources, sample_weights=weights
    )
    render_compute(result, fmt)
    if reduction != "none":
        _check_bounds(result.evaluation.value, fail_above, fail_below)


@app.command()
@user_errors
def grad(
    loss: Optional[str] = typer.Argument(None, help="Loss name or alias; optional with --explain.", show_default=False),
    files: Optional[List[str]] = FilesArg,
    param: Optional[List[str]] = ParamOpt,
    input: Optional[List[str]] = InputOpt,
    col: Optional[List[str]] = ColOpt,
    pred_col: Optional[str] = PredColOpt,
    target_col: Optional[str] = TargetColOpt,
    input_format: Optional[str] = FormatInOpt,
    delimiter: Optional[str] = DelimOpt,
    allow_nonfinite: bool = NonfiniteOpt,
    reduction: str = ReductionOpt,
    dtype: str = DtypeOpt,
    fmt: str = FormatOpt,
    as_json: bool = JsonOpt,
    sample_weights: Optional[str] = WeightsOpt,
    out: Optional[str] = typer.Option(
        None, "--out", "-o", help="Write every gradient to FILE (.csv, .npy, .npz, .json, .parquet)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 unless the gradient health is ok (see --fail-on)."),
    fail_on: Optional[str] = typer.Option(
        None,
        "--fail-on",
        help="With --strict, fail on these (comma list): vanishing, exploding, nonfinite, "
        "dead, saturated, underflow. Default: any status but ok.",
    ),
    saturation: float = typer.Option(1e-7, "--saturation", help="Probabilities within this of 0 or 1 are saturated."),
    vanishing: float = typer.Option(1e-7, "--vanishing", help="Per-sample gradient RMS below this is vanishing."),
    exploding: float = typer.Option(1e4, "--exploding", help="Per-sample gradient RMS above this is exploding."),
    top: int = typer.Option(
        5, "--top", help="Elements listed on screen and in JSON (first, largest, smallest |grad|)."
    ),
    explain_: bool = typer.Option(False, "--explain", help="Walk through the chain rule and the autograd graph."),
    lang: str = typer.Option("en", "--lang", help="Language of --explain: en or zh-TW."),
    element: Optional[str] = typer.Option(None, "--element", help="Element for --explain: ROW or ROW,COL (0-based)."),
) -> None:
    """Loss value, per-element gradients by torch autograd, and a gradient health verdict.

    Verdicts are judged on the per-sample gradient (N times the mean-reduced one), so they
    do not change with the number of rows; float32 runs are compared with float64 for
    gradients that underflow to zero.
    """
    from losscli.diagnose import FAIL_ON, diagnose
    from losscli.i18n import check_lang
    from losscli.render import render_grad
    from losscli.target import SingleLoss, resolve

    check_lang(lang)
    header = None
    if loss is None:
        if not explain_ or files or input:
            raise UsageError("grad needs a loss name (only 'losscli grad --explain' runs without one)")
        from losscli.examples import DEFAULT, DEFAULT_LOSS
        from losscli.i18n import msg

        loss, files = DEFAULT_LOSS, DEFAULT.paths()
        header = msg(lang, "bundled", what=DEFAULT.what)
    target = resolve(loss, param or [])
    fmt = _format(fmt, as_json)
    if not (0 < vanishing < exploding):
        raise UsageError("thresholds must satisfy 0 < --vanishing < --exploding")
    if top < 0:
        raise UsageError("--top must be >= 0")
    fail_kinds = _fail_on(fail_on, FAIL_ON)
    if explain_ and not isinstance(target, SingleLoss):
        raise UsageError("--explain takes a single loss, not an expression")
    if explain_ and sample_weights is not None:
        raise UsageError("--explain works the chain rule without sample weights; drop --sample-weights")
    arrays, sources = _load(target, files, input, col, pred_col, target_col, input_format, delimiter, allow_nonfinite)
    weights = _sample_weights(sample_weights, input_format, delimiter)
    result = target.run(
        arrays,
        backend="torch",
        reduction=reduction,
        dtype=dtype,
        sources=sources,
        sample_weights=weights,
        keep_graph=explain_,
    )
    reference = None
    if dtype != "float64":
        reference = target.run(
            arrays, backend="torch", reduction=reduction, sources=sources, sample_weights=weights
        ).evaluation
    ev = result.evaluation
    health = diagnose(
        ev, arrays, vanishing=vanishing, exploding=exploding, saturation_eps=saturation, top=top, reference=reference
    )
    if out:
        from losscli.io.writers import write_gradients

        write_gradients(out, ev.gradients)
        typer.echo(f"losscli: wrote gradients to {out}", err=True)
    if explain_:
        from losscli.explain import narrative
        from losscli.render import render_narrative

        sections = narrative(ev, health, arrays, lang=lang, element=_element(element, ev), header=header)
        render_narrative(sections, as_json=fmt == "json")
    else:
        render_grad(result, health, fmt, top=top)
    if strict and health.failed(fail_kinds):
        found = ", ".join(sorted(health.kinds())) or health.status
        _fail(f"check failed: gradient health: {found} ({health.reason()})", EXIT_CHECK_FAILED)


@app.command()
@user_errors
def compare(
    losses_: str = typer.Argument(..., metavar="LOSSES", help="Comma list of losses or expressions: mse,mae,huber."),
    files: Optional[List[str]] = FilesArg,
    input: Optional[List[str]] = InputOpt,
    col: Optional[List[str]] = ColOpt,
    pred_col: Optional[str] = PredColOpt,
    target_col: Optional[str] = TargetColOpt,
    input_format: Optional[str] = FormatInOpt,
    delimiter: Optional[str] = DelimOpt,
    allow_nonfinite: bool = NonfiniteOpt,
    reduction: str = ReductionOpt,
    dtype: str = DtypeOpt,
    fmt: str = FormatOpt,
    as_json: bool = JsonOpt,
    sample_weights: Optional[str] = WeightsOpt,
    with_grad: bool = typer.Option(False, "--grad", help="Add gradient norm, outlier share and health."),
) -> None:
    """Evaluate several losses on the same data and compare them in one table.

    With --grad: the gradient norm, the share of the gradient that the 1% of rows with the
    largest residuals get, and the health verdict of each.
    """
    from losscli.composite import compare as run_compare
    from losscli.expr import parse
    from losscli.render import render_compare

    entries = _split_top_level(losses_)
    fmt = _format(fmt, as_json)
    if reduction == "none":
        raise UsageError("compare needs one value per loss: use --reduction mean or sum")

    expressions = [parse(text) for text in entries]
    names: list[str] = []
    required: list[str] = []
    for ex in expressions:
        names += [n for n in ex.input_names() if n not in names]
        required += [n for n in ex.required_inputs() if n not in required]
    arrays, sources = _load(
        _Inputs(losses_, names, required),
        files,
        input,
        col,
        pred_col,
        target_col,
        input_format,
        delimiter,
        allow_nonfinite,
    )
    weights = _sample_weights(sample_weights, input_format, delimiter)
    rows = run_compare(
        entries, arrays, grad=with_grad, reduction=reduction, dtype=dtype, sources=sources, sample_weights=weights
    )
    render_compare(rows, fmt, with_grad)


@app.command("list")
@user_errors
def list_losses(fmt: str = FormatOpt, as_json: bool = JsonOpt) -> None:
    """List every loss by family (never imports torch)."""
    from losscli import losses
    from losscli.render import render_list

    render_list(losses.by_family(), _format(fmt, as_json))


@app.command()
@user_errors
def explain(
    loss: str = typer.Argument(..., help="Loss name or alias (see 'losscli list')."),
    fmt: str = FormatOpt,
    as_json: bool = JsonOpt,
    lang: str = typer.Option("en", "--lang", help="en or zh-TW."),
) -> None:
    """Formula, derivative, inputs, parameters and convention of a loss (never imports torch)."""
    from losscli import losses
    from losscli.i18n import check_lang
    from losscli.render import render_explain

    render_explain(losses.get(loss), _format(fmt, as_json), lang=check_lang(lang))


def main() -> None:
    """Entry point of the ``losscli`` console script.

    Runs the app outside Typer's standalone mode so that option-parsing mistakes (an unknown
    option, a missing argument) also end as one line on stderr with exit code 2.
    """
    try:
        code = app(standalone_mode=False)
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(0)
    except Exception as exc:  # Typer's usage errors carry format_message() and exit_code
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "losscli"
        message = exc.format_message()
        if message:  # empty after a bare 'losscli', which has printed the help
            typer.echo(f"losscli: error: {message} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
