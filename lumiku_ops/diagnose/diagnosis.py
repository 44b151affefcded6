"""Why do the endpoints answer 500? Gather the evidence, then state one verdict.

The evidence is what the seed's debug report gathered by hand: what fails and what works
over HTTP, which model tables the database has, and what the revision history says. The
verdict and its precedence are defined in ``verdicts``. Nothing here writes to the
target: the database is read in one read-only transaction with a statement timeout, and
the revisions are replayed in a shadow database on a separate, throwaway server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import TableDiff, compare_catalogs, same_tables
from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import DatabaseState, inspect_database
from lumiku_ops.diagnose.chain import denied_grants, verdict_chain
from lumiku_ops.diagnose.verdicts import (
    API_UNREACHABLE,
    AUTH_REJECTED,
    DATABASE_UNREACHABLE,
    MIGRATION_NOT_APPLIED,
    MIGRATION_NOT_CREATED,
    PERMISSION_DENIED,
    REVISION_MISMATCH,
    SCHEMA_DRIFT,
    SCHEMA_PARTIAL,
    UNKNOWN_SERVER_ERROR,
    Remedy,
    remedy_for,
    strongest,
)
from lumiku_ops.logs.linking import (
    LogEvidence,
    link_errors,
    model_classes,
    model_schemas,
    read_log_events,
)
from lumiku_ops.logs.reader import DEFAULT_MAX_MIB, check_max_mib, check_readable
from lumiku_ops.migrate.revisions import list_revisions
from lumiku_ops.migrate.runner import script_directory
from lumiku_ops.migrate.shadow import MigrationReplay, replay_and_models
from lumiku_ops.project import Project
from lumiku_ops.settings import Settings
from lumiku_ops.verify.endpoints import Exchange, probe

_http_only = (API_UNREACHABLE, AUTH_REJECTED)


@dataclass
class Diagnosis:
    """The verdict, the tables it concerns, what to do next, and the evidence behind it."""

    verdict: str
    affected_tables: list[str]
    remedy: Remedy
    findings: list[str]
    summary: str
    http: list[Exchange] = field(default_factory=list)
    database: DatabaseState | None = None
    table_diffs: list[TableDiff] = field(default_factory=list)
    migrations: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    log: LogEvidence | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)

    @property
    def http_statuses(self) -> dict[str, int | None]:
        """Each probed path and its status (``None``: no answer)."""
        return {exchange.request_target: exchange.status for exchange in self.http}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; bodies and URLs are already redacted."""
        return {
            "verdict": self.verdict,
            "affected_tables": self.affected_tables,
            "remedy": self.remedy.to_dict(),
            "findings": self.findings,
            "summary": self.summary,
            "evidence": {
                "http": [exchange.to_dict() for exchange in self.http],
                "database": self.database.to_dict() if self.database else None,
                "tables": [diff.to_dict() for diff in self.table_diffs],
                "migrations": self.migrations,
                "log": ({**self.log.to_dict(), "chain": self.chain} if self.log else None),
            },
            "duration_ms": round(self.duration_ms, 1),
        }


def _http_findings(exchanges: Sequence[Exchange]) -> list[str]:
    findings = []
    if any(exchange.status is None for exchange in exchanges):
        findings.append(API_UNREACHABLE)
    if any(exchange.status in (401, 403) for exchange in exchanges):
        findings.append(AUTH_REJECTED)
    if any(exchange.status is not None and exchange.status >= 500 for exchange in exchanges):
        findings.append(UNKNOWN_SERVER_ERROR)
    return findings


def _matching_revision(
    replay: MigrationReplay, catalog: TableCatalog, names: set[str]
) -> str | None:
    """The newest revision (or ``base``) whose catalog the database has exactly."""
    for revision in reversed(replay.order):
        if same_tables(replay.at(revision), catalog, names):
            return revision
    return "base" if same_tables({}, catalog, names) else None


