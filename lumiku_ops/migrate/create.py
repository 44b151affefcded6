"""``migrate create``: autogenerate the missing revision from the models, on a shadow database.

The comparison runs against a shadow database replayed from the existing revisions, never
against the target, so the new revision holds exactly what the models add to the history
(and nothing from whatever state a real database drifted into). It is Alembic's own
autogenerate, with the project's comparison hooks and switches, made safe by default: no
drop, rename or narrowing type change is written unless asked for (those are listed as
"only in the revisions"), and every constraint it adds has a name, so ``downgrade()`` runs.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.autogenerate import renderers
from alembic.operations import ops
from alembic.operations.ops import MigrationScript
from sqlalchemy import (
    ARRAY,
    Enum,
    MetaData,
    TypeDecorator,
    text,
)

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import constraint_shape, index_shape, shape_differences
from lumiku_ops.db.scratch import scratch_server_url, shadow_database
from lumiku_ops.errors import MigrationError, NothingToCreateError
from lumiku_ops.history import history_for
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.differences import (
    Difference,
    describe_change,
    tables_of,
    without_refused,
)
from lumiku_ops.migrate.revisions import next_revision_id
from lumiku_ops.migrate.runner import offline_sql, script_directory
from lumiku_ops.project import Project
from lumiku_ops.settings import Settings

_MESSAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,59}$")
_PG_NAME_BYTES = 63


@dataclass
class MigrationCreated:
    """A new revision file, its SQL, and a checklist against the models."""

    revision: str
    down_revision: str | None
    message: str
    path: Path
    python_source: str
    sql: str
    checklist: list[dict[str, Any]] = field(default_factory=list)
    # Drops, renames and narrowing type changes left out (without --allow-destructive).
    only_in_revisions: list[str] = field(default_factory=list)
    # Written as Alembic wrote them, but to review: they can fail on a database with rows.
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every table, index and key of the models exists after this revision."""
        return all(item["ok"] for item in self.checklist)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "revision": self.revision,
            "down_revision": self.down_revision,
            "message": self.message,
            "path": str(self.path),
            "complete": self.complete,
            "checklist": self.checklist,
            "only_in_revisions": self.only_in_revisions,
            "warnings": self.warnings,
            "python_source": self.python_source,
            "sql": self.sql,
        }


def build_checklist(
    models: TableCatalog, migrated: TableCatalog, uncaptured: list[Difference] | None = None
) -> list[dict[str, Any]]:
    """One row per model table: does the replayed history give it every column, index, key?

    Indexes and keys count by definition, not by name. ``uncaptured`` (Alembic's
    differences between the models and the new head) decides ``ok``; without it, the
    catalogs do.
    """
    missing = set(tables_of(uncaptured)) if uncaptured is not None else None
    rows = []
    for table in sorted(models):
        want, have = models[table], migrated.get(table)
        columns = {c["name"] for c in want["columns"]}
        present_columns = {c["name"] for c in have["columns"]} if have else set()
        indexes = {index_shape(d) for d in have["indexes"].values()} if have else set()
        keys = {constraint_shape(d) for d in have["constraints"].values()} if have else set()
        if missing is not None:
            ok = have is not None and table not in missing
        else:
            ok = have is not None and not shape_differences({table: want}, migrated, [table])
        rows.append(
            {
                "table": table,
                "exists": have is not None,
                "columns": f"{len(columns & present_columns)}/{len(columns)}",
                "indexes": {n: index_shape(d) in indexes for n, d in want["indexes"].items()},
                "constraints": {
                    n: constraint_shape(d) in keys for n, d in want["constraints"].items()
                },
                "ok": ok,
            }
        )
    return rows


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


def _filter(container: ops.OpContainer, allow_destructive: bool, skipped: list[str]) -> None:
    """Leave out of ``container`` (and the containers in it, such as a table's
    ``ModifyTableOps``) whatever could lose data, unless ``allow_destructive``; name what
    is left out in ``skipped``, and every unnamed constraint that is kept."""
    changed = {} if allow_destructive else _changes(list(container.ops))
    skipped.extend(changed.values())
    kept: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            _filter(op, allow_destructive, skipped)
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


