"""Sequence losses (see issue 4).  Filled in by the sequence work; registered from losses/__init__.py."""

from __future__ import annotations

from losscli.spec import LossSpec

SPECS: list[LossSpec] = []
