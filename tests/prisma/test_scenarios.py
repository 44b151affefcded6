"""Every verdict and command on the seeds' Prisma project, on real PostgreSQL and Prisma's
real schema engine: the scenarios the Alembic projects pass, in the seeds' own stack.

One shadow server for the session (the test server's ``postgres`` database), a fresh target
database per test, the commands called in-process (a few through the CLI, for exit codes and
``--json``). Each assertion names, in a comment or the docstring, the broken code it catches.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lumiku_ops.db.catalog import read_tables
from lumiku_ops.diagnose.diagnosis import Diagnosis, diagnose
from lumiku_ops.diagnose.format import format_database_evidence
from lumiku_ops.diagnose.verdicts import (
    MIGRATION_FAILED,
    MIGRATION_NOT_APPLIED,
    MIGRATION_NOT_CREATED,
    REVISION_MISMATCH,
    SCHEMA_DRIFT,
    SCHEMA_PARTIAL,
)
from lumiku_ops.errors import ConfigError, MigrationError
from lumiku_ops.migrate.apply import apply_migrations, rollback_migrations
from lumiku_ops.migrate.create import MigrationCreated, create_migration
from lumiku_ops.migrate.format import format_plan, format_status
from lumiku_ops.migrate.guard import check_project
from lumiku_ops.migrate.plan import plan_migrations
from lumiku_ops.migrate.status import migration_status, verify_schema
from lumiku_ops.prisma.engine import diagnose_history
from lumiku_ops.prisma.migrations import checksum, list_migrations
from lumiku_ops.project import load_project
from lumiku_ops.settings import Settings, load_settings
from tests.prisma.helpers import (
    BACKGROUND_REMOVER_TABLES,
    PROJECT,
    SEED_MIGRATION_NAMES,
    SEED_SQL,
    apply_each,
    apply_history,
)
from tests.utils.cli import as_json, lumiku
from tests.utils.db import connect, connection_to
from tests.utils.postgres import PostgresServer

pytestmark = pytest.mark.usefixtures("prisma_engine")

BG_MESSAGE = "add_background_remover_models"
BG_FOLDER = re.compile(rf"^\d{{14}}_{BG_MESSAGE}$")
# The project's endpoints need the reference service; the in-process diagnoses probe none.
NO_ENDPOINTS: list[str] = []


# --- Shared set-up --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shadow_url(pg_server: PostgresServer) -> str:
    """The server every replay and every engine scratch database is made on."""
    return pg_server.url_for("postgres")


def copy_project(folder: Path, source: Path = PROJECT) -> Path:
    """A copy of ``source`` (the seeds' project) at ``folder``, for a test to change."""
    return Path(shutil.copytree(source, folder, ignore=shutil.ignore_patterns(".lumiku")))


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds' project as committed: seven migrations, no Background Remover one. Tests
    only read it (``migrate create`` writes into the folder: never on this copy)."""
    return copy_project(tmp_path_factory.mktemp("committed") / "project")


@dataclass(frozen=True)
class Created:
    """The project after ``migrate create``, and what the command returned."""

    project: Path
    result: MigrationCreated

    @property
    def migrations(self) -> Path:
        return self.project / "prisma" / "migrations"


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory, shadow_url: str) -> Created:
    """The seeds' project with the Background Remover migration created by ``migrate create``,
    once for the module (tests that change its files copy it first)."""
    project = copy_project(tmp_path_factory.mktemp("created") / "project")
    result = create_migration(settings_for(project, None, shadow_url), BG_MESSAGE)
    return Created(project, result)


def settings_for(project: Path, url: str | None, shadow_url: str) -> Settings:
    return load_settings(project_dir=project, database_url=url, shadow_url=shadow_url)


def add_later(created: Created, project: Path, slug: str, sql: str | None) -> str:
    """A migration folder named to run after the created one (its stamp plus one), holding
    ``sql`` when given; returns its name."""
    stamp = created.result.revision.split("_", 1)[0]
    name = f"{int(stamp) + 1}_{slug}"
    (project / "prisma" / "migrations" / name).mkdir()
    if sql is not None:
        (project / "prisma" / "migrations" / name / "migration.sql").write_text(sql)
    return name


def run_diagnose(project: Path, url: str, shadow_url: str) -> Diagnosis:
    return diagnose(settings_for(project, url, shadow_url), endpoints=NO_ENDPOINTS)


def rows(url: str) -> list[dict[str, object]]:
    with connection_to(url) as connection:
        found = connection.execute(
            text("SELECT * FROM _prisma_migrations ORDER BY started_at, id")
        ).mappings()
        return [dict(row) for row in found]


def tables_present(url: str, names: list[str]) -> list[str]:
    with connect(url) as connection:
        return sorted(key.removeprefix("public.") for key in read_tables(connection, names))


# --- 1. The incident: MIGRATION_NOT_CREATED ------------------------------------------------------


def test_at_the_committed_head_the_verdict_is_not_created_naming_the_four_tables(
    committed: Path, fresh_db: str, shadow_url: str
) -> None:
    """The seeds' case. Guards PrismaHistory._head_differences (the engine's url_to_schema on
    the replayed head, then the catalog comparison that names tables) and classify_schema's
    models-ahead rule: a head that dropped the engine's answer, or named the platform's
    tables, or ranked the pending-nothing database above it, fails here."""
    apply_history(fresh_db)
    found = run_diagnose(committed, fresh_db, shadow_url)
    assert found.verdict == MIGRATION_NOT_CREATED
    assert found.affected_tables == sorted(BACKGROUND_REMOVER_TABLES)
    # The same remedy as on an Alembic project, with the flags that reach this project.
    assert found.remedy.command == (
        f"lumiku-ops migrate create --message add_background_tables --project {committed}"
    )
    # Each model table is attributed to the migration that creates it; the four to none.
    assert found.migrations["kind"] == "prisma"
    creators = found.migrations["created_by"]
    assert {t: creators[t] for t in BACKGROUND_REMOVER_TABLES} == dict.fromkeys(
        BACKGROUND_REMOVER_TABLES
    )
    assert creators["users"] == SEED_MIGRATION_NAMES[0]
    assert found.migrations["pending"] == []
    assert found.migrations["failed"] == found.migrations["edited"] == []


def prisma5(project: Path) -> Path:
    """``project`` with the datasource a Prisma 5 project has: ``url = env(...)`` (the seeds'
    schema has it already), plus ``directUrl`` and ``shadowDatabaseUrl``, none of them set
    here. Prisma 7's engine rejects all three in a datasource."""
    schema = project / "prisma" / "schema.prisma"
    original = schema.read_text()
    datasource = '  url      = env("DATABASE_URL")\n'
    assert datasource in original
    extra = '  directUrl = env("DIRECT_URL")\n  shadowDatabaseUrl = env("SHADOW_DATABASE_URL")\n'
    schema.write_text(original.replace(datasource, datasource + extra))
    return project


