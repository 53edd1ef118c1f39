"""The ``losscli`` command line.  Each command parses options, calls the library, renders.

No maths and no file parsing here: see ``core``, ``io``, ``diagnose`` and ``render``.
"""

from __future__ import annotations

import errno
import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, List, Optional

import typer

from losscli import __version__
from losscli.errors import EXIT_CHECK_FAILED, EXIT_USAGE, LossCliError, UsageError
from losscli.options import DataOptions, HealthOptions, RunOptions

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="Exact loss values and autograd gradients from CSV/JSON/NPY/Parquet files, with gradient "
    "health checks.  Exit codes: 0 ok, 1 a requested check failed, 2 usage or input error.\n\n"
    "\b\nExamples:\n  losscli compute mse preds.csv targets.csv\n  losscli grad --explain\n"
    "  losscli explain huber",
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _unescaped(get_help_record: Callable[..., Any]) -> Callable[..., Any]:
    """typer 0.19 escapes the brackets of ``[required]`` / ``[default: 1]`` for rich even when help is
    plain text (``rich_markup_mode=None``), so ``\\[required]`` would show: undo that."""

    @functools.wraps(get_help_record)
    def record(self: Any, ctx: Any) -> Any:
        out = get_help_record(self, ctx)
        return None if out is None else (out[0], out[1].replace("\\[", "["))

    return record


def _argument_metavar(self: Any, ctx: Any = None) -> str:
    """``LOSS``, ``[LOSS]``, ``[FILE]...`` in the usage line and the argument list, as click writes them."""
    name = self.metavar or (self.name or "").upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


typer.core.TyperArgument.make_metavar = _argument_metavar  # type: ignore[method-assign]
typer.core.TyperArgument.get_help_record = _unescaped(typer.core.TyperArgument.get_help_record)  # type: ignore[method-assign]
typer.core.TyperOption.get_help_record = _unescaped(typer.core.TyperOption.get_help_record)  # type: ignore[method-assign]


