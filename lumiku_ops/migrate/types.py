"""Whether a column type change keeps every value: the judgement ``migrate create`` and
``lint`` share, so a planned change is called narrowing by the same rule that leaves it out
of a new revision."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# What a type change does to the rows already there is PostgreSQL's business, so the types
# are judged as PostgreSQL receives them: compiled for its dialect (which resolves variants
# and TypeDecorators the way the DDL would). Built-in type names compile in upper case; a
# user type (an enum, a domain) compiles to its own name and is never taken for one of them.
_TYPE_DDL = re.compile(r"([A-Z][A-Z0-9_]*(?: [A-Z]+)*?)(?:\((\d+(?:, ?\d+)?)\))?((?: [A-Z]+)*)")
_TYPE_SYNONYMS = {
    "CHARACTER VARYING": "VARCHAR",
    "NVARCHAR": "VARCHAR",
    "CHARACTER": "CHAR",
    "NCHAR": "CHAR",
    "BPCHAR": "CHAR",
    "INT": "INTEGER",
    "INT2": "SMALLINT",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "DECIMAL": "NUMERIC",
    "FLOAT4": "REAL",
    "FLOAT8": "DOUBLE PRECISION",
}
_STRINGS = {"VARCHAR", "TEXT"}  # VARCHAR without a length is as unbounded as TEXT
# Per integer type, the decimal digits and the bits of its largest value; per float type,
# its mantissa's bits: an integer fits a float exactly when it has no more bits.
_INTEGERS = {"SMALLINT": (5, 15), "INTEGER": (10, 31), "BIGINT": (19, 63)}
_FLOAT_BITS = {"REAL": 24, "DOUBLE PRECISION": 53}
_TIMES = {
    "TIMESTAMP WITHOUT TIME ZONE",
    "TIMESTAMP WITH TIME ZONE",
    "TIME WITHOUT TIME ZONE",
    "TIME WITH TIME ZONE",
}
_DEFAULT_TIME_PRECISION = 6


@dataclass(frozen=True)
class _PgType:
    """A column type as PostgreSQL names it: ``NUMERIC(10, 2)`` is ("NUMERIC", (10, 2))."""

    name: str
    arguments: tuple[int, ...]
    dimensions: int  # of an array; 0 for a scalar
    collation: str | None = None  # changing it re-sorts, and may break a unique index


def _postgresql_type(type_: Any) -> _PgType | None:
    """``type_`` as PostgreSQL receives it, or None when it is not one we can judge."""
    from sqlalchemy.dialects import postgresql

    if type_ is None:
        return None
    try:
        ddl = str(type_.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    except Exception:  # a type this dialect cannot render: unknown, so not widening
        return None
    ddl, _, collation = " ".join(ddl.split()).partition(" COLLATE ")
    scalar = re.sub(r"(\[\d*\])+$", "", ddl)
    dimensions = ddl[len(scalar) :].count("[")
    match = _TYPE_DDL.fullmatch(scalar)
    if match is None:  # a user type (an enum, a domain): only ever equal to itself
        return _PgType(scalar, (), dimensions, collation or None)
    name = " ".join(filter(None, [match[1], match[3].strip()]))
    arguments = tuple(int(a) for a in match[2].split(",")) if match[2] else ()
    if name == "FLOAT":  # FLOAT(p) is REAL up to 24 bits of precision, DOUBLE PRECISION above
        name = "REAL" if arguments and arguments[0] <= 24 else "DOUBLE PRECISION"
        arguments = ()
    return _PgType(_TYPE_SYNONYMS.get(name, name), arguments, dimensions, collation or None)


def _numeric_holds(new: _PgType, precision: int, scale: int) -> bool:
    """Whether NUMERIC ``new`` holds every value of a NUMERIC(precision, scale) exactly."""
    if not new.arguments:  # unconstrained
        return True
    new_precision, new_scale = (*new.arguments, 0)[:2]
    return new_scale >= scale and new_precision - new_scale >= precision - scale


def _scalar_widens(old: _PgType, new: _PgType) -> bool:
    if old.name in _STRINGS and new.name in _STRINGS:
        old_length = old.arguments[0] if old.name == "VARCHAR" and old.arguments else None
        new_length = new.arguments[0] if new.name == "VARCHAR" and new.arguments else None
        return new_length is None or (old_length is not None and new_length >= old_length)
    if old.name == "CHAR" and new.name == "CHAR":  # CHAR alone is CHAR(1)
        # (CHAR to VARCHAR or TEXT is not here: PostgreSQL strips the trailing blanks.)
        return (*new.arguments, 1)[0] >= (*old.arguments, 1)[0]
    if old.name in _INTEGERS:
        digits, bits = _INTEGERS[old.name]
        if new.name in _INTEGERS:
            return _INTEGERS[new.name][1] >= bits
        if new.name in _FLOAT_BITS:
            return _FLOAT_BITS[new.name] >= bits
        return new.name == "NUMERIC" and _numeric_holds(new, digits, 0)
    if old.name in _FLOAT_BITS:  # (to NUMERIC, PostgreSQL rounds to 15 digits)
        return new.name in _FLOAT_BITS and _FLOAT_BITS[new.name] >= _FLOAT_BITS[old.name]
    if old.name == "NUMERIC" and new.name == "NUMERIC":
        if not old.arguments:
            return not new.arguments
        return _numeric_holds(new, *(*old.arguments, 0)[:2])
    if old.name in _TIMES and new.name == old.name:  # the time zone kept, a finer precision
        default = _DEFAULT_TIME_PRECISION
        return (*new.arguments, default)[0] >= (*old.arguments, default)[0]
    return False


def widens(old: Any, new: Any) -> bool:
    """True when PostgreSQL changes a column from type ``old`` to ``new`` without losing or
    rejecting any value it holds: a longer or unbounded string (``VARCHAR(20)`` to
    ``VARCHAR(50)`` or ``TEXT``), a wider integer, an integer to a float or ``NUMERIC`` that
    holds it exactly, a float with more bits, a ``NUMERIC`` with as many digits either side of
    the point or more, a finer time with the same time zone, or the same type.

    Anything else (shorter, fewer digits, a string to a number, another time zone or
    collation, a type it cannot judge such as an enum or a domain) could lose or reject
    data, or is not known not to: it counts as narrowing.
    """
    before, after = _postgresql_type(old), _postgresql_type(new)
    if before is None or after is None:
        return False
    if (before.dimensions, before.collation) != (after.dimensions, after.collation):
        return False
    return before == after or _scalar_widens(before, after)
