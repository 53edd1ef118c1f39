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
    """The XML: a ``<testsuite name="losscli COMMAND">`` with, per entry (a loss or a compare
    entry) and check, ``<testcase classname="losscli.COMMAND.ENTRY" name="CHECK THRESHOLD">``."""
    cases = []
    for entry, checks in groups:
        for c in checks:
            case = ET.Element(
                "testcase", classname=f"losscli.{command}.{entry}", name=f"{c.check} {_threshold(c.threshold)}"
            )
            if not c.passed:
                failure = ET.SubElement(case, "failure", message=c.message or f"{c.check} failed", type=c.check)
                failure.text = c.message
            cases.append(case)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    suite = ET.Element(
        "testsuite", name=f"losscli {command}", tests=str(len(cases)), failures=str(failures), errors="0"
    )
    suite.extend(cases)
    if value_text:
        ET.SubElement(suite, "system-out").text = value_text
    suites = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures), errors="0")
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
    data = report(command, groups, value_text)
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise UsageError(f"cannot write the JUnit report {path}: {exc.strerror or exc}") from None