def _fail(message: str, code: int) -> None:
    typer.echo(f"losscli: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a LossCliError into one line on stderr and its exit code (2); silence numpy's
    floating-point warnings (non-finite results are reported in the output instead)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import numpy as np

        _JUNIT_ON_ERROR.clear()
        try:
            # NaN and inf results are reported in the output (null + a note in JSON), so
            # numpy's RuntimeWarnings would only add noise on stderr
            with np.errstate(all="ignore"):
                result = fn(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
            return result
        except LossCliError as exc:
            if _JUNIT_ON_ERROR:
                from losscli import junit

                junit.write_error(_JUNIT_ON_ERROR[0], fn.__name__, str(exc))
            _fail(f"error: {exc}", exc.exit_code)
        except MemoryError as exc:
            _fail(f"error: {_out_of_memory(str(exc))}", EXIT_USAGE)
        except RuntimeError as exc:  # torch's allocator says so with a RuntimeError
            if not _is_torch_out_of_memory(exc):
                raise
            _fail(f"error: {_out_of_memory(str(exc))}", EXIT_USAGE)
        except OSError as exc:
            if not _is_broken_pipe(exc):
                _fail(f"error: {_os_error(exc)}", EXIT_USAGE)
            _silence_stdout()
            raise typer.Exit(0) from None

    return wrapper


def _is_torch_out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc)
    return "DefaultCPUAllocator" in text or "out of memory" in text.lower() or "can't allocate memory" in text


def _out_of_memory(detail: str) -> str:
    """One line for an allocation that failed: how much was asked for (numpy and torch say it)."""
    import re

    size = ""
    found = re.search(r"allocate (\d+) bytes", detail) or re.search(r"allocate ([\d.]+ [KMGTP]iB)", detail)
    if found:
        amount = found.group(1)
        size = (
            f" (an allocation of {int(amount) / 2**30:,.1f} GiB failed)" if amount.isdigit() else f" ({amount} failed)"
        )
    return (
        f"out of memory{size}: the data does not fit in this machine's memory; read it in chunks "
        "(--chunk-rows N, for a loss whose rows are independent), --engine dask on a cluster, "
        "--dtype float32, or a machine with more memory"
    )


def _os_error(exc: OSError) -> str:
    """One line for an operating-system error outside the readers (writing the output)."""
    what = exc.strerror or str(exc)
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else " (standard output)"
    return f"cannot write the output: {what}{where}"


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
# Each group of options is declared once and reaches a command as one value (an option type of
# losscli.options), the way sqlite-utils shares output_options: see ``_options``.


def _complete_loss(incomplete: str) -> list[str]:
    """Shell completion of LOSS: registered names and aliases (metadata only, no torch)."""
    from losscli import losses

    names = [n for spec in losses.REGISTRY.values() for n in (spec.name, *spec.aliases)]
    return [n for n in names if n.startswith(incomplete)]


def _complete_param(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of ``-p``: ``NAME=`` for each parameter of the loss already on the line."""
    from losscli import losses

    # while completing, click leaves the positional words unparsed in ctx.args
    loss = ctx.params.get("loss") or (ctx.args[0] if ctx.args else None)
    try:
        spec = losses.get(loss) if loss else None
    except LossCliError:
        spec = None
    if spec is None:
        return []
    return [f"{p.name}=" for p in spec.params if f"{p.name}=".startswith(incomplete)]


def _choices(*values: str) -> Callable[[str], list[str]]:
    """Shell completion of an option that takes one of ``values``."""
    return lambda incomplete: [v for v in values if v.startswith(incomplete)]


def _complete_loss_list(incomplete: str) -> list[str]:
    """Shell completion of a comma list of losses (compare, plot): the item after the last comma."""
    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    return [prefix + n for n in _complete_loss(last)]


def _complete_model(incomplete: str) -> list[str]:
    """Shell completion of --model: the bundled example networks (files complete as files)."""
    from losscli.examples import MODEL_EXAMPLES

    return [n for n in MODEL_EXAMPLES if n.startswith(incomplete)]


LossArg = typer.Argument(
    ...,
    metavar="LOSS",
    help="Loss name or alias (see 'losscli list'), or an expression such as '0.7*bce + 0.3*dice'.",
    autocompletion=_complete_loss,
)
ParamOpt = typer.Option(
    None,
    "--param",
    "-p",
    metavar="NAME=VALUE",
    help="Loss parameter name=value (repeatable).",
    autocompletion=_complete_param,
)


@dataclass(frozen=True)
class _Group:
    """Options that reach a command as one argument ``arg``, built by ``build(**values)``."""

    arg: str
    params: tuple[inspect.Parameter, ...]
    build: Callable[..., Any]


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


def _pairs(items: Optional[List[str]], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{option} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _data_options(
    files: Optional[List[str]],
    input: Optional[List[str]],
    col: Optional[List[str]],
    pred_col: Optional[str],
    target_col: Optional[str],
    input_format: Optional[str],
    delimiter: Optional[str],
    allow_nonfinite: bool,
    sample_weights: Optional[str],
    chunk_rows: Optional[int],
) -> DataOptions:
    columns = _pairs(col, "--col")
    if pred_col is not None:
        columns["preds"] = pred_col
    if target_col is not None:
        columns["targets"] = target_col
    return DataOptions(
        files=tuple(files or ()),
        named=_pairs(input, "--input"),
        columns=columns,
        input_format=input_format,
        delimiter=delimiter,
        allow_nonfinite=allow_nonfinite,
        sample_weights=sample_weights,
        chunk_rows=_chunk_rows(chunk_rows),
    )


def _chunk_rows(rows: Optional[int]) -> Optional[int]:
    if rows is not None and rows < 1:
        raise UsageError(f"--chunk-rows must be a positive number of rows, got {rows}")
    return rows


DATA = _Group(
    "data",
    (
        _param(
            "files",
            Optional[List[str]],
            typer.Argument(
                None,
                metavar="FILE",
                help="Input files in the loss's input order ('-' = stdin).",
                show_default=False,
            ),
        ),
        _param(
            "input",
            Optional[List[str]],
            typer.Option(
                None, "--input", "-i", metavar="NAME=FILE", help="Bind a named input: NAME=FILE (repeatable)."
            ),
        ),
        _param(
            "col",
            Optional[List[str]],
            typer.Option(
                None, "--col", metavar="NAME=COLUMN", help="Column for a named input: NAME=COLUMN (repeatable)."
            ),
        ),
        _param(
            "pred_col",
            Optional[str],
            typer.Option(
                None, "--pred-col", metavar="COLUMN", help="Column (name, 0-based index, or comma list) for preds."
            ),
        ),
        _param(
            "target_col",
            Optional[str],
            typer.Option(
                None, "--target-col", metavar="COLUMN", help="Column (name, 0-based index, or comma list) for targets."
            ),
        ),
        _param(
            "input_format",
            Optional[str],
            typer.Option(None, "--input-format", metavar="FORMAT", help="csv, tsv, json, ndjson, npy, npz or parquet."),
        ),
        _param(
            "delimiter",
            Optional[str],
            typer.Option(None, "--delimiter", metavar="CHAR", help="CSV delimiter (default: detected among , ; tab)."),
        ),
        _param("allow_nonfinite", bool, typer.Option(False, "--allow-nonfinite", help="Accept NaN/inf in the inputs.")),
        _param(
            "sample_weights",
            Optional[str],
            typer.Option(
                None,
                "--sample-weights",
                metavar="FILE",
                help="FILE of per-sample weights: mean becomes Σ sᵢℓᵢ / Σ sᵢ (--engine dask: a COLUMN).",
            ),
        ),
        _param(
            "chunk_rows",
            Optional[int],
            typer.Option(
                None,
                "--chunk-rows",
                metavar="N",
                help="Read and evaluate N rows at a time, in flat memory (files over 64 MiB stream on their own).",
            ),
        ),
    ),
    _data_options,
)
EVAL = _Group(
    "run",
    (
        _param(
            "reduction",
            str,
            typer.Option(
                "mean",
                "--reduction",
                "-r",
                metavar="mean|sum|none",
                help="mean, sum or none.",
                autocompletion=_choices("mean", "sum", "none"),
            ),
        ),
        _param(
            "dtype",
            Optional[str],
            typer.Option(
                None,
                "--dtype",
                autocompletion=_choices("float64", "float32"),
                metavar="float64|float32",
                help="float64 (default) or float32; with --model the network runs in its own dtype unless given.",
            ),
        ),
    ),
    lambda reduction, dtype: RunOptions(reduction, dtype or "float64", dtype is not None),
)
OUTPUT = _Group(
    "fmt",
    (
        _param(
            "fmt",
            str,
            typer.Option(
                "table",
                "--format",
                "-f",
                metavar="FORMAT",
                envvar="LOSSCLI_FORMAT",
                autocompletion=_choices("table", "json", "csv", "plain", "markdown"),
                help="table, json, csv, plain or markdown (a summary for CI job pages and pull requests); "
                "default from LOSSCLI_FORMAT.",
            ),
        ),
        _param("as_json", bool, typer.Option(False, "--json", help="Same as --format json.")),
    ),
    lambda fmt, as_json: _format(fmt, as_json),
)


def _options(*groups: _Group) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of ``groups``: its signature (what Typer reads) gains each
    group's parameters in place of the group's argument, and the command receives the built value."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.name not in {g.arg for g in groups}]
        extra = [p for g in groups for p in g.params]
        is_arg = lambda p: isinstance(p.default, typer.models.ArgumentInfo)  # noqa: E731
        ordered = [p for p in own if is_arg(p)] + [p for p in extra if is_arg(p)]
        ordered += [p for p in own if not is_arg(p)] + [p for p in extra if not is_arg(p)]

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            for g in groups:
                kwargs[g.arg] = g.build(**{p.name: kwargs.pop(p.name) for p in g.params})
            return fn(**kwargs)

        wrapper.__signature__ = sig.replace(parameters=ordered)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _format(fmt: str, as_json: bool) -> str:
    from losscli.render import FORMATS

    fmt = "json" if as_json else fmt.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format (or LOSSCLI_FORMAT) must be one of {', '.join(FORMATS)}, got {fmt!r}")
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


def _exit_on_failed(checks: list[Any]) -> None:
    """Exit 1 (after the result was printed) when a requested check failed, one line each."""
    failed = [c for c in checks if not c.passed]
    for c in failed:
        typer.echo(f"losscli: check failed: {c.message}", err=True)
    if failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _feeds(items: Optional[List[str]]) -> list[tuple[str, list[str]]]:
    out = []
    for item in items or []:
        name, sep, files = item.partition("=")
        parts = [f.strip() for f in files.split(",") if f.strip()]
        if not sep or not name.strip() or not parts:
            raise UsageError(f"--feed expects NAME=FILE[,FILE...], got {item!r}")
        out.append((name.strip(), parts))
    return out


@dataclass(frozen=True)
class ModelOptions:
    """``--model``, ``--feed`` and ``--trust-model``."""

    path: Optional[str]
    feeds: list[tuple[str, list[str]]]
    trust: bool


def _model_options(model: Optional[str], feed: Optional[List[str]], trust_model: bool) -> ModelOptions:
    feeds = _feeds(feed)
    if feeds and model is None:
        raise UsageError("--feed needs --model FILE")
    return ModelOptions(model, feeds, trust_model)


MODEL = _Group(
    "net",
    (
        _param(
            "model",
            Optional[str],
            typer.Option(
                None,
                "--model",
                "-m",
                autocompletion=_complete_model,
                metavar="FILE",
                help="A torch.export program (.pt2): the first files feed it, its output is the loss's first input.",
            ),
        ),
        _param(
            "feed",
            Optional[List[str]],
            typer.Option(
                None,
                "--feed",
                metavar="NAME=FILE[,FILE]",
                help="Apply the model to these files; its output is loss input NAME (repeatable).",
            ),
        ),
        _param(
            "trust_model",
            bool,
            typer.Option(
                False,
                "--trust-model",
                help="Load a model even if loading can run code from it (pickles, TorchScript). Only for files you trust.",
            ),
        ),
    ),
    _model_options,
)


@dataclass(frozen=True)
class GateOptions:
    """``--baseline``, ``--max-increase`` and ``--junit``: the CI gate against a stored run."""

    baseline: Optional[str]
    max_increase: Optional[str]
    junit: Optional[str]

    def asked(self) -> bool:
        return self.baseline is not None


# The JUnit report of the running command, written with an <error> case if it stops on a usage or
# input error after its options were read (see user_errors).
_JUNIT_ON_ERROR: list[str] = []


def _gate_options(baseline: Optional[str], max_increase: Optional[str], junit: Optional[str]) -> GateOptions:
    if junit is not None and junit.strip() in ("-", ""):
        raise UsageError("--junit needs a file path: standard output holds the result")
    if junit is not None:
        _JUNIT_ON_ERROR[:] = [junit]
    if max_increase is not None and baseline is None:
        raise UsageError("--max-increase needs --baseline FILE (a stored --json output to compare with)")
    if max_increase is not None:
        from losscli.app import parse_max_increase

        parse_max_increase(max_increase)
    return GateOptions(baseline, max_increase, junit)


GATE = _Group(
    "gate",
    (
        _param(
            "baseline",
            Optional[str],
            typer.Option(
                None,
                "--baseline",
                metavar="FILE",
                help="A stored --json output of the same command: exit 1 if the loss rose above it (see --max-increase).",
            ),
        ),
        _param(
            "max_increase",
            Optional[str],
            typer.Option(
                None,
                "--max-increase",
                metavar="X|X%",
                help="How much above the baseline still passes: an amount (0.01) or a share of it (2%). Default 0.",
            ),
        ),
        _param(
            "junit",
            Optional[str],
            typer.Option(None, "--junit", metavar="FILE", help="Write the requested checks as a JUnit XML report."),
        ),
    ),
    _gate_options,
)


def _current(name: str, result: Any) -> Any:
    """This run's entry for the baseline gate: the value, and the parameters as --json has them."""
    from losscli.app import Current

    ev = result.evaluation
    params = result.composite.params if result.composite is not None else ev.params
    return Current(name, ev.value, params, ev.dtype, ev.n)


def _junit_needs_checks(gate: GateOptions, *asked: bool) -> None:
    """A JUnit report of no check would be a green test that tested nothing: refused up front."""
    if gate.junit is not None and not (gate.asked() or any(asked)):
        raise UsageError(
            "--junit reports the checks you ask for: add --fail-above/--fail-below, --strict/--fail-on or --baseline"
        )


def _finish(command: str, groups: list[tuple[str, list[Any]]], gate: GateOptions, value_text: str) -> None:
    """Write the JUnit report (when asked), then exit 1 if a requested check failed."""
    if gate.junit is not None:
        from losscli import junit

        junit.write(gate.junit, command, groups, value_text)
        typer.echo(
            f"losscli: wrote the JUnit report of {sum(len(c) for _, c in groups)} check(s) to {gate.junit}", err=True
        )
    _exit_on_failed([c for _, checks in groups for c in checks])


EngineOpt = typer.Option(
    "local",
    "--engine",
    metavar="ENGINE",
    autocompletion=_choices("local", "dask"),
    help="Where to evaluate: local (this process), or dask: a Parquet dataset (directory, glob or fsspec URL, "
    "one partition per file) on a dask.distributed cluster (pip install 'losscli[dask]').",
)
SchedulerOpt = typer.Option(
    None,
    "--scheduler",
    metavar="ADDRESS",
    help="With --engine dask: the Dask scheduler (default: DASK_SCHEDULER_ADDRESS, else a LocalCluster for the run).",
)


def _engine(engine: str, scheduler: Optional[str], refused: dict[str, bool]) -> bool:
    """Whether the dask engine runs; what it cannot take (``refused``: option -> given) is refused."""
    from losscli.engines import ENGINES

    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "dask":
        if scheduler is not None:
            raise UsageError("--scheduler goes with --engine dask")
        return False
    given = [option for option, on in refused.items() if on]
    if given:
        raise UsageError(f"--engine dask does not take {given[0]}")
    return True


FailAbove = typer.Option(None, "--fail-above", metavar="X", help="Exit 1 if the loss is above X.")
FailBelow = typer.Option(None, "--fail-below", metavar="X", help="Exit 1 if the loss is below X.")


# ---------------------------------------------------------------- commands


@app.command(short_help="The value of a loss or a weighted sum of losses (numpy).")
@user_errors
@_options(DATA, EVAL, OUTPUT, MODEL, GATE)
def compute(
    loss: str = LossArg,
    param: Optional[List[str]] = ParamOpt,
    fail_above: Optional[float] = FailAbove,
    fail_below: Optional[float] = FailBelow,
    engine: str = EngineOpt,
    scheduler: Optional[str] = SchedulerOpt,
    *,
    data: DataOptions,
    run: RunOptions,
    fmt: str,
    net: ModelOptions,
    gate: GateOptions,
) -> None:
    """Compute a loss value, or a weighted sum of losses such as "0.7*bce + 0.3*dice".

    Runs on numpy: torch is not imported (except for losses that run a torch model).

    \b
    Examples:
      losscli compute mse preds.csv targets.csv
      losscli compute huber results.csv --pred-col yhat --target-col y -p delta=0.5
      losscli compute ce logits.npy labels.csv -p label_smoothing=0.1 --json
      cat results.csv | losscli compute mse --fail-above 0.05 --format plain
      losscli compute bce --model clf.pt2 features.csv labels.csv
    """
    from losscli import app as application
    from losscli.render import render_compute
    from losscli.target import resolve

    target = resolve(loss, _trusting(param, loss, net))
    application.check_bounds_given(fail_above, fail_below, run.reduction)
    _junit_needs_checks(gate, fail_above is not None, fail_below is not None)
    if gate.asked() and run.reduction == "none":
        raise UsageError("--baseline compares one value: use --reduction mean or sum")
    if _engine(engine, scheduler, {"--model": net.path is not None}):
        from losscli.engines.dask_engine import run_compute
        from losscli.render import ChunkProgress

        progress = ChunkProgress(f"{target.name}: evaluating on dask")
        try:
            done = run_compute(target, data, reduction=run.reduction, dtype=run.dtype, scheduler=scheduler,
                               progress=progress)  # fmt: skip
        finally:
            progress.close()
    elif net.path is not None:
        done = application.compute_model(
            target, data, net.path, net.feeds, trust=net.trust, reduction=run.reduction,
            dtype=run.dtype if run.dtype_given else None,
        )  # fmt: skip
    else:
        checked = fail_above is not None or fail_below is not None or gate.asked()
        data = _stdin_or_example(data, checked=checked)
        from losscli.render import ChunkProgress

        progress = ChunkProgress(f"{target.name}: evaluating")
        try:
            done = application.compute(target, data, reduction=run.reduction, dtype=run.dtype, progress=progress)
        finally:
            progress.close()
    _notes(done.loaded.notes)
    checks = []
    value = done.result.evaluation.value
    if run.reduction != "none":
        checks = application.bound_checks(value, fail_above, fail_below)
        checks += application.baseline_checks(
            [_current(target.name, done.result)], gate.baseline, gate.max_increase, run.reduction
        )
    render_compute(done.result, fmt, checks=checks, inputs=done.loaded.provenance)
    _finish("compute", [(target.name, checks)], gate, f"{target.name} = {value!r}")


@app.command(short_help="Value, autograd gradients and their health verdict.")
@user_errors
@_options(DATA, EVAL, OUTPUT, MODEL, GATE)
def grad(
    loss: Optional[str] = typer.Argument(
        None,
        metavar="LOSS",
        help="Loss name, alias or expression; optional with --explain.",
        show_default=False,
        autocompletion=_complete_loss,
    ),
    param: Optional[List[str]] = ParamOpt,
    out: Optional[str] = typer.Option(
        None,
        "--out",
        "-o",
        metavar="FILE",
        help="Write every gradient to FILE (.csv, .npy, .npz, .json, .parquet; with --engine dask a directory).",
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 unless the gradient health is ok (see --fail-on)."),
    fail_on: Optional[str] = typer.Option(
        None,
        "--fail-on",
        autocompletion=_choices("vanishing", "exploding", "nonfinite", "dead", "saturated", "underflow"),
        metavar="KINDS",
        help="Exit 1 on these verdicts (comma list; implies --strict): vanishing, exploding, nonfinite, "
        "dead, saturated, underflow. Default with --strict: any status but ok.",
    ),
    fail_above: Optional[float] = FailAbove,
    fail_below: Optional[float] = FailBelow,
    saturation: float = typer.Option(
        1e-7, "--saturation", metavar="EPS", help="Probabilities within this of 0 or 1 are saturated."
    ),
    vanishing: float = typer.Option(
        1e-7, "--vanishing", metavar="X", help="Per-sample gradient RMS below this is vanishing."
    ),
    exploding: float = typer.Option(
        1e4, "--exploding", metavar="X", help="Per-sample gradient RMS above this is exploding."
    ),
    top: int = typer.Option(
        5, "--top", metavar="K", help="Elements listed on screen and in JSON (first, largest, smallest |grad|)."
    ),
    explain_: bool = typer.Option(False, "--explain", help="Walk through the chain rule and the autograd graph."),
    no_pager: bool = typer.Option(
        False, "--no-pager", help="Print a long --explain straight to the terminal (also LOSSCLI_PAGER=0)."
    ),
    no_health: bool = typer.Option(
        False, "--no-health", help="Skip the gradient health verdict (value and gradients only; health is null)."
    ),
    lang: Optional[str] = typer.Option(
        None,
        "--lang",
        autocompletion=_choices("en", "zh-TW"),
        metavar="LANG",
        help="Language of --explain: en or zh-TW (default: zh-TW when LC_ALL/LC_MESSAGES/LANG say zh_TW).",
    ),
    element: Optional[str] = typer.Option(
        None, "--element", metavar="ROW[,COL]", help="Element for --explain: ROW or ROW,COL (0-based)."
    ),
    lr: Optional[float] = typer.Option(
        None, "--lr", metavar="X", help="With --model: the update-to-weight ratio of one SGD step of this size."
    ),
    vanishing_ratio: float = typer.Option(
        1e-3,
        "--vanishing-ratio",
        metavar="X",
        help="With --model: a layer below X times the output-side layer's gradient is vanishing.",
    ),
    exploding_ratio: float = typer.Option(
        1e3,
        "--exploding-ratio",
        metavar="X",
        help="With --model: a layer above X times the output-side layer's gradient is exploding.",
    ),
    vanishing_gain: float = typer.Option(
        1e-6,
        "--vanishing-gain",
        metavar="X",
        help="With --model: gain (RMS ∂L/∂θ per unit ‖∂L/∂output‖₁) below X is vanishing.",
    ),
    exploding_gain: float = typer.Option(
        1e3, "--exploding-gain", metavar="X", help="With --model: gain above X is exploding."
    ),
    plot: Optional[str] = typer.Option(
        None,
        "--plot",
        metavar="FILE",
        help="Draw to FILE (.png, .svg, .pdf): the gradient distribution, or with --model the per-layer flow.",
    ),
    dead_fraction: float = typer.Option(
        0.5,
        "--dead-fraction",
        metavar="X",
        help="With --model: a ReLU layer with this share of units never active is dead.",
    ),
    engine: str = EngineOpt,
    scheduler: Optional[str] = SchedulerOpt,
    *,
    data: DataOptions,
    run: RunOptions,
    fmt: str,
    net: ModelOptions,
    gate: GateOptions,
) -> None:
    """Loss value, per-element gradients by torch autograd, and a gradient health verdict.

    Verdicts are judged on the per-sample gradient (N times the mean-reduced one), so they
    do not change with the number of rows; float32 runs are compared with float64 for
    gradients that underflow to zero.

    \b
    Examples:
      losscli grad bce probs.csv labels.csv --top 3
      losscli grad focal logits.csv labels.csv --fail-on vanishing,nonfinite
      losscli grad mse preds.csv targets.csv --out grads.parquet --json
      losscli grad --explain
      losscli grad huber preds.csv targets.csv --explain --element 7
    """
    from losscli import app as application
    from losscli.diagnose import FAIL_ON
    from losscli.i18n import check_lang
    from losscli.render import render_grad
    from losscli.target import resolve

    lang = check_lang(lang if lang or fmt != "json" else "en")  # JSON does not follow the locale
    dask = _engine(
        engine,
        scheduler,
        {
            "--model": net.path is not None,
            "--explain": explain_,
            "--plot": plot is not None,
            "--format csv": fmt == "csv",
        },
    )
    if no_health and (net.path is not None or explain_):
        raise UsageError(
            f"--no-health skips the element health verdict; {'--model' if net.path else '--explain'} needs it"
        )
    if net.path is not None:
        from losscli.network import ModelHealthOptions

        options = ModelHealthOptions(
            vanishing_ratio, exploding_ratio, vanishing_gain, exploding_gain, dead_fraction, lr
        )
        _grad_model(
            loss, param, net, data, run, fmt, options, out, strict, fail_on, fail_above, fail_below, explain_, lang,
            plot, gate, not no_pager,
        )  # fmt: skip
        return
    header = None
    if loss is None:
        if not explain_ or data.files or data.named:
            raise UsageError("grad needs a loss name (only 'losscli grad --explain' runs without one)")
        from losscli.examples import DEFAULT, DEFAULT_LOSS
        from losscli.i18n import msg

        loss, data = DEFAULT_LOSS, replace(data, files=tuple(DEFAULT.paths()))
        header = msg(lang, "bundled", what=DEFAULT.what)
    target = resolve(loss, _trusting(param, loss, net))
    fail_kinds = _fail_on(fail_on, FAIL_ON)
    strict = strict or fail_kinds is not None  # a check the user asked for is never dropped
    if no_health and strict:
        raise UsageError("--strict/--fail-on check the gradient health; drop --no-health")
    application.check_bounds_given(fail_above, fail_below, run.reduction)
    _junit_needs_checks(gate, strict, fail_above is not None, fail_below is not None)
    if gate.asked() and run.reduction == "none":
        raise UsageError("--baseline compares one value: use --reduction mean or sum")
    if header is None and not dask:
        checked = strict or fail_above is not None or fail_below is not None or gate.asked()
        data = _stdin_or_example(data, checked=checked)
    health = HealthOptions(vanishing=vanishing, exploding=exploding, saturation=saturation, top=top)
    from losscli.render import ChunkProgress

    progress = ChunkProgress(f"{target.name}: evaluating" + (" on dask" if dask else ""))
    try:
        if dask:
            from losscli.engines.dask_engine import run_grad

            done = run_grad(
                target, data, reduction=run.reduction, dtype=run.dtype, health=health, out=out, scheduler=scheduler,
                progress=progress, with_health=not no_health,
            )  # fmt: skip
        else:
            done = application.grad(
                target, data, reduction=run.reduction, dtype=run.dtype, health=health, keep_graph=explain_, out=out,
                stream=not plot and fmt != "csv", progress=progress, with_health=not no_health,
            )  # fmt: skip
    finally:
        progress.close()
    _notes(done.loaded.notes)
    ev = done.result.evaluation
    if done.written:
        typer.echo(f"losscli: wrote gradients to {out}", err=True)
    elif out:
        from losscli.io.writers import write_gradients

        write_gradients(out, ev.gradients)
        typer.echo(f"losscli: wrote gradients to {out}", err=True)
    if plot:
        from losscli.plot import plot_gradients

        plot_gradients(ev, done.loaded.arrays, plot)
        typer.echo(f"losscli: drew the gradient distribution of {ev.spec.name} to {plot}", err=True)
    checks = application.bound_checks(ev.value, fail_above, fail_below) if run.reduction != "none" else []
    if run.reduction != "none":
        checks += application.baseline_checks(
            [_current(target.name, done.result)], gate.baseline, gate.max_increase, run.reduction
        )
    if strict:
        checks.append(application.health_check(done.health, fail_kinds))
    if explain_:
        from losscli.explain import narrative
        from losscli.render import render_narrative

        sections = narrative(
            ev, done.health, done.loaded.arrays, lang=lang, element=_element(element, ev), header=header
        )
        render_narrative(sections, fmt=fmt, pager=not no_pager)
    else:
        render_grad(done.result, done.health, fmt, top=top, checks=checks, inputs=done.loaded.provenance)
    _finish(
        "grad",
        [(target.name, checks)],
        gate,
        f"{target.name} = {ev.value!r}, gradient health {done.health.status if done.health else 'skipped'}",
    )


def _trusting(param: Optional[List[str]], loss: Optional[str], net: ModelOptions) -> List[str]:
    """``--trust-model`` without ``--model`` reaches the loss that loads a network (perceptual's features)."""
    items = list(param or [])
    if not net.trust or net.path is not None:
        return items
    from losscli import losses

    try:
        spec = losses.get(loss or "")
    except LossCliError:
        spec = None
    if spec is None or "trust_model" not in [p.name for p in spec.params]:
        raise UsageError("--trust-model applies to --model, or to a loss that loads a network (perceptual)")
    return items + ["trust_model=true"]


def _model_example(
    loss: Optional[str], param: Optional[List[str]], net: ModelOptions, data: DataOptions
) -> tuple[str, List[str], ModelOptions, DataOptions]:
    """``grad [LOSS] --model NAME`` with no files: the bundled example network NAME and its data."""
    from losscli.examples import MODEL_EXAMPLES

    name = (net.path or "").removesuffix(".pt2")
    example = MODEL_EXAMPLES.get(name)
    if example is None or os.path.exists(net.path or ""):
        if loss is None:
            raise UsageError(
                "grad --model needs a loss name: losscli grad LOSS --model FILE [FILES...] "
                f"(or a bundled example network alone: {', '.join(MODEL_EXAMPLES)})"
            )
        raise UsageError(
            f"grad --model needs the files that feed the model (or --feed NAME=FILE,...); bundled examples: "
            f"{', '.join(MODEL_EXAMPLES)}"
        )
    if loss is not None and loss != example.loss:
        raise UsageError(f"the bundled example {name} runs with {example.loss}; give files to use another loss")
    _notes([f"no files given: using the bundled example network {name} ({example.what}) with {example.loss}"])
    model = ModelOptions(example.model_path(name), example.feed_paths(), net.trust)
    return example.loss, list(param or []) + list(example.params), model, replace(data, files=tuple(example.paths()))


def _grad_model(
    loss: Optional[str],
    param: Optional[List[str]],
    net: ModelOptions,
    data: DataOptions,
    run: RunOptions,
    fmt: str,
    options: Any,
    out: Optional[str],
    strict: bool,
    fail_on: Optional[str],
    fail_above: Optional[float],
    fail_below: Optional[float],
    explain_: bool,
    lang: str = "en",
    plot: Optional[str] = None,
    gate: Optional[GateOptions] = None,
    pager: bool = True,
) -> None:
    """``grad --model``: the network's parameter gradients, layer by layer."""
    from losscli import app as application
    from losscli.network import KINDS
    from losscli.render import render_model_grad
    from losscli.target import resolve

    if loss is None or (not data.files and not data.named and not net.feeds):
        loss, param, net, data = _model_example(loss, param, net, data)
    target = resolve(loss, param or [])
    fail_kinds = _fail_on(fail_on, KINDS)
    strict = strict or fail_kinds is not None
    application.check_bounds_given(fail_above, fail_below, run.reduction)
    gate = gate or GateOptions(None, None, None)
    _junit_needs_checks(gate, strict, fail_above is not None, fail_below is not None)
    done = application.grad_model(
        target, data, net.path or "", net.feeds, trust=net.trust, reduction=run.reduction,
        dtype=run.dtype if run.dtype_given else None, options=options,
    )  # fmt: skip
    _notes(done.binding.notes)
    if out:
        from losscli.io.writers import write_gradients

        write_gradients(out, done.run.gradients)
        typer.echo(f"losscli: wrote the gradients of {len(done.run.gradients)} parameters to {out}", err=True)
    if plot:
        from losscli.plot import plot_gradient_flow

        plot_gradient_flow(done.run, plot)
        typer.echo(f"losscli: drew the gradient flow of {len(done.run.layers)} layers to {plot}", err=True)
    value = done.run.evaluation.value
    checks = application.bound_checks(value, fail_above, fail_below)
    ev = done.run.evaluation
    now = application.Current(target.name, value, ev.params, done.run.dtype, None)
    checks += application.baseline_checks([now], gate.baseline, gate.max_increase, run.reduction)
    if strict:
        checks.append(application.health_check(done.run.health, fail_kinds))
    if explain_:
        from losscli.netexplain import model_narrative
        from losscli.render import render_narrative

        if done.binding.model.kind != "pt2":
            raise UsageError("--explain with --model needs a torch.export program (.pt2), not TorchScript")
        render_narrative(model_narrative(done.run, lang, options.lr), fmt=fmt, pager=pager)
    else:
        render_model_grad(done.run, done.binding, fmt, checks=checks)
    _finish(
        "grad", [(target.name, checks)], gate, f"{target.name} = {value!r}, network health {done.run.health.status}"
    )


@app.command(short_help="Several losses on the same data, one table.")
@user_errors
@_options(DATA, EVAL, OUTPUT, GATE)
def compare(
    losses_: str = typer.Argument(
        ...,
        metavar="LOSSES",
        help="Comma list of losses or expressions: mse,mae,huber.",
        autocompletion=_complete_loss_list,
    ),
    with_grad: bool = typer.Option(False, "--grad", help="Add gradient norm, outlier share and health."),
    fail_above: Optional[float] = typer.Option(
        None, "--fail-above", metavar="X", help="Exit 1 if any entry's loss is above X (checked per entry)."
    ),
    fail_below: Optional[float] = typer.Option(
        None, "--fail-below", metavar="X", help="Exit 1 if any entry's loss is below X (checked per entry)."
    ),
    *,
    data: DataOptions,
    run: RunOptions,
    fmt: str,
    gate: GateOptions,
) -> None:
    """Evaluate several losses on the same data and compare them in one table.

    With --grad: the gradient norm, the share of the gradient that the 1% of rows with the
    largest residuals get, and the health verdict of each.

    \b
    Examples:
      losscli compare mse,mae,huber,log-cosh preds.csv targets.csv --grad
      losscli compare "huber(delta=0.5),huber(delta=2)" results.csv --json
    """
    from losscli import app as application
    from losscli.render import render_compare

    application.check_bounds_given(fail_above, fail_below, run.reduction)
    _junit_needs_checks(gate, fail_above is not None, fail_below is not None)
    data = _stdin_or_example(data, checked=fail_above is not None or fail_below is not None or gate.asked())
    done = application.compare(losses_, data, with_grad=with_grad, reduction=run.reduction, dtype=run.dtype)
    _notes(done.loaded.notes)
    checks = [application.bound_checks(r.result.value, fail_above, fail_below, what=r.expr) for r in done.rows]
    entries = [
        application.Current(r.expr, r.result.value, r.result.params, r.result.dtype, r.result.n) for r in done.rows
    ]
    against = application.baseline_checks(entries, gate.baseline, gate.max_increase, run.reduction)  # read once
    for row_checks, check in zip(checks, against):
        row_checks.append(check)
    render_compare(done.rows, fmt, with_grad, checks=checks, inputs=done.loaded.provenance)
    values = ", ".join(f"{r.expr} = {r.result.value!r}" for r in done.rows)
    _finish("compare", [(r.expr, c) for r, c in zip(done.rows, checks)], gate, values)


@app.command("plot", short_help="Draw losses and their derivatives (matplotlib).")
@user_errors
def plot_losses(
    losses_: str = typer.Argument(
        ...,
        metavar="LOSSES",
        help="Comma list of losses: mse,mae,huber or 'huber(delta=0.5),log-cosh'.",
        autocompletion=_complete_loss_list,
    ),
    output: str = typer.Option(..., "--output", "-o", metavar="FILE", help="The picture: .png, .svg or .pdf."),
    x_range: Optional[str] = typer.Option(
        None, "--range", metavar="LO,HI", help="The x axis (default -3,3; 0,1 for losses on probabilities)."
    ),
    target: Optional[float] = typer.Option(
        None, "--target", metavar="Y", help="The target held fixed (default 0 for regression, 1 otherwise)."
    ),
    points: int = typer.Option(401, "--points", metavar="N", help="Points along the x axis."),
) -> None:
    """Draw each loss and its derivative ∂ℓ/∂p (torch autograd) against the residual p - y
    (regression losses) or the prediction p with the target held fixed (classification).

    \b
    Examples:
      losscli plot mse,mae,huber,log-cosh -o regression.png
      losscli plot "bce(from_logits=true),focal,hinge" -o classification.svg
      losscli plot "huber(delta=0.5),huber(delta=2)" -o huber.png --range -5,5
    """
    from losscli.app import loss_curves
    from losscli.plot import plot_curves

    bounds = None
    if x_range is not None:
        try:
            lo, hi = (float(v) for v in x_range.split(","))
        except ValueError:
            raise UsageError(f"--range expects LO,HI (two numbers), got {x_range!r}") from None
        bounds = (lo, hi)
    curves = loss_curves(losses_, target=target, x_range=bounds, points=points)
    plot_curves(curves, output)
    axis = "the residual p - y" if curves.axis == "residual" else f"p with target {curves.target:g}"
    typer.echo(
        f"losscli: drew {', '.join(c.expr for c in curves.curves)} against {axis} on "
        f"[{curves.x[0]:g}, {curves.x[-1]:g}] to {output}",
        err=True,
    )


@app.command("list", short_help="Every loss by family.")
@user_errors
@_options(OUTPUT)
def list_losses(*, fmt: str) -> None:
    """List every loss by family (never imports torch).

    \b
    Examples:
      losscli list
      losscli list --json | jq -r '.losses[].name'
    """
    from losscli import losses
    from losscli.render import render_list

    render_list(losses.by_family(), fmt)


@app.command(short_help="Formula, derivative, inputs, parameters and conventions of a loss.")
@user_errors
@_options(OUTPUT)
def explain(
    loss: str = typer.Argument(
        ..., metavar="LOSS", help="Loss name or alias (see 'losscli list').", autocompletion=_complete_loss
    ),
    lang: Optional[str] = typer.Option(
        None,
        "--lang",
        metavar="LANG",
        help="en or zh-TW (default: zh-TW when LC_ALL/LC_MESSAGES/LANG say zh_TW).",
        autocompletion=_choices("en", "zh-TW"),
    ),
    *,
    fmt: str,
) -> None:
    """Formula, derivative, inputs, parameters and convention of a loss (never imports torch).

    \b
    Examples:
      losscli explain focal
      losscli explain kl-div --lang zh-TW
    """
    from losscli import losses
    from losscli.i18n import check_lang
    from losscli.render import render_explain

    # machine output does not change with the locale: JSON is English unless --lang says otherwise
    render_explain(losses.get(loss), fmt, lang=check_lang(lang if lang or fmt != "json" else "en"))


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _stdin_or_example(data: DataOptions, *, checked: bool) -> DataOptions:
    """With no files at all: read stdin when something is piped into it; else the bundled example,
    but only for a person at a terminal who asked for no check (a CI gate must never pass on
    the example)."""
    if data.files or data.named:
        return data
    if not _stdin_is_terminal():
        return replace(data, files=("-",))
    if checked:
        raise UsageError(
            "a check (--fail-above, --fail-below, --strict, --fail-on) needs data: give files or pipe them into "
            "stdin (the bundled example is only for trying losscli at a terminal)"
        )
    return data


def _notes(notes: list[str]) -> None:
    """What the user should know about the data that was read, one line each on stderr."""
    for note in notes:
        typer.echo(f"losscli: {note}", err=True)


def main() -> None:
    """Entry point of the ``losscli`` console script.

    Runs the app outside Typer's standalone mode so that option-parsing mistakes (an unknown
    option, a missing argument) also end as one line on stderr with exit code 2.
    """
    if sys.stdout is None:  # started with stdout closed (>&-): nothing could be written
        typer.echo(
            "losscli: error: standard output is closed, so no result can be written (redirect it, e.g. > out.json)",
            err=True,
        )
        sys.exit(EXIT_USAGE)
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
