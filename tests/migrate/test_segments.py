"""Revisions with autocommit_block() (CREATE INDEX CONCURRENTLY): replayed, planned, applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.db.catalog import snapshot
from lumiku_ops.errors import MigrationError
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.migrate.segments import split_into_segments
from lumiku_ops.migrate.shadow import replay_migrations
from tests.utils.cli import lumiku
from tests.utils.db import connect, upgrade
from tests.utils.migrations import add_revision, scratch
from tests.utils.project import with_migrations

pytestmark = pytest.mark.db

CONCURRENT_UPGRADE = """with op.get_context().autocommit_block():
    op.create_index("ix_users_email_cc", "users", ["email"], postgresql_concurrently=True)"""
CONCURRENT_DOWNGRADE = """with op.get_context().autocommit_block():
    op.drop_index("ix_users_email_cc", table_name="users", postgresql_concurrently=True)"""


def history(tmp_path: Path, *, last_upgrade: str = "") -> Path:
    """0001, 0002, then 0003 (a concurrent index), then 0004 (a column)."""
    migrations = scratch(tmp_path)
    add_revision(migrations, "0003", "0002", CONCURRENT_UPGRADE, CONCURRENT_DOWNGRADE)
    add_revision(
        migrations,
        "0004",
        "0003",
        last_upgrade or 'op.add_column("users", sa.Column("nickname", sa.Text()))',
        'op.drop_column("users", "nickname")',
    )
    return migrations


def state(url: str) -> tuple[str | None, bool | None, bool]:
    """The version, whether the concurrent index exists and is valid, and 0004's column."""
    with connect(url) as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        valid = connection.execute(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = 'ix_users_email_cc'"
            )
        ).scalar()
        column = bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns"
                    " WHERE table_name = 'users' AND column_name = 'nickname'"
                )
            ).scalar()
        )
    return version, valid, column


def migrate(url: str, migrations: Path, *args: str) -> tuple[int, str, str]:
    result = lumiku(*args, "--database-url", url, "--migrations", str(migrations))
    return result.returncode, result.stdout, result.stderr


def test_segments_cut_at_each_autocommit_revision(tmp_path: Path) -> None:
    scripts = script_directory(with_migrations(history(tmp_path)))
    up = split_into_segments(scripts, ["0001", "0002", "0003", "0004"], "0004")
    assert [(s.revisions, s.destination, s.autocommit) for s in up] == [
        (("0001", "0002"), "0002", False),
        (("0003",), "0003", True),
        (("0004",), "0004", False),
    ]
    down = split_into_segments(scripts, ["0004", "0003", "0002"], "0001", upgrade=False)
    assert [(s.revisions, s.destination, s.autocommit) for s in down] == [
        (("0004",), "0003", False),
        (("0003",), "0002", True),
        (("0002",), "0001", False),
    ]


def test_apply_runs_each_segment_in_order_and_audits_once(fresh_db: str, tmp_path: Path) -> None:
    migrations = history(tmp_path)
    upgrade(fresh_db, "0001")
    code, out, err = migrate(fresh_db, migrations, "migrate", "apply", "--json")
    assert code == 0, err
    assert json.loads(out)["to_revision"] == "0004"
    assert state(fresh_db) == ("0004", True, True)
    code, out, _ = migrate(fresh_db, migrations, "migrate", "status", "--json")
    audit = json.loads(out)["audit"]
    assert [(a["outcome"], a["from_revision"], a["to_revision"]) for a in audit] == [
        ("applied", "0001", "0004")
    ]
    # and back down through it: DROP INDEX CONCURRENTLY runs outside a transaction too
    code, _, err = migrate(fresh_db, migrations, "migrate", "rollback", "--to", "0002")
    assert code == 0, err
    assert state(fresh_db) == ("0002", None, False)


def test_a_failing_segment_stops_at_the_last_completed_revision(
    fresh_db: str, tmp_path: Path
) -> None:
    migrations = history(
        tmp_path,
        last_upgrade='op.add_column("users", sa.Column("nickname", sa.Text()))\n'
        'raise RuntimeError("the data step broke")',
    )
    upgrade(fresh_db, "0001")
    code, _, err = migrate(fresh_db, migrations, "migrate", "apply")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: apply stopped at revision 0004 ")
    assert "0004_test_0004.py" in lines[0] and "RuntimeError: the data step broke" in lines[0]
    assert "the database is at revision 0003" in lines[0]
    assert state(fresh_db) == ("0003", True, False)  # 0004 rolled back whole, 0003 kept
    code, out, _ = migrate(fresh_db, migrations, "migrate", "status", "--json")
    audit = json.loads(out)["audit"][0]
    assert audit["outcome"] == "failed" and "revision 0003" in audit["detail"]


def test_a_dry_run_over_segments_is_refused_and_changes_nothing(
    fresh_db: str, tmp_path: Path
) -> None:
    migrations = history(tmp_path)
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        before = snapshot(connection)
    code, _, err = migrate(fresh_db, migrations, "migrate", "apply", "--dry-run")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "a dry run cannot roll back revision 0003" in lines[0]
    assert "--target 0002" in lines[0]
    with connect(fresh_db) as connection:
        assert snapshot(connection) == before


def test_plan_shows_every_transaction_with_its_own_timeouts(fresh_db: str, tmp_path: Path) -> None:
    migrations = history(tmp_path)
    upgrade(fresh_db, "0002")
    code, out, err = migrate(fresh_db, migrations, "migrate", "plan")
    assert code == 0, err
    assert "One transaction" not in out
    assert (
        "-- 2 transactions" in out
        and "autocommit_block() of 0003 runs outside any transaction" in out
    )
    assert out.count("BEGIN;") == 2
    assert out.count("SET LOCAL lock_timeout") == 2
    assert out.count("SET LOCAL statement_timeout") == 2
    # outside a transaction, the session's timeouts guard CREATE INDEX CONCURRENTLY
    session = out.index("\nSET statement_timeout = '300000ms';")
    assert out.index("\nSET lock_timeout = '5000ms';") < session < out.index("CONCURRENTLY")
    plan = json.loads(migrate(fresh_db, migrations, "migrate", "plan", "--json")[1])
    assert plan["transactions"] == 2 and plan["outside_transaction"] == ["0003"]


def test_shadow_replay_runs_autocommit_revisions(tmp_path: Path) -> None:
    project = with_migrations(history(tmp_path))
    replay = replay_migrations(project, cache_dir=tmp_path / "cache")
    assert replay.order[-2:] == ["0003", "0004"]
    indexes = json.dumps(replay.at("0003")["users"])
    assert "ix_users_email_cc" in indexes


def test_the_runner_names_an_autocommit_revision_it_cannot_run_in_a_caller_s_transaction(
    fresh_db: str, tmp_path: Path
) -> None:
    """Alembic itself stops there with an empty AssertionError."""
    project = with_migrations(history(tmp_path))
    upgrade(fresh_db, "0002")
    with pytest.raises(MigrationError, match=r"revision 0003 \(.*0003_test_0003.py\) uses"):
        with connect(fresh_db) as connection:
            runner.upgrade(project, connection, "0004")
    assert state(fresh_db) == ("0002", None, False)
