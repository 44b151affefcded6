"""The operations Alembic's autogenerate proposes, made safe to write.

Whatever could lose data (a drop, a rename, a narrowing type change, an index or constraint
changed by dropping and re-creating it) is left out unless asked for; what PostgreSQL
refuses to create is left out always; an unnamed constraint gets the name PostgreSQL would
give it, so ``downgrade()`` can drop it; an enum type a new column needs is created first.
"""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import renderers
from alembic.operations import ops
from sqlalchemy import ARRAY, Enum, TypeDecorator, text

from lumiku_ops.migrate.types import widens

_PG_NAME_BYTES = 63


def _destructive(op: ops.MigrateOperation) -> str | None:
    """Why ``op`` could lose data (a drop, a rename, a narrowing type change), or None.

    Operations of Alembic plugins (enum types, say) are judged by their shape: a ``Drop*``
    operation drops, and one that moves an object from ``old_values`` to ``new_values``
    loses the values it leaves out.
    """
    if isinstance(op, ops.DropTableOp):
        return f"drop table `{op.table_name}`"
    if isinstance(op, ops.DropColumnOp):
        return f"drop column `{op.table_name}.{op.column_name}`"
    if isinstance(op, ops.DropIndexOp):
        return f"drop index `{op.index_name}` on `{op.table_name}`"
    if isinstance(op, ops.DropConstraintOp):
        return f"drop constraint `{op.constraint_name}` on `{op.table_name}`"
    if isinstance(op, ops.AlterColumnOp):
        if op.modify_name is not None:
            return f"rename column `{op.table_name}.{op.column_name}` to `{op.modify_name}`"
        if op.modify_type is not None and not widens(op.existing_type, op.modify_type):
            return (
                f"change the type of column `{op.table_name}.{op.column_name}` "
                f"from {op.existing_type} to {op.modify_type}"
            )
        return None
    name = getattr(op, "name", None) or getattr(op, "table_name", None) or "?"
    kind = type(op).__name__
    if kind.startswith("Drop"):
        what = re.sub(r"(?<!^)(?=[A-Z])", " ", kind.removeprefix("Drop").removesuffix("Op"))
        return f"drop {what.lower() or 'object'} `{name}`"
    old, new = getattr(op, "old_values", None), getattr(op, "new_values", None)
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        lost = [value for value in old if value not in new]
        if lost:
            return f"remove {', '.join(map(repr, lost))} from `{name}`"
    return None


_DROPS = (ops.DropIndexOp, ops.DropConstraintOp)
_CREATES = (ops.CreateIndexOp, ops.AddConstraintOp)


def _object_key(op: ops.MigrateOperation) -> tuple[str, str] | None:
    """(table, name) of an index or constraint that ``op`` drops or creates."""
    if isinstance(op, (ops.DropIndexOp, ops.CreateIndexOp)):
        name = getattr(op, "index_name", None)
    elif isinstance(op, (ops.DropConstraintOp, ops.AddConstraintOp)):
        name = getattr(op, "constraint_name", None)
    else:
        return None
    table = getattr(op, "table_name", None) or getattr(op, "source_table", None)
    return (str(table), str(name)) if name is not None and table is not None else None


def _changes(operations: list[ops.MigrateOperation]) -> dict[tuple[str, str], str]:
    """The indexes and constraints Alembic changes by dropping and re-creating them under
    the same name: the create alone would fail (the name is taken), the pair loses the
    old definition, so the pair is destructive as a whole."""
    dropped = {key for op in operations if isinstance(op, _DROPS) and (key := _object_key(op))}
    created = {key for op in operations if isinstance(op, _CREATES) and (key := _object_key(op))}
    return {
        (table, name): f"change `{name}` on `{table}` (dropped and re-created)"
        for table, name in sorted(dropped & created)
    }


def _pg_name(table: str, columns: list[str], suffix: str) -> str:
    """The name PostgreSQL gives an unnamed constraint (``orders_user_id_fkey``): like its
    ``makeObjectName``, the longer of the table and column parts is cut until it fits."""
    first, second = table, "_".join(columns)
    room = _PG_NAME_BYTES - len(suffix) - 1 - (1 if second else 0)
    while len(first.encode()) + len(second.encode()) > room:
        if len(first.encode()) >= len(second.encode()):
            first = first[:-1]
        else:
            second = second[:-1]
    return "_".join(part for part in (first, second, suffix) if part)


def _name_unnamed(op: ops.MigrateOperation) -> None:
    """Give an unnamed added constraint or index the name PostgreSQL would give it, so the
    downgrade can drop it by name (the metadata's naming convention names the others)."""
    if isinstance(op, ops.CreateForeignKeyOp) and op.constraint_name is None:
        op.constraint_name = _pg_name(op.source_table, list(op.local_cols), "fkey")
    elif isinstance(op, ops.CreateUniqueConstraintOp) and op.constraint_name is None:
        op.constraint_name = _pg_name(op.table_name, list(op.columns), "key")
    elif isinstance(op, ops.CreateCheckConstraintOp) and op.constraint_name is None:
        op.constraint_name = _pg_name(op.table_name, [], "check")
    elif isinstance(op, ops.CreateIndexOp) and op.index_name is None:
        columns = [str(getattr(c, "name", c)) for c in op.columns]
        op.index_name = _pg_name(op.table_name, columns, "idx")


def leave_out_destructive(
    container: ops.OpContainer, allow_destructive: bool, skipped: list[str]
) -> None:
    """Leave out of ``container`` (and the containers in it, such as a table's
    ``ModifyTableOps``) whatever could lose data, unless ``allow_destructive``; name what
    is left out in ``skipped``, and every unnamed constraint that is kept."""
    changed = {} if allow_destructive else _changes(list(container.ops))
    skipped.extend(changed.values())
    kept: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            leave_out_destructive(op, allow_destructive, skipped)
            if op.is_empty():
                continue
        elif _object_key(op) in changed:
            continue
        else:
            reason = _destructive(op)
            if reason is not None and not allow_destructive:
                skipped.append(reason)
                continue
            _name_unnamed(op)
        kept.append(op)
    container.ops = kept