def classify_schema(
    models: TableCatalog, replay: MigrationReplay, db: DatabaseState
) -> tuple[str | None, list[str], str | None]:
    """The schema verdict (or ``None`` when the schema is healthy), affected tables, and the
    revision the database's tables really match."""
    names = set(models) | set(replay.head_catalog)
    uncaptured = compare_catalogs(models, replay.head_catalog, names)
    if uncaptured:
        return MIGRATION_NOT_CREATED, [d.table for d in uncaptured], None
    recorded = db.recorded_revision
    differing = [d.table for d in compare_catalogs(models, db.catalog, names)]
    matching = _matching_revision(replay, db.catalog, names)
    if recorded is not None and recorded not in replay.catalogs:
        return REVISION_MISMATCH, differing, matching
    at_head = recorded in replay.heads
    if not differing:
        return (None, [], matching) if at_head else (REVISION_MISMATCH, [], matching)
    if not at_head and same_tables(replay.at(recorded), db.catalog, names):
        pending = compare_catalogs(replay.at(recorded), replay.head_catalog, names)
        return MIGRATION_NOT_APPLIED, [d.table for d in pending], matching
    if matching is not None:
        return REVISION_MISMATCH, differing, matching
    present = [name for name in models if name in db.catalog]
    missing = sorted(name for name in models if name not in db.catalog)
    if present and missing:
        return SCHEMA_PARTIAL, missing, None
    return SCHEMA_DRIFT, differing, None


def _migrations_evidence(
    project: Project, replay: MigrationReplay, models: TableCatalog, db: DatabaseState
) -> dict[str, Any]:
    scripts = script_directory(project)
    migrations_dir = project.migrations_dir
    creators = replay.created_by()
    recorded = db.recorded_revision
    pending: list[str] = []
    if recorded is None or recorded in replay.order:
        start = replay.order.index(recorded) + 1 if recorded else 0
        pending = replay.order[start:]
    return {
        "directory": str(migrations_dir),
        "revisions": [info.to_dict() for info in list_revisions(scripts)],
        "heads": replay.heads,
        "recorded_revision": recorded,
        "pending": pending,
        "created_by": {table: creators.get(table) for table in sorted(models)},
        "uncaptured_by_revisions": [
            d.summary() for d in compare_catalogs(models, replay.head_catalog)
        ],
    }


def _summary(verdict: str, affected: list[str], matching: str | None) -> str:
    tables = ", ".join(affected) if affected else "none"
    return {
        DATABASE_UNREACHABLE: "The database did not answer; the schema could not be checked.",
        MIGRATION_NOT_CREATED: f"The models define tables no revision creates: {tables}.",
        REVISION_MISMATCH: "The version table does not describe the schema "
        f"(the tables match revision {matching or 'none'}); affected: {tables}.",
        MIGRATION_NOT_APPLIED: f"A revision creates {tables}, but this database is behind.",
        SCHEMA_PARTIAL: f"Some model tables are missing, matching no revision: {tables}.",
        SCHEMA_DRIFT: f"Model tables differ from the models: {tables}.",
        PERMISSION_DENIED: f"The schema is healthy, but the service's role is denied: {tables}.",
        API_UNREACHABLE: "The schema is healthy, but the service did not answer.",
        AUTH_REJECTED: "The schema is healthy, but the service refused the token.",
        UNKNOWN_SERVER_ERROR: "The schema is healthy, yet endpoints answer 5xx.",
    }.get(verdict, "The schema matches the models and every endpoint answered.")


