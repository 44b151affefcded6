"""One real database state per verdict, diagnosed against the real service over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.diagnose.diagnosis import Diagnosis, diagnose
from lumiku_ops.migrate.revisions import copy_migrations
from lumiku_ops.settings import load_settings
from tests.conftest import JWT_SECRET
from tests.utils.db import connect, upgrade
from tests.utils.factories import add, job, user_with_token
from tests.utils.project import REFERENCE, REPO_ROOT
from tests.utils.service import RunningService, free_port

pytestmark = [pytest.mark.db, pytest.mark.http]

BR_TABLES = [
    "BackgroundRemovalBatch",
    "BackgroundRemovalJob",
    "BackgroundRemoverSubscription",
    "BackgroundRemoverSubscriptionUsage",
]
Start = Callable[[str], RunningService]


def run(
    url: str, service: RunningService | None, token: str | None, **overrides: object
) -> Diagnosis:
    settings = load_settings(
        database_url=url,
        api_url=service.base_url if service else f"http://127.0.0.1:{free_port()}",
        **overrides,
    )
    settings = settings.with_overrides(token=token)
    return diagnose(settings)


def at_revision(url: str, revision: str, service_factory: Start) -> tuple[RunningService, str]:
    upgrade(url, revision)
    _, token = user_with_token(url, JWT_SECRET, email="diag@lumiku.local", credits=1092)
    return service_factory(url), token


def test_missing_revision_file_is_migration_not_created(
    fresh_db: str, service_factory: Start, tmp_path: Path
) -> None:
    service, token = at_revision(fresh_db, "0001", service_factory)
    scratch = copy_migrations(REFERENCE, tmp_path / "migrations", without=["0002"])
    result = run(fresh_db, service, token, migrations_dir=scratch)
    assert result.verdict == "MIGRATION_NOT_CREATED"
    assert result.findings == ["MIGRATION_NOT_CREATED"]  # the 500s are explained, not "unknown"
    assert result.affected_tables == BR_TABLES
    assert result.remedy.runbook == "02_create_migration"
    assert result.remedy.command.startswith("lumiku-ops migrate create --message add_")
    statuses = {e.request_target: e.status for e in result.http}
    assert statuses["/api/background-remover/jobs"] == 500
    assert statuses["/api/credits/balance"] == 200
    assert result.migrations["created_by"]["BackgroundRemovalJob"] is None
    assert result.migrations["created_by"]["users"] == "0001"


def test_revision_not_applied(fresh_db: str, service_factory: Start) -> None:
    service, token = at_revision(fresh_db, "0001", service_factory)
    result = run(fresh_db, service, token)
    assert result.verdict == "MIGRATION_NOT_APPLIED"
    assert result.affected_tables == BR_TABLES
    assert result.migrations["pending"] == ["0002"]
    assert result.remedy.runbook == "03_apply_migration"


def test_table_dropped_by_hand_is_schema_partial(fresh_db: str, service_factory: Start) -> None:
    service, token = at_revision(fresh_db, "head", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(text('DROP TABLE "BackgroundRemovalJob"'))
    result = run(fresh_db, service, token)
    assert result.verdict == "SCHEMA_PARTIAL"
    assert result.affected_tables == ["BackgroundRemovalJob"]


def test_column_dropped_is_schema_drift(fresh_db: str, service_factory: Start) -> None:
    service, token = at_revision(fresh_db, "head", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(text('ALTER TABLE "BackgroundRemovalBatch" DROP COLUMN "zipUrl"'))
    result = run(fresh_db, service, token)
    assert result.verdict == "SCHEMA_DRIFT"
    assert result.affected_tables == ["BackgroundRemovalBatch"]
    (diff,) = result.table_diffs
    assert diff.missing_columns == ["zipUrl"]


def test_index_renamed_is_schema_drift(fresh_db: str, service_factory: Start) -> None:
    service, token = at_revision(fresh_db, "head", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(
            text('ALTER INDEX "BackgroundRemovalJob_status_idx" RENAME TO job_status')
        )
    result = run(fresh_db, service, token)
    assert result.verdict == "SCHEMA_DRIFT"
    (diff,) = result.table_diffs
    assert diff.missing_indexes == ["BackgroundRemovalJob_status_idx"]
    assert diff.extra_indexes == ["job_status"]


def test_stamped_at_head_with_tables_missing_is_revision_mismatch(
    fresh_db: str, service_factory: Start
) -> None:
    service, token = at_revision(fresh_db, "0001", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    result = run(fresh_db, service, token)
    assert result.verdict == "REVISION_MISMATCH"
    assert result.affected_tables == BR_TABLES
    assert result.remedy.command.startswith("alembic stamp 0001")


def test_tables_created_by_hand_without_the_version_is_revision_mismatch(
    fresh_db: str, service_factory: Start
) -> None:
    """The seed's "Option B": the SQL ran, the version table was left behind."""
    service, token = at_revision(fresh_db, "head", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    result = run(fresh_db, service, token)
    assert result.verdict == "REVISION_MISMATCH"
    assert result.remedy.command.startswith("alembic stamp 0002")


def test_look_alike_tables_are_named_in_the_evidence(fresh_db: str, service_factory: Start) -> None:
    service, token = at_revision(fresh_db, "0001", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(text("CREATE TABLE background_removal_jobs (id text primary key)"))
        connection.execute(text("CREATE SCHEMA legacy"))
        connection.execute(text('CREATE TABLE legacy."BackgroundRemoverSubscription" (id text)'))
    result = run(fresh_db, service, token)
    assert result.verdict == "MIGRATION_NOT_APPLIED"
    assert result.database is not None
    found = {(a.schema, a.name, a.model_table) for a in result.database.look_alikes}
    assert ("public", "background_removal_jobs", "BackgroundRemovalJob") in found
    assert ("legacy", "BackgroundRemoverSubscription", "BackgroundRemoverSubscription") in found


def test_database_down(service_factory: Start, fresh_db: str) -> None:
    dead = "postgresql+psycopg://ops:s3cret-pw@127.0.0.1:1/prod"
    result = run(dead, None, "tok")
    assert result.verdict == "DATABASE_UNREACHABLE"
    assert "s3cret-pw" not in json.dumps(result.to_dict())


def test_service_down(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    result = run(fresh_db, None, "tok")
    assert result.verdict == "API_UNREACHABLE"
    assert result.affected_tables == []


def test_bad_token(fresh_db: str, service_factory: Start) -> None:
    service, _ = at_revision(fresh_db, "head", service_factory)
    result = run(fresh_db, service, "not-a-token")
    assert result.verdict == "AUTH_REJECTED"


def test_500s_with_a_healthy_schema_are_unknown_server_errors(
    fresh_db: str, service_factory: Start
) -> None:
    service, token = at_revision(fresh_db, "head", service_factory)
    account, token = user_with_token(fresh_db, JWT_SECRET, email="diag@lumiku.local")
    add(fresh_db, job(account.user_id))
    with connect(fresh_db) as connection:  # a timestamp Python cannot represent
        connection.execute(text("""UPDATE "BackgroundRemovalJob" SET "createdAt" = 'infinity'"""))
    result = run(fresh_db, service, token)
    assert result.verdict == "UNKNOWN_SERVER_ERROR"


def test_healthy(fresh_db: str, service_factory: Start) -> None:
    service, token = at_revision(fresh_db, "head", service_factory)
    result = run(fresh_db, service, token)
    assert result.verdict == "HEALTHY"
    assert {e.status for e in result.http} == {200}
    assert result.remedy.runbook == "04_verify_endpoints"


def test_cli_json_has_the_contract_keys_and_no_secret(
    fresh_db: str, service_factory: Start
) -> None:
    service, token = at_revision(fresh_db, "0001", service_factory)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lumiku_ops",
            "diagnose",
            "--json",
            "--api-url",
            service.base_url,
            "--database-url",
            fresh_db,
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        env={
            "PATH": "",
            "LUMIKU_TOKEN": token,
            "HOME": str(REPO_ROOT),
            "LUMIKU_CACHE_DIR": os.environ["LUMIKU_CACHE_DIR"],  # not $HOME/.cache
        },
    )
    assert result.returncode == 3, result.stderr
    body = json.loads(result.stdout)
    assert {"verdict", "affected_tables", "remedy", "evidence"} <= set(body)
    assert body["verdict"] == "MIGRATION_NOT_APPLIED"
    assert token not in result.stdout + result.stderr


def test_the_seeds_sql_run_by_hand_names_the_revision_and_what_it_lacks(
    fresh_db: str, service_factory: Start
) -> None:
    """The seed's "run the SQL by hand" option, with its older copy of 0002's SQL: the
    tables match 0002 but for one index, and the version table still says 0001."""
    service, token = at_revision(fresh_db, "0001", service_factory)
    seed_sql = REPO_ROOT / "tests" / "fixtures" / "seed_expected_migration.sql"
    with connect(fresh_db) as connection:
        connection.exec_driver_sql(seed_sql.read_text())
    result = run(fresh_db, service, token)
    assert result.verdict == "REVISION_MISMATCH", result.summary
    assert result.remedy.command.startswith("alembic stamp 0002")
    assert "Still different from 0002" in result.summary
    assert '("userId", "createdAt", id)' in result.summary
    assert "userId" in result.remedy.explanation
