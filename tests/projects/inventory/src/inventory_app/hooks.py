"""Alembic's ``include_object`` hook, shared by env.py and lumiku-ops's ``[tool.lumiku-ops]``.

Two kinds of tables are the service's own business, never models: the audit log it appends
to from its own code, and the ``inventory_cache_*`` tables its cache warmer creates.
"""

from __future__ import annotations

from typing import Any

NOT_MODELS = {"inventory_audit_log"}
CACHE_PREFIX = "inventory_cache_"


def _is_model_table(name: str | None) -> bool:
    return name is None or (name not in NOT_MODELS and not name.startswith(CACHE_PREFIX))


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Autogenerate compares model objects only."""
    if type_ == "table":
        return _is_model_table(name)
    table = getattr(obj, "table", None)
    return _is_model_table(getattr(table, "name", None))
