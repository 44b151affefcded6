"""What counts as a difference between the models and a database: Alembic decides.

Alembic's comparison (``comparison``) says what differs: foreign keys by columns and
referred columns, server defaults only on request, neither constraint names nor a primary
key's column order, exactly as ``alembic check`` decides on the same database. Each
difference is kept here as plain data, so it can be cached, described at its own level
and matched across databases by a key that holds no generated name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lumiku_ops.db.compare import TableDiff

# Alembic's diff names that change what a query can see: a table, a column, its type or
# its nullability. Everything else (indexes, constraints, keys, defaults, comments) cannot
# make a query fail, so it never outranks a verdict that explains 500s.
_TABLE_KINDS = {"add_table", "remove_table"}
_COLUMN_KINDS = {"add_column", "remove_column", "modify_type", "modify_nullable"}


@dataclass(frozen=True)
class Difference:
    """One of Alembic's autogenerate differences, as plain data.

    ``kind`` is Alembic's own name (``add_column``, ``remove_fk``, ``modify_type``...):
    ``add_*`` and ``modify_*`` are what the models hold and the database lacks,
    ``remove_*`` what the database holds and the models lack.
    """

    kind: str
    table: str
    name: str | None = None
    columns: tuple[str, ...] = ()
    referred: str | None = None
    detail: str = ""
    # For ``modify_*``: the value in the database and in the models, as Alembic renders it.
    database: str | None = None
    models: str | None = None

    @property
    def level(self) -> str:
        """``table``, ``column`` or ``object`` (index, constraint, key, default, comment)."""
        if self.kind in _TABLE_KINDS:
            return "table"
        return "column" if self.kind in _COLUMN_KINDS else "object"

    @property
    def breaks_queries(self) -> bool:
        """True when a query can fail because of it (a table or a column)."""
        return self.level != "object"

    @property
    def models_ahead(self) -> bool:
        """True for what the models hold and the database lacks (``add_*``, ``modify_*``)."""
        return not self.kind.startswith("remove_")

    @property
    def key(self) -> tuple[Any, ...]:
        """What identifies it in any database: no index, constraint or key *name* for
        objects PostgreSQL names itself (an index keeps its name: Alembic compares it)."""
        if self.level == "object" and self.kind not in ("add_index", "remove_index"):
            return (self.kind, self.table, self.columns, self.referred)
        return (self.kind, self.table, self.name, self.columns if self.name is None else ())

    def describe(self) -> str:
        """The object at its own level: ``column `orders.note```, ``table `orders```."""
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = asdict(self)
        data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Difference:
        """The inverse of ``to_dict``."""
        return cls(**{**data, "columns": tuple(data.get("columns", ()))})


def kept_differences(data: Any) -> list[Difference] | None:
    """The differences a cache file holds (``to_dict()`` each), or ``None`` when it holds
    anything else: a damaged or foreign file is a cache miss, never a crash."""
    if not isinstance(data, list):
        return None
    try:
        return [Difference.from_dict(item) for item in data]
    except (TypeError, ValueError, AttributeError):
        return None


def _names(columns: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(getattr(column, "name", column)) for column in columns)


def _object(kind: str, obj: Any) -> Difference:
    table = str(obj.table.name)
    name = None if obj.name is None else str(obj.name)
    noun = kind.split("_", 1)[1]
    if noun == "index":
        columns = _names(obj.expressions)
        label = (
            f"{'unique ' if obj.unique else ''}index `{name}` on `{table}` ({', '.join(columns)})"
        )
        return Difference(kind, table, name, columns, None, label)
    if noun == "fk":
        columns = _names(obj.column_keys)
        targets = [element.target_fullname for element in obj.elements]
        referred = (
            f"{targets[0].rsplit('.', 1)[0]}({', '.join(t.rsplit('.', 1)[1] for t in targets)})"
        )
        label = f"foreign key `{table}` ({', '.join(columns)}) -> {referred}"
        return Difference(kind, table, name, columns, referred, label)
    columns = _names(obj.columns)
    label = f"unique constraint on `{table}` ({', '.join(columns)})"
    return Difference(kind, table, name, columns, None, label)


def _rendered(value: Any) -> str:
    """A type, a nullability or a server default (a ``DefaultClause`` around SQL text)."""
    argument = getattr(value, "arg", value)
    return str(getattr(argument, "text", argument))


def _modification(entry: tuple[Any, ...]) -> Difference:
    kind, _schema, table, column, _existing, before, after = entry
    old, new = _rendered(before), _rendered(after)
    what = {
        "modify_type": "type",
        "modify_nullable": "nullability",
        "modify_default": "server default",
        "modify_comment": "comment",
    }.get(kind, kind)
    return Difference(
        kind,
        str(table),
        str(column),
        (str(column),),
        None,
        f"{what} of column `{table}.{column}` (database: {old}, models: {new})",
        old,
        new,
    )


def to_differences(diffs: Sequence[Any]) -> list[Difference]:
    """Alembic's ``compare_metadata`` result as a flat list of ``Difference``."""
    found: list[Difference] = []
    for entry in diffs:
        if isinstance(entry, list):  # one column's modifications, grouped by Alembic
            found.extend(_modification(tuple(item)) for item in entry)
            continue
        kind = entry[0]
        if kind in _TABLE_KINDS:
            found.append(Difference(kind, str(entry[1].name), detail=f"table `{entry[1].name}`"))
        elif kind in ("add_column", "remove_column"):
            table, column = str(entry[2]), str(entry[3].name)
            found.append(
                Difference(kind, table, column, (column,), detail=f"column `{table}.{column}`")
            )
        elif kind in ("add_table_comment", "remove_table_comment"):
            found.append(
                Difference(kind, str(entry[1].name), detail=f"comment of table `{entry[1].name}`")
            )
        elif kind.endswith(("_index", "_constraint", "_fk")):
            found.append(_object(kind, entry[1]))
        else:  # a diff kind this version does not know: kept, never dropped silently
            found.append(Difference(str(kind), "?", detail=repr(entry)))
    return sorted(found, key=lambda d: (d.table, d.level, d.kind, d.name or "", d.columns))