def diagnose(
    settings: Settings,
    *,
    endpoints: Sequence[str] | None = None,
    cache_dir: Path | None = None,
    log_files: Sequence[str] = (),
    log_max_mib: float = DEFAULT_MAX_MIB,
    since_s: float | None = None,
    service_role: str | None = None,
) -> Diagnosis:
    """Probe the endpoints, read the database and the revisions, and state one verdict.

    Args:
        settings: where the API, the database and the migrations are; the token.
        endpoints: paths to probe (default: the project's ``endpoints``); each starts
            with ``/``, so the token only ever goes to the configured API origin.
        cache_dir: where shadow replays are cached (default ``.lumiku/cache``).
        log_files: the service's logs (``-`` for standard input), read after the probes,
            so the errors the probes caused are in them; each 5xx is linked to the models.
        log_max_mib: read only the last this many MiB of each log.
        since_s: ignore log errors older than this many seconds.
        service_role: check this role's privileges on every model table (read-only).

    Raises:
        ConfigError: a log file cannot be read, or ``log_max_mib`` is not a positive
            number of MiB (checked before anything runs).

    Returns:
        A Diagnosis; findings are results, never exceptions.
    """
    started = time.perf_counter()
    max_bytes = check_max_mib(log_max_mib)
    for source in log_files:
        check_readable(source)
    project = settings.project
    paths = list(project.endpoints if endpoints is None else endpoints)
    exchanges = [
        probe(settings.api_url, "GET", path, settings.token, timeout_s=5.0) for path in paths
    ]
    findings = _http_findings(exchanges)
    replay, models = replay_and_models(settings, cache_dir=cache_dir)
    metadata = project.metadata()
    schemas = {t: s for t, s in model_schemas(metadata).items() if s != "public"}
    db = inspect_database(
        resolve_database_url(settings), models, service_role=service_role, schemas=schemas
    )
    diagnosis_tables: list[TableDiff] = []
    affected: list[str] = []
    matching: str | None = None
    schema_verdict: str | None = None
    if not db.reachable:
        findings.insert(0, DATABASE_UNREACHABLE)
    else:
        schema_verdict, affected, matching = classify_schema(models, replay, db)
        if schema_verdict:
            findings.insert(0, schema_verdict)
        diagnosis_tables = compare_catalogs(models, db.catalog)
    migrations = _migrations_evidence(project, replay, models, db)
    log = _read_log(log_files, max_bytes, since_s)
    if log is not None:
        events, log.lines_read = read_log_events(
            log_files, max_bytes=log.max_bytes, since=log.since
        )
        log.errors = link_errors(
            events,
            models=models,
            database=db.catalog if db.reachable else None,
            replay=replay,
            pending=migrations["pending"],
            classes=model_classes(metadata),
            schemas=schemas,
        )
    denials = denied_grants(log.errors if log else [], db.privileges, db.owners)
    if db.reachable and schema_verdict is None and denials.tables:
        # Only on a healthy schema: a missing table explains a 500 before any privilege.
        findings.insert(0, PERMISSION_DENIED)
        affected = denials.tables
    if findings and findings[0] != UNKNOWN_SERVER_ERROR and findings[0] not in _http_only:
        # A schema (or database) finding explains the 500s; they are not "unknown".
        findings = [f for f in findings if f != UNKNOWN_SERVER_ERROR]
    verdict = strongest(findings)
    if verdict in (API_UNREACHABLE, AUTH_REJECTED, UNKNOWN_SERVER_ERROR):
        affected = []
    return Diagnosis(
        verdict=verdict,
        affected_tables=sorted(affected),
        remedy=remedy_for(
            verdict,
            affected=sorted(affected),
            migrations_flag=_project_flags(settings),
            matching_revision=matching if matching != "base" else "base",
            grants=denials.grants,
            owner_only=denials.owner_only,
            owner_command=denials.owner_command,
        ),
        findings=findings,
        summary=_summary(verdict, sorted(affected), matching),
        http=exchanges,
        database=db,
        table_diffs=diagnosis_tables,
        migrations=migrations,
        duration_ms=(time.perf_counter() - started) * 1000,
        log=log,
        chain=verdict_chain(verdict, sorted(affected), log.errors if log else []),
    )


def _read_log(
    log_files: Sequence[str], max_bytes: int, since_s: float | None
) -> LogEvidence | None:
    if not log_files:
        return None
    now = datetime.now(UTC)
    since = None
    if since_s and since_s < (now - datetime.min.replace(tzinfo=UTC)).total_seconds():
        since = now - timedelta(seconds=since_s)  # longer ago than year 1: no bound at all
    return LogEvidence(sources=list(log_files), max_bytes=max_bytes, since=since)


def _project_flags(settings: Settings) -> str:
    """The flags a remedy's commands need to reach the same project and migrations."""
    flags = ""
    if settings.project_dir != Path.cwd().resolve():
        flags += f" --project {settings.project_dir}"
    if settings.migrations_override is not None:
        flags += f" --migrations {settings.migrations_override}"
    return flags
