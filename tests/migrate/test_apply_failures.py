"""Never half a range: any exception in apply, rollback or a dry run rolls everything back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.db.catalog import snapshot
from lumiku_ops.errors import MigrationError
from lumiku_ops.migrate.apply import apply_migrations
from lumiku_ops.settings import load_settings
from tests.utils.cli import lumiku
from tests.utils.db import connect, upgrade
from tests.utils.migrations import add_revision, scratch

pytestmark = pytest.mark.db

ADD_THEN_RAISE = """op.add_column("users", sa.Column("{column}", sa.Text()))
raise {error}("the data step broke")"""


def revision_of(url: str) -> str | None:
    with connect(url) as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def columns_of_users(url: str) -> set[str]:
    with connect(url) as connection:
        return set(
            connection.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name = 'users'"
                )
            ).scalars()
        )


def latest_audit(url: str, migrations: Path) -> dict[str, str]:
    status = lumiku(
        "migrate", "status", "--database-url", url, "--migrations", str(migrations), "--json"
    )
    audit: list[dict[str, str]] = json.loads(status.stdout)["audit"]
    return audit[0]


def assert_one_error_line(stderr: str, revision: str, path: Path) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: ")
    assert f"revision {revision}" in line and path.name in line
    assert "RuntimeError: the data step broke" in line
    return line


def test_a_python_error_mid_range_rolls_back_every_revision(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    path = add_revision(
        migrations,
        "0003",
        "0002",
        ADD_THEN_RAISE.format(column="nickname", error="RuntimeError"),
        'op.drop_column("users", "nickname")',
    )
    upgrade(fresh_db, "0001")  # 0002 and 0003 run as one range
    result = lumiku("migrate", "apply", "--database-url", fresh_db, "--migrations", str(migrations))
    assert result.returncode == 1
    assert "rolled back" in assert_one_error_line(result.stderr, "0003", path)
    assert revision_of(fresh_db) == "0001"
    assert "nickname" not in columns_of_users(fresh_db)
    with connect(fresh_db) as connection:
        assert "public.BackgroundRemovalJob" not in snapshot(connection)["tables"]
    audit = latest_audit(fresh_db, migrations)
    assert (audit["action"], audit["outcome"]) == ("apply", "failed")
    assert "0003" in audit["detail"] and "RuntimeError" in audit["detail"]


def test_traceback_shows_the_revision_s_own_frame(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    add_revision(
        migrations, "0003", "0002", ADD_THEN_RAISE.format(column="n", error="RuntimeError")
    )
    upgrade(fresh_db, "0002")
    result = lumiku(
        "migrate", "apply", "--database-url", fresh_db, "--migrations", str(migrations),
        "--traceback",
    )  # fmt: skip
    assert result.returncode == 1
    assert "0003_test_0003.py" in result.stderr and "Traceback" in result.stderr
    assert "n" not in columns_of_users(fresh_db)


def test_a_python_error_in_a_rollback_undoes_nothing(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    path = add_revision(
        migrations,
        "0003",
        "0002",
        "pass",
        ADD_THEN_RAISE.format(column="marker", error="RuntimeError"),
    )
    add_revision(
        migrations,
        "0004",
        "0003",
        'op.add_column("users", sa.Column("kept", sa.Text()))',
        'op.drop_column("users", "kept")',
    )
    upgrade(fresh_db, "0002")
    assert (
        lumiku(
            "migrate", "apply", "--database-url", fresh_db, "--migrations", str(migrations)
        ).returncode
        == 0
    )
    result = lumiku(
        "migrate", "rollback", "--to", "0002", "--database-url", fresh_db,
        "--migrations", str(migrations),
    )  # fmt: skip
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "0003", path)
    assert revision_of(fresh_db) == "0004"
    assert {"kept"} <= columns_of_users(fresh_db)  # 0004's downgrade ran, and was undone
    assert "marker" not in columns_of_users(fresh_db)
    audit = latest_audit(fresh_db, migrations)
    assert (audit["action"], audit["outcome"]) == ("rollback", "failed")


def test_a_python_error_in_a_dry_run_commits_nothing(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    path = add_revision(
        migrations, "0003", "0002", ADD_THEN_RAISE.format(column="nickname", error="RuntimeError")
    )
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        before = snapshot(connection)
    result = lumiku(
        "migrate", "apply", "--dry-run", "--database-url", fresh_db,
        "--migrations", str(migrations),
    )  # fmt: skip
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "0003", path)
    with connect(fresh_db) as connection:
        # nothing committed, and (as for every dry run) no audit row either
        assert snapshot(connection) == before
        assert connection.execute(text("SELECT to_regnamespace('lumiku_ops')")).scalar() is None
    assert revision_of(fresh_db) == "0001"


def test_an_interrupt_mid_range_rolls_back_and_is_audited(fresh_db: str, tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    add_revision(
        migrations, "0003", "0002", ADD_THEN_RAISE.format(column="nick", error="KeyboardInterrupt")
    )
    upgrade(fresh_db, "0001")
    settings = load_settings(database_url=fresh_db, migrations_dir=str(migrations))
    with pytest.raises(MigrationError, match="revision 0003.*KeyboardInterrupt"):
        apply_migrations(settings)
    assert revision_of(fresh_db) == "0001"
    assert "nick" not in columns_of_users(fresh_db)
    assert latest_audit(fresh_db, migrations)["outcome"] == "failed"


def test_an_exception_without_a_message_still_says_where_to_look(
    fresh_db: str, tmp_path: Path
) -> None:
    migrations = scratch(tmp_path)
    add_revision(migrations, "0003", "0002", "assert False")
    upgrade(fresh_db, "0002")
    result = lumiku("migrate", "apply", "--database-url", fresh_db, "--migrations", str(migrations))
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "AssertionError (no message; --traceback shows where it was raised)"
    )
    assert revision_of(fresh_db) == "0002"
