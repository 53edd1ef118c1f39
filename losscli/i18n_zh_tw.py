"""Traditional Chinese texts of every registered loss (summary, derivative, convention,
differs, when).  Formulas are shared with English.  tests/test_i18n.py checks that every
registered loss has all five fields here."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {}
