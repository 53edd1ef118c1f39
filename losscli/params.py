"""Parse ``-p name=value`` options against a loss's declared parameters."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from losscli.errors import UsageError
from losscli.spec import LossSpec, Param

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _valid_list(spec: LossSpec) -> str:
    if not spec.params:
        return f"{spec.name} takes no parameters"
    return "valid: " + ", ".join(f"{p.name} ({p.kind}, default {format_default(p.default)})" for p in spec.params)


def format_default(value: Any) -> str:
    """A default as the user would type it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(param: Param, text: str, spec: LossSpec) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"parameter {param.name} of {spec.name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"parameter {param.name} of {spec.name} must be finite, got {text!r}")
    return value


def _check_range(param: Param, value: float, spec: LossSpec) -> None:
    too_low = param.low is not None and (value <= param.low if param.low_open else value < param.low)
    too_high = param.high is not None and (value >= param.high if param.high_open else value > param.high)
    if too_low or too_high:
        raise UsageError(f"parameter {param.name} of {spec.name} must be {param.describe_range()}, got {value:g}")


def convert(param: Param, text: str, spec: LossSpec) -> Any:
    """Turn the text of ``-p name=text`` into the parameter's type, checking its range."""
    text = text.strip()
    if param.kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise UsageError(f"parameter {param.name} of {spec.name} must be true or false, got {text!r}")
    if param.kind == "choice":
        if text not in param.choices:
            raise UsageError(
                f"parameter {param.name} of {spec.name} must be one of {param.describe_range()}, got {text!r}"
            )
        return text
    if param.kind == "str":
        if not text:
            raise UsageError(f"parameter {param.name} of {spec.name} must not be empty")
        return text
    if param.default is None and text.lower() == "none" and param.kind in ("float", "int", "floats"):
        return None
    if param.kind == "floats":
        values = tuple(_number(param, part, spec) for part in text.split(",") if part.strip())
        if not values:
            raise UsageError(f"parameter {param.name} of {spec.name} must be a comma list of numbers")
        for v in values:
            _check_range(param, v, spec)
        return values
    value = _number(param, text, spec)
    if param.kind == "int":
        if value != int(value):
            raise UsageError(f"parameter {param.name} of {spec.name} must be a whole number, got {text!r}")
        value = int(value)
    _check_range(param, value, spec)
    return value


def parse_params(spec: LossSpec, items: Iterable[str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every declared parameter of ``spec``: ``base`` (default: the declared defaults)
    overridden by ``name=value`` items."""
    values = dict(base) if base is not None else {p.name: p.default for p in spec.params}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"-p expects name=value, got {item!r}; {_valid_list(spec)}")
        param = spec.param(name)
        if param is None:
            raise UsageError(f"unknown parameter {name!r} for {spec.name}; {_valid_list(spec)}")
        values[name] = convert(param, text, spec)
    return values
