"""Typed configuration: a dataclass read from JSON (or TOML) is checked field by field.

A wrong field is named with what it must be (``budget must be an integer, got '5k'``), an unknown
one with the fields that exist; used for run configurations and every settings object they hold.
"""

from __future__ import annotations

import math
import types
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal, TypeGuard, Union, get_args, get_origin, get_type_hints


def is_number(value: Any) -> TypeGuard[int | float]:
    """An int or float as JSON has it (a bool is not a number here); NaN and inf included."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value: Any) -> TypeGuard[int]:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_fields(cls: type, data: dict[str, Any], prefix: str = "") -> None:
    """``data`` holds every required field of the dataclass ``cls``, no unknown one, each of its type."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {prefix.rstrip('.') or 'configuration'} fields {unknown}; known: {sorted(known)}"
        )
    hints = get_type_hints(cls)
    required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [f"{prefix}{n} ({_describe(hints[n])})" for n in required if n not in data]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    for name, value in data.items():
        _check_type(prefix + name, value, hints[name])


def check_types(obj: Any, prefix: str = "") -> None:
    """Every field of the dataclass instance ``obj`` holds a value of its annotated type."""
    hints = get_type_hints(type(obj))
    for f in fields(obj):
        _check_type(prefix + f.name, getattr(obj, f.name), hints[f.name])


def _check_type(name: str, value: Any, hint: Any) -> None:
    if not _matches(value, hint):
        raise ValueError(f"{name} must be {_describe(hint)}, got {value!r}")


def _matches(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in get_args(hint))
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in get_args(hint))
    if origin is dict:
        key, item = get_args(hint)
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, item) for k, v in value.items()
        )
    if hint is type(None):
        return value is None
    if hint is int:
        return is_integer(value)
    if hint is float:
        return is_number(value) and math.isfinite(value)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in get_args(hint))
    if origin is dict:
        return "an object of strings"
    names = {type(None): "null", int: "an integer", float: "a finite number", str: "a string"}
    if hint is bool:
        return "true or false"
    if is_dataclass(hint):
        return f"an object with the fields {[f.name for f in fields(hint)]}"
    return names.get(hint, getattr(hint, "__name__", str(hint)))
