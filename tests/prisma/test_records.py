"""``_prisma_migrations`` read and written by Prisma's rules, on real PostgreSQL.

Each test names, in its docstring or comments, the broken code its assertions catch.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.db.catalog import ColumnInfo, read_tables
from lumiku_ops.errors import MigrationError, PrismaMigrationFailedError, PrismaMigrationsError
from lumiku_ops.prisma.migrations import checksum, checksum_matches, list_migrations
from lumiku_ops.prisma.records import TABLE, state
from lumiku_ops.prisma.rows import apply_migration, record_failure, transaction_control
from tests.prisma.helpers import (
    MIGRATIONS,
    SEED_MIGRATION_NAMES,
    add_migration,
    apply_each,
    apply_history,
    copy_history,
)
from tests.utils.db import connect, connection_to

# A migration that defines a function (a $$ body holding ";"), creates a table, then fails.
FAILING = """\
-- CreateFunction
CREATE FUNCTION "touch_updated_at"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW."updatedAt" := now();
    RETURN NEW;
END;
$$;

-- CreateTable
CREATE TABLE "half_done" ("id" TEXT NOT NULL);

-- The mistake
INSERT INTO "no_such_table" ("x") VALUES (1);
"""
FAILING_NAME = "20251019_add_touch_trigger"


# --- Checksums --------------------------------------------------------------------------------


def test_checksum_is_prismas_lowercase_hex_sha256() -> None:
    # prisma-engines' own vector (checksum.rs): catches another hash, upper case, or a digest
    # of decoded-and-reencoded text instead of the file's bytes.
    assert checksum(b"hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    data = "-- é\r\nSELECT 1;\n".encode()
    assert checksum(data) == hashlib.sha256(data).hexdigest()


def test_a_recorded_checksum_matches_the_file_with_either_line_ending() -> None:
    lf, crlf = b"SELECT 1;\nSELECT 2;\n", b"SELECT 1;\r\nSELECT 2;\r\n"
    # Each direction: a matcher that only tries CRLF->LF (or only LF->CRLF) fails one of these.
    assert checksum_matches(checksum(lf), crlf)
    assert checksum_matches(checksum(crlf), lf)
    assert checksum_matches(checksum(lf), lf)
    # An edit is still an edit (a matcher that strips whitespace or always says yes fails).
    assert not checksum_matches(checksum(b"abc"), b"abc\n")
    assert not checksum_matches(checksum(lf), lf.replace(b"2", b"3"))


def test_old_engines_unpadded_checksums_still_match() -> None:
    # prisma-engines#1887: hex without zero padding. Find a script whose digest has a byte
    # below 0x10, so the old form is shorter than 64 characters.
    data = next(
        d
        for d in (f"SELECT {i};".encode() for i in range(1000))
        if any(b < 0x10 for b in hashlib.sha256(d).digest())
    )
    unpadded = "".join(f"{b:x}" for b in hashlib.sha256(data).digest())
    assert len(unpadded) < 64
    assert checksum_matches(unpadded, data)  # fails if only the padded form is compared
    assert not checksum_matches(unpadded, data + b" ")


# --- The migrations folder ----------------------------------------------------------------------


def test_migrations_are_listed_in_folder_name_order_with_their_checksums(tmp_path: Path) -> None:
    for name in ("20251016_b", "20251004080251_a", "20251015_c"):
        add_migration(tmp_path, name, f"-- {name}\n")
    (tmp_path / "migration_lock.toml").write_text('provider = "postgresql"\n')
    migrations = list_migrations(tmp_path)
    # Creation order above is not name order: catches a listing that does not sort, and one
    # that takes migration_lock.toml (a file) for a migration.
    assert [m.name for m in migrations] == ["20251004080251_a", "20251015_c", "20251016_b"]
    first = migrations[0]
    assert first.folder == tmp_path / "20251004080251_a"
    assert first.path == first.folder / "migration.sql"
    assert first.sql == "-- 20251004080251_a\n"
    assert first.checksum == checksum(first.path.read_bytes())


def test_the_file_is_read_as_bytes_so_crlf_survives(tmp_path: Path) -> None:
    add_migration(tmp_path, "1_crlf", b"SELECT 1;\r\n")
    (migration,) = list_migrations(tmp_path)
    # Text-mode reading would turn CRLF into LF and record a checksum Prisma never computes.
    assert migration.sql == "SELECT 1;\r\n"
    assert migration.checksum == hashlib.sha256(b"SELECT 1;\r\n").hexdigest()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "has no migration.sql"),
        (b"SELECT '\xff';\n", "is not UTF-8 (byte 9, line 1)"),
        (b"SELECT 1;\nSELECT '\x00';\n", "holds a NUL character (line 2)"),
    ],
    ids=["no-script", "not-utf8", "nul"],
)
def test_an_unusable_migration_folder_is_one_clear_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    add_migration(tmp_path, "1_fine", "SELECT 1;\n")
    if content is None:
        (tmp_path / "2_bad").mkdir()
    else:
        add_migration(tmp_path, "2_bad", content)
    with pytest.raises(PrismaMigrationsError) as raised:
        list_migrations(tmp_path)
    message = str(raised.value)
    assert "2_bad" in message and expected in message


def test_a_missing_migrations_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PrismaMigrationsError, match="does not exist"):
        list_migrations(tmp_path / "prisma" / "migrations")


# --- Scripts that manage their own transaction ---------------------------------------------------


def test_transaction_statements_are_found_and_bodies_are_not_mistaken_for_them() -> None:
    assert transaction_control("BEGIN;\nCREATE TABLE a (x int);\nCOMMIT;\n") == [
        (1, "BEGIN"),
        (3, "COMMIT"),
    ]
    assert transaction_control("SELECT 1;\n  rollback ;") == [(2, "ROLLBACK")]
    assert transaction_control("PREPARE TRANSACTION 'x'") == [(1, "PREPARE TRANSACTION")]
    # Not transaction control: plpgsql and SQL-standard bodies, strings, comments, savepoints,
    # prepared statements. A scanner that only splits on ";" flags each of these.
    harmless = [
        FAILING,
        "DO $$ BEGIN PERFORM 1; END $$;",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$ BEGIN; COMMIT; END $fn$;",
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;",
        "SELECT 'x; COMMIT;', \"y;END\", E'\\'; ROLLBACK'; -- COMMIT;\n/* COMMIT; /* */ */",
        "SAVEPOINT s; ROLLBACK TO SAVEPOINT s; RELEASE s;",
        "PREPARE q AS SELECT 1;",
    ]
    for sql in harmless:
        assert transaction_control(sql) == [], sql


def test_a_script_with_its_own_commit_is_refused_before_anything_runs(
    fresh_db: str, tmp_path: Path
) -> None:
    """Inside our transaction a COMMIT would commit half a range: nothing may run."""
    add_migration(tmp_path, "1_wrapped", 'BEGIN;\nCREATE TABLE "t" (x int);\nCOMMIT;\n')
    (migration,) = list_migrations(tmp_path)
    with connection_to(fresh_db) as connection:
        with pytest.raises(MigrationError, match=r"line 1: BEGIN ends or opens a transaction"):
            with connection.begin():
                apply_migration(connection, migration)
    with connect(fresh_db) as connection:
        # Neither the table nor the bookkeeping exists: the refusal came before any statement.
        assert read_tables(connection) == {}


# --- Writing and reading rows -------------------------------------------------------------------


def test_the_table_is_created_with_prismas_ddl(fresh_db: str, tmp_path: Path) -> None:
    add_migration(tmp_path, "1_first", "SELECT 1;")
    apply_history(fresh_db, tmp_path)
    with connect(fresh_db) as connection:
        table = read_tables(connection, [TABLE])[f"public.{TABLE}"]
    # What prisma-engines' create_migrations_table gives: a changed type, nullability,
    # default or column order in our DDL fails here.
    assert table.columns == [
        ColumnInfo("id", "character varying(36)", True, None),
        ColumnInfo("checksum", "character varying(64)", True, None),
        ColumnInfo("finished_at", "timestamp with time zone", False, None),
        ColumnInfo("migration_name", "character varying(255)", True, None),
        ColumnInfo("logs", "text", False, None),
        ColumnInfo("rolled_back_at", "timestamp with time zone", False, None),
        ColumnInfo("started_at", "timestamp with time zone", True, "now()"),
        ColumnInfo("applied_steps_count", "integer", True, "0"),
    ]
    assert table.constraints == {"_prisma_migrations_pkey": "PRIMARY KEY (id)"}


def test_applied_migrations_are_recorded_as_prisma_deploy_records_them(fresh_db: str) -> None:
    migrations = apply_history(fresh_db)
    with connection_to(fresh_db) as connection:
        recorded = state(connection, migrations)
    assert recorded.has_table
    assert recorded.pending == []  # nothing left for a deploy: catches rows not committed
    assert recorded.applied == SEED_MIGRATION_NAMES  # in the order they ran
    assert recorded.failed == recorded.edited == recorded.rolled_back == []
    assert recorded.missing_from_folder == []
    assert [row.migration_name for row in recorded.rows] == SEED_MIGRATION_NAMES
    for row, migration in zip(recorded.rows, migrations, strict=True):
        assert uuid.UUID(row.id).version == 4 and str(uuid.UUID(row.id)) == row.id
        assert row.checksum == hashlib.sha256(migration.path.read_bytes()).hexdigest()
        assert row.applied_steps_count == 1  # Prisma's one step per script
        assert row.finished_at is not None and row.finished_at >= row.started_at
        assert row.logs is None and row.rolled_back_at is None
    # Each migration started after the one before finished: catches a started_at taken
    # once for the whole run (now() is the transaction's start).
    for before, after in zip(recorded.rows, recorded.rows[1:], strict=False):
        assert before.finished_at is not None and after.started_at >= before.finished_at
    assert recorded.to_dict()["pending"] == [] and len(recorded.to_dict()["rows"]) == 7


def test_without_the_table_nothing_is_recorded_and_everything_is_pending(fresh_db: str) -> None:
    migrations = list_migrations(MIGRATIONS)
    with connection_to(fresh_db) as connection:
        recorded = state(connection, migrations)
    assert not recorded.has_table
    assert recorded.pending == SEED_MIGRATION_NAMES
    assert recorded.applied == [] and recorded.rows == ()


def test_an_edited_migration_is_found_and_a_crlf_copy_is_not(fresh_db: str, tmp_path: Path) -> None:
    folder = copy_history(tmp_path / "migrations")
    apply_history(fresh_db, folder)
    indexes = folder / "20251016_p2_performance_indexes" / "migration.sql"
    # Line endings swapped by git on another machine: the same migration to Prisma.
    indexes.write_bytes(indexes.read_bytes().replace(b"\n", b"\r\n"))
    with connection_to(fresh_db) as connection:
        assert state(connection, list_migrations(folder)).edited == []
    # A real edit: a different index.
    indexes.write_bytes(indexes.read_bytes().replace(b'"createdAt")', b'"type")'))
    with connection_to(fresh_db) as connection:
        recorded = state(connection, list_migrations(folder))
    assert recorded.edited == ["20251016_p2_performance_indexes"]
    assert recorded.pending == []  # still applied, only edited
    assert not recorded.blocked


def test_a_migration_written_with_crlf_is_not_edited_once_checked_out_with_lf(
    fresh_db: str, tmp_path: Path
) -> None:
    add_migration(tmp_path, "1_windows", b'CREATE TABLE "w" ("id" TEXT);\r\n')
    apply_history(fresh_db, tmp_path)
    (tmp_path / "1_windows" / "migration.sql").write_bytes(b'CREATE TABLE "w" ("id" TEXT);\n')
    with connection_to(fresh_db) as connection:
        recorded = state(connection, list_migrations(tmp_path))
    assert recorded.edited == [] and recorded.applied == ["1_windows"]


def test_a_failing_migration_leaves_nothing_half_applied_and_a_failed_row_that_blocks(
    fresh_db: str, tmp_path: Path
) -> None:
    folder = copy_history(tmp_path / "migrations")
    migrations = list_migrations(folder)
    apply_each(fresh_db, migrations)
    add_migration(folder, FAILING_NAME, FAILING)
    add_migration(folder, "20251020_after", 'CREATE TABLE "later" ("id" TEXT);')
    *_, failing, after = list_migrations(folder)

    with connection_to(fresh_db) as connection:
        connection.begin()
        with pytest.raises(PrismaMigrationFailedError) as raised:
            apply_migration(connection, failing)
            apply_migration(connection, after)
        connection.rollback()
        record_failure(connection, raised.value)

    failure = raised.value
    assert failure.sqlstate == "42P01"
    assert FAILING_NAME in str(failure) and 'relation "no_such_table" does not exist' in str(
        failure
    )
    with connection_to(fresh_db) as connection:
        recorded = state(connection, list_migrations(folder))
        function = connection.execute(text("SELECT to_regproc('touch_updated_at')")).scalar()
        half_done = connection.execute(text("SELECT to_regclass('half_done')")).scalar()
    # The script ran as one batch inside a savepoint that was rolled back: the function
    # and table it created before the bad statement are gone (a runner that splits on ";"
    # or commits as it goes leaves them).
    assert function is None and half_done is None
    # Prisma's failed row: finished_at NULL, not rolled back, no step applied, its logs.
    (row,) = recorded.rows_named(FAILING_NAME)
    assert row.finished_at is None and row.rolled_back_at is None
    assert row.applied_steps_count == 0
    assert row.checksum == failing.checksum and row.started_at == failure.started_at
    assert row.logs is not None
    assert f"Migration name: {FAILING_NAME}" in row.logs
    assert "Database error code: 42P01" in row.logs
    assert 'ERROR: relation "no_such_table" does not exist' in row.logs
    assert '>  13 INSERT INTO "no_such_table" ("x") VALUES (1);' in row.logs
    # It blocks: failed, and neither it nor the migration after it is applied.
    assert recorded.failed == [FAILING_NAME] and recorded.blocked
    assert recorded.pending == [FAILING_NAME, "20251020_after"]
    assert recorded.applied == SEED_MIGRATION_NAMES  # the earlier history is untouched


def test_earlier_migrations_in_the_transaction_survive_a_later_failure(
    fresh_db: str, tmp_path: Path
) -> None:
    """The savepoint undoes only the failing migration; the caller chooses what to commit."""
    add_migration(tmp_path, "1_ok", 'CREATE TABLE "kept" ("id" TEXT);')
    add_migration(tmp_path, "2_bad", 'CREATE TABLE "gone" ("id" TEXT);\nSELECT 1/0;')
    ok, bad = list_migrations(tmp_path)
    with connection_to(fresh_db) as connection:
        connection.begin()
        apply_migration(connection, ok)
        with pytest.raises(PrismaMigrationFailedError):
            apply_migration(connection, bad)
        connection.commit()  # Prisma's choice: keep what finished before the failure
        with connection.begin():
            kept = connection.execute(text("SELECT to_regclass('kept')")).scalar()
            gone = connection.execute(text("SELECT to_regclass('gone')")).scalar()
            recorded = state(connection, [ok, bad])
    # A rollback of the whole transaction inside apply_migration would lose "kept"; no
    # savepoint would keep "gone" and a row for 2_bad.
    assert kept is not None and gone is None
    assert recorded.applied == ["1_ok"] and recorded.pending == ["2_bad"]
    assert [row.migration_name for row in recorded.rows] == ["1_ok"]


def test_a_range_in_one_transaction_records_when_each_migration_really_ran(
    fresh_db: str, tmp_path: Path
) -> None:
    for name in ("1_a", "2_b", "3_c"):
        add_migration(tmp_path, name, "SELECT pg_sleep(0.01);")
    migrations = list_migrations(tmp_path)
    with connection_to(fresh_db) as connection:
        with connection.begin():
            for migration in migrations:
                apply_migration(connection, migration)
        recorded = state(connection, migrations)
    # now() is the transaction's start: times taken from it would make all three start
    # together, before the first one finished.
    rows = recorded.rows
    assert [row.migration_name for row in rows] == ["1_a", "2_b", "3_c"]
    for before, after in zip(rows, rows[1:], strict=False):
        assert before.finished_at is not None and after.started_at >= before.finished_at
        assert after.started_at > before.started_at


def test_record_failure_needs_the_failed_work_rolled_back_first(
    fresh_db: str, tmp_path: Path
) -> None:
    add_migration(tmp_path, "1_bad", "SELECT 1/0;")
    (bad,) = list_migrations(tmp_path)
    with connection_to(fresh_db) as connection:
        connection.begin()
        with pytest.raises(PrismaMigrationFailedError) as raised:
            apply_migration(connection, bad)
        # Still inside the caller's transaction: committing the failed row there would tie
        # it to work the caller is about to roll back.
        with pytest.raises(MigrationError, match="rolled back first"):
            record_failure(connection, raised.value)


def test_failure_logs_are_masked(fresh_db: str, tmp_path: Path) -> None:
    add_migration(tmp_path, "1_secretive", "SELECT 'password=hunter2 tok-0123456789abcdef'::int;")
    (migration,) = list_migrations(tmp_path)
    with connection_to(fresh_db) as connection:
        connection.begin()
        with pytest.raises(PrismaMigrationFailedError) as raised:
            apply_migration(connection, migration, secrets=["tok-0123456789abcdef"])
    # The database echoes the value, and the position excerpt shows the line: a logs text
    # built without redact() (or without the caller's secrets) leaks both.
    for text_ in (raised.value.logs, str(raised.value)):
        assert "hunter2" not in text_ and "tok-0123456789abcdef" not in text_
    assert "password=***" in raised.value.logs


def test_a_rolled_back_migration_is_pending_again_and_a_new_row_records_its_rerun(
    fresh_db: str, tmp_path: Path
) -> None:
    add_migration(tmp_path, "1_base", 'CREATE TABLE "base" ("id" TEXT);')
    add_migration(tmp_path, "2_fix_me", 'ALTER TABLE "missing" ADD COLUMN "x" INT;')
    base, broken = list_migrations(tmp_path)
    apply_each(fresh_db, [base])
    with connection_to(fresh_db) as connection:
        with pytest.raises(PrismaMigrationFailedError) as raised:
            with connection.begin():
                apply_migration(connection, broken)
        record_failure(connection, raised.value)
        # What `prisma migrate resolve --rolled-back 2_fix_me` does.
        with connection.begin():
            connection.execute(
                text(
                    "UPDATE _prisma_migrations SET rolled_back_at = now()"
                    " WHERE migration_name = '2_fix_me' AND finished_at IS NULL"
                )
            )
        with connection.begin():
            resolved = state(connection, [base, broken])
    # A rolled-back row neither blocks nor counts as applied: the migration is pending.
    assert resolved.failed == [] and not resolved.blocked
    assert resolved.rolled_back == ["2_fix_me"]
    assert resolved.pending == ["2_fix_me"]

    (tmp_path / "2_fix_me" / "migration.sql").write_text('ALTER TABLE "base" ADD COLUMN "x" INT;')
    base, fixed = list_migrations(tmp_path)
    apply_each(fresh_db, [fixed])
    with connection_to(fresh_db) as connection:
        recorded = state(connection, [base, fixed])
    # The rerun is a new row; the old one stays, rolled back, with the old checksum. The
    # fixed file matches the applied row, so it is not "edited" (Prisma's engine agrees; a
    # check against every row of that name, rolled-back ones included, would say it is).
    rows = recorded.rows_named("2_fix_me")
    assert [(row.rolled_back, row.applied) for row in rows] == [(True, False), (False, True)]
    assert rows[1].checksum == fixed.checksum != rows[0].checksum
    assert recorded.pending == [] and recorded.edited == [] and recorded.failed == []


def test_a_recorded_migration_whose_folder_is_gone_is_reported(
    fresh_db: str, tmp_path: Path
) -> None:
    add_migration(tmp_path, "1_kept", "SELECT 1;")
    add_migration(tmp_path, "2_deleted", "SELECT 2;")
    apply_history(fresh_db, tmp_path)
    (tmp_path / "2_deleted" / "migration.sql").unlink()
    (tmp_path / "2_deleted").rmdir()
    with connection_to(fresh_db) as connection:
        recorded = state(connection, list_migrations(tmp_path))
    # Prisma: migrationsDirectoryIsBehind, unpersisted 2_deleted.
    assert recorded.missing_from_folder == ["2_deleted"]
    assert recorded.pending == [] and recorded.applied == ["1_kept", "2_deleted"]
