"""Why do the endpoints answer 500? Gather the evidence, then state one verdict.

The evidence is what the seed's debug report gathered by hand: what fails and what works
over HTTP, which model tables the database has, and what the revision history says. The
verdict and its precedence are defined in ``verdicts``, the shape of each piece of evidence
in ``evidence``, the summary's wording in ``explanation``. Nothing here writes to the
target: the database is read in one read-only transaction with a statement timeout, and
the revisions are replayed in a shadow database on a separate, throwaway server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiku_ops.db.compare import TableDiff
from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import DatabaseState, inspect_database, read_only_connection
from lumiku_ops.diagnose.chain import denied_grants, verdict_chain
from lumiku_ops.diagnose.evidence import http_findings, migrations_evidence, read_log
from lumiku_ops.diagnose.explanation import project_flags, summary
from lumiku_ops.diagnose.schema import SchemaFinding, classify_schema
from lumiku_ops.diagnose.verdicts import (
    API_UNREACHABLE,
    AUTH_REJECTED,
    DATABASE_UNREACHABLE,
    MIGRATION_FAILED,
    MIGRATION_NOT_CREATED,
    PERMISSION_DENIED,
    REVISION_MISMATCH,
    UNKNOWN_SERVER_ERROR,
    Remedy,
    remedy_for,
    strongest,
)
from lumiku_ops.errors import ShadowReplayError
from lumiku_ops.history import History, Recorded, history_for
from lumiku_ops.logs.linking import (
    LogEvidence,
    link_errors,
    model_classes,
    model_schemas,
    read_log_events,
)
from lumiku_ops.logs.reader import DEFAULT_MAX_MIB, check_max_mib, check_readable
from lumiku_ops.migrate.differences import (
    collapse,
    describe_change,
    subtract,
    table_diffs,
)
from lumiku_ops.redaction import redact, url_secrets
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
        cache_dir: where shadow replays are cached (default: the user's cache folder).
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
    findings = http_findings(exchanges)
    history = history_for(settings, cache_dir=cache_dir)
    try:
        replay, models = history.replay, history.models
        head = history.head_differences
    except ShadowReplayError as exc:
        blocked = _failed_before_replay(settings, history, exc, exchanges, findings, started)
        if blocked is None:
            raise
        return blocked
    metadata = project.metadata()
    schemas = {t: s for t, s in model_schemas(metadata).items() if s != "public"}
    url = resolve_database_url(settings)
    # The revisions' tables too: which revision the database matches counts them all.
    tables = sorted(set(models) | set(replay.head_catalog))
    db = inspect_database(
        url,
        tables,
        service_role=service_role,
        schemas=schemas,
        recorded=history.recorded_revision,
    )
    diagnosis_tables: list[TableDiff] = []
    affected: list[str] = []
    schema: SchemaFinding | None = None
    recorded: Recorded | None = None
    if not db.reachable:
        findings.insert(0, DATABASE_UNREACHABLE)
    else:
        with read_only_connection(url) as connection:
            recorded = history.recorded(connection)
            # The model tables and those the revisions create.
            target = history.compare_target(connection, set(tables))
        schema = classify_schema(replay, db, set(models), head, target)
        affected = sorted({table for found in schema.all for table in found.affected})
        findings[0:0] = [found.verdict for found in schema.all if found.verdict]
        # What the head explains as "only in the revisions" is no difference here.
        only_in_revisions = [d for d in head if not d.models_ahead]
        diagnosis_tables = table_diffs(collapse(subtract(target, only_in_revisions)))
    matching = schema.matching if schema else None
    minor = {f.verdict for f in schema.all if f.minor and f.verdict} if schema else set()
    if schema and schema.verdict != MIGRATION_NOT_CREATED and any(d.models_ahead for d in head):
        # Models ahead only by objects no query fails on: a finding under the verdict.
        findings.append(MIGRATION_NOT_CREATED)
        minor.add(MIGRATION_NOT_CREATED)
    migrations = migrations_evidence(history, replay, models, db, head)
    if recorded is not None:
        migrations["failed"], migrations["edited"] = recorded.failed, recorded.edited
        migrations["unknown"] = recorded.unknown
        if recorded.failed:
            findings.insert(0, MIGRATION_FAILED)
        if recorded.unknown and REVISION_MISMATCH not in findings:
            # Prisma: rows for migrations the folder lacks. Every apply refuses until they
            # are resolved, whatever the tables look like.
            findings.insert(0, REVISION_MISMATCH)
    log = read_log(log_files, max_bytes, since_s)
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
    if db.reachable and (schema is None or not schema.verdict or minor) and denials.tables:
        # A missing table explains a 500 before any privilege; a missing index does not.
        findings.insert(0, PERMISSION_DENIED)
        affected = denials.tables
    if any(f not in (UNKNOWN_SERVER_ERROR, *_http_only) and f not in minor for f in findings):
        # A schema (or database) finding explains the 500s; they are not "unknown".
        findings = [f for f in findings if f != UNKNOWN_SERVER_ERROR]
    verdict = strongest(findings, minor=minor)
    if verdict in (API_UNREACHABLE, AUTH_REJECTED, UNKNOWN_SERVER_ERROR):
        affected = []
    return Diagnosis(
        verdict=verdict,
        affected_tables=sorted(affected),
        remedy=remedy_for(
            verdict,
            affected=sorted(affected),
            migrations_flag=project_flags(settings),
            matching_revision=matching,
            grants=denials.grants,
            owner_only=denials.owner_only,
            owner_command=denials.owner_command,
            message=describe_change(schema.objects) if schema and schema.objects else None,
            residual=schema.residual if schema else (),
            kind=history.kind,
            failed=recorded.failed if recorded else (),
            recorded_revision=db.recorded_revision,
            order=replay.order,
            unknown=recorded.unknown if recorded else (),
        ),
        findings=findings,
        summary=summary(verdict, sorted(affected), schema, recorded),
        http=exchanges,
        database=db,
        table_diffs=diagnosis_tables,
        migrations=migrations,
        duration_ms=(time.perf_counter() - started) * 1000,
        log=log,
        chain=verdict_chain(verdict, sorted(affected), log.errors if log else []),
    )


def _failed_before_replay(
    settings: Settings,
    history: History,
    error: ShadowReplayError,
    exchanges: list[Exchange],
    findings: list[str],
    started: float,
) -> Diagnosis | None:
    """The verdict when the history cannot replay because of a migration the database
    records as failed (Prisma): a script with a mistake fails on an empty database too, and
    the failed row, not the replay, is what blocks every later migration. ``None`` when the
    database records no failed migration (the replay error is then the answer)."""
    url = resolve_database_url(settings)
    try:
        with read_only_connection(url) as connection:
            recorded = history.recorded(connection)
    except Exception:  # noqa: BLE001  (unreachable or unreadable: the replay error stands)
        return None
    if not recorded.failed:
        return None
    reason = redact(str(error), url_secrets(url))
    return Diagnosis(
        verdict=MIGRATION_FAILED,
        affected_tables=[],
        remedy=remedy_for(
            MIGRATION_FAILED,
            affected=[],
            migrations_flag=project_flags(settings),
            kind=history.kind,
            failed=recorded.failed,
        ),
        findings=[MIGRATION_FAILED, *(f for f in findings if f != UNKNOWN_SERVER_ERROR)],
        summary=f"{summary(MIGRATION_FAILED, [], None)} It fails on an empty database too, "
        f"so the schema was not compared: {reason}",
        http=exchanges,
        migrations={
            "kind": history.kind,
            "directory": str(history.directory),
            "revisions": [info.to_dict() for info in history.revisions()],
            "heads": history.heads(),
            "recorded_revision": recorded.current,
            "pending": recorded.pending,
            "failed": recorded.failed,
            "edited": recorded.edited,
            "unknown": recorded.unknown,
        },
        duration_ms=(time.perf_counter() - started) * 1000,
    )
