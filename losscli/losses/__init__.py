"""The loss registry: every loss losscli knows, by canonical name and alias.

Importing this package loads metadata and array-API functions only (numpy at most),
never torch.
"""

from __future__ import annotations

import difflib

from losscli.errors import UsageError
from losscli.losses import (
    classification,
    detection,
    distribution,
    generative,
    image,
    llm,
    margin,
    metric,
    regression,
    regularization,
    sequence,
)
from losscli.spec import LossSpec

REGISTRY: dict[str, LossSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: LossSpec) -> None:
    """Add a loss; its name and aliases must be new."""
    for key in (spec.name, *spec.aliases):
        if key in _ALIASES:
            raise ValueError(f"loss name {key!r} registered twice")
        _ALIASES[key] = spec.name
    REGISTRY[spec.name] = spec


for _module in (
    regression,
    classification,
    margin,
    distribution,
    generative,
    sequence,
    image,
    detection,
    metric,
    regularization,
    llm,
):
    for _spec in _module.SPECS:
        register(_spec)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def get(name: str) -> LossSpec:
    """The spec for a canonical name or alias; UsageError with the nearest names otherwise."""
    key = _normalise(name)
    if key in _ALIASES:
        return REGISTRY[_ALIASES[key]]
    near = difflib.get_close_matches(key, list(_ALIASES), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise UsageError(f"unknown loss {name!r}{hint} (see 'losscli list')")


def by_family() -> dict[str, list[LossSpec]]:
    """Registered losses grouped by family, in registration order."""
    groups: dict[str, list[LossSpec]] = {}
    for spec in REGISTRY.values():
        groups.setdefault(spec.family, []).append(spec)
    return groups
