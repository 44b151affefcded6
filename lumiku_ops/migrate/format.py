"""Pure formatters for the migrate and check results (Markdown text)."""

from __future__ import annotations

from lumiku_ops.escaping import escape_control
from lumiku_ops.migrate.apply import ApplyResult
from lumiku_ops.migrate.create import MigrationCreated
from lumiku_ops.migrate.guard import CheckReport
from lumiku_ops.migrate.lint import LintReport
from lumiku_ops.migrate.plan import MigrationPlan
from lumiku_ops.migrate.status import MigrationStatus, SchemaVerification

OK, FAIL = "✓", "✗"


def format_created(created: MigrationCreated) -> str:
    """The new revision, its checklist, and the git commands to commit it."""
    # A Prisma migration is a folder holding migration.sql; Prisma teams say "migration".
    noun = "migration" if created.path.name == "migration.sql" else "revision"
    lines = [
        f"## Created {noun} {created.revision}: {created.message}",
        "",
        f"File: `{created.path}` ({'after' if noun == 'migration' else 'revises'} "
        f"{created.down_revision or 'base'})",
        "",
        "| table | exists | columns | indexes | keys |",
        "|---|---|---|---|---|",
    ]
    for row in created.checklist:
        indexes = sum(row["indexes"].values()), len(row["indexes"])
        keys = sum(row["constraints"].values()), len(row["constraints"])
        lines.append(
            f"| {row['table']} | {OK if row['exists'] else FAIL} | {row['columns']} "
            f"| {indexes[0]}/{indexes[1]} | {keys[0]}/{keys[1]} |"
        )
    verdict = "complete" if created.complete else "INCOMPLETE: review before committing"
    lines += ["", f"Checklist against the models: {verdict}."]
    if created.warnings:
        lines += ["", "To review before applying to a database with rows:"]
        lines += [f"- {item}" for item in created.warnings]
    if created.only_in_revisions:
        lines += ["", "Only in the revisions (destructive, not written; --allow-destructive):"]
        lines += [f"- {item}" for item in created.only_in_revisions]
    lines += ["", "Commit it:", ""]
    lines += [f"    {command}" for command in git_commands(created)]
    return "\n".join(lines)


def git_commands(created: MigrationCreated) -> list[str]:
    """The exact commands that put the revision under version control."""
    return [
        f"git add {created.path}",
        f'git commit -m "feat(database): {created.message} ({created.revision})"',
        "lumiku-ops check",
    ]


def format_plan(plan: MigrationPlan) -> str:
    """The pending revisions and their SQL."""
    if not plan.pending:
        return f"Nothing pending: the database is at {plan.current or 'no revision'}."
    return "\n".join(
        [
            f"-- {len(plan.pending)} pending revision(s) from {plan.current or 'base'} "
            f"to {plan.target}: {', '.join(plan.pending)}",
            _transactions_line(plan),
            "",
            plan.sql.rstrip(),
        ]
    )


def _transactions_line(plan: MigrationPlan) -> str:
    if not plan.outside_transaction:
        return f"-- One transaction, including the {plan.version_table} update."
    outside = ", ".join(plan.outside_transaction)
    return (
        f"-- {plan.transactions} transactions, each committed in turn; the autocommit_block() "
        f"of {outside} runs outside any transaction. Run by hand, stop at the first error: "
        "what was committed stays."
    )


def format_lint(report: LintReport) -> str:
    """Findings grouped by level, then a one-line verdict."""
    if not report.plan.pending:
        return "Nothing pending: nothing to lint."
    lines = []
    for finding in sorted(report.findings, key=lambda f: (f.level != "error", f.line or 0)):
        where = f"line {finding.line}: " if finding.line else ""
        lines.append(f"{finding.level}: [{finding.source} {finding.rule}] {where}{finding.message}")
    lines += [
        "",
        f"{'PASSED' if report.passed else 'FAILED'}: {len(report.errors)} error(s), "
        f"{len(report.findings) - len(report.errors)} warning(s) in "
        f"{', '.join(report.plan.pending)}",
    ]
    return "\n".join(lines)


