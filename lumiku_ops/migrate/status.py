"""``migrate status`` (where the database is in the history) and ``migrate verify`` (does it
have exactly what the models define), both read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiku_ops.db.compare import TableDiff
from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import inspect_database, read_only_connection
from lumiku_ops.errors import DatabaseUnreachableError, database_reason
from lumiku_ops.history import Recorded, history_for
from lumiku_ops.migrate.audit import AuditRecord, read_audit
from lumiku_ops.migrate.differences import (
    Difference,
    collapse,
    subtract,
    table_diffs,
    without_refused,
)
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings


@dataclass
class MigrationStatus:
    """Recorded revision, heads, pending revisions and the recent audit trail."""

    database: str
    current: str | None
    heads: list[str]
    pending: list[str]
    audit: list[AuditRecord] = field(default_factory=list)
    known: bool = True
    # Prisma's: migrations that failed (they block every later one) or changed since applied.
    failed: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    # Recorded migrations this history does not have (Prisma's; Alembic's is ``current``).
    unknown: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        """True when nothing is pending, failed or edited, and the recorded revision is in
        this history."""
        return (
            self.known
            and not self.pending
            and self.current is not None
            and not self.failed
            and not self.edited
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "database": self.database,
            "current": self.current,
            "heads": self.heads,
            "pending": self.pending,
            "up_to_date": self.up_to_date,
            "known_revision": self.known,
            "failed": self.failed,
            "edited": self.edited,
            "unknown": self.unknown,
            "audit": [record.to_dict() for record in self.audit],
        }


def migration_status(settings: Settings) -> MigrationStatus:
    """Where the database stands against the revision files (exit 3 when behind)."""
    # The project first: a misconfigured one is its own error, before any database (an
    # embedded server included) is started or reached.
    history = history_for(settings)
    history.revisions()  # an unreadable history is its own error, not the database's
    url = resolve_database_url(settings)
    try:
        with read_only_connection(url, purpose="migrate status") as connection:
            recorded: Recorded = history.recorded(connection)
            audit = read_audit(connection)
    except Exception as exc:
        raise DatabaseUnreachableError(
            f"cannot read {mask_url(url)}: {database_reason(exc, [url])}"
        ) from None
    return MigrationStatus(
        mask_url(url),
        recorded.current,
        history.heads(),
        recorded.pending,
        audit,
        known=recorded.known,
        failed=recorded.failed,
        edited=recorded.edited,
        unknown=recorded.unknown,
    )


@dataclass
class TableCheck:
    """One model table against the database."""

    table: str
    expected_columns: int
    actual_columns: int
    diff: TableDiff
    seed_note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the table is exactly as the models define it."""
        return self.diff.is_clean

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "table": self.table,
            "ok": self.ok,
            "expected_columns": self.expected_columns,
            "actual_columns": self.actual_columns,
            "differences": self.diff.summary() if not self.ok else None,
            "seed_note": self.seed_note,
        }


@dataclass
class SchemaVerification:
    """Every model table: present, with exactly the model's columns, indexes and keys."""

    database: str
    tables: list[TableCheck]
    # What the database holds and the models lack because the revisions create it.
    only_in_revisions: list[Difference] = field(default_factory=list)
    # What the models declare and PostgreSQL refuses to create (``Refusal.to_dict()``): no
    # database can hold it, so it is listed, never counted.
    models_refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every table is exact."""
        return all(check.ok for check in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "database": self.database,
            "passed": self.passed,
            "tables": [check.to_dict() for check in self.tables],
            "only_in_revisions": [d.to_dict() for d in self.only_in_revisions],
            "models_refused": self.models_refused,
        }


def verify_schema(
    settings: Settings,
    *,
    cache_dir: Path | None = None,
    stated_columns: Mapping[str, int] | None = None,
) -> SchemaVerification:
    """Compare the database with the models, table by table (the seed's "verify tables
    created" query, computed from the models), as Alembic's autogenerate compares them.

    What the database holds and the models lack is no difference when the revisions
    create it too: it is listed as "only in the revisions". What the models declare and
    PostgreSQL refuses to create is no difference either (no database can hold it): it is
    listed as ``models_refused``.

    ``stated_columns`` are column counts a document claims (an incident write-up, say);
    where they disagree with the models, the table's ``seed_note`` says so.
    """
    history = history_for(settings, cache_dir=cache_dir)
    replay, models = history.replay, history.models
    only_in_revisions = history.only_in_revisions
    refused = [r if isinstance(r, dict) else r.to_dict() for r in getattr(models, "refused", [])]
    url = resolve_database_url(settings)
    state = inspect_database(url, models)
    if not state.reachable:
        raise DatabaseUnreachableError(f"cannot read {mask_url(url)}: {state.error}")
    with read_only_connection(url, purpose="migrate verify") as connection:
        tables = set(models) | set(replay.head_catalog)
        target = history.compare_target(connection, tables)
    counted = subtract(without_refused(target, refused), only_in_revisions)
    by_table = {d.table: d for d in table_diffs(collapse(counted))}
    checks = []
    for table in sorted(models):
        expected = len(models[table]["columns"])
        actual = state.catalog.get(table)
        stated = (stated_columns or {}).get(table)
        note = None
        if stated is not None and stated != expected:
            note = (
                f"the seed's debug report expects {stated} columns; its own SQL and the models "
                f"define {expected}"
            )
        checks.append(
            TableCheck(
                table=table,
                expected_columns=expected,
                actual_columns=len(actual["columns"]) if actual else 0,
                diff=by_table.pop(table, TableDiff(table=table)),
                seed_note=note,
            )
        )
    for table, diff in sorted(by_table.items()):  # in the database only, not a model table
        checks.append(
            TableCheck(table, 0, len(state.catalog.get(table, {}).get("columns", [])), diff)
        )
    present = [d for d in only_in_revisions if d.table in state.catalog]
    return SchemaVerification(mask_url(url), checks, collapse(present), refused)
