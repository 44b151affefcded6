"""Each runbook executed by papermill against a live environment, asserting what it recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lumiku_ops.runbooks.run import run_runbook
from tests.utils.cli import lumiku
from tests.conftest import JWT_SECRET
from tests.utils.db import connect, upgrade
from tests.utils.factories import user_with_token
from tests.utils.migrations import scratch
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]
PASSWORD = "Runbook-Pw-4471"


@dataclass
class Incident:
    """A live environment in the seed's state: tables in the models, no revision, 500s."""

    database_url: str
    service: RunningService
    token: str
    migrations: Path


@pytest.fixture
def incident(
    fresh_db: str,
    service_factory: Callable[[str], RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Incident]:
    upgrade(fresh_db, "0001")
    _, token = user_with_token(fresh_db, JWT_SECRET, email="oncall@lumiku.local", credits=1092)
    service = service_factory(fresh_db)
    migrations = scratch(tmp_path, without=("0002",))
    # Trust authentication ignores the password: it is there to prove it never leaks.
    with_password = make_url(fresh_db).set(password=PASSWORD).render_as_string(hide_password=False)
    monkeypatch.setenv("LUMIKU_TOKEN", token)
    monkeypatch.setenv("DATABASE_URL", with_password)
    monkeypatch.setenv("LUMIKU_API_URL", service.base_url)
    monkeypatch.setenv("LUMIKU_MIGRATIONS_DIR", str(migrations))
    yield Incident(with_password, service, token, migrations)


def revision_of(url: str) -> str | None:
    with connect(url) as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_the_four_runbooks_fix_the_incident(incident: Incident, tmp_path: Path) -> None:
    out = tmp_path / "out"
    log_file = str(incident.service.log_file)
    diagnosed = run_runbook(
        "01_diagnose_500s",
        parameters={"expected_verdict": "MIGRATION_NOT_CREATED", "log_file": log_file},
        out_dir=out,
    )
    assert diagnosed.passed, diagnosed.error
    assert diagnosed.recorded["verdict"] == "MIGRATION_NOT_CREATED"
    chain = diagnosed.recorded["log_chain"]
    assert sorted(row["request"] for row in chain) == [
        "GET /api/background-remover/jobs",
        "GET /api/background-remover/stats",
        "GET /api/background-remover/subscription",
    ]
    assert {(row["sqlstate"], row["revision_state"]) for row in chain} == {("42P01", "none")}
    assert diagnosed.recorded["http_statuses"]["/api/background-remover/jobs"] == 500
    assert diagnosed.recorded["remedy"]["runbook"] == "02_create_migration"

    created = run_runbook("02_create_migration", out_dir=out)
    assert created.passed, created.error
    assert created.recorded["revision"] == "0002" and created.recorded["complete"] is True
    assert (incident.migrations / "versions" / "0002_add_background_remover_models.py").exists()

    rehearsal = run_runbook("03_apply_migration", out_dir=out / "dry")
    assert rehearsal.passed, rehearsal.error
    assert rehearsal.recorded["outcome"] == "dry-run"
    assert revision_of(incident.database_url) == "0001"  # the defaults changed nothing

    applied = run_runbook("03_apply_migration", parameters={"dry_run": False, "confirm": True}, out_dir=out)
    assert applied.passed, applied.error
    assert applied.recorded["outcome"] == "applied"
    assert applied.recorded["schema_passed"] is True and applied.recorded["ready_status"] == 200
    assert revision_of(incident.database_url) == "0002"
    (audit,) = applied.recorded["audit"]
    assert (audit["action"], audit["from_revision"], audit["to_revision"]) == ("apply", "0001", "0002")
    assert audit["outcome"] == "applied" and audit["db_user"]

    verified = run_runbook("04_verify_endpoints", parameters={"deadline": "10s"}, out_dir=out)
    assert verified.passed, verified.error
    assert verified.recorded["passed"] is True
    assert [c["status"] for c in verified.recorded["checks"]] == [200, 200, 200]

    # The incident report, from the executed runbooks in ``out`` (the dry run is elsewhere).
    written = lumiku(
        "report", str(out), "--json",
        LUMIKU_TOKEN=incident.token, DATABASE_URL=incident.database_url,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    summary = json.loads(written.stdout)
    assert (summary["verdict"], summary["revision"], summary["fixed"]) == ("MIGRATION_NOT_CREATED", "0002", True)
    assert summary["runbooks"] == ["01_diagnose_500s", "02_create_migration", "03_apply_migration", "04_verify_endpoints"]
    assert summary["time_to_fix_s"] > 0
    report = (out / "incident.md").read_text()
    assert f"by `{audit['os_user']}` (database role `{audit['db_user']}`)" in report
    assert 'CREATE TABLE "BackgroundRemovalJob"' in report

    # No secret in any executed notebook or report.
    files = list(out.rglob("*.ipynb")) + list(out.rglob("*.html")) + [out / "incident.md"]
    assert len(files) == 17
    for path in files:
        content = path.read_text()
        assert incident.token not in content, path
        assert PASSWORD not in content, path


def test_a_failing_check_fails_the_notebook_and_keeps_the_evidence(incident: Incident, tmp_path: Path) -> None:
    run = run_runbook("04_verify_endpoints", parameters={"deadline": "1s"}, out_dir=tmp_path)
    assert not run.passed
    assert "CheckFailedError" in (run.error or "")
    assert run.recorded["passed"] is False
    assert {c["status"] for c in run.recorded["checks"]} == {500}
    assert run.notebook.exists() and run.html.exists()
    assert "CheckFailedError" in run.html_with_code.read_text()


def test_the_cli_runs_a_runbook_and_exits_3_on_a_finding(incident: Incident, tmp_path: Path) -> None:
    from tests.utils.cli import lumiku

    result = lumiku(
        "runbook", "run", "01", "-p", "expected_verdict", "HEALTHY", "--out", str(tmp_path), "--json",
        LUMIKU_TOKEN=incident.token, DATABASE_URL=incident.database_url,
        LUMIKU_API_URL=incident.service.base_url, LUMIKU_MIGRATIONS_DIR=str(incident.migrations),
        timeout=300,
    )
    assert result.returncode == 3, result.stderr
    assert '"verdict": "MIGRATION_NOT_CREATED"' in result.stdout
    assert incident.token not in result.stdout + result.stderr


def test_public_checks_with_a_token_set_pass(incident: Incident, tmp_path: Path) -> None:
    # Every check public (auth = false) while a token is set: no bearer header is sent, and
    # the runbook must not call that a failure (it once asserted 'Bearer ***' was shown).
    checks = tmp_path / "public.toml"
    checks.write_text('[[checks]]\nname = "apps"\npath = "/api/apps"\nauth = false\nstatus = 401\n')
    run = run_runbook(
        "04_verify_endpoints",
        parameters={"checks_file": str(checks), "deadline": "2s"},
        out_dir=tmp_path / "out",
    )
    assert run.passed, run.error
    assert run.recorded["passed"] is True
    assert [c["status"] for c in run.recorded["checks"]] == [401]
    assert "Authorization: Bearer" not in run.notebook.read_text()
