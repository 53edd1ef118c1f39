"""Option types of the commands: each group of command-line options as one value, built once.

Pure dataclasses with no heavy imports: the CLI builds them on every invocation, ``--help``
included (the way sqlite-utils shares ``output_options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from losscli.errors import UsageError


@dataclass(frozen=True)
class DataOptions:
    """Where a command's data comes from, built once from the command line.

    ``files``: positional files in the target's input order (``-`` is stdin).  ``named``:
    ``--input NAME=FILE``.  ``columns``: ``--col NAME=COLUMN`` with ``--pred-col`` and
    ``--target-col`` folded in.  ``input_format``/``delimiter``: how to read them.
    ``allow_nonfinite``: accept NaN/inf.  ``sample_weights``: a file of per-sample weights.
    ``example_allowed``: with no files at all, run the target's bundled example (the CLI
    allows it only for a person at a terminal who asked for no check).  ``chunk_rows``: read and
    evaluate the data this many rows at a time (large files stream on their own; see ``losscli.app``).
    """

    files: tuple[str, ...] = ()
    named: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    input_format: str | None = None
    delimiter: str | None = None
    allow_nonfinite: bool = False
    sample_weights: str | None = None
    example_allowed: bool = True
    chunk_rows: int | None = None


@dataclass(frozen=True)
class HealthOptions:
    """The thresholds of the gradient health verdict (see :mod:`losscli.diagnose`)."""

    vanishing: float = 1e-7
    exploding: float = 1e4
    saturation: float = 1e-7
    top: int = 5

    def check(self) -> None:
        if not (0 < self.vanishing < self.exploding):
            raise UsageError("thresholds must satisfy 0 < --vanishing < --exploding")
        if self.top < 0:
            raise UsageError("--top must be >= 0")


@dataclass(frozen=True)
class RunOptions:
    """``--reduction`` and ``--dtype``: how the loss is reduced and in which precision."""

    reduction: str = "mean"
    dtype: str = "float64"
    dtype_given: bool = False  # --dtype was on the command line (with --model: cast the network to it)
