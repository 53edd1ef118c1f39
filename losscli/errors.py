"""Errors that become one-line messages and exit codes.

Every mistake a user can make (a missing file, a bad cell, an unknown loss, an
ill-typed parameter) is raised as a :class:`LossCliError`.  The CLI catches it,
prints ``losscli: error: <message>`` on stderr and exits with ``exit_code``
(2 for usage and input errors).  Nothing else in the package prints errors.
"""

from __future__ import annotations

EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


class LossCliError(Exception):
    """A user-facing error: one line, no traceback, exit code 2."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(LossCliError):
    """Bad command line: unknown loss, unknown or ill-typed parameter, bad option."""


class InputError(LossCliError):
    """Bad input data.  The message is prefixed with ``file:line:column`` when known.

    ``line`` is 1-based as a text editor counts lines (so the header of a CSV is line 1);
    ``column`` is the column name or 1-based column number.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: str | int | None = None,
    ) -> None:
        where = []
        if source is not None:
            where.append(str(source))
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.source = source
        self.line = line
        self.column = column
