"""Create the models on an empty database, keeping whatever PostgreSQL accepts.

The models' catalog (what the models expect, as PostgreSQL renders it) comes from creating
them on a scratch database. ``metadata.create_all`` is all or nothing, yet real models hold
objects PostgreSQL refuses (a foreign key to a column with no unique constraint works on
SQLite, where the project was written), and ``alembic check`` never creates the models, so
such a project must still be diagnosed. So the models are first created as
``create_all`` creates them; only if that fails are they created again piece by piece:
the tables without their constraints and indexes, then each constraint, index and foreign
key in a SAVEPOINT of its own. What PostgreSQL refuses is left out and returned as a
``Refusal``, never raised.

Only the objects the models' module declared are created (``pristine``): revision modules
can attach more objects to the shared tables when imported (MLflow's add two copies of the
``runs`` check constraints), and the replay imports every revision. Two constraints or two
indexes of one table with the same name are created once (the first declared), for when
the revisions were imported before the models were first read.

The models' own objects are hidden from their tables only while this module creates them,
and always restored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    Constraint,
    ForeignKeyConstraint,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import AddConstraint

from lumiku_ops.errors import database_reason

SchemaItem = Constraint | Index


@dataclass(frozen=True)
class Refusal:
    """One object the models declare that PostgreSQL refuses to create."""

    kind: str  # "table", "foreign_key", "unique_constraint", "check_constraint", "index", ...
    table: str
    name: str | None
    what: str  # "foreign key input_tags(input_uuid) -> inputs(input_uuid)"
    sql: str
    reason: str  # PostgreSQL's own first line

    def describe(self) -> str:
        """One line: what the models declare, and why PostgreSQL refuses it."""
        return f"the models declare {self.what}, which PostgreSQL refuses: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``detail`` is ``describe()``)."""
        return {
            "kind": self.kind,
            "table": self.table,
            "name": self.name,
            "sql": self.sql,
            "reason": self.reason,
            "detail": self.describe(),
        }


@contextmanager
def pristine(
    metadata: MetaData, as_imported: Mapping[str, frozenset[Any]] | None = None
) -> Iterator[list[Table]]:
    """The models' tables, dependency-sorted, holding only what their module declared.

    While the context is open, each table's constraints and indexes that are not in
    ``as_imported`` (``Project.metadata_as_imported``), and all but the first declared of
    those sharing a name, are hidden from the table. A table the snapshot lacks (a models
    module imported later) keeps all its objects but the duplicate names.
    """
    tables = list(metadata.sorted_tables)
    hidden: dict[Table, list[SchemaItem]] = {}
    for table in tables:
        declared = None if as_imported is None else as_imported.get(table.key)
        extra = [
            item
            for item in _items(table)
            if declared is not None and item not in declared and item is not table.primary_key
        ]
        extra += _duplicates([i for i in _items(table) if i not in extra])
        if extra:
            hidden[table] = extra
    with _hidden(hidden):
        yield tables


def create_models(connection: Connection, metadata: MetaData, tables: list[Table]) -> list[Refusal]:
    """Create ``tables`` (from ``pristine``) on ``connection``, inside its transaction.

    Returns:
        What PostgreSQL refused, in the order it was tried; empty when ``create_all``
        succeeds, in which case the database holds exactly what ``create_all`` creates.
    """
    refused: list[Refusal] = []
    if _attempt(connection, lambda: metadata.create_all(connection, tables=tables)) is None:
        return refused
    deferred = {table: _deferred(table) for table in tables}
    created: list[Table] = []
    with _hidden(deferred):
        # Types and DDL the MetaData itself carries; a table that needs what fails is refused.
        _attempt(connection, lambda: metadata.create_all(connection, tables=[]))
        for table in tables:
            reason = _attempt(connection, partial(table.create, connection, checkfirst=True))
            if reason is None:
                created.append(table)
            else:
                refused.append(_refusal(connection, reason, table, None))
    # Unique constraints and indexes before foreign keys: a foreign key needs one of them.
    order: list[Callable[[SchemaItem], bool]] = [
        lambda i: isinstance(i, Constraint) and not isinstance(i, ForeignKeyConstraint),
        lambda i: isinstance(i, Index),
        lambda i: isinstance(i, ForeignKeyConstraint),
    ]
    for belongs in order:
        for table in created:
            for item in deferred[table]:
                if not belongs(item):
                    continue
                reason = _create_item(connection, item)
                if reason is not None:
                    refused.append(_refusal(connection, reason, table, item))
    return refused


def _items(table: Table) -> list[SchemaItem]:
    constraints = sorted(table.constraints, key=lambda c: c._creation_order)
    indexes = sorted(table.indexes, key=lambda i: str(i.name))
    return [*constraints, *indexes]


