"""losscli: a command-line loss calculator and gradient inspector, and its Python API.

``losscli.compute``, ``grad``, ``compare`` and ``inspect_model`` (see :mod:`losscli.api`) are
imported on first use, so ``import losscli`` (and the CLI's ``--help``) stays light.
"""

from __future__ import annotations

from typing import Any

from losscli.errors import InputError, LossCliError, UsageError

__version__ = "0.1.0"
# The version of the JSON output contract (``schema_version`` in every object; losscli/schemas/).
SCHEMA_VERSION = 1
__all__ = ["InputError", "LossCliError", "UsageError", "compare", "compute", "grad", "inspect_model", "list_losses"]

_API = ("compute", "grad", "compare", "inspect_model", "LossResult", "CompareResult", "ModelResult")


def list_losses() -> dict[str, list[str]]:
    """Registered loss names by family (what ``losscli list`` shows), without importing torch."""
    from losscli import losses

    return {family: [s.name for s in specs] for family, specs in losses.by_family().items()}


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


def __getattr__(name: str) -> Any:
    if name in _API:
        from losscli import api

        return getattr(api, name)
    raise AttributeError(f"module 'losscli' has no attribute {name!r}")
