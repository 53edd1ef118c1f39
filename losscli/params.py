"""Parse ``-p name=value`` options against a loss's declared parameters."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from losscli.errors import UsageError
from losscli.spec import LossSpec, Param

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # every int parameter reaches torch as an int64

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
    """A finite float: NaN and ±inf are refused for every parameter (none takes them)."""
    try:
        value = float(text)
    except ValueError:
        also = f" or one of {' | '.join(param.choices)}" if param.choices else ""
        raise UsageError(f"parameter {param.name} of {spec.name} must be a number{also}, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"parameter {param.name} of {spec.name} must be finite, got {text!r}")
    return value


def _integer(param: Param, text: str, spec: LossSpec) -> int:
    """A whole number within int64, read exactly ("9007199254740993" stays itself; "1e3" is 1000)."""
    out_of_range = UsageError(
        f"parameter {param.name} of {spec.name} must be a whole number within int64 "
        f"[{INT64_MIN}, {INT64_MAX}], got {text!r}"
    )
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise UsageError(f"parameter {param.name} of {spec.name} must be a whole number, got {text!r}") from None
        if math.isinf(number):  # "1e400", or more digits than int() reads
            raise out_of_range from None
        if not math.isfinite(number) or number != int(number):
            raise UsageError(f"parameter {param.name} of {spec.name} must be a whole number, got {text!r}") from None
        value = int(number)
    if not INT64_MIN <= value <= INT64_MAX:
        raise out_of_range
    return value


def _check_range(param: Param, value: float, spec: LossSpec) -> None:
    too_low = param.low is not None and (value <= param.low if param.low_open else value < param.low)
    too_high = param.high is not None and (value >= param.high if param.high_open else value > param.high)
    if too_low or too_high:
        named = f" (or one of {' | '.join(param.choices)})" if param.choices else ""
        raise UsageError(
            f"parameter {param.name} of {spec.name} must be "
            f"{'in ' if param.describe_range()[:1] in '[(' else ''}{param.describe_range()}{named}, got {value:g}"
        )


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
    if param.choices and param.kind in ("float", "int") and text.lower() in param.choices:
        return text.lower()  # a named value beside the numbers (bce's clip=eps)
    if param.kind == "floats":
        values = tuple(_number(param, part, spec) for part in text.split(",") if part.strip())
        if not values:
            raise UsageError(f"parameter {param.name} of {spec.name} must be a comma list of numbers")
        for v in values:
            _check_range(param, v, spec)
        return values
    value: float = _integer(param, text, spec) if param.kind == "int" else _number(param, text, spec)
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
