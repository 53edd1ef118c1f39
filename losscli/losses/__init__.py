"""The loss registry: every loss losscli knows, by canonical name and alias.

Importing this package loads metadata and array-API functions only (numpy at most),
never torch.  The family modules are imported when first needed: :func:`get` imports the
one module that defines a name (:mod:`losscli.losses._index` says which), and anything that
reads the whole registry (``REGISTRY``, :func:`by_family`) imports them all, in one fixed order.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from losscli.errors import UsageError
from losscli.losses._index import MODULES
from losscli.spec import LossSpec

# the family modules, in the order ``losscli list`` shows them
FAMILY_MODULES = (
    "regression",
    "classification",
    "margin",
    "distribution",
    "generative",
    "sequence",
    "image",
    "detection",
    "metric",
    "regularization",
    "llm",
)

_ALIASES: dict[str, str] = {}
_SPECS: dict[str, LossSpec] = {}
_LOADED: set[str] = set()


def _load(module: str) -> None:
    """Import one family module and register its losses (their names and aliases must be new)."""
    if module in _LOADED:
        return
    specs = importlib.import_module(f"losscli.losses.{module}").SPECS
    _LOADED.add(module)
    for spec in specs:
        register(spec)


def register(spec: LossSpec) -> None:
    """Add a loss; its name and aliases must be new."""
    for key in (spec.name, *spec.aliases):
        if key in _ALIASES:
            raise ValueError(f"loss name {key!r} registered twice")
        _ALIASES[key] = spec.name
    _SPECS[spec.name] = spec


_ORDERED: list[bool] = []  # set once the specs are in the fixed family order


def _load_all() -> dict[str, LossSpec]:
    """Every family imported; the specs in the fixed family order (whatever was imported first)."""
    if not _ORDERED:
        _ORDERED.append(True)
        for module in FAMILY_MODULES:
            _load(module)
        ordered = {}
        for module in FAMILY_MODULES:
            for spec in importlib.import_module(f"losscli.losses.{module}").SPECS:
                ordered[spec.name] = spec
        extra = {name: spec for name, spec in _SPECS.items() if name not in ordered}  # registered by hand
        _SPECS.clear()
        _SPECS.update(ordered)
        _SPECS.update(extra)
    return _SPECS


class _Registry(dict):
    """``REGISTRY``: canonical name -> spec, every family imported on first use."""

    def __getitem__(self, key: str) -> LossSpec:
        return _load_all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_load_all())

    def __len__(self) -> int:
        return len(_load_all())

    def __contains__(self, key: object) -> bool:
        return key in _load_all()

    def __repr__(self) -> str:
        return repr(_load_all())

    def __eq__(self, other: object) -> bool:
        return _load_all() == other

    __hash__ = None

    def get(self, key: str, default: Any = None) -> Any:
        return _load_all().get(key, default)

    def keys(self) -> Any:
        return _load_all().keys()

    def values(self) -> Any:
        return _load_all().values()

    def items(self) -> Any:
        return _load_all().items()


REGISTRY: dict[str, LossSpec] = _Registry()


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def get(name: str) -> LossSpec:
    """The spec for a canonical name or alias; UsageError with the nearest names otherwise."""
    key = _normalise(name)
    if key not in _ALIASES and key in MODULES:
        _load(MODULES[key])
    if key in _ALIASES:
        return _SPECS[_ALIASES[key]]
    import difflib

    _load_all()
    if key in _ALIASES:  # registered by hand, or an index out of date
        return _SPECS[_ALIASES[key]]
    near = difflib.get_close_matches(key, list(_ALIASES), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise UsageError(f"unknown loss {name!r}{hint} (see 'losscli list')")


def by_family() -> dict[str, list[LossSpec]]:
    """Registered losses grouped by family, in registration order."""
    groups: dict[str, list[LossSpec]] = {}
    for spec in _load_all().values():
        groups.setdefault(spec.family, []).append(spec)
    return groups
