"""``migrate plan`` and ``migrate lint``: the SQL a pending range would run, and its risks.

The plan is Alembic's offline SQL: one transaction that also moves the version table, so
running it by hand (the seed's "Option B") leaves the database and the history in step.
A range holding ``autocommit_block()`` revisions is planned segment by segment, as
``apply`` runs it: each transaction gets its own timeouts, and the plan says how many.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiku_ops.db.connect import resolve_database_url
from lumiku_ops.db.reader import read_only_connection, read_recorded_revision
from lumiku_ops.durations import postgres_interval
from lumiku_ops.errors import DatabaseUnreachableError, LumikuOpsError, database_reason
from lumiku_ops.migrate.runner import offline_sql
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.migrate.segments import split_into_segments
from lumiku_ops.project import Project
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings

DEFAULT_LOCK_TIMEOUT_S = 5.0
DEFAULT_STATEMENT_TIMEOUT_S = 300.0


@dataclass
class MigrationPlan:
    """The revisions between the database and ``target``, and the SQL they would run."""

    current: str | None
    target: str
    pending: list[str]
    sql: str
    transactions: int = 1
    outside_transaction: list[str] = field(default_factory=list)  # autocommit_block() revisions
    # Where the script records the revisions it runs.
    version_table: str = "alembic_version"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return vars(self).copy()


def recorded_revision(settings: Settings) -> str | None:
    """The target database's recorded revision, read in a read-only session."""
    url = resolve_database_url(settings)
    try:
        with read_only_connection(url, purpose="migrate plan") as connection:
            return read_recorded_revision(connection)[1]
    except Exception as exc:  # any driver error: say which database, not how
        raise DatabaseUnreachableError(
            f"cannot read the recorded revision from {mask_url(url)}: "
            f"{database_reason(exc, [url])}. Pass --from REV to plan without it."
        ) from None


def pending_revisions(project: Project, current: str | None, target: str) -> list[str]:
    """Revision ids from after ``current`` up to ``target``, oldest first."""
    scripts = script_directory(project)
    upper = scripts.get_current_head() if target == "head" else target
    revisions = [s.revision for s in scripts.iterate_revisions(upper, current)]
    revisions.reverse()
    return revisions


def _with_timeouts(sql: str, lock_timeout_s: float, statement_timeout_s: float) -> str:
    # Safe to paste: each transaction gives up instead of queueing behind traffic.
    guard = (
        f"SET LOCAL lock_timeout = '{postgres_interval(lock_timeout_s)}';\n"
        f"SET LOCAL statement_timeout = '{postgres_interval(statement_timeout_s)}';\n"
    )
    return sql.replace("BEGIN;\n", "BEGIN;\n\n" + guard)


# Alembic commits before an autocommit block even when nothing ran before it.
_EMPTY_TRANSACTION = re.compile(r"BEGIN;\n\n((?:--[^\n]*\n\n)*)COMMIT;\n\n")


def plan_migrations(
    settings: Settings,
    *,
    target: str = "head",
    from_revision: str | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
) -> MigrationPlan:
    """The offline SQL from the database's revision (or ``from_revision``) to ``target``.

    Raises:
        MigrationError: a revision cannot run without a database (it reads rows); the
            message names it and suggests ``migrate apply --dry-run``.
    """
    from lumiku_ops.history import history_for

    return history_for(settings).plan(
        target=target,
        from_revision=from_revision,
        lock_timeout_s=lock_timeout_s,
        statement_timeout_s=statement_timeout_s,
    )


def plan_alembic(
    settings: Settings,
    *,
    target: str,
    from_revision: str | None,
    lock_timeout_s: float,
    statement_timeout_s: float,
) -> MigrationPlan:
    """``plan_migrations`` for an Alembic history: Alembic's offline SQL, in segments."""
    current = from_revision if from_revision is not None else recorded_revision(settings)
    if current == "base":
        current = None
    project = settings.project
    pending = pending_revisions(project, current, target)
    if not pending:
        return MigrationPlan(current=current, target=target, pending=[], sql="")
    segments = split_into_segments(script_directory(project), pending, pending[-1])
    parts, start = [], current
    for segment in segments:
        span = f"{start}:{segment.destination}" if start else segment.destination
        if segment.autocommit:
            # SET LOCAL is void outside a transaction: the session carries the timeouts,
            # as apply sets them for this segment.
            parts.append(
                f"-- {segment.revisions[0]} runs its autocommit_block() outside a transaction:\n"
                f"SET lock_timeout = '{postgres_interval(lock_timeout_s)}';\n"
                f"SET statement_timeout = '{postgres_interval(statement_timeout_s)}';\n\n"
            )
        parts.append(_EMPTY_TRANSACTION.sub(r"\1", offline_sql(project, span)))
        start = segment.destination
    sql = _with_timeouts("".join(parts), lock_timeout_s, statement_timeout_s)
    return MigrationPlan(
        current=current,
        target=target,
        pending=pending,
        sql=sql,
        transactions=sql.count("BEGIN;\n"),
        outside_transaction=[s.revisions[0] for s in segments if s.autocommit],
    )