def _leave_out_refused(container: ops.OpContainer, refused: list[dict[str, Any]]) -> list[str]:
    """Leave out what the models declare but PostgreSQL refuses to create (an index on no
    column, a foreign key to columns with no unique constraint): written, it would make the
    revision fail on every database. Returns one line per object left out."""
    if not refused:
        return []
    lines: list[str] = []
    kept: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            lines += _leave_out_refused(op, refused)
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


def _create_enum_types(container: ops.OpContainer, exists: Any, seen: set[tuple[Any, str]]) -> None:
    """Before each column that needs an enum type the database lacks (``exists``: the
    head's check), the op that creates it; once per type. A table created here creates its
    own types (Alembic's ``create_table`` does)."""
    kept: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            _create_enum_types(op, exists, seen)
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


def _enum_exists(connection: Any) -> Any:
    def exists(schema: str | None, name: str) -> bool:
        parts = [name] if schema is None else [schema, name]
        quoted = ".".join('"' + part.replace('"', '""') + '"' for part in parts)
        found = connection.execute(text("SELECT to_regtype(:n)"), {"n": quoted}).scalar()
        return found is not None

    return exists


def _not_null_without_default(container: ops.OpContainer) -> list[str]:
    """Columns added NOT NULL with no server default: fine on an empty table, an error on
    one with rows (PostgreSQL has nothing to fill them with)."""
    found: list[str] = []
    for op in container.ops:
        if isinstance(op, ops.OpContainer):
            found.extend(_not_null_without_default(op))
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


def _refuse_models_missing_tables(
    project: Project, metadata: MetaData, head: list[Difference], allow_destructive: bool
) -> None:
    """An empty MetaData, or one that lacks tables the revisions create, is almost always a
    models module that does not import every model: autogenerate would drop real tables."""
    asks = "does that module import every model?"
    if not any(project.is_model_object(name) for name in metadata.tables):
        raise MigrationError(f"the models ({project.metadata_ref}) define no tables; {asks}")
    gone = [d.table for d in head if d.kind == "remove_table"]
    if gone and not allow_destructive:
        raise MigrationError(
            f"the models ({project.metadata_ref}) lack tables the revisions create "
            f"({', '.join(gone)}); {asks} (--allow-destructive writes the drop)"
        )


def create_migration(
    settings: Settings,
    message: str | None = None,
    *,
    cache_dir: Path | None = None,
    allow_destructive: bool = False,
) -> MigrationCreated:
    """Autogenerate a revision for what the models hold and the revisions lack.

    Args:
        settings: the project, and where the shadow database goes.
        message: the revision's message (default: what changes, e.g. ``add_note_to_orders``).
        cache_dir: where shadow replays are cached.
        allow_destructive: also write drops, renames and narrowing type changes; without
            it they are listed as ``only_in_revisions`` and left out of the file.

    Raises:
        NothingToCreateError: the models and the revisions already agree.
        MigrationError: the message is unusable, the history has several heads, or the
            models define no tables or lack tables the revisions create.
    """
    return history_for(settings, cache_dir=cache_dir).create(
        message, allow_destructive=allow_destructive
    )


