"""Real logs from the running reference service (and PostgreSQL's own), linked to the models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from lumiku_ops.diagnose.diagnosis import Diagnosis, diagnose
from lumiku_ops.diagnose.format import format_diagnosis
from lumiku_ops.migrate.revisions import copy_migrations
from lumiku_ops.settings import load_settings
from tests.conftest import JWT_SECRET
from tests.utils.db import connect, upgrade
from tests.utils.factories import user_with_token
from tests.utils.project import REFERENCE, REPO_ROOT
from tests.utils.service import RunningService, start_service

pytestmark = [pytest.mark.db, pytest.mark.http]

Start = Callable[[str], RunningService]
FAILING = {
    "/api/background-remover/jobs",
    "/api/background-remover/subscription",
    "/api/background-remover/stats",
}
BR_TABLES = {
    "BackgroundRemovalBatch",
    "BackgroundRemovalJob",
    "BackgroundRemoverSubscription",
    "BackgroundRemoverSubscriptionUsage",
}


def run(url: str, service: RunningService, token: str, **options: object) -> Diagnosis:
    overrides = {k: options.pop(k) for k in ("migrations_dir",) if k in options}
    settings = load_settings(database_url=url, api_url=service.base_url, **overrides)
    return diagnose(settings.with_overrides(token=token), **options)  # type: ignore[arg-type]


def started(url: str, revision: str, factory: Start) -> tuple[RunningService, str]:
    upgrade(url, revision)
    _, token = user_with_token(url, JWT_SECRET, email="logs@lumiku.local", credits=1092)
    return factory(url), token


def test_at_0001_the_log_links_the_three_500s_to_their_tables_and_no_revision(
    fresh_db: str, service_factory: Start, tmp_path: Path
) -> None:
    service, token = started(fresh_db, "0001", service_factory)
    scratch = copy_migrations(REFERENCE, tmp_path / "migrations", without=["0002"])
    result = run(
        fresh_db, service, token, migrations_dir=scratch, log_files=[str(service.log_file)]
    )
    assert result.verdict == "MIGRATION_NOT_CREATED"
    # The requests diagnose itself made are in the log, under the ids the 500s returned.
    answered = {
        e.request_target: json.loads(e.body_text or "{}").get("requestId")
        for e in result.http
        if e.status == 500
    }
    assert set(answered) == FAILING
    rows = {row["request"]: row for row in result.chain}
    assert set(rows) == {f"GET {path}" for path in FAILING}
    for path, request_id in answered.items():
        row = rows[f"GET {path}"]
        assert row["sqlstate"] == "42P01"
        assert row["object"] in BR_TABLES
        assert row["model"] == f"service.models.background_remover.{row['object']}"
        assert row["revision"] is None and row["revision_state"] == "none"
        assert row["request_id"] == request_id  # the newest failing request of that path
        assert row["count"] >= 1 and row["first_time"] <= row["time"]
    assert rows["GET /api/background-remover/jobs"]["object"] == "BackgroundRemovalJob"
    assert rows["GET /api/background-remover/subscription"]["object"] == (
        "BackgroundRemoverSubscription"
    )
    evidence = result.to_dict()["evidence"]["log"]
    assert evidence["sources"] == [str(service.log_file)]
    assert evidence["lines_read"] > 0
    assert {e["blames_schema"] for e in evidence["errors"] if e["sqlstate"] == "42P01"} == {True}
    report = format_diagnosis(result)
    assert "| request | error | table/column | model | revision |" in report
    assert "**no revision**" in report

    # With the committed history, the same errors point at revision 0002, pending.
    committed = run(fresh_db, service, token, log_files=[str(service.log_file)])
    assert committed.verdict == "MIGRATION_NOT_APPLIED"
    assert {(r["revision"], r["revision_state"]) for r in committed.chain} == {("0002", "pending")}

    # Once the tables exist, the same log lines blame nothing: the objects now exist.
    upgrade(fresh_db, "head")
    healed = run(fresh_db, service, token, log_files=[str(service.log_file)])
    assert healed.verdict == "HEALTHY"
    assert healed.chain == []
    assert healed.log is not None and healed.log.errors
    assert {(e.exists, e.blames_schema, e.revision_state) for e in healed.log.errors} == {
        (True, False, "applied")
    }


def test_a_renamed_column_is_42703_linked_to_the_column(
    fresh_db: str, service_factory: Start
) -> None:
    service, token = started(fresh_db, "head", service_factory)
    with connect(fresh_db) as connection:
        connection.execute(
            text('ALTER TABLE "BackgroundRemovalBatch" RENAME COLUMN "userId" TO user_id')
        )
    result = run(fresh_db, service, token, log_files=[str(service.log_file)])
    assert result.verdict == "SCHEMA_DRIFT"
    (row,) = result.chain
    assert row["request"] == "GET /api/background-remover/stats"
    assert row["sqlstate"] == "42703"
    assert row["object"] == "BackgroundRemovalBatch.userId"
    assert row["model"] == "service.models.background_remover.BackgroundRemovalBatch"
    assert (row["revision"], row["revision_state"]) == ("0002", "applied")


def test_a_postgresql_server_log_line_in_plain_text_is_linked(
    fresh_db: str, service_factory: Start, tmp_path: Path
) -> None:
    service, token = started(fresh_db, "0001", service_factory)
    assert service.get("/api/background-remover/jobs", token).status_code == 500
    with connect(fresh_db) as connection:
        data = Path(str(connection.execute(text("SHOW data_directory")).scalar()))
    server_log = data / "log"  # where the embedded server's pg_ctl writes
    if not server_log.is_file():
        pytest.skip("the server's own log is not readable from here (external server)")
    lines = [
        line
        for line in server_log.read_text(errors="replace").splitlines()[-2000:]
        if 'relation "BackgroundRemovalJob" does not exist' in line
    ]
    assert lines, "PostgreSQL logged no error for the failing query"
    plain = tmp_path / "postgresql.log"
    plain.write_text(lines[-1] + "\n")
    assert " ERROR:  " in lines[-1]  # PostgreSQL's own format, not the service's JSON
    result = run(fresh_db, service, token, log_files=[str(plain)])
    (error,) = result.log.errors if result.log else []
    assert error.event.source == "postgres"
    assert error.event.time is not None
    assert (error.event.sqlstate, error.table) == ("42P01", "BackgroundRemovalJob")
    assert (error.revision, error.revision_state, error.blames_schema) == ("0002", "pending", True)


@pytest.fixture
def service_role(fresh_db: str) -> Iterator[tuple[str, str]]:
    """A non-superuser role the service connects as, with every table's privileges."""
    role = f"lumiku_svc_{uuid.uuid4().hex[:8]}"
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'svc-pw-{role}'"))
        connection.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"))
        connection.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    as_role = make_url(fresh_db).set(username=role, password=f"svc-pw-{role}")
    try:
        yield role, as_role.render_as_string(hide_password=False)
    finally:
        with connect(fresh_db) as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))


