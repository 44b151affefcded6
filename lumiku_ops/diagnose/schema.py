"""The schema verdict: what Alembic's comparisons and the replayed revisions say together.

Alembic decides what differs (the models against the revisions' head, and against the
database); the replayed catalogs decide which revision the database's tables really
match, names aside. The verdict follows ``verdicts``' precedence, with one rule of its own:
differences no query can fail on are *minor* and never hide a verdict that explains 500s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import same_shape, shape_differences
from lumiku_ops.db.reader import DatabaseState
from lumiku_ops.diagnose.verdicts import (
    MIGRATION_NOT_APPLIED,
    MIGRATION_NOT_CREATED,
    REVISION_MISMATCH,
    SCHEMA_DRIFT,
    SCHEMA_PARTIAL,
)
from lumiku_ops.migrate.differences import Difference, collapse, subtract, tables_of
from lumiku_ops.migrate.shadow import MigrationReplay


def _matching_revision(
    replay: MigrationReplay, catalog: TableCatalog, names: set[str]
) -> str | None:
    """The newest revision (or ``base``) whose tables the database has, names aside."""
    for revision in reversed(replay.order):
        if same_shape(replay.at(revision), catalog, names):
            return revision
    return "base" if same_shape({}, catalog, names) else None


def _nearest_revision(
    replay: MigrationReplay,
    catalog: TableCatalog,
    names: set[str],
    *,
    prefer: str | None,
    limit: int = 3,
) -> tuple[str, list[str]] | None:
    """The revision the database's tables match except for at most ``limit`` objects (an
    older copy of a revision's SQL run by hand), and those objects. On a tie ``prefer``
    (the recorded revision) wins, then the newest."""
    best: tuple[str, list[str]] | None = None
    for revision in replay.order:
        rest = shape_differences(replay.at(revision), catalog, names)
        if not rest or len(rest) > limit:
            continue
        if (
            best is None
            or len(rest) < len(best[1])
            or (len(rest) == len(best[1]) and best[0] != prefer)
        ):
            best = (revision, rest)
    return best


@dataclass
class SchemaFinding:
    """The schema verdict (``None``: healthy), what it concerns, and why."""

    verdict: str | None
    affected: list[str] = field(default_factory=list)
    matching: str | None = None
    objects: list[Difference] = field(default_factory=list)
    minor: bool = False  # nothing it names can make a query fail
    residual: list[str] = field(default_factory=list)  # what differs from ``matching``
    # The database's own verdict when the models are also ahead of every revision: the
    # models' lead is a standing condition of the history and hides nothing of it.
    also: list[SchemaFinding] = field(default_factory=list)

    @property
    def all(self) -> list[SchemaFinding]:
        """This finding and those ``also`` holds, each with a verdict."""
        return [f for f in (self, *self.also) if f.verdict]


def classify_schema(
    replay: MigrationReplay,
    db: DatabaseState,
    model_tables: set[str],
    head: Sequence[Difference],
    target: Sequence[Difference],
) -> SchemaFinding:
    """The schema verdict, from Alembic's comparison of the models with the revisions'
    head (``head``) and with the database (``target``), and from which revision's tables
    the database really has.

    Only ``add_*``/``modify_*`` differences with the head decide ``MIGRATION_NOT_CREATED``
    (``remove_*`` are "only in the revisions"). They are a condition of the history, not
    of the database: the database is judged against the revisions after subtracting
    every difference the head has too, and its own verdict (a pending revision, a column
    added by hand) stays a finding under ``MIGRATION_NOT_CREATED``.
    """
    ahead = collapse(d for d in head if d.models_ahead)
    major = [d for d in ahead if d.breaks_queries]
    database = _database_finding(replay, db, model_tables, head, target)
    if major or (ahead and database.verdict is None):
        also = [database] if database.verdict else []
        return SchemaFinding(
            MIGRATION_NOT_CREATED, tables_of(ahead), objects=ahead, minor=not major, also=also
        )
    return database


def _database_finding(
    replay: MigrationReplay,
    db: DatabaseState,
    model_tables: set[str],
    head: Sequence[Difference],
    target: Sequence[Difference],
) -> SchemaFinding:
    """The database against the revisions, the head's own differences subtracted."""
    names = model_tables | set(replay.head_catalog)
    recorded = db.recorded_revision
    residual = collapse(subtract(target, head))
    matching = _matching_revision(replay, db.catalog, names)
    if recorded is not None and recorded not in replay.catalogs:
        return SchemaFinding(REVISION_MISMATCH, tables_of(residual), matching, residual)
    at_head = recorded in replay.heads
    if not at_head and same_shape(replay.at(recorded), db.catalog, names):
        old, new = replay.at(recorded), replay.head_catalog
        tables = sorted(t for t in names if not same_shape(old, new, [t]))
        return SchemaFinding(MIGRATION_NOT_APPLIED, tables, matching, residual)
    if not residual:
        if not at_head:
            return SchemaFinding(REVISION_MISMATCH, [], matching)
        return SchemaFinding(None, [], matching)
    if matching is not None and matching != recorded:
        return SchemaFinding(REVISION_MISMATCH, tables_of(residual), matching, residual)
    near = _nearest_revision(replay, db.catalog, names, prefer=recorded)
    if near is not None and near[0] != recorded:
        return SchemaFinding(
            REVISION_MISMATCH, tables_of(residual), near[0], residual, residual=near[1]
        )
    # A model table no revision creates is missing at the head too: the models' lead.
    unrevised = {d.table for d in head if d.kind == "add_table"}
    present = [name for name in model_tables if name in db.catalog]
    missing = sorted(t for t in model_tables if t not in db.catalog and t not in unrevised)
    if present and missing:
        return SchemaFinding(SCHEMA_PARTIAL, missing, objects=residual)
    minor = not any(d.breaks_queries for d in residual)
    return SchemaFinding(SCHEMA_DRIFT, tables_of(residual), objects=residual, minor=minor)