def create_alembic(
    settings: Settings,
    message: str | None = None,
    *,
    cache_dir: Path | None = None,
    allow_destructive: bool = False,
) -> MigrationCreated:
    """``create_migration`` for an Alembic history: Alembic's autogenerate, made safe."""
    if message and not _MESSAGE.match(message):
        raise MigrationError(
            "--message must be 1-60 letters, digits, spaces, '_' or '-' (e.g. add_note_to_orders)"
        )
    project = settings.project
    scripts = script_directory(project)
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise MigrationError(
            f"the history has {len(heads)} heads ({', '.join(sorted(heads))}); "
            "merge them first: alembic merge heads -m merge"
        )
    cache = cache_dir or settings.cache_dir
    shadow_url = scratch_server_url(settings)
    history = history_for(settings, cache_dir=cache)
    # Replaying first turns a revision that cannot run on the shadow into one clear error.
    _ = history.replay
    models = history.models
    refused = [r if isinstance(r, dict) else r.to_dict() for r in getattr(models, "refused", [])]
    head = history.head_differences
    _refuse_models_missing_tables(project, project.metadata(), head, allow_destructive)
    message = message or describe_change(head)
    revision_id = next_revision_id(scripts)
    skipped: list[str] = []
    warnings: list[str] = []
    empty: list[bool] = []

    def keep_only_safe_changes(
        context: Any, revision: Any, directives: list[MigrationScript]
    ) -> None:
        script = directives[0] if directives else None
        if script is None or script.upgrade_ops is None:
            return
        # What PostgreSQL refuses first: the drop that pairs with a refused create (mlflow's
        # index on no column) is a plain drop then, not a "change" by drop and re-create.
        warnings.extend(_leave_out_refused(script.upgrade_ops, refused))
        _filter(script.upgrade_ops, allow_destructive, skipped)
        if script.upgrade_ops.is_empty():
            empty.append(True)
            directives[:] = []  # write no file
            return
        _create_enum_types(script.upgrade_ops, _enum_exists(context.connection), set())
        warnings.extend(_not_null_without_default(script.upgrade_ops))
        script.downgrade_ops = script.upgrade_ops.reverse()

    with shadow_database(shadow_url) as connection:
        # Alembic begins and commits, around autocommit_block() revisions too.
        runner.upgrade(project, connection, "heads")
        # Alembic's post-write hooks print progress straight to stdout; keep --json clean.
        with connection.begin(), contextlib.redirect_stdout(io.StringIO()):
            written = runner.autogenerate_revision(
                project,
                connection,
                message=message,
                rev_id=revision_id,
                process_revision_directives=keep_only_safe_changes,
            )
    if empty:
        left_out = (
            f" (left out, being destructive: {'; '.join(skipped)}; pass --allow-destructive "
            "to write them)"
            if skipped
            else ""
        )
        # Only refusals are in the warnings yet: the others are computed for a written file.
        refusals = "".join(f"; {line}" for line in warnings)
        accepted = " that PostgreSQL accepts" if warnings else ""
        raise NothingToCreateError(
            f"nothing to create: every table, column, index and key of the models{accepted} "
            f"is already created by a revision{left_out}{refusals}"
        )
    paths = [Path(script.path) for script in written]
    try:
        return _created(settings, revision_id, message, skipped, cache, warnings)
    except BaseException:
        for path in paths:  # a failed create leaves no file behind
            path.unlink(missing_ok=True)
        raise


def _created(
    settings: Settings,
    revision_id: str,
    message: str,
    skipped: list[str],
    cache: Path,
    warnings: list[str],
) -> MigrationCreated:
    project = settings.project
    script = script_directory(project).get_revision(revision_id)
    if script is None:
        raise MigrationError(f"revision {revision_id} was generated but cannot be read back")
    down = script.down_revision if isinstance(script.down_revision, str) else None
    path = Path(script.path)
    history = history_for(settings, cache_dir=cache)  # a new one: the history has a new file
    replay, models = history.replay, history.models
    # What PostgreSQL refuses no revision can create: left out, and said so in the warnings.
    refused = [r if isinstance(r, dict) else r.to_dict() for r in getattr(models, "refused", [])]
    uncaptured = without_refused(history.uncaptured, refused)
    checklist = build_checklist(models, replay.head_catalog, uncaptured)
    for row in checklist:
        row["warnings"] = [w for w in warnings if w.startswith(f"column `{row['table']}.")]
    return MigrationCreated(
        revision=revision_id,
        down_revision=down,
        message=message,
        path=path,
        python_source=path.read_text(),
        sql=offline_sql(project, f"{down}:{revision_id}" if down else revision_id),
        checklist=checklist,
        only_in_revisions=skipped,
        warnings=warnings,
    )