def test_a_revoked_privilege_is_permission_denied_with_a_grant_that_works(
    fresh_db: str, service_role: tuple[str, str], tmp_path: Path
) -> None:
    role, role_url = service_role
    _, token = user_with_token(fresh_db, JWT_SECRET, email="grant@lumiku.local")
    with connect(fresh_db) as connection:
        connection.execute(text(f'REVOKE SELECT ON "BackgroundRemovalJob" FROM {role}'))
    service = start_service(
        role_url, jwt_secret=JWT_SECRET, log_file=tmp_path / "svc.log", worker=False
    )
    try:
        assert service.get("/api/background-remover/jobs", token).status_code == 500
        assert service.get("/api/apps", token).status_code == 200

        from_log = run(fresh_db, service, token, log_files=[str(service.log_file)])
        assert from_log.verdict == "PERMISSION_DENIED"
        assert from_log.findings[0] == "PERMISSION_DENIED"
        assert "UNKNOWN_SERVER_ERROR" not in from_log.findings
        assert from_log.affected_tables == ["BackgroundRemovalJob"]
        # The service's JSON log names the role it connects as: the GRANT needs no placeholder.
        assert from_log.remedy.command == (
            f'GRANT SELECT ON TABLE "public"."BackgroundRemovalJob" TO "{role}";'
        )
        assert from_log.database is not None
        with connect(fresh_db) as connection:
            owner = connection.execute(text("SELECT current_user")).scalar_one()
        assert from_log.database.owners["BackgroundRemovalJob"] == owner
        assert {r["sqlstate"] for r in from_log.chain} == {"42501"}

        checked = run(
            fresh_db, service, token, log_files=[str(service.log_file)], service_role=role
        )
        assert checked.verdict == "PERMISSION_DENIED"
        assert checked.database is not None and checked.database.read_only is True
        assert checked.to_dict()["evidence"]["database"]["service_role"]["missing"] == {
            "BackgroundRemovalJob": ["SELECT"]
        }
        assert f"- service role `{role}`: lacks SELECT on BackgroundRemovalJob\n" in (
            format_diagnosis(checked)
        )
        grant = checked.remedy.command
        assert grant == f'GRANT SELECT ON TABLE "public"."BackgroundRemovalJob" TO "{role}";'
        with connect(fresh_db) as connection:
            connection.execute(text(grant))
        assert service.get("/api/background-remover/jobs", token).status_code == 200

        # Granted: the 42501 still in the log is stale, and nothing is denied any more.
        after = run(fresh_db, service, token, log_files=[str(service.log_file)], service_role=role)
        assert after.verdict == "HEALTHY"
        assert f"- service role `{role}`: lacks nothing\n" in format_diagnosis(after)
        ghost = run(fresh_db, service, token, service_role="no_such_role_x")
        assert ghost.verdict == "HEALTHY"  # nothing is known to be denied: no verdict from it
        assert "`no_such_role_x`: **does not exist**" in format_diagnosis(ghost)
    finally:
        service.stop()


