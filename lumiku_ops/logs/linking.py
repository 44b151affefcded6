"""Each logged error linked to the project: request -> error -> table/column -> model ->
revision (none / pending / applied), and whether the object it names exists.

An error naming an object the database has (a stale line, another database, a search_path
problem) is never blamed on the schema: ``blames_schema`` is true only when the object is
a model table or column that the database really lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.logs.messages import SQLSTATE_NAMES
from lumiku_ops.logs.parsers import LogEvent, LogParser
from lumiku_ops.logs.reader import DEFAULT_MAX_MIB, MIB, read_lines
from lumiku_ops.migrate.shadow import MigrationReplay
from lumiku_ops.redaction import redact

_MISSING = {"42P01", "42703", "3F000", "42883"}


@dataclass
class LinkedError:
    """One logged error and what it means for this project."""

    event: LogEvent
    table: str | None = None
    schema: str | None = None  # the model table's schema, when linked
    column: str | None = None
    model: str | None = None
    revision: str | None = None
    revision_state: str | None = None  # none | pending | applied
    exists: bool | None = None  # the named object, in the database now
    blames_schema: bool = False

    @property
    def error(self) -> str:
        """``42P01 undefined_table: relation "x" does not exist``."""
        state = self.event.sqlstate or "-"
        name = SQLSTATE_NAMES.get(state, "")
        message = self.event.message or (f"HTTP {self.event.status}" if self.event.status else "")
        return f"{state} {name}: {message}".replace(" :", ":") if state != "-" else message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, secrets masked."""
        event = self.event
        return {
            "source": event.source,
            "line": event.line,
            "time": event.time.isoformat() if event.time else None,
            "request_id": event.request_id,
            "method": event.method,
            "path": event.path,
            "status": event.status,
            "sqlstate": event.sqlstate,
            "condition": SQLSTATE_NAMES.get(event.sqlstate or ""),
            "message": redact(event.message) if event.message else None,
            "role": event.role,
            "object": dict(event.fields),
            "table": self.table,
            "schema": self.schema,
            "column": self.column,
            "model": self.model,
            "revision": self.revision,
            "revision_state": self.revision_state,
            "exists": self.exists,
            "blames_schema": self.blames_schema,
        }


@dataclass
class LogEvidence:
    """What the log said: the sources read, how much, and each linked error."""

    sources: list[str] = field(default_factory=list)
    lines_read: int = 0
    max_bytes: int = DEFAULT_MAX_MIB * MIB
    since: datetime | None = None
    errors: list[LinkedError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "sources": self.sources,
            "lines_read": self.lines_read,
            "max_mib": round(self.max_bytes / MIB, 2),
            "since": self.since.isoformat() if self.since else None,
            "errors": [error.to_dict() for error in self.errors],
        }


def read_log_events(
    sources: Sequence[str], *, max_bytes: int = DEFAULT_MAX_MIB * MIB, since: datetime | None = None
) -> tuple[list[LogEvent], int]:
    """The errors in the last ``max_bytes`` of each source, newer than ``since``."""
    events: list[LogEvent] = []
    lines = 0
    for source in sources:
        parser = LogParser()
        for line in read_lines(source, max_bytes=max_bytes):
            parser.feed(line)
        lines += parser.lines
        events += [e for e in parser.events() if since is None or e.time is None or e.time >= since]
    return events, lines


def model_classes(metadata: MetaData) -> dict[str, str]:
    """Each model table's ORM class (``package.module.Class``), when one is mapped."""
    from sqlalchemy.orm import mapperlib

    # SQLAlchemy lists its registries only privately; without it the table name stands in.
    registries = getattr(mapperlib, "_all_registries", lambda: ())
    found: dict[str, str] = {}
    for registry in list(registries()):
        for mapper in list(registry.mappers):
            table = getattr(mapper, "local_table", None)
            if getattr(table, "metadata", None) is metadata:
                cls = mapper.class_
                found.setdefault(table.name, f"{cls.__module__}.{cls.__qualname__}")  # type: ignore[union-attr]
    return found


def model_schemas(metadata: MetaData) -> dict[str, str]:
    """Each model table's schema: the one its models name, else ``public``."""
    return {table.name: table.schema or "public" for table in metadata.tables.values()}


def split_qualified(name: str) -> tuple[str | None, str]:
    """``schema.table`` (each part quoted or not) as ``(schema, table)``; no schema: ``None``."""
    parts = [part.strip().strip('"') for part in name.strip().split(".")]
    return (parts[-2] or None if len(parts) > 1 else None), parts[-1]


# Statements longer than this are not searched for a qualifier (a bounded, linear scan).
_STATEMENT_SCAN = 10_000
_DOT_AFTER = re.compile(r"\s*\.")


