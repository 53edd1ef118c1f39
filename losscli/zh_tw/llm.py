"""Traditional Chinese texts of the fused LLM-head loss (losscli/losses/llm.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {}