def format_apply(result: ApplyResult) -> str:
    """What happened, in a few lines."""
    if result.outcome == "noop":
        return f"Nothing to {result.action}: {result.database} is at {result.from_revision}."
    verb = {"dry-run": "Would move", "applied": "Moved"}[result.outcome]
    lines = [
        f"{verb} {result.database} from {result.from_revision or 'base'} to "
        f"{result.to_revision or 'base'} ({', '.join(result.revisions)}) "
        f"in {result.duration_ms:.0f} ms.",
    ]
    lines += [f"  - {change}" for change in result.changes]
    if result.outcome == "dry-run":
        lines.append("Dry run: everything was rolled back; nothing changed.")
    return "\n".join(lines)


def format_status(status: MigrationStatus) -> str:
    """Recorded revision, heads, pending, and the audit trail."""
    lines = [
        f"database: {status.database}",
        f"recorded revision: {status.current or 'none'}",
        f"heads: {', '.join(status.heads)}",
        f"pending: {', '.join(status.pending) or 'none'}",
        "status: " + _state(status),
    ]
    if status.audit:
        lines += ["", "recent runs:"]
        lines += [
            f"  {r.at} {r.action} {r.from_revision or 'base'} -> {r.to_revision or 'base'} "
            f"{r.outcome} by {r.os_user}@{r.host}" + (f" ({r.detail})" if r.detail else "")
            for r in status.audit
        ]
    return "\n".join(lines)


def format_schema_verification(verification: SchemaVerification) -> str:
    """One line per model table, with the seed's wrong counts called out."""
    lines = [f"Schema of {verification.database} against the models:", ""]
    for check in verification.tables:
        mark = OK if check.ok else FAIL
        line = f"{mark} {check.table}: {check.actual_columns}/{check.expected_columns} columns"
        if not check.ok:
            line += f" ({check.diff.summary().split(': ', 1)[1]})"
        lines.append(line)
        if check.seed_note:
            lines.append(f"    note: {check.seed_note}")
    if verification.only_in_revisions:
        lines += ["", "Only in the revisions (created by them, not in the models; not counted):"]
        lines += [f"- {d.describe()}" for d in verification.only_in_revisions]
    if verification.models_refused:
        lines += [
            "",
            "Refused by PostgreSQL (declared by the models, no database holds it; not counted):",
        ]
        lines += [f"- {escape_control(r['detail'])}" for r in verification.models_refused]
    lines += ["", "PASSED" if verification.passed else "FAILED"]
    return "\n".join(lines)


def format_check(report: CheckReport) -> str:
    """One line per guard, then the verdict."""
    lines = []
    for item in report.items:
        mark = "-" if item.skipped else (OK if item.passed else FAIL)
        lines.append(f"{mark} {item.name}: {item.detail}")
    lines += ["", "PASSED" if report.passed else "FAILED"]
    return "\n".join(lines)


def _state(status: MigrationStatus) -> str:
    if not status.known:
        return (
            f"UNKNOWN REVISION: {', '.join(status.unknown) or status.current} is not in this "
            "history (REVISION_MISMATCH); run `lumiku-ops diagnose` to see which revision the "
            "tables match, or point --project/--migrations at the history that wrote it"
        )
    if status.failed:
        return (
            f"FAILED: {', '.join(status.failed)} failed on this database and blocks every later "
            "migration (MIGRATION_FAILED); fix it, then `npx prisma migrate resolve "
            f"--rolled-back {status.failed[0]}`"
        )
    if status.edited:
        return (
            f"EDITED: {', '.join(status.edited)} changed since it was applied; restore the file "
            "as it was applied and put the change in a new migration"
        )
    return "up to date" if status.up_to_date else "BEHIND"
