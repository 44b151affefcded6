"""Compare a JSON body with an expectation: exactly, or by a small "shape" language.

A shape describes the types in a JSON document without fixing its values:

* a type name, as a string: ``"string"``, ``"integer"``, ``"number"`` (integer or
  decimal), ``"boolean"``, ``"null"``, ``"array"``, ``"object"`` or ``"any"``; several
  names joined by ``|`` accept any of them (``"object|null"``);
* an object of shapes: the value is an object holding at least those keys, each matching
  its shape (other keys are allowed, so new fields do not break a check);
* a list of exactly one shape: the value is an array whose every item matches it
  (``[{"id": "string"}]``); an empty array matches.

For example ``{"jobs": [{"id": "string"}], "stats": {"totalBatches": "integer"}}``.

Booleans are never numbers here (JSON says so, Python does not), in shapes and in exact
comparison alike.
"""

from __future__ import annotations

import json
from typing import Any

from lumiku_ops.errors import ConfigError

TYPE_NAMES = ("string", "integer", "number", "boolean", "null", "array", "object", "any")
_EXCERPT = 60


def json_type(value: Any) -> str:
    """The shape type name of a decoded JSON ``value`` (``integer`` before ``number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def validate_shape(shape: Any, where: str = "$") -> None:
    """Check that ``shape`` is written in the shape language.

    Raises:
        ConfigError: an unknown type name, a list without exactly one element, or any
            other value; the message names the place in the shape.
    """
    if isinstance(shape, str):
        unknown = [name for name in _names(shape) if name not in TYPE_NAMES]
        if unknown or not _names(shape):
            raise ConfigError(
                f"shape at {where}: unknown type '{shape}'; use one of {', '.join(TYPE_NAMES)}"
            )
    elif isinstance(shape, dict):
        for key, sub in shape.items():
            validate_shape(sub, f"{where}.{key}")
    elif isinstance(shape, list):
        if len(shape) != 1:
            raise ConfigError(
                f"shape at {where}: a list describes array items with exactly one shape, "
                f"not {len(shape)}"
            )
        validate_shape(shape[0], f"{where}[]")
    else:
        raise ConfigError(
            f"shape at {where}: {json.dumps(shape)} is not a type name, an object or a list"
        )


def match_shape(shape: Any, value: Any, where: str = "$") -> list[str]:
    """Every place where ``value`` does not fit ``shape``, as hurl-style lines.

    Returns:
        Lines such as ``expected <integer> at $.stats.totalBatches, actual <string>``;
        empty when the value fits.
    """
    actual = json_type(value)
    if isinstance(shape, str):
        names = _names(shape)
        if "any" in names or actual in names or (actual == "integer" and "number" in names):
            return []
        return [f"expected <{shape}> at {where}, actual <{actual}>"]
    if isinstance(shape, dict):
        if actual != "object":
            return [f"expected <object> at {where}, actual <{actual}>"]
        problems: list[str] = []
        for key, sub in shape.items():
            if key not in value:
                problems.append(f"expected key <{key}> at {where}, actual <missing>")
            else:
                problems.extend(match_shape(sub, value[key], f"{where}.{key}"))
        return problems
    if actual != "array":
        return [f"expected <array> at {where}, actual <{actual}>"]
    problems = []
    for index, item in enumerate(value):
        problems.extend(match_shape(shape[0], item, f"{where}[{index}]"))
    return problems


def first_difference(expected: Any, actual: Any, where: str = "$") -> str | None:
    """The first place where ``actual`` differs from ``expected``, or ``None`` if equal.

    Returns:
        A line such as ``expected <0> at $.stats.totalBatches, actual <3>``.
    """
    if json_type(expected) != json_type(actual) and not _both_numbers(expected, actual):
        return f"expected <{_excerpt(expected)}> at {where}, actual <{_excerpt(actual)}>"
    if isinstance(expected, dict):
        for key in expected:
            if key not in actual:
                return f"expected key <{key}> at {where}, actual <missing>"
            found = first_difference(expected[key], actual[key], f"{where}.{key}")
            if found:
                return found
        extra = [key for key in actual if key not in expected]
        if extra:
            return f"expected no key <{extra[0]}> at {where}, actual <present>"
        return None
    if isinstance(expected, list):
        for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(want, got, f"{where}[{index}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"expected <{len(expected)} items> at {where}, actual <{len(actual)} items>"
        return None
    if expected != actual:
        return f"expected <{_excerpt(expected)}> at {where}, actual <{_excerpt(actual)}>"
    return None


def _names(shape: str) -> list[str]:
    return [name.strip() for name in shape.split("|") if name.strip()]


def _both_numbers(left: Any, right: Any) -> bool:
    return {json_type(left), json_type(right)} <= {"integer", "number"}


def _excerpt(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."
