"""Rows to JSON the way the original's Prisma client serialised them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect

from service.models import Base


def iso_millis(value: datetime) -> str:
    """``2025-10-18T15:06:48.123Z``: UTC, milliseconds, a ``Z`` suffix."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def row_to_dict(row: Base) -> dict[str, Any]:
    """Every scalar column under its model field name; datetimes as ISO strings."""
    out: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        value = getattr(row, attr.key)
        out[attr.key] = iso_millis(value) if isinstance(value, datetime) else value
    return out
