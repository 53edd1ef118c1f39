"""Traditional Chinese texts of the image and detection losses (losscli/losses/image.py, losscli/losses/detection.py):
summary, derivative, convention, differs, when (as losscli/i18n_zh_tw.py)."""

from __future__ import annotations

LOSS_TEXTS: dict[str, dict[str, str]] = {}
