"""What a role may do on the model tables, asked of PostgreSQL (``has_table_privilege``),
and who owns them (only the owner may ``DROP`` or ``ALTER`` a table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    schemas: dict[str, str] = field(default_factory=dict)  # each table's, when not public

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "role": self.role,
            "exists": self.exists,
            "schema_usage": self.schema_usage,
            "missing": self.missing,
        }


def _qualified(schema: str, table: str) -> str:
    return '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'


def read_role_privileges(
    connection: Connection,
    role: str,
    tables: Iterable[str],
    privileges: Sequence[str] = PRIVILEGES,
    schemas: Mapping[str, str] | None = None,
) -> RolePrivileges:
    """Ask PostgreSQL, table by table, which of ``privileges`` ``role`` lacks; reads only.

    ``schemas`` gives a table's schema when it is not ``public``.
    """
    schemas = schemas or {}
    tables = sorted(tables)
    exists = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).scalar()
    if exists is None:
        return RolePrivileges(role=role, exists=False)
    usage = all(
        connection.execute(
            text("SELECT has_schema_privilege(:role, :schema, 'USAGE')"),
            {"role": role, "schema": schema},
        ).scalar()
        for schema in sorted({schemas.get(table, "public") for table in tables} | {"public"})
    )
    result = RolePrivileges(role=role, exists=True, schema_usage=usage)
    for table in tables:
        schema = schemas.get(table, "public")
        if schema != "public":
            result.schemas[table] = schema
        qualified = _qualified(schema, table)
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


def read_table_owners(
    connection: Connection, tables: Iterable[str], schemas: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each of ``tables``' owner role, from the catalog, in one query; reads only."""
    schemas = schemas or {}
    names = sorted(tables)
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN unnest(CAST(:schemas AS text[]), CAST(:tables AS text[])) AS t(nsp, rel) "
            "ON n.nspname = t.nsp AND c.relname = t.rel"
        ),
        {"schemas": [schemas.get(name, "public") for name in names], "tables": names},
    )
    return {str(table): str(owner) for table, owner in rows}
