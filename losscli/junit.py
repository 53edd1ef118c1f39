"""``--junit FILE``: the requested checks as a JUnit XML report (one ``<testcase>`` per check,
a ``<failure>`` for each that failed), the format CI systems (GitHub Actions test reporters,
GitLab's ``artifacts:reports:junit``, Jenkins) read.  Part of the render layer."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from losscli.errors import UsageError


def _threshold(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def report(command: str, groups: Sequence[tuple[str, Iterable[Any]]], value_text: str = "") -> bytes:
    """The XML: a ``<testsuite name="losscli COMMAND">`` with, per entry (a loss or a compare entry)
    and check, ``<testcase classname="losscli.COMMAND" name="ENTRY: CHECK">``: a stable name (the
    threshold, which moves with a baseline, is in the case's ``<system-out>``), and a ``<failure>``
    with the check's message when it failed."""
    cases = []
    for entry, checks in groups:
        for c in checks:
            case = ET.Element("testcase", classname=f"losscli.{command}", name=f"{entry}: {c.check}")
            if not c.passed:
                failure = ET.SubElement(case, "failure", message=c.message or f"{c.check} failed", type=c.check)
                failure.text = c.message
            ET.SubElement(case, "system-out").text = f"threshold: {_threshold(c.threshold)}"
            cases.append(case)
    return _document(command, cases, value_text)


def error_report(command: str, message: str) -> bytes:
    """The report of a run that stopped on a usage or input error (exit 2): one ``<error>`` case, so
    a CI page shows why no check ran instead of a missing or stale file."""
    case = ET.Element("testcase", classname=f"losscli.{command}", name="input")
    error = ET.SubElement(case, "error", message=message, type="input error")
    error.text = message
    return _document(command, [case], "")


def _document(command: str, cases: list[Any], value_text: str) -> bytes:
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors)}
    suite = ET.Element("testsuite", {"name": f"losscli {command}", **counts})
    suite.extend(cases)
    if value_text:
        ET.SubElement(suite, "system-out").text = value_text
    suites = ET.Element("testsuites", counts)
    suites.append(suite)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"


def write(path: str, command: str, groups: Sequence[tuple[str, Iterable[Any]]], value_text: str = "") -> None:
    """Write the report to ``path`` (``-`` is not allowed: stdout holds the result)."""
    groups = [(entry, list(checks)) for entry, checks in groups]
    if not any(checks for _, checks in groups):
        raise UsageError(
            "--junit reports the checks you ask for: add --fail-above/--fail-below, --strict/--fail-on or --baseline"
        )
    _write(path, report(command, groups, value_text))


def _write(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror or exc}") from None


def write_error(path: str, command: str, message: str) -> None:
    """Write :func:`error_report` (a failure to write it is left unsaid: the error itself is said)."""
    try:
        _write(path, error_report(command, message))
    except UsageError:
        pass
