"""Differences between the catalog a database has and the one it should have."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from lumiku_ops.db.catalog import TableCatalog


@dataclass
class TableDiff:
    """How one table differs; empty lists mean "the same"."""

    table: str
    missing: bool = False
    unexpected: bool = False
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    changed_columns: list[dict[str, Any]] = field(default_factory=list)
    missing_indexes: list[str] = field(default_factory=list)
    extra_indexes: list[str] = field(default_factory=list)
    changed_indexes: list[str] = field(default_factory=list)
    missing_constraints: list[str] = field(default_factory=list)
    extra_constraints: list[str] = field(default_factory=list)
    changed_constraints: list[str] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        """True when nothing differs."""
        return not any(value for key, value in vars(self).items() if key != "table")

    def summary(self) -> str:
        """One line: what is wrong with this table."""
        if self.missing:
            return f"{self.table}: table missing"
        if self.unexpected:
            return f"{self.table}: table exists but nothing defines it"
        parts = []
        for label, names in (
            ("missing columns", self.missing_columns),
            ("extra columns", self.extra_columns),
            ("changed columns", [c["name"] for c in self.changed_columns]),
            ("missing indexes", self.missing_indexes),
            ("extra indexes", self.extra_indexes),
            ("changed indexes", self.changed_indexes),
            ("missing constraints", self.missing_constraints),
            ("extra constraints", self.extra_constraints),
            ("changed constraints", self.changed_constraints),
        ):
            if names:
                parts.append(f"{label} {', '.join(names)}")
        return f"{self.table}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form with only the non-empty fields."""
        return {key: value for key, value in vars(self).items() if value or key == "table"}


def _keyed(entries: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def _diff_named(expected: dict[str, str], actual: dict[str, str]) -> tuple[list[str], ...]:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(n for n in set(expected) & set(actual) if expected[n] != actual[n])
    return missing, extra, changed


def compare_table(
    name: str, expected: dict[str, Any] | None, actual: dict[str, Any] | None
) -> TableDiff:
    """Compare one table by column, index and constraint *name* (column order is ignored)."""
    diff = TableDiff(table=name)
    if expected is None and actual is None:
        return diff
    if actual is None:
        diff.missing = True
        return diff
    if expected is None:
        diff.unexpected = True
        return diff
    want, have = _keyed(expected["columns"]), _keyed(actual["columns"])
    diff.missing_columns = sorted(set(want) - set(have))
    diff.extra_columns = sorted(set(have) - set(want))
    for column in sorted(set(want) & set(have)):
        if want[column] != have[column]:
            diff.changed_columns.append(
                {"name": column, "expected": want[column], "actual": have[column]}
            )
    diff.missing_indexes, diff.extra_indexes, diff.changed_indexes = _diff_named(
        expected["indexes"], actual["indexes"]
    )
    diff.missing_constraints, diff.extra_constraints, diff.changed_constraints = _diff_named(
        expected["constraints"], actual["constraints"]
    )
    return diff


def compare_catalogs(
    expected: TableCatalog, actual: TableCatalog, tables: Iterable[str] | None = None
) -> list[TableDiff]:
    """The tables (of ``tables``, default: all in either catalog) that differ."""
    names = sorted(set(tables) if tables is not None else set(expected) | set(actual))
    diffs = [compare_table(n, expected.get(n), actual.get(n)) for n in names]
    return [diff for diff in diffs if not diff.is_clean]


def same_tables(expected: TableCatalog, actual: TableCatalog, tables: Iterable[str]) -> bool:
    """True when ``tables`` are identical in both catalogs (absent in both counts as same)."""
    return not compare_catalogs(expected, actual, tables)


def _variants(name: str) -> set[str]:
    base = re.sub(r"[^a-z0-9]", "", name.lower())
    variants = {base}
    if base.endswith("es"):
        variants.add(base[:-2])
    if base.endswith("s"):
        variants.add(base[:-1])
    return variants


@dataclass(frozen=True)
class LookAlike:
    """A table that is probably meant to be a model table, under another name or schema."""

    model_table: str
    schema: str
    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form."""
        return vars(self).copy()


def find_look_alikes(connection: Connection, model_tables: Iterable[str]) -> list[LookAlike]:
    """Tables named like a model table (ignoring case, underscores, a plural ``s``), or with
    its exact name in another schema: the original really had both spellings side by side."""
    rows = connection.execute(
        text(
            "SELECT n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_toast%'"
        )
    ).all()
    wanted = {name: _variants(name) for name in model_tables}
    found: list[LookAlike] = []
    for schema, name in rows:
        variants_of_name = _variants(name)  # once per table, not once per (table, model)
        for model, variants in wanted.items():
            if name == model and schema != "public":
                found.append(LookAlike(model, schema, name, "same name in another schema"))
            elif name != model and variants & variants_of_name:
                found.append(LookAlike(model, schema, name, "same name ignoring case and _"))
    return sorted(found, key=lambda item: (item.model_table, item.schema, item.name))


# "CREATE UNIQUE INDEX name ON public.t USING btree (c)": the name is the only noise.
_INDEX_NAME = re.compile(r'^(CREATE (?:UNIQUE )?INDEX )(?:"(?:[^"]|"")*"|\S+) ON ')
_PRIMARY_KEY = re.compile(r"^PRIMARY KEY \((?P<columns>[^)]*)\)(?P<rest>.*)$")


def index_shape(definition: str) -> str:
    """An index definition without its name."""
    return _INDEX_NAME.sub(r"\1ON ", definition)


def constraint_shape(definition: str) -> str:
    """A constraint definition with a primary key's columns in one order."""
    primary = _PRIMARY_KEY.match(definition)
    if primary is None:
        return definition
    columns = sorted(c.strip() for c in primary.group("columns").split(","))
    return f"PRIMARY KEY ({', '.join(columns)}){primary.group('rest')}"


def shape_differences(
    expected: TableCatalog, actual: TableCatalog, tables: Iterable[str]
) -> list[str]:
    """What differs between two real catalogs, with no name noise: indexes and
    constraints compared by definition (PostgreSQL's own rendering) without their names,
    a primary key's columns in any order. One line per differing object."""
    found: list[str] = []
    for table in sorted(set(tables)):
        want, have = expected.get(table), actual.get(table)
        if want is None or have is None:
            if want is not None or have is not None:
                where = "missing" if have is None else "not expected"
                found.append(f"table `{table}` {where}")
            continue
        columns, present = _keyed(want["columns"]), _keyed(have["columns"])
        for name in sorted(set(columns) | set(present)):
            if columns.get(name) != present.get(name):
                state = (
                    "missing"
                    if name not in present
                    else "not expected"
                    if name not in columns
                    else "different"
                )
                found.append(f"column `{table}.{name}` {state}")
        for kind, shape in (("indexes", index_shape), ("constraints", constraint_shape)):
            wanted = sorted(shape(d) for d in want[kind].values())
            held = sorted(shape(d) for d in have[kind].values())
            for definition in wanted:
                if definition in held:
                    held.remove(definition)
                else:
                    found.append(f"`{table}`: {definition} missing")
            found.extend(f"`{table}`: {definition} not expected" for definition in held)
    return found


def same_shape(expected: TableCatalog, actual: TableCatalog, tables: Iterable[str]) -> bool:
    """True when ``tables`` hold the same objects in both catalogs, whatever their names."""
    return not shape_differences(expected, actual, tables)
