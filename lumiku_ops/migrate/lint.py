"""``migrate lint``: the risks in the SQL ``migrate plan`` would run.

Squawk's findings, and our own rule: statements that lose data (and ``COMMIT``s inside the
range) are errors unless allowed, except a type change that only widens its column. Apart
from ``plan`` because planning needs none of it: squawk, the destructive patterns and the
widening judge only read a plan already made.
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

from lumiku_ops.errors import LumikuOpsError
from lumiku_ops.migrate.plan import MigrationPlan, plan_migrations
from lumiku_ops.migrate.sql_text import executed_text, statement_lines
from lumiku_ops.settings import Settings

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
    # Only what runs: a DELETE in a comment, a string or a function's body loses nothing.
    executed = executed_text(sql)
    for pattern, label in DESTRUCTIVE:
        for match in pattern.finditer(executed):
            line = executed.count("\n", 0, match.start()) + 1
            start = executed.rfind(";", 0, match.start()) + 1
            end = executed.find(";", match.end() - 1)
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
    findings += _transaction_breaks(executed, allowed=allowed)
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
        bookkeeping = bookkeeping_lines(plan.sql, plan.version_table)
        ours = [f for f in squawk_findings(plan.sql) if f.line not in bookkeeping]
        report.findings = ours + destructive_statements(
            plan.sql, allowed=allow_destructive, widening=judge
        )
    return report


def bookkeeping_lines(sql: str, version_table: str) -> set[int]:
    """The lines of the statements that create or write the version table: the migration
    tool's bookkeeping, whose style (``VARCHAR(32)``, say) is not the project's to fix."""
    name = re.compile(
        rf'(?<![\w$"]){re.escape(version_table)}(?![\w$"])|"{re.escape(version_table)}"'
    )
    lines: set[int] = set()
    for first, last, text in statement_lines(executed_text(sql)):
        if name.search(text):
            lines.update(range(first, last + 1))
    return lines