# Statements that lose data; the version table's own bookkeeping is not a loss.
DESTRUCTIVE = [
    (re.compile(r"\bDROP\s+(TABLE|SCHEMA|DATABASE|TYPE|VIEW|MATERIALIZED\s+VIEW)\b", re.I), "drop"),
    (
        re.compile(r"\bALTER\s+TABLE\b[^;]*\bDROP\s+(COLUMN\b|(?!CONSTRAINT|DEFAULT|NOT)\w)", re.I),
        "drop column",
    ),
    (re.compile(r"\bALTER\s+TABLE\b[^;]*\bDROP\s+CONSTRAINT\b", re.I), "drop constraint"),
    (re.compile(r"\bDROP\s+INDEX\b", re.I), "drop index"),
    (re.compile(r"\bTRUNCATE\b", re.I), "truncate"),
    (re.compile(r"\bDELETE\s+FROM\s+(?!alembic_version\b)[^;]*;", re.I), "delete"),
    (re.compile(r"\bALTER\s+COLUMN\b[^;]*\bTYPE\b", re.I), "type change (may narrow)"),
]


@dataclass(frozen=True)
class LintFinding:
    """One problem in the planned SQL."""

    source: str  # "squawk" or "lumiku-ops"
    rule: str
    level: str  # "error" or "warning"
    message: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return vars(self).copy()