def test_check_fails_with_exit_3_naming_the_four_tables(
    committed: Path, shadow_url: str, tmp_path: Path
) -> None:
    """``check`` is the CI guard: the models hold four tables no migration creates. Guards
    check_project's "models captured by revisions" item on a Prisma history, the CLI's exit
    code (3, not 0 or 1) and --json purity (stdout one JSON document); and, the schema being
    a Prisma 5 one with ``directUrl`` and ``shadowDatabaseUrl`` (scenario 12), read_schema
    stripping every URL the engine refuses, for a whole project and not only in the
    engine's own tests."""
    project = prisma5(copy_project(tmp_path / "project", committed))
    result = lumiku("check", "--project", str(project), "--shadow-url", shadow_url, "--json")
    assert result.returncode == 3, result.stderr
    report = as_json(result)
    assert report["passed"] is False
    failed = [item for item in report["checks"] if not item["passed"]]
    assert [item["name"] for item in failed] == ["models captured by revisions"]
    for table in BACKGROUND_REMOVER_TABLES:
        assert table in failed[0]["detail"]
    assert sorted({d["table"] for d in report["uncaptured"]}) == sorted(BACKGROUND_REMOVER_TABLES)


def _git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_check_names_the_migration_folder_git_does_not_track(
    created: Created, shadow_url: str, tmp_path: Path
) -> None:
    """The seeds' root cause: the migration existed on a laptop and never reached git. Guards
    check_tracked on a Prisma history, where every file is called migration.sql: the
    finding must name the migration's folder, or it names nothing."""
    project = copy_project(tmp_path / "project", created.project)
    name = created.result.revision
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "rm", "-q", "--cached", f"prisma/migrations/{name}/migration.sql")
    _git(project, "commit", "-q", "-m", "the history without the new migration")
    report = check_project(settings_for(project, None, shadow_url))
    items = {item.name: item for item in report.items}
    tracked = items["revision files tracked by git"]
    assert not tracked.passed and not tracked.skipped
    assert tracked.detail == f"{name}/migration.sql is not tracked (git add it)"
    assert items["models captured by revisions"].passed


# --- 2. create, apply, verify, check -------------------------------------------------------------


def test_create_writes_the_seeds_expected_tables_and_no_drop(
    created: Created, make_db: Callable[[], str]
) -> None:
    """Guards create_prisma_migration: the folder name (UTC stamp + slug, as Prisma names
    it), the engine's SQL for exactly the four tables (the catalog the seeds' expected SQL
    gives: columns, indexes, constraints), and the left-out drop steps (the procrastinate
    queue the schema does not describe must never be dropped)."""
    result = created.result
    folder = result.path.parent
    assert BG_FOLDER.match(folder.name), folder.name
    assert folder.parent == created.migrations
    assert result.path.name == "migration.sql"
    assert result.down_revision == SEED_MIGRATION_NAMES[-1]
    sql = result.path.read_text()
    assert not re.search(r"\bDROP\b", sql, re.IGNORECASE)
    assert result.only_in_revisions == []
    # The created file and the seeds' SQL, each run after the committed history.
    ours, seeds = make_db(), make_db()
    for url, script in ((ours, sql), (seeds, SEED_SQL.read_text())):
        apply_history(url)
        with connect(url) as connection:
            connection.exec_driver_sql(script)
    with connect(ours) as connection:
        made = read_tables(connection, BACKGROUND_REMOVER_TABLES)
    with connect(seeds) as connection:
        expected = read_tables(connection, BACKGROUND_REMOVER_TABLES)
    assert sorted(expected) == sorted(f"public.{t}" for t in BACKGROUND_REMOVER_TABLES)
    for key, table in expected.items():
        assert made[key].to_dict() == table.to_dict(), key


