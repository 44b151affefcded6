"""What a role may do on the model tables, asked of PostgreSQL (``has_table_privilege``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


@dataclass
class RolePrivileges:
    """The privileges ``role`` lacks on each existing model table (none: all granted)."""

    role: str
    exists: bool
    schema_usage: bool = True
    missing: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "role": self.role,
            "exists": self.exists,
            "schema_usage": self.schema_usage,
            "missing": self.missing,
        }


def read_role_privileges(
    connection: Connection,
    role: str,
    tables: Iterable[str],
    privileges: Sequence[str] = PRIVILEGES,
) -> RolePrivileges:
    """Ask PostgreSQL, table by table, which of ``privileges`` ``role`` lacks; reads only."""
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).scalar()
    if exists is None:
        return RolePrivileges(role=role, exists=False)
    usage = bool(
        connection.execute(
            text("SELECT has_schema_privilege(:role, 'public', 'USAGE')"), {"role": role}
        ).scalar()
    )
    result = RolePrivileges(role=role, exists=True, schema_usage=usage)
    for table in sorted(tables):
        qualified = 'public."' + table.replace('"', '""') + '"'
        lacking = [
            privilege
            for privilege in privileges
            if not connection.execute(
                text("SELECT has_table_privilege(:role, :table, :privilege)"),
                {"role": role, "table": qualified, "privilege": privilege},
            ).scalar()
        ]
        if lacking:
            result.missing[table] = lacking
    return result