def _qualifiers(statement: str | None, table: str) -> set[str | None]:
    """The schemas ``statement`` names ``table`` in (``archive.users``); ``None`` stands for
    an unqualified mention, which the search path resolves (the model's, as far as we know).
    """
    if not statement:
        return set()
    bare = re.escape(table)
    pattern = re.compile(
        rf'(?:(?<![\w$"])(?:"(?P<quoted>[^"]{{1,63}})"|(?P<word>[A-Za-z_][\w$]{{0,62}}))'
        rf'\s*\.\s*|(?P<dot>\.\s*)|(?<![\w$"]))(?:"{bare}"|{bare})(?![\w$"])',
        re.IGNORECASE,
    )
    text = statement[:_STATEMENT_SCAN]
    found: set[str | None] = set()
    for match in pattern.finditer(text):
        named = match.group("quoted") or match.group("word")
        if named:
            found.add(named.lower())
        elif match.group("dot") is None and not _DOT_AFTER.match(text, match.end()):
            found.add(None)  # ``users.id`` names a column of a FROM item, not a table
    return found


def _columns(catalog: TableCatalog, table: str) -> set[str]:
    return {column["name"] for column in catalog.get(table, {}).get("columns", [])}


def _find_table(
    name: str, models: TableCatalog, schemas: Mapping[str, str], statement: str | None
) -> str | None:
    """The model table ``name`` means: same name, and same schema when one is named.

    The schema comes from the name itself (``archive.users``), else from the statement
    that failed; an error on another schema's table of the same name is not the model's.
    """
    schema, bare = split_qualified(name)
    found = bare if bare in models else None
    if found is None:
        folded = [table for table in models if table.lower() == bare.lower()]
        found = folded[0] if len(folded) == 1 else None
    if found is None:
        return None
    named = {schema.lower()} if schema else _qualifiers(statement, found)
    if named and None not in named and schemas.get(found, "public").lower() not in named:
        return None
    return found


def _column_owner(event: LogEvent, column: str, models: TableCatalog) -> str | None:
    owners = [table for table in models if column in _columns(models, table)]
    statement = event.statement or ""
    mentioned = [
        table for table in owners if f'"{table}"' in statement or f" {table} " in statement
    ]
    if len(mentioned) == 1:
        return mentioned[0]
    return owners[0] if len(owners) == 1 else None


def _creator(replay: MigrationReplay, table: str, column: str | None) -> str | None:
    for revision in replay.order:
        catalog = replay.at(revision)
        if table in catalog and (column is None or column in _columns(catalog, table)):
            return revision
    return None


def link_errors(
    events: Iterable[LogEvent],
    *,
    models: TableCatalog,
    database: TableCatalog | None,
    replay: MigrationReplay,
    pending: Sequence[str],
    classes: dict[str, str],
    schemas: Mapping[str, str] | None = None,
) -> list[LinkedError]:
    """Link each event to a model table or column, its class and its revision state.

    ``schemas`` gives each model table's schema (``model_schemas``; default ``public``).
    """
    schemas = schemas or {}
    linked = []
    for event in events:
        item = LinkedError(event)
        fields = event.fields
        statement = event.statement
        if event.sqlstate == "42703" and "column" in fields:
            item.column = fields["column"]
            owner = (
                _find_table(fields["table"], models, schemas, statement)
                if "table" in fields
                else None
            )
            item.table = owner or _column_owner(event, item.column, models)
            if item.table and item.column not in _columns(models, item.table):
                item.table = None  # not a model column: nothing of the project to link
        elif event.sqlstate in ("42P01", "42501") and "object" in fields:
            item.table = _find_table(fields["object"], models, schemas, statement)
        if item.table:
            item.schema = schemas.get(item.table, "public")
            item.model = classes.get(item.table, item.table)
            item.revision = _creator(replay, item.table, item.column)
            if item.revision is None:
                item.revision_state = "none"
            elif item.revision in pending:
                item.revision_state = "pending"
            else:
                item.revision_state = "applied"
        if database is not None and item.table:
            present = item.table in database
            if item.column:
                present = present and item.column in _columns(database, item.table)
            item.exists = present
            item.blames_schema = event.sqlstate in _MISSING and not present
        linked.append(item)
    return linked


def quote_identifier(name: str) -> str:
    """``name`` as a PostgreSQL identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, table: str) -> str:
    """``"schema"."table"``, each part quoted."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def grant_statement(
    privileges: Sequence[str], table: str, role: str | None, schema: str = "public"
) -> str:
    """``GRANT SELECT ON TABLE "public"."T" TO "role";`` (a placeholder when no role is known)."""
    grantee = quote_identifier(role) if role else "<service role>"
    return f"GRANT {', '.join(privileges)} ON TABLE {qualified_name(schema, table)} TO {grantee};"