@dataclass
class LintReport:
    """Squawk's findings and our destructive-statement rule, on one plan."""

    plan: MigrationPlan
    findings: list[LintFinding] = field(default_factory=list)
    allow_destructive: bool = False

    @property
    def errors(self) -> list[LintFinding]:
        """Findings that fail the lint."""
        return [f for f in self.findings if f.level == "error"]

    @property
    def passed(self) -> bool:
        """True when nothing rises to an error."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "passed": self.passed,
            "errors": len(self.errors),
            "warnings": len(self.findings) - len(self.errors),
            "allow_destructive": self.allow_destructive,
            "findings": [f.to_dict() for f in self.findings],
            "plan": self.plan.to_dict(),
        }


# One column's type change, as Alembic (``TYPE``) and Prisma (``SET DATA TYPE``) write it.
_ALTER_TYPE = re.compile(
    r'ALTER TABLE (?:ONLY )?(?:(?:"[^"]+"|\w+)\.)?(?P<table>"[^"]+"|\w+) ALTER COLUMN '
    r'(?P<column>"[^"]+"|\w+) (?:SET DATA )?TYPE (?P<type>[^;]+?)(?: USING [^;]*)?;?$',
    re.I,
)


def widening_judge(catalog: Mapping[str, Any], sql: str) -> Callable[[str], bool]:
    """Whether a planned ``ALTER COLUMN ... TYPE`` statement only widens the column, judged
    from the column's type in ``catalog`` (the database's revision) as ``migrate create``
    judges it. A column whose type the plan changes more than once is never judged."""
    from lumiku_ops.migrate.types import widens

    changed: dict[tuple[str, str], int] = {}
    for match in map(_ALTER_TYPE.search, re.split(r"(?<=;)\s+", " ".join(sql.split()))):
        if match:
            key = (match["table"].strip('"'), match["column"].strip('"'))
            changed[key] = changed.get(key, 0) + 1

    def judge(statement: str) -> bool:
        match = _ALTER_TYPE.search(statement)
        if match is None:
            return False
        table, column = match["table"].strip('"'), match["column"].strip('"')
        if changed.get((table, column), 0) != 1:
            return False
        columns = (catalog.get(table) or {}).get("columns") or []
        old = next((c.get("type") for c in columns if c.get("name") == column), None)
        return old is not None and widens(_Ddl(old), _Ddl(match["type"]))

    return judge


class _Ddl:
    """A type as SQL text, for ``widens`` (which compiles a type for PostgreSQL)."""

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.upper().split())

    def compile(self, dialect: Any = None) -> str:
        return self.text


def destructive_statements(
    sql: str, *, allowed: bool, widening: Callable[[str], bool] | None = None
) -> list[LintFinding]:
    """Our rule: statements that lose data are errors unless explicitly allowed.

    ``widening`` says whether a type change only widens its column (then it is no finding).
    """
    findings = []
    for pattern, label in DESTRUCTIVE:
        for match in pattern.finditer(sql):
            line = sql.count("\n", 0, match.start()) + 1
            start = sql.rfind(";", 0, match.start()) + 1
            end = sql.find(";", match.end() - 1)
            statement = " ".join(sql[start : end if end >= 0 else None].split())
            if label.startswith("type change") and widening and widening(statement + ";"):
                continue
            findings.append(
                LintFinding(
                    "lumiku-ops",
                    "destructive-" + label.split(" (")[0].replace(" ", "-"),
                    "warning" if allowed else "error",
                    f"{label}: {statement[:100]}"
                    + ("" if allowed else " (pass --allow-destructive if intended)"),
                    line,
                )
            )
    findings += _transaction_breaks(sql, allowed=allowed)
    return sorted(findings, key=lambda f: f.line or 0)


# A COMMIT with statements after it: if a later one fails, what ran before stays.
_COMMIT = re.compile(r"^COMMIT;\s*$", re.M)
_STATEMENT_AFTER = re.compile(r"^(?!--)\S", re.M)


def _transaction_breaks(sql: str, *, allowed: bool) -> list[LintFinding]:
    findings = []
    for match in _COMMIT.finditer(sql):
        if not _STATEMENT_AFTER.search(sql, match.end()):
            continue  # the range's own final COMMIT
        findings.append(
            LintFinding(
                "lumiku-ops",
                "destructive-transaction-break",
                "warning" if allowed else "error",
                "transaction break: COMMIT inside the range (autocommit_block()); if a later "
                "statement fails, what ran before stays committed"
                + ("" if allowed else " (pass --allow-destructive if intended)"),
                sql.count("\n", 0, match.start()) + 1,
            )
        )
    return findings


def squawk_findings(sql: str) -> list[LintFinding]:
    """Run squawk (the ``squawk-cli`` package) on ``sql``."""
    squawk = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    if not Path(squawk).exists():
        raise LumikuOpsError("squawk is not installed: pip install squawk-cli")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.sql"
        path.write_text(sql)
        result = subprocess.run(
            [squawk, "--reporter", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    try:
        raw = json.loads(result.stdout or "[]")
    except ValueError:
        raise LumikuOpsError(f"squawk failed: {result.stderr.strip()[:200]}") from None
    return [
        LintFinding(
            "squawk",
            item["rule_name"],
            str(item["level"]).lower(),
            item["message"],
            item.get("line"),
        )
        for item in raw
    ]


def _widening_from_history(settings: Settings, plan: MigrationPlan) -> Callable[[str], bool] | None:
    """The widening judge for ``plan``, from the replay's catalog at the database's revision;
    None (every type change stays a finding) when the plan changes no type, or when the
    history cannot be replayed on an empty database (lint never needed that before)."""
    if not _ALTER_TYPE_ANYWHERE.search(plan.sql):
        return None
    from lumiku_ops.history import history_for

    try:
        replay = history_for(settings).replay
    except LumikuOpsError:
        return None
    current = plan.current if plan.current in replay.catalogs else None
    return widening_judge(replay.at(current), plan.sql)


_ALTER_TYPE_ANYWHERE = re.compile(r"\bALTER\s+COLUMN\b[^;]*\bTYPE\b", re.I)


def lint_migrations(
    settings: Settings,
    *,
    target: str = "head",
    from_revision: str | None = None,
    allow_destructive: bool = False,
) -> LintReport:
    """Lint the planned SQL with squawk and the destructive-statement rule."""
    plan = plan_migrations(settings, target=target, from_revision=from_revision)
    report = LintReport(plan=plan, allow_destructive=allow_destructive)
    if plan.sql:
        judge = _widening_from_history(settings, plan)
        report.findings = squawk_findings(plan.sql) + destructive_statements(
            plan.sql, allowed=allow_destructive, widening=judge
        )
    return report