def test_apply_writes_prismas_rows_and_prismas_engine_agrees_then_verify_and_check_pass(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """Guards deploy + apply_migration's rows (one per migration, checksum the SHA-256 of the
    file's bytes, finished_at set, applied_steps_count 1, logs NULL) against Prisma's own
    diagnoseMigrationHistory (nothing failed, edited or pending), then verify_schema and
    check_project on the applied database and diagnose's schema verdict (none)."""
    settings = settings_for(created.project, fresh_db, shadow_url)
    applied = apply_migrations(settings, confirm=True)
    names = [*SEED_MIGRATION_NAMES, created.result.revision]
    assert applied.outcome == "applied"
    assert applied.revisions == names
    found = rows(fresh_db)
    assert [row["migration_name"] for row in found] == names
    for row, migration in zip(found, list_migrations(created.migrations), strict=True):
        assert row["checksum"] == hashlib.sha256(migration.path.read_bytes()).hexdigest()
        assert row["finished_at"] is not None and row["rolled_back_at"] is None
        assert row["applied_steps_count"] == 1
        assert row["logs"] is None
    engine_view = diagnose_history(fresh_db, created.migrations)
    assert engine_view["has_migrations_table"] is True
    assert engine_view["failed"] == engine_view["edited"] == []
    assert engine_view["history"] is None  # nothing pending on either side
    assert tables_present(fresh_db, BACKGROUND_REMOVER_TABLES) == sorted(BACKGROUND_REMOVER_TABLES)

    verified = verify_schema(settings)
    assert verified.passed, [c.to_dict() for c in verified.tables if not c.ok]
    assert {c.table for c in verified.tables} >= set(BACKGROUND_REMOVER_TABLES)
    report = check_project(settings, check_database=True)
    assert report.passed, report.to_dict()
    status = migration_status(settings)
    assert status.up_to_date and status.current == created.result.revision
    found_diagnosis = run_diagnose(created.project, fresh_db, shadow_url)
    assert found_diagnosis.verdict == "HEALTHY", found_diagnosis.to_dict()
    # A second apply has nothing to do.
    assert apply_migrations(settings, confirm=True).outcome == "noop"


# --- 3. MIGRATION_NOT_APPLIED --------------------------------------------------------------------


def test_one_migration_behind_is_not_applied_and_status_and_check_say_so(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """The history has the Background Remover migration, the database stops one before it.
    Guards PrismaHistory.recorded (the last applied folder as ``current``) and
    classify_schema's "exactly at an older revision" rule on a Prisma replay: a ``current``
    read as the newest row's name, or pending computed without the folder order, fails."""
    apply_history(fresh_db)  # the seven committed migrations
    settings = settings_for(created.project, fresh_db, shadow_url)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == MIGRATION_NOT_APPLIED, found.summary
    assert found.affected_tables == sorted(BACKGROUND_REMOVER_TABLES)
    assert found.remedy.command == f"lumiku-ops migrate apply --confirm --project {created.project}"
    assert found.migrations["pending"] == [created.result.revision]
    assert found.migrations["recorded_revision"] == SEED_MIGRATION_NAMES[-1]
    status = migration_status(settings)
    assert status.pending == [created.result.revision]
    assert status.current == SEED_MIGRATION_NAMES[-1]
    assert not status.up_to_date
    report = check_project(settings, check_database=True)
    behind = {item.name: item for item in report.items}["database up to date"]
    assert not behind.passed and created.result.revision in behind.detail
    # Only the database is behind: the models are captured by the history.
    assert report.uncaptured == []


# --- 4. MIGRATION_FAILED -------------------------------------------------------------------------

# A function whose $$ body holds ";" (the batch must stay whole), a table, then a mistake
# that quotes the database password (a migration that creates the app's role with the
# password of the URL does): the logs must not keep it.
FAILING = """\
-- CreateFunction
CREATE FUNCTION "touch_updated_at"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW."completedAt" := now();
    RETURN NEW;
END;
$$;

-- CreateTable
CREATE TABLE "half_done" ("id" TEXT NOT NULL);

-- The mistake
SELECT '{password}'::integer;
"""
FIXED = FAILING.replace("SELECT '{password}'::integer;", "SELECT 1;")


def _with_password(url: str) -> tuple[str, str]:
    """``url`` with a password (trust authentication ignores it), and that password."""
    parsed = make_url(url)
    password = parsed.password or "Zq7-not-in-logs-5521"
    return parsed.set(password=password).render_as_string(hide_password=False), str(password)


def _functions(url: str) -> list[str]:
    with connect(url) as connection:
        return sorted(
            connection.execute(
                text(
                    "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE n.nspname = 'public' AND proname = 'touch_updated_at'"
                )
            ).scalars()
        )


def test_a_failed_migration_is_rolled_back_recorded_blocks_and_resolves(
    created: Created, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """Guards deploy's failure path end to end, with the Background Remover migration pending
    before the failing one: the CLI's one ``error:`` line and exit 1; the whole range rolled
    back (the four tables, and the $$ function a statement-splitting or per-statement-commit
    apply would leave behind); record_failure's one row (finished_at NULL, logs set, the
    URL's password masked); diagnose's MIGRATION_FAILED ranked above the pending migration,
    with Prisma's resolve command, even though the file fails on the shadow too;
    _refuse_blocked on the next apply; Prisma's own engine seeing the same failed row; and,
    after `migrate resolve --rolled-back` and a fixed file, a rerun that records new rows
    and leaves nothing failed or edited."""
    project = copy_project(tmp_path / "project", created.project)
    migrations = project / "prisma" / "migrations"
    failing_name = add_later(created, project, "add_touch_trigger", None)
    url, password = _with_password(fresh_db)
    settings = settings_for(project, url, shadow_url)
    apply_history(fresh_db)  # the seven committed migrations: two are pending
    script = migrations / failing_name / "migration.sql"
    script.write_text(FAILING.format(password=password))

    result = lumiku(
        "migrate", "apply", "--confirm", "--project", str(project), "--database-url", url
    )
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: migration {failing_name} failed and was rolled back")
    assert password not in result.stderr

    assert _functions(fresh_db) == []
    assert tables_present(fresh_db, ["half_done", *BACKGROUND_REMOVER_TABLES]) == []
    recorded = rows(fresh_db)
    assert [r["migration_name"] for r in recorded] == [*SEED_MIGRATION_NAMES, failing_name]
    row = recorded[-1]
    assert row["finished_at"] is None and row["rolled_back_at"] is None
    assert row["applied_steps_count"] == 0
    assert row["checksum"] == checksum(script.read_bytes())
    logs = str(row["logs"])
    assert "Migration name: " + failing_name in logs and "22P02" in logs
    assert password not in logs

    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == MIGRATION_FAILED, found.summary
    assert found.remedy.command == f"npx prisma migrate resolve --rolled-back {failing_name}"
    assert found.migrations["failed"] == [failing_name]
    assert found.migrations["pending"] == [created.result.revision, failing_name]
    assert "fails on an empty database too" in found.summary
    assert password not in found.summary
    engine_view = diagnose_history(url, migrations)
    assert engine_view["failed"] == [failing_name]

    with pytest.raises(MigrationError, match=f"{failing_name} failed on this database"):
        apply_migrations(settings, confirm=True)
    status_text = format_status(migration_status(settings))
    assert f"status: FAILED: {failing_name} failed on this database" in status_text
    assert rows(fresh_db) == recorded  # refused before anything ran: no new row

    # `npx prisma migrate resolve --rolled-back NAME`, after fixing the file.
    with connect(fresh_db) as connection:
        connection.execute(
            text(
                "UPDATE _prisma_migrations SET rolled_back_at = now()"
                " WHERE migration_name = :name AND finished_at IS NULL"
            ),
            {"name": failing_name},
        )
    script.write_text(FIXED)
    applied = apply_migrations(settings, confirm=True)
    assert applied.outcome == "applied"
    assert applied.revisions == [created.result.revision, failing_name]
    assert _functions(fresh_db) == ["touch_updated_at"]
    reruns = [row for row in rows(fresh_db) if row["migration_name"] == failing_name]
    assert [(r["rolled_back_at"] is None, r["finished_at"] is None) for r in reruns] == [
        (False, True),
        (True, False),
    ]
    engine_view = diagnose_history(url, migrations)
    assert engine_view["failed"] == engine_view["edited"] == []
    assert engine_view["history"] is None
    assert migration_status(settings).up_to_date


# --- 5. Edited migrations ------------------------------------------------------------------------


def test_an_edited_migration_is_a_status_finding_and_a_check_failure_a_crlf_copy_is_not(
    created: Created, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """Guards state()'s checksum rule (any line-ending variant matches, nothing else does),
    MigrationStatus.up_to_date counting ``edited``, and check's database item naming the
    edited migration with exit 3."""
    apply_history(fresh_db, created.migrations)
    edited_name = SEED_MIGRATION_NAMES[-1]

    crlf = copy_project(tmp_path / "crlf", created.project)
    path = crlf / "prisma" / "migrations" / edited_name / "migration.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    status = migration_status(settings_for(crlf, fresh_db, shadow_url))
    assert status.edited == [] and status.up_to_date  # git's autocrlf is no edit

    edited = copy_project(tmp_path / "edited", created.project)
    path = edited / "prisma" / "migrations" / edited_name / "migration.sql"
    path.write_text(path.read_text() + "\n-- reviewed after it was applied\n")
    status = migration_status(settings_for(edited, fresh_db, shadow_url))
    assert status.edited == [edited_name]
    assert not status.up_to_date
    assert status.to_dict()["edited"] == [edited_name]
    # The text says which and why (it said "pending: none", "status: BEHIND").
    assert f"status: EDITED: {edited_name} changed since it was applied" in format_status(status)

    result = lumiku(
        "check",
        "--project",
        str(edited),
        "--database-url",
        fresh_db,
        "--shadow-url",
        shadow_url,
        "--json",
    )
    assert result.returncode == 3, result.stderr
    report = as_json(result)
    failed = [item for item in report["checks"] if not item["passed"]]
    assert [item["name"] for item in failed] == ["database up to date"]
    assert f"edited since applied: {edited_name}" in failed[0]["detail"]


# --- 6. SCHEMA_DRIFT -----------------------------------------------------------------------------


def test_a_column_added_by_hand_is_drift(created: Created, fresh_db: str, shadow_url: str) -> None:
    """Guards PrismaHistory.compare_target (the database against the schema's tables) and
    classify_schema's drift rule: at the recorded head, with one extra column."""
    apply_history(fresh_db, created.migrations)
    with connect(fresh_db) as connection:
        connection.execute(text('ALTER TABLE "BackgroundRemovalJob" ADD COLUMN "note" TEXT'))
    settings = settings_for(created.project, fresh_db, shadow_url)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == SCHEMA_DRIFT, found.summary
    assert found.affected_tables == ["BackgroundRemovalJob"]
    [diff] = found.table_diffs
    assert diff.table == "BackgroundRemovalJob" and diff.extra_columns == ["note"]
    verified = verify_schema(settings)
    assert not verified.passed
    assert [c.table for c in verified.tables if not c.ok] == ["BackgroundRemovalJob"]


# --- 7. SCHEMA_PARTIAL and REVISION_MISMATCH -----------------------------------------------------


def test_a_table_dropped_by_hand_after_the_migration_is_partial(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """``_prisma_migrations`` says applied, one of the four tables is gone. Guards
    classify_schema on a Prisma replay: the nearest-revision rule must not call this a
    mismatch with the migration before (which lacks all four)."""
    apply_history(fresh_db, created.migrations)
    with connect(fresh_db) as connection:
        connection.execute(text('DROP TABLE "BackgroundRemoverSubscriptionUsage"'))
    found = run_diagnose(created.project, fresh_db, shadow_url)
    assert found.verdict == SCHEMA_PARTIAL, found.summary
    assert found.affected_tables == ["BackgroundRemoverSubscriptionUsage"]


def test_sql_run_by_hand_without_rows_is_a_mismatch_resolved_as_applied_one_by_one(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """The seeds' "Option B" in Prisma: the last committed migration and the seeds' SQL were
    run by hand, ``_prisma_migrations`` stops two migrations earlier. Guards remedy_for's
    Prisma branch: Alembic's ``alembic stamp`` means nothing here, and Prisma's ``migrate
    resolve --applied`` records ONE migration per call (a remedy naming only the matching
    one leaves the other pending, and ``migrate apply`` then fails on what already exists)."""
    migrations = list_migrations(created.migrations)
    apply_each(fresh_db, migrations[:-2])
    with connect(fresh_db) as connection:
        connection.exec_driver_sql(migrations[-2].sql)
        connection.exec_driver_sql(SEED_SQL.read_text())
    settings = settings_for(created.project, fresh_db, shadow_url)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == REVISION_MISMATCH, found.summary
    assert migrations[-1].name == created.result.revision
    assert found.remedy.command == (
        f"npx prisma migrate resolve --applied {migrations[-2].name}"
        f" && npx prisma migrate resolve --applied {migrations[-1].name}"
        f" && lumiku-ops migrate apply --confirm --project {created.project}"
    )
    assert "alembic" not in found.remedy.command + found.remedy.explanation
    # What each `prisma migrate resolve --applied NAME` writes; then nothing is left to apply.
    with connect(fresh_db) as connection:
        for migration in migrations[-2:]:
            connection.execute(
                text(
                    "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name,"
                    " started_at, applied_steps_count) VALUES (gen_random_uuid()::text,"
                    " :checksum, now(), :name, now(), 0)"
                ),
                {"checksum": migration.checksum, "name": migration.name},
            )
    assert apply_migrations(settings, confirm=True).outcome == "noop"
    assert migration_status(settings).up_to_date


def test_a_row_for_a_migration_whose_tables_are_absent_is_a_mismatch(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """The reverse: a finished row for the Background Remover migration, none of its tables
    (a row inserted by hand, or the tables dropped since). Guards remedy_for's Prisma branch:
    ``migrate resolve --applied`` of the migration before would be refused by Prisma (P3008,
    already applied); the row that lies is the one to remove."""
    apply_history(fresh_db, created.migrations)
    with connect(fresh_db) as connection:
        for table in BACKGROUND_REMOVER_TABLES:
            connection.execute(text(f'DROP TABLE "{table}" CASCADE'))
    settings = settings_for(created.project, fresh_db, shadow_url)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == REVISION_MISMATCH, found.summary
    assert found.affected_tables == sorted(BACKGROUND_REMOVER_TABLES)
    name = created.result.revision
    delete = f"DELETE FROM _prisma_migrations WHERE migration_name IN ('{name}')"
    psql, apply = found.remedy.command.split(" && ")
    assert shlex.split(psql) == ["psql", "$DATABASE_URL", "-c", delete]
    assert apply == f"lumiku-ops migrate apply --confirm --project {created.project}"
    # The remedy, run: the migration is pending again and applies.
    with connect(fresh_db) as connection:
        connection.execute(text(delete))
    applied = apply_migrations(settings, confirm=True)
    assert applied.revisions == [name]
    assert tables_present(fresh_db, BACKGROUND_REMOVER_TABLES) == sorted(BACKGROUND_REMOVER_TABLES)


def test_a_migration_failing_only_on_the_databases_rows_is_failed_above_not_applied(
    created: Created, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """A migration that replays on an empty database and fails on this one's rows (the usual
    production failure). Guards diagnose's ranking: the failed row is the verdict, above the
    migration that is still pending; without ``MIGRATION_FAILED`` inserted first, this reads
    MIGRATION_NOT_APPLIED and its remedy (apply) would be refused."""
    project = copy_project(tmp_path / "project", created.project)
    apply_history(fresh_db, created.migrations)
    with connect(fresh_db) as connection:
        connection.execute(
            text(
                'INSERT INTO users (id, email, password, "updatedAt")'
                " VALUES ('u1', 'a@b.c', 'x', now())"
            )
        )
    name = add_later(
        created,
        project,
        "require_no_users",
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM users) THEN "
        "RAISE EXCEPTION 'users exist'; END IF; END $$;\n",
    )
    settings = settings_for(project, fresh_db, shadow_url)
    with pytest.raises(MigrationError, match=f"migration {name} failed and was rolled back"):
        apply_migrations(settings, confirm=True)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == MIGRATION_FAILED, found.summary
    assert found.findings[0] == MIGRATION_FAILED
    assert MIGRATION_NOT_APPLIED in found.findings  # what it outranks
    assert "fails on an empty database too" not in found.summary
    assert found.migrations["failed"] == [name]
    assert found.migrations["pending"] == [name]  # failed is not applied
    assert found.remedy.command == f"npx prisma migrate resolve --rolled-back {name}"


# --- 8. A $$ body in one batch -------------------------------------------------------------------

DOLLAR = """\
-- CreateFunction
CREATE FUNCTION "touch_updated_at"() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF NEW."status" = 'completed' THEN
        NEW."completedAt" := now();
    END IF;
    RETURN NEW;
END;
$body$;

-- CreateTrigger
CREATE TRIGGER "BackgroundRemovalJob_touch" BEFORE UPDATE ON "BackgroundRemovalJob"
    FOR EACH ROW EXECUTE FUNCTION "touch_updated_at"();
"""


def test_a_plpgsql_body_replays_and_applies_as_one_batch(
    created: Created, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """Guards PrismaHistory._run and apply_migration sending each file as ONE batch (a split
    on ";" cuts the body at ``:= now();``) with no parameter parsing (``:=`` is not a bind
    parameter), and diagnose on a history whose newest migration changes no model table."""
    project = copy_project(tmp_path / "project", created.project)
    dollar_name = add_later(created, project, "touch_completed_at", DOLLAR)
    apply_history(fresh_db, created.migrations)
    settings = settings_for(project, fresh_db, shadow_url)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == MIGRATION_NOT_APPLIED, found.summary
    assert found.migrations["pending"] == [dollar_name]
    assert "they change no model table" in found.summary
    applied = apply_migrations(settings, confirm=True)
    assert applied.revisions == [dollar_name]
    assert _functions(fresh_db) == ["touch_updated_at"]
    with connect(fresh_db) as connection:  # the trigger runs the whole body
        connection.execute(
            text(
                'INSERT INTO users (id, email, password, "updatedAt")'
                " VALUES ('u1', 'a@b.c', 'x', now())"
            )
        )
        connection.execute(
            text(
                'INSERT INTO "BackgroundRemovalJob" (id, "userId", "originalUrl", tier,'
                " \"creditsUsed\") VALUES ('j1', 'u1', 'u', 'basic', 1)"
            )
        )
        connection.execute(text("UPDATE \"BackgroundRemovalJob\" SET status = 'completed'"))
        done = connection.execute(text('SELECT "completedAt" FROM "BackgroundRemovalJob"'))
        assert done.scalar_one() is not None
    assert migration_status(settings).up_to_date


# --- 9. plan and --dry-run -----------------------------------------------------------------------


def test_plan_shows_the_pending_migrations_in_one_transaction_with_its_timeouts(
    created: Created, make_db: Callable[[], str], shadow_url: str
) -> None:
    """Guards plan_prisma: the pending files from ``_prisma_migrations`` (none read: all of
    them), one BEGIN/COMMIT around them (what apply runs), SET LOCAL timeouts inside it, each
    file whole; and the script, pasted (one batch, as psql -f sends it), leaves what apply
    leaves: the tables and Prisma's rows, which Prisma's own engine then accepts."""
    behind, empty = make_db(), make_db()
    apply_history(behind)
    plan = plan_migrations(settings_for(created.project, behind, shadow_url))
    name = created.result.revision
    assert plan.current == SEED_MIGRATION_NAMES[-1] and plan.pending == [name]
    assert plan.sql.startswith("BEGIN;\n")
    assert plan.sql.rstrip().endswith("COMMIT;")
    assert plan.sql.count("BEGIN;") == 1 and plan.sql.count("COMMIT;") == 1
    assert "SET LOCAL lock_timeout = " in plan.sql
    assert "SET LOCAL statement_timeout = " in plan.sql
    assert plan.sql.index("SET LOCAL") < plan.sql.index(f"-- Migration {name}")
    assert created.result.path.read_text() in plan.sql

    everything = plan_migrations(settings_for(created.project, empty, shadow_url))
    assert everything.current is None
    assert everything.pending == [*SEED_MIGRATION_NAMES, name]
    assert everything.sql.count("BEGIN;") == 1  # one transaction, not one per migration
    parsed = make_url(empty)
    with psycopg.connect(
        host=parsed.query.get("host") or parsed.host,  # type: ignore[arg-type]
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    ) as raw:
        raw.execute(everything.sql.encode())
    assert tables_present(empty, BACKGROUND_REMOVER_TABLES) == sorted(BACKGROUND_REMOVER_TABLES)
    # Pasted, it records what it ran as apply does: a plan without the rows leaves tables
    # no row records (REVISION_MISMATCH) and Prisma's deploy would run them all again.
    found = rows(empty)
    assert [row["migration_name"] for row in found] == everything.pending
    for row, migration in zip(found, list_migrations(created.migrations), strict=True):
        assert row["checksum"] == migration.checksum
        assert row["finished_at"] is not None and row["applied_steps_count"] == 1
    assert migration_status(settings_for(created.project, empty, shadow_url)).up_to_date
    engine_view = diagnose_history(empty, created.migrations)
    assert engine_view["failed"] == engine_view["edited"] == [] and engine_view["history"] is None
    assert "including the _prisma_migrations update" in format_plan(plan)


def test_a_dry_run_applies_everything_then_commits_nothing(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """Guards deploy's dry run: the range runs (what it would change is reported) and is
    rolled back, ``_prisma_migrations`` and the audit trail included; and diagnose's text
    naming Prisma's table as the one missing."""
    settings = settings_for(created.project, fresh_db, shadow_url)
    result = apply_migrations(settings, dry_run=True)
    assert result.outcome == "dry-run"
    assert result.revisions == [*SEED_MIGRATION_NAMES, created.result.revision]
    assert any("BackgroundRemovalJob" in change for change in result.changes)
    with connect(fresh_db) as connection:
        assert read_tables(connection) == {}  # no model table, no _prisma_migrations, no audit
    # Diagnosed, the empty database is one without Prisma's table (it said alembic_version).
    evidence = format_database_evidence(run_diagnose(created.project, fresh_db, shadow_url))
    assert "recorded revision: none (no _prisma_migrations table)" in evidence


# --- 10. rollback --------------------------------------------------------------------------------


def test_rollback_explains_there_is_no_down_migration_and_changes_nothing(
    created: Created, fresh_db: str, shadow_url: str
) -> None:
    """Guards rollback_migrations' Prisma branch and the CLI's one-line error: exit 1, no
    traceback, nothing changed (the rows and tables as they were)."""
    apply_history(fresh_db, created.migrations)
    before = rows(fresh_db)
    result = lumiku(
        "migrate",
        "rollback",
        "--confirm",
        "--project",
        str(created.project),
        "--database-url",
        fresh_db,
        "--shadow-url",
        shadow_url,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Prisma migrations have no down migration")
    assert "nothing was changed" in line and "migrate create" in line
    assert rows(fresh_db) == before
    assert tables_present(fresh_db, BACKGROUND_REMOVER_TABLES) == sorted(BACKGROUND_REMOVER_TABLES)
    with pytest.raises(MigrationError, match="no down migration"):
        rollback_migrations(settings_for(created.project, fresh_db, shadow_url), confirm=True)


# --- 11. Node.js missing -------------------------------------------------------------------------


def test_without_node_diagnose_is_one_error_line_saying_to_install_it(
    committed: Path, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """Guards find_node's error reaching the CLI as one ``error:`` line (exit 1), not a
    traceback or a FileNotFoundError, when the schema engine is needed (the models, with
    nothing cached: a warm diagnose needs no engine)."""
    apply_history(fresh_db)
    result = lumiku(
        "diagnose",
        "--project",
        str(committed),
        "--database-url",
        fresh_db,
        "--shadow-url",
        shadow_url,
        "--json",
        PATH=str(tmp_path),  # no node on it
        LUMIKU_CACHE_DIR=str(tmp_path / "cache"),
    )
    assert result.returncode == 1
    assert result.stdout == ""  # --json: nothing but a result, and there is none
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Node.js 20 or newer is needed for Prisma projects")


def test_a_warm_diagnose_needs_no_node(
    committed: Path, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """The engine's answers are kept by the schema's and the migrations' content: a second
    diagnose of the same project gives the same verdict without starting Node (an on-call
    machine without Node can still read a project diagnosed once)."""
    apply_history(fresh_db)
    args = ["diagnose", "--project", str(committed), "--database-url", fresh_db]
    args += ["--shadow-url", shadow_url, "--json"]
    first = lumiku(*args)
    assert first.returncode in (0, 3), first.stderr
    again = lumiku(*args, PATH=str(tmp_path))  # no node on it
    assert again.returncode == first.returncode, again.stderr
    assert json.loads(again.stdout)["verdict"] == json.loads(first.stdout)["verdict"]


# --- 13. Configuration errors --------------------------------------------------------------------


BAD_CONFIGS = {
    'kind = "prisma"\nmetadata = "app.models:Base.metadata"\n': (
        "metadata: only for Alembic projects; a Prisma project has none"
    ),
    'kind = "prisma"\nprisma_schema = "prisma/missing.prisma"\n': (
        "prisma_schema: {project}/prisma/missing.prisma not found (a .prisma file or folder)"
    ),
    'kind = "django"\n': "kind: 'django' is not one of alembic, prisma",
}


def test_a_bad_prisma_configuration_is_one_error_line(committed: Path, tmp_path: Path) -> None:
    """Guards _prisma_project (a key of the other kind, a missing schema) and load_project's
    kind check: one message naming the file and the key; through the CLI, one ``error:``
    line, exit 1, nothing on stdout under --json."""
    project = copy_project(tmp_path / "project", committed)
    config = project / "lumiku-ops.toml"
    for text_, expected in BAD_CONFIGS.items():
        config.write_text(text_)
        with pytest.raises(ConfigError) as raised:
            load_project(project)
        message = str(raised.value)
        assert message == f"{config}: {expected.format(project=project)}", message
    config.write_text(next(iter(BAD_CONFIGS)))
    result = lumiku("migrate", "status", "--project", str(project), "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    # Read before any database: no embedded server was started in the project for it.
    assert not (project / ".lumiku").exists()
    assert result.stderr.splitlines() == [f"error: {config}: {next(iter(BAD_CONFIGS.values()))}"]


def test_a_row_for_a_migration_the_folder_lacks_is_a_mismatch_everywhere(
    created: Created, fresh_db: str, shadow_url: str, tmp_path: Path
) -> None:
    """A teammate's migration applied from another branch: ``_prisma_migrations`` records a
    migration this folder does not have (Prisma: migrationsDirectoryIsBehind). Apply refuses
    it and status calls it REVISION_MISMATCH; guards diagnose saying the same (it said
    HEALTHY: the unknown row was ignored) with a Prisma remedy, and format_status naming it."""
    project = copy_project(tmp_path / "project", created.project)
    sql = 'CREATE TABLE "elsewhere" ("id" TEXT);\n'
    name = add_later(created, project, "teammates_branch", sql)
    apply_history(fresh_db, project / "prisma" / "migrations")
    shutil.rmtree(project / "prisma" / "migrations" / name)
    settings = settings_for(project, fresh_db, shadow_url)
    status = migration_status(settings)
    assert not status.known and status.unknown == [name]
    assert f"UNKNOWN REVISION: {name} is not in this history" in format_status(status)
    with pytest.raises(MigrationError, match=f"records migration {name}.*REVISION_MISMATCH"):
        apply_migrations(settings, confirm=True)
    found = diagnose(settings, endpoints=NO_ENDPOINTS)
    assert found.verdict == REVISION_MISMATCH, found.summary
    assert found.migrations["unknown"] == [name]
    assert name in found.summary
    psql, apply = found.remedy.command.split(" && ")
    delete = f"DELETE FROM _prisma_migrations WHERE migration_name IN ('{name}')"
    assert shlex.split(psql) == ["psql", "$DATABASE_URL", "-c", delete]
    assert apply == f"lumiku-ops migrate apply --confirm --project {project}"
