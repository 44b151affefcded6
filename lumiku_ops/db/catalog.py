"""What a database really holds, read from the PostgreSQL catalog in one pass per kind.

Every comparison in the package (schema equivalence, drift, "did the downgrade remove
exactly what it created") reads the catalog through here, so they all agree on what
"the same" means: column name, ``format_type``, nullability and default expression;
``pg_get_indexdef``; ``pg_get_constraintdef``; and the objects' names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

# Model tables by name, each as TableInfo.to_dict() without the schema (always public).
TableCatalog = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ColumnInfo:
    """One column as PostgreSQL describes it."""

    name: str
    type: str
    not_null: bool
    default: str | None


@dataclass
class TableInfo:
    """A table's columns (in order), indexes and constraints, keyed by name."""

    schema: str
    name: str
    columns: list[ColumnInfo] = field(default_factory=list)
    indexes: dict[str, str] = field(default_factory=dict)
    constraints: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "schema": self.schema,
            "name": self.name,
            "columns": [vars(c) for c in self.columns],
            "indexes": dict(self.indexes),
            "constraints": dict(self.constraints),
        }


_TABLES = text(
    """
    SELECT c.oid, n.nspname, c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(:schemas)
      AND (CAST(:names AS text[]) IS NULL OR c.relname = ANY(CAST(:names AS text[])))
    """
)
_COLUMNS = text(
    """
    SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = ANY(:oids) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attrelid, a.attnum
    """
)
_INDEXES = text(
    """
    SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = ANY(:oids)
    """
)
_CONSTRAINTS = text(
    """
    SELECT conrelid, conname, pg_get_constraintdef(oid)
    FROM pg_constraint WHERE conrelid = ANY(:oids)
    """
)


def read_tables(
    connection: Connection,
    names: Iterable[str] | None = None,
    *,
    schemas: Iterable[str] = ("public",),
) -> dict[str, TableInfo]:
    """Describe ``names`` (or every table) in ``schemas``, keyed by ``schema.name``.

    Four catalog queries whatever the number of tables, so a catalog of thousands of
    unrelated tables costs milliseconds when only a few names are asked for.
    """
    params = {"schemas": list(schemas), "names": list(names) if names is not None else None}
    tables: dict[int, TableInfo] = {
        oid: TableInfo(schema=schema, name=name)
        for oid, schema, name in connection.execute(_TABLES, params)
    }
    oids = list(tables)
    if oids:
        for oid, name, type_, not_null, default in connection.execute(_COLUMNS, {"oids": oids}):
            tables[oid].columns.append(ColumnInfo(name, type_, bool(not_null), default))
        for oid, name, definition in connection.execute(_INDEXES, {"oids": oids}):
            tables[oid].indexes[name] = definition
        for oid, name, definition in connection.execute(_CONSTRAINTS, {"oids": oids}):
            tables[oid].constraints[name] = definition
    return {f"{t.schema}.{t.name}": t for t in tables.values()}


def read_model_tables(
    connection: Connection,
    names: Iterable[str] | None = None,
    *,
    is_model: Callable[[str], bool] | None = None,
) -> TableCatalog:
    """The tables in ``public`` (of ``names``, default all) that ``is_model`` accepts.

    ``is_model`` is the project's filter of non-model objects (``Project.is_model_object``);
    without it every table read counts.
    """
    catalog: TableCatalog = {}
    for info in read_tables(connection, names).values():
        if is_model is None or is_model(info.name):
            entry = info.to_dict()
            entry.pop("schema")
            catalog[info.name] = entry
    return catalog


def snapshot(connection: Connection, *, schemas: Iterable[str] = ("public",)) -> dict[str, Any]:
    """Everything in ``schemas`` as plain data: tables, plus sequences, views and types."""
    schema_list = list(schemas)
    others = connection.execute(
        text(
            """
            SELECT c.relkind::text, c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('S', 'v', 'm')
            UNION ALL
            SELECT 'type', t.typname FROM pg_type t
            JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = ANY(:schemas) AND t.typtype IN ('e', 'd', 'c')
              AND NOT EXISTS (
                SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c'
              )
            ORDER BY 1, 2
            """
        ),
        {"schemas": schema_list},
    ).all()
    return {
        "tables": {k: v.to_dict() for k, v in read_tables(connection, schemas=schema_list).items()},
        "other": [tuple(row) for row in others],
    }
