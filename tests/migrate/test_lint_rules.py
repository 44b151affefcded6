"""lint's destructive rule, and plans over revisions that need a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumiku_ops.migrate.lint import bookkeeping_lines, destructive_statements, lint_migrations
from lumiku_ops.settings import load_settings
from tests.utils.cli import lumiku
from tests.utils.migrations import add_revision, scratch

SQL = """BEGIN;
ALTER TABLE a ALTER COLUMN b DROP DEFAULT;
ALTER TABLE a ALTER COLUMN b DROP NOT NULL;
ALTER TABLE a DROP CONSTRAINT a_b_key;
DROP INDEX ix_a;
COMMIT;
CREATE INDEX CONCURRENTLY ix_c ON a (c);
BEGIN;
DROP INDEX CONCURRENTLY IF EXISTS ix_b;
UPDATE alembic_version SET version_num='0004';
COMMIT;
"""


def test_the_destructive_rule_covers_constraints_indexes_and_transaction_breaks() -> None:
    findings = destructive_statements(SQL, allowed=False)
    assert [(f.rule, f.line) for f in findings] == [
        ("destructive-drop-constraint", 4),
        ("destructive-drop-index", 5),
        ("destructive-transaction-break", 6),
        ("destructive-drop-index", 9),
    ]
    assert all(f.level == "error" for f in findings)
    assert "COMMIT" in findings[2].message and "--allow-destructive" in findings[2].message
    assert {f.level for f in destructive_statements(SQL, allowed=True)} == {"warning"}


def test_one_transaction_is_no_break() -> None:
    assert destructive_statements("BEGIN;\nSELECT 1;\nCOMMIT;\n", allowed=False) == []


def test_lint_fails_a_range_with_an_autocommit_block(tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    add_revision(
        migrations,
        "0003",
        "0002",
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_cc", "users", ["email"], postgresql_concurrently=True)',
    )
    add_revision(migrations, "0004", "0003", 'op.drop_constraint("users_email_key", "users")')
    report = lint_migrations(load_settings(migrations_dir=migrations), from_revision="0002")
    rules = {f.rule for f in report.errors}
    assert {"destructive-transaction-break", "destructive-drop-constraint"} <= rules
    assert not report.passed


@pytest.mark.parametrize("command", ["plan", "lint"])
def test_an_offline_plan_over_a_revision_that_reads_rows_is_one_error_line(
    tmp_path: Path, command: str
) -> None:
    migrations = scratch(tmp_path)
    path = add_revision(
        migrations,
        "0003",
        "0002",
        'rows = op.get_bind().execute(sa.text("SELECT id FROM users")).all()\n'
        "for row in rows:\n"
        '    op.execute(f"SELECT {row.id}")',
    )
    result = lumiku("migrate", command, "--from", "0002", "--migrations", str(migrations))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: revision 0003 (") and path.name in lines[0]
    assert "cannot be planned offline" in lines[0] and "--dry-run" in lines[0]


@pytest.mark.db
def test_the_reference_history_lints_clean_on_an_empty_database(fresh_db: str) -> None:
    """Procrastinate's functions DELETE in their bodies, which never run at migration time:
    before ``executed_text``, five destructive-delete errors failed this lint. And squawk's
    notes on ``alembic_version``'s own DDL are Alembic's business, not the project's."""
    report = lint_migrations(load_settings(database_url=fresh_db))
    assert report.plan.pending == ["0001", "0002"]
    assert report.errors == [] and report.passed
    bookkeeping = bookkeeping_lines(report.plan.sql, "alembic_version")
    assert bookkeeping, "the plan creates alembic_version"
    assert not [f for f in report.findings if f.line in bookkeeping]
