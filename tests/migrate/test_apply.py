"""migrate apply and rollback: atomic, locked, timed out, confirmed, audited."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.db.catalog import snapshot
from lumiku_ops.migrate.apply import apply_migrations, rollback_migrations
from lumiku_ops.settings import load_settings
from tests.utils.cli import lumiku, popen
from tests.utils.db import connect, upgrade
from tests.utils.migrations import SLOW_UPGRADE, add_revision, scratch

pytestmark = pytest.mark.db


def revision_of(url: str) -> str | None:
    with connect(url) as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def wait_for_sleeping_migration(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connect(url) as connection:
            busy = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%'"
                    " AND application_name = 'lumiku-ops migrate apply'"
                    " AND datname = current_database()"
                )
            ).scalar()
        if busy:
            return
        time.sleep(0.1)
    raise AssertionError("the slow migration never started")


def test_apply_then_again_is_a_noop_and_both_are_audited(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    result = lumiku("migrate", "apply", "--database-url", fresh_db, "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["outcome"] == "applied"
    assert (body["from_revision"], body["to_revision"]) == ("0001", "0002")
    assert "created table BackgroundRemovalJob" in body["changes"]

    again = apply_migrations(load_settings(database_url=fresh_db))
    assert again.outcome == "noop"

    status = lumiku("migrate", "status", "--database-url", fresh_db, "--json")
    assert status.returncode == 0
    audit = json.loads(status.stdout)["audit"]
    assert [(a["action"], a["from_revision"], a["to_revision"], a["outcome"]) for a in audit] == [
        ("apply", "0001", "0002", "applied")
    ]


def test_status_exits_3_when_behind(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    result = lumiku("migrate", "status", "--database-url", fresh_db)
    assert result.returncode == 3
    assert "pending: 0002" in result.stdout and "BEHIND" in result.stdout


def test_dry_run_changes_nothing(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        before = snapshot(connection)
    result = apply_migrations(load_settings(database_url=fresh_db), dry_run=True)
    assert result.outcome == "dry-run"
    assert result.to_revision == "0002"
    assert "created table BackgroundRemoverSubscription" in result.changes
    with connect(fresh_db) as connection:
        assert snapshot(connection) == before  # no tables, no audit table, same version
    assert revision_of(fresh_db) == "0001"


def test_a_remote_database_needs_confirm() -> None:
    result = lumiku(
        "migrate", "apply", "--database-url", "postgresql://ops:pw-123@db.example.invalid/prod"
    )
    assert result.returncode == 1
    assert "not on this machine" in result.stderr and "--confirm" in result.stderr
    assert "pw-123" not in result.stderr


def test_two_concurrent_applies_exactly_one_migrates(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    add_revision(
        migrations, "0003", "0002", SLOW_UPGRADE.replace("20", "3"), 'op.drop_table("slow_marker")'
    )
    upgrade(fresh_db, "0002")
    args = ("migrate", "apply", "--database-url", fresh_db, "--migrations", str(migrations))
    first = popen(*args)
    wait_for_sleeping_migration(fresh_db)
    second = lumiku(*args)
    assert second.returncode == 1
    assert "another migration holds the lock" in second.stderr and "--wait" in second.stderr
    first.wait(timeout=60)
    assert first.returncode == 0, first.stderr.read() if first.stderr else ""
    assert revision_of(fresh_db) == "0003"


def test_an_apply_killed_midway_leaves_the_old_revision_and_no_partial_table(
    fresh_db: str, tmp_path: Path
) -> None:
    migrations = scratch(tmp_path)
    add_revision(migrations, "0003", "0002", SLOW_UPGRADE, 'op.drop_table("slow_marker")')
    upgrade(fresh_db, "0001")  # 0002 and 0003 run in the same transaction
    process = popen("migrate", "apply", "--database-url", fresh_db, "--migrations", str(migrations))
    wait_for_sleeping_migration(fresh_db)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the server notices the dead client and rolls back
        with connect(fresh_db) as connection:
            if not connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()"
                )
            ).scalar():
                break
        time.sleep(0.2)
    assert revision_of(fresh_db) == "0001"
    with connect(fresh_db) as connection:
        tables = set(snapshot(connection)["tables"])
    assert "public.slow_marker" not in tables
    assert "public.BackgroundRemovalJob" not in tables
    # and the lock died with the process: the next apply goes through
    assert apply_migrations(load_settings(database_url=fresh_db)).to_revision == "0002"


def test_a_busy_table_times_out_cleanly_and_is_audited(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    add_revision(
        migrations, "0003", "0002", 'op.add_column("users", sa.Column("nickname", sa.Text()))'
    )
    upgrade(fresh_db, "0002")
    with connect(fresh_db) as holder:
        holder.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        result = lumiku(
            "migrate",
            "apply",
            "--database-url",
            fresh_db,
            "--migrations",
            str(migrations),
            "--lock-timeout",
            "500ms",
        )
    assert result.returncode == 1
    assert "--lock-timeout" in result.stderr and "rolled back" in result.stderr
    assert revision_of(fresh_db) == "0002"
    status = json.loads(
        lumiku(
            "migrate",
            "status",
            "--database-url",
            fresh_db,
            "--migrations",
            str(migrations),
            "--json",
        ).stdout
    )
    assert status["audit"][0]["outcome"] == "failed"


def test_a_locked_version_table_times_out_instead_of_waiting_for_ever(fresh_db: str) -> None:
    """Found by bench/migrate_under_load.py: the first read of alembic_version had no
    lock timeout, so an apply behind a lock on it waited until the lock went away."""
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as holder:
        holder.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
        # Well above the lock timeout: a hang fails the test instead of blocking the run.
        result = lumiku(
            "migrate", "apply", "--database-url", fresh_db, "--lock-timeout", "500ms", timeout=60
        )
    assert result.returncode == 1
    assert "--lock-timeout (0.5s)" in result.stderr and "nothing was changed" in result.stderr
    assert revision_of(fresh_db) == "0001"
    audit = json.loads(lumiku("migrate", "status", "--database-url", fresh_db, "--json").stdout)[
        "audit"
    ]
    assert audit[0]["outcome"] == "failed"


def test_rollback_goes_back_one_revision(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    result = rollback_migrations(load_settings(database_url=fresh_db))
    assert (result.from_revision, result.to_revision) == ("0002", "0001")
    assert "dropped table BackgroundRemovalJob" in result.changes
    assert revision_of(fresh_db) == "0001"
