"""Typed parameters: inference from a default, coercion of overrides, and rendering as argv."""

from __future__ import annotations

import re
from typing import Literal

ParamType = Literal["str", "int", "float", "bool", "path"]
ParamValue = str | int | float | bool

PARAM_TYPES: tuple[ParamType, ...] = ("str", "int", "float", "bool", "path")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
# A parameter becomes `--name`: it must look like an option, not a flag cluster or a shell word.
PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def infer_type(value: object) -> ParamType:
    """Return the parameter type of a default value (bool is checked before int, as bool is an int)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def coerce(value: object, kind: ParamType) -> ParamValue:
    """Convert ``value`` to ``kind`` or raise ``ValueError`` saying what was expected.

    Strings are parsed (``"3"`` -> 3 for int); a float with a fractional part is not an int;
    a bool is only ever a bool or one of true/false/yes/no/1/0/on/off.
    """
    if kind in ("str", "path"):
        if isinstance(value, bool | int | float | str):
            return value if isinstance(value, str) else _render(value)
        raise ValueError(f"expects a {kind}, got {type(value).__name__} {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expects a bool (true or false), got {value!r}")
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"expects an int, got the bool {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expects an int, got {value!r}")
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"expects a float, got the bool {value!r}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expects a float, got {value!r}")
    raise ValueError(f"unknown parameter type {kind!r}; use one of {', '.join(PARAM_TYPES)}")


def _render(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_argv(params: dict[str, ParamValue]) -> list[str]:
    """Render parameters as an argv list ``["--name", "value", ...]``; values are never shell-quoted
    because no shell ever sees them."""
    argv: list[str] = []
    for name, value in params.items():
        argv += [f"--{name}", _render(value)]
    return argv