def test_cli_reads_the_log_from_stdin_and_a_missing_file_is_one_error_line(
    fresh_db: str, service_factory: Start
) -> None:
    service, token = started(fresh_db, "0001", service_factory)
    assert service.get("/api/background-remover/jobs", token).status_code == 500
    command = [
        sys.executable, "-m", "lumiku_ops", "diagnose", "--json",
        "--api-url", service.base_url, "--database-url", fresh_db,
    ]  # fmt: skip
    env = {"PATH": "", "LUMIKU_TOKEN": token, "HOME": str(REPO_ROOT)}
    env["LUMIKU_CACHE_DIR"] = os.environ["LUMIKU_CACHE_DIR"]  # not $HOME/.cache
    piped = subprocess.run(
        [*command, "--log", "-", "--since", "1h"],
        input=service.log_file.read_bytes(),
        capture_output=True, cwd=REPO_ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert piped.returncode == 3, piped.stderr
    body = json.loads(piped.stdout)
    assert body["verdict"] == "MIGRATION_NOT_APPLIED"
    chain = body["evidence"]["log"]["chain"]
    assert {row["object"] for row in chain} >= {"BackgroundRemovalJob"}
    assert body["evidence"]["log"]["sources"] == ["-"]

    empty = subprocess.run(
        [*command, "--log", "-"], input=b"", capture_output=True,
        cwd=REPO_ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert empty.returncode == 3, empty.stderr
    log = json.loads(empty.stdout)["evidence"]["log"]
    assert (log["lines_read"], log["errors"], log["chain"]) == (0, [], [])

    missing = subprocess.run(
        [*command, "--log", str(REPO_ROOT / "no-such.log")],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120, env=env,
    )  # fmt: skip
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.splitlines() == [
        f"error: cannot read log file {REPO_ROOT / 'no-such.log'}: No such file or directory; "
        "give a readable file, or - for standard input"
    ]