def describe(differences: Iterable[Difference], limit: int = 6) -> str:
    """The objects, each at its own level, at most ``limit`` of them."""
    items = [d.describe() for d in differences]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def tables_of(differences: Iterable[Difference]) -> list[str]:
    """The tables the differences concern, sorted."""
    return sorted({d.table for d in differences})


def table_diffs(differences: Iterable[Difference]) -> list[TableDiff]:
    """The differences, grouped per table in the shape every report already prints.

    "missing" is what the models hold and the database lacks; "extra" the reverse.
    """
    by_table: dict[str, TableDiff] = {}
    for d in differences:
        diff = by_table.setdefault(d.table, TableDiff(table=d.table))
        label = d.name or ", ".join(d.columns)
        if d.kind == "add_table":
            diff.missing = True
        elif d.kind == "remove_table":
            diff.unexpected = True
        elif d.kind == "add_column":
            diff.missing_columns.append(label)
        elif d.kind == "remove_column":
            diff.extra_columns.append(label)
        elif d.kind.startswith("modify_"):
            diff.changed_columns.append(
                {
                    "name": label,
                    "change": d.kind,
                    "expected": d.models,
                    "actual": d.database,
                    "detail": d.detail,
                }
            )
        elif d.kind == "add_index":
            diff.missing_indexes.append(label)
        elif d.kind == "remove_index":
            diff.extra_indexes.append(label)
        elif d.kind.startswith("add_"):
            diff.missing_constraints.append(label if d.name else d.detail)
        else:
            diff.extra_constraints.append(label if d.name else d.detail)
    return [by_table[name] for name in sorted(by_table)]


def subtract(
    differences: Iterable[Difference], explained: Iterable[Difference]
) -> list[Difference]:
    """``differences`` without those ``explained`` has (matched by ``key``)."""
    keys = {d.key for d in explained}
    return [d for d in differences if d.key not in keys]


# Alembic's difference for each kind of model object PostgreSQL can refuse to create
# (Alembic compares no check constraints).
_REFUSED_KINDS = {
    "foreign_key": "add_fk",
    "index": "add_index",
    "unique_constraint": "add_constraint",
}


def without_refused(
    differences: Iterable[Difference], refused: Iterable[Mapping[str, Any]]
) -> list[Difference]:
    """``differences`` without the models adding what PostgreSQL refuses to create (the
    models catalog's ``refused``: an index on no column, a foreign key to columns with no
    unique constraint). No revision can create those, so no database lacks them by fault;
    matched by table and, when the refused object has one, name (as ``migrate create``
    matches the operation it leaves out)."""
    refusals = [(_REFUSED_KINDS.get(r["kind"]), r["table"], r["name"]) for r in refused]
    return [
        d
        for d in differences
        if not any(
            kind == d.kind and table == d.table and name in (None, d.name)
            for kind, table, name in refusals
        )
    ]


def collapse(differences: Iterable[Difference]) -> list[Difference]:
    """Without the columns and objects of a table that is itself added or removed."""
    items = list(differences)
    whole = {(d.table, d.models_ahead) for d in items if d.level == "table"}
    return [d for d in items if d.level == "table" or (d.table, d.models_ahead) not in whole]


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]


def _snake(name: str) -> str:
    return "_".join(_words(name)) or "schema"


def describe_change(differences: Iterable[Difference]) -> str:
    """A revision message that says what changes: ``add_note_to_orders``,
    ``add_orders_table``, ``add_stock_tables``; at most 60 characters."""
    ahead = collapse(d for d in differences if d.models_ahead)
    kinds = {d.kind for d in ahead}
    tables = tables_of(ahead)
    if not ahead:
        message = "update_schema"
    elif kinds == {"add_table"} and len(tables) == 1:
        message = f"add_{_snake(tables[0])}_table"
    elif kinds == {"add_table"}:
        split = [_words(name) for name in tables]
        common = []
        for words in zip(*split, strict=False):
            if len(set(words)) != 1:
                break
            common.append(words[0])
        message = f"add_{'_'.join(common) or _snake(tables[0]) + '_and_other'}_tables"
    elif kinds == {"add_column"} and len(tables) == 1:
        columns = [_snake(d.name or "") for d in ahead]
        what = "_and_".join(columns) if len(columns) <= 2 else f"{len(columns)}_columns"
        message = f"add_{what}_to_{_snake(tables[0])}"
    elif len(tables) == 1:
        message = f"update_{_snake(tables[0])}"
    else:
        message = f"update_{_snake(tables[0])}_and_{len(tables) - 1}_more"
    return message[:60].rstrip("_")