def _duplicates(items: Iterable[SchemaItem]) -> list[SchemaItem]:
    """All but the first of the constraints (and of the indexes) sharing a name."""
    seen: set[tuple[bool, str]] = set()
    duplicates: list[SchemaItem] = []
    for item in items:
        if not isinstance(item.name, str):
            continue
        key = (isinstance(item, Index), item.name)
        if key in seen:
            duplicates.append(item)
        seen.add(key)
    return duplicates


def _deferred(table: Table) -> list[SchemaItem]:
    """What is created after the table: all but its primary key, its indexes included.

    A check constraint a type creates (``Boolean``, a non-native ``Enum``) stays with the
    table: whether it exists depends on the dialect, which only table creation decides.
    """
    return [
        item
        for item in _items(table)
        if item is not table.primary_key and not getattr(item, "_type_bound", False)
    ]


@contextmanager
def _hidden(items: Mapping[Table, list[SchemaItem]]) -> Iterator[None]:
    """Take ``items`` off their tables for the duration, then put them back."""
    removed: list[tuple[Table, SchemaItem]] = []
    try:
        for table, hidden in items.items():
            for item in hidden:
                if isinstance(item, Index):
                    table.indexes.discard(item)
                else:
                    table.constraints.discard(item)
                    if isinstance(item, ForeignKeyConstraint):
                        table.foreign_keys.difference_update(item.elements)
                removed.append((table, item))
        yield
    finally:
        for table, item in removed:
            if isinstance(item, Index):
                table.indexes.add(item)
            else:
                table.constraints.add(item)
                if isinstance(item, ForeignKeyConstraint):
                    table.foreign_keys.update(item.elements)


def _attempt(connection: Connection, step: Callable[[], object]) -> str | None:
    """Run ``step`` in a SAVEPOINT: kept if it succeeds; if not, rolled back, and the
    reason (PostgreSQL's first line) returned."""
    savepoint = connection.begin_nested()
    try:
        step()
    except SQLAlchemyError as exc:
        savepoint.rollback()
        return database_reason(exc)
    savepoint.commit()
    return None


def _create_item(connection: Connection, item: SchemaItem) -> str | None:
    if isinstance(item, Index):
        return _attempt(connection, lambda: item.create(connection))
    return _attempt(connection, lambda: connection.execute(_add_constraint(item)))


def _add_constraint(item: Constraint) -> AddConstraint:
    """``ALTER TABLE ... ADD`` for ``item``, leaving ``item`` as it was: ``AddConstraint``
    otherwise marks it never to be rendered inside a ``CREATE TABLE`` again (its
    ``isolate_from_table`` argument exists only from SQLAlchemy 2.0.39)."""
    rule = item._create_rule
    try:
        return AddConstraint(item)
    finally:
        item._create_rule = rule


def _kind(item: SchemaItem) -> str:
    if isinstance(item, Index):
        return "index"
    if isinstance(item, ForeignKeyConstraint):
        return "foreign_key"
    if isinstance(item, UniqueConstraint):
        return "unique_constraint"
    if isinstance(item, CheckConstraint):
        return "check_constraint"
    return "constraint"


def _what(kind: str, table: Table, item: SchemaItem | None) -> str:
    if item is None:
        return f"table {table.name}"
    columns = ", ".join(c.name for c in getattr(item, "columns", ()))
    if isinstance(item, ForeignKeyConstraint):
        referred = item.elements[0].column.table.name if item.elements else "?"
        to = ", ".join(e.column.name for e in item.elements)
        named = f" {item.name}" if isinstance(item.name, str) else ""
        return f"foreign key{named} {table.name}({columns}) -> {referred}({to})"
    label = kind.replace("_", " ")
    name = f" {item.name}" if isinstance(item.name, str) else ""
    on = f"{table.name}({columns})" if columns else table.name
    return f"{label}{name} on {on}"


def _sql(connection: Connection, table: Table, item: SchemaItem | None) -> str:
    from sqlalchemy.schema import CreateIndex, CreateTable

    try:
        if item is None:
            statement: Any = CreateTable(table)
        elif isinstance(item, Index):
            statement = CreateIndex(item)
        else:
            statement = _add_constraint(item)
        return " ".join(str(statement.compile(dialect=connection.dialect)).split())
    except SQLAlchemyError as exc:
        return f"(cannot be rendered: {database_reason(exc)})"


def _refusal(connection: Connection, reason: str, table: Table, item: SchemaItem | None) -> Refusal:
    kind = "table" if item is None else _kind(item)
    return Refusal(
        kind=kind,
        table=table.name,
        name=None if item is None or not isinstance(item.name, str) else item.name,
        what=_what(kind, table, item),
        sql=_sql(connection, table, item),
        reason=reason,
    )