_REFUSED_OPS: dict[str, type[ops.MigrateOperation]] = {
    "foreign_key": ops.CreateForeignKeyOp,
    "index": ops.CreateIndexOp,
    "unique_constraint": ops.CreateUniqueConstraintOp,
    "check_constraint": ops.CreateCheckConstraintOp,
}


def _refused_by(op: ops.MigrateOperation, refused: list[dict[str, Any]]) -> Any:
    for refusal in refused:
        kind = _REFUSED_OPS.get(refusal["kind"])
        if kind is None or not isinstance(op, kind):
            continue
        table = getattr(op, "table_name", None) or getattr(op, "source_table", None)
        name = getattr(op, "index_name", None) or getattr(op, "constraint_name", None)
        if table == refusal["table"] and refusal["name"] in (None, name):
            return refusal
    return None


def leave_out_refused(container: ops.OpContainer, refused: list[dict[str, Any]]) -> list[str]:
    """Leave out what the models declare but PostgreSQL refuses to create (an index on no
    column, a foreign key to columns with no unique constraint): written, it would make the
    revision fail on every database. Returns one line per object left out."""
    if not refused:
        return []
    lines: list[str] = []
    kept: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            lines += leave_out_refused(op, refused)
            if op.is_empty():
                continue
        elif (refusal := _refused_by(op, refused)) is not None:
            lines.append(f"left out: {refusal['detail']}")
            continue
        kept.append(op)
    container.ops = kept
    return lines


class EnumTypeOp(ops.MigrateOperation):
    """Create (or, reversed, drop) a PostgreSQL enum type a new column needs.

    Alembic's ``add_column`` does not create the type of an ``sa.Enum`` column (only
    ``create_table`` does), so a revision that adds one fails with ``type ... does not
    exist``; it is rendered as plain SQLAlchemy (``sa.Enum(...).create(op.get_bind(),
    checkfirst=True)``), so the revision needs nothing of lumiku-ops to run.
    """

    def __init__(
        self, name: str, values: list[str], schema: str | None, *, drop: bool = False
    ) -> None:
        self.name, self.values, self.schema, self.drop = name, values, schema, drop

    def reverse(self) -> EnumTypeOp:
        return EnumTypeOp(self.name, self.values, self.schema, drop=not self.drop)


@renderers.dispatch_for(EnumTypeOp)
def _render_enum_type(autogen_context: Any, op: EnumTypeOp) -> str:
    # ``sa`` as Alembic's own rendering uses it: every revision template imports it.
    arguments = [repr(value) for value in op.values] + [f"name={op.name!r}"]
    if op.schema:
        arguments.append(f"schema={op.schema!r}")
    action = "drop" if op.drop else "create"
    return f"sa.Enum({', '.join(arguments)}).{action}(op.get_bind(), checkfirst=True)"


def _enum_of(type_: Any) -> Enum | None:
    """The native, named enum type behind a column type (a decorator's, an array's)."""
    for _ in range(4):
        if isinstance(type_, TypeDecorator):
            type_ = type_.impl
        elif isinstance(type_, ARRAY):
            type_ = type_.item_type
        else:
            break
    if isinstance(type_, Enum) and type_.native_enum and type_.name:
        return type_
    return None


def _new_column_type(op: ops.MigrateOperation) -> Any:
    if isinstance(op, ops.AddColumnOp):
        return op.column.type
    if isinstance(op, ops.AlterColumnOp):
        return op.modify_type
    return None


def create_enum_types(container: ops.OpContainer, exists: Any, seen: set[tuple[Any, str]]) -> None:
    """Before each column that needs an enum type the database lacks (``exists``: the
    head's check), the op that creates it; once per type. A table created here creates its
    own types (Alembic's ``create_table`` does)."""
    kept: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            create_enum_types(op, exists, seen)
        elif isinstance(op, ops.CreateTableOp):
            for column in op.columns:
                enum = _enum_of(getattr(column, "type", None))
                if enum is not None and enum.name:
                    seen.add((enum.schema, str(enum.name)))
        else:
            enum = _enum_of(_new_column_type(op))
            if enum is not None and enum.name:
                key = (enum.schema, str(enum.name))
                if key not in seen and not exists(enum.schema, str(enum.name)):
                    kept.append(EnumTypeOp(key[1], list(enum.enums), enum.schema))
                seen.add(key)
        kept.append(op)
    container.ops = kept


def enum_exists(connection: Any) -> Any:
    """The check ``create_enum_types`` takes: does ``connection``'s database have the type?"""

    def exists(schema: str | None, name: str) -> bool:
        parts = [name] if schema is None else [schema, name]
        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in parts)
        found = connection.execute(text("SELECT to_regtype(:n)"), {"n": quoted}).scalar()
        return found is not None

    return exists


def not_null_without_default(container: ops.OpContainer) -> list[str]:
    """Columns added NOT NULL with no server default: fine on an empty table, an error on
    one with rows (PostgreSQL has nothing to fill them with)."""
    found: list[str] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            found.extend(not_null_without_default(op))
        elif (
            isinstance(op, ops.AddColumnOp)
            and not op.column.nullable
            and op.column.server_default is None
            and not op.column.primary_key
        ):
            found.append(
                f"column `{op.table_name}.{op.column.name}` is added NOT NULL without a server "
                "default: on a table with rows it fails; give it a server_default in the "
                "models, or add it nullable and fill it first"
            )
    return found
