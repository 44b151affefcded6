"""The CLI passes its flags to the library unchanged (papermill's contract-test habit).

Only the library call is replaced, never a database: these tests pin the wiring between
a flag and a keyword argument, which the end-to-end tests cannot see when both sides
share a default.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from lumiku_ops.cli import cli
from lumiku_ops.cli import migrate as migrate_cli
from lumiku_ops.migrate.apply import ApplyResult
from lumiku_ops.settings import Settings


class Recorder:
    """Stands in for one library function: remembers its arguments, returns ``result``."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.args, self.kwargs = args, kwargs
        return self.result


def applied(action: str = "apply") -> ApplyResult:
    return ApplyResult(action, "applied", "db", "0001", "0002", ["0002"])


def test_apply_passes_every_safety_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(applied())
    monkeypatch.setattr(migrate_cli, "apply_migrations", recorder)
    result = CliRunner().invoke(
        cli,
        [
            "migrate",
            "apply",
            "--target",
            "0002",
            "--dry-run",
            "--confirm",
            "--wait",
            "--lock-timeout",
            "750ms",
            "--statement-timeout",
            "2m",
            "--database-url",
            "postgresql://u@h/db",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    (settings,) = recorder.args
    assert isinstance(settings, Settings)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert recorder.kwargs == {
        "target": "0002",
        "dry_run": True,
        "confirm": True,
        "wait": True,
        "lock_timeout_s": 0.75,
        "statement_timeout_s": 120.0,
    }


def test_apply_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(applied())
    monkeypatch.setattr(migrate_cli, "apply_migrations", recorder)
    assert CliRunner().invoke(cli, ["migrate", "apply"]).exit_code == 0
    assert recorder.kwargs == {
        "target": "head",
        "dry_run": False,
        "confirm": False,
        "wait": False,
        "lock_timeout_s": 5.0,
        "statement_timeout_s": 300.0,
    }


def test_rollback_passes_its_target(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(applied("rollback"))
    monkeypatch.setattr(migrate_cli, "rollback_migrations", recorder)
    assert CliRunner().invoke(cli, ["migrate", "rollback", "--to", "0001"]).exit_code == 0
    assert recorder.kwargs["to"] == "0001" and recorder.kwargs["dry_run"] is False


def test_lint_passes_allow_destructive_and_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from lumiku_ops.migrate.lint import LintReport
    from lumiku_ops.migrate.plan import MigrationPlan

    recorder = Recorder(LintReport(plan=MigrationPlan(None, "head", [], "")))
    monkeypatch.setattr(migrate_cli, "lint_migrations", recorder)
    arguments = ["migrate", "lint", "--from", "0001", "--target", "0002", "--allow-destructive"]
    assert CliRunner().invoke(cli, arguments).exit_code == 0
    assert recorder.kwargs == {"target": "0002", "from_revision": "0001", "allow_destructive": True}


def test_diagnose_passes_the_log_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from lumiku_ops.cli import diagnose as diagnose_cli

    diagnosis = Recorder(None)
    diagnosis.result = type("D", (), {"verdict": "HEALTHY", "to_dict": lambda self: {}})()
    monkeypatch.setattr(diagnose_cli, "run_diagnosis", diagnosis)
    result = CliRunner().invoke(
        cli,
        [
            "diagnose", "--json", "--log", "a.log", "--log", "-", "--log-max-mib", "8",
            "--since", "2h", "--service-role", "app_rw", "--endpoint", "/x",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert diagnosis.kwargs == {
        "endpoints": ["/x"],
        "log_files": ["a.log", "-"],
        "log_max_mib": 8.0,
        "since_s": 7200.0,
        "service_role": "app_rw",
    }


def test_report_passes_its_folder_and_exits_3_when_not_verified(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from lumiku_ops.cli import report as report_cli
    from lumiku_ops.incident.report import IncidentReport

    written = IncidentReport(tmp_path / "incident.md", tmp_path / "incident.html", "X", None, [])
    recorder = Recorder(written)
    monkeypatch.setattr(report_cli, "write_incident_report", recorder)
    from lumiku_ops.cli import main

    assert main(["report", str(tmp_path), "--json"]) == 3  # no verification recorded
    (settings, folder) = recorder.args
    assert isinstance(settings, Settings) and folder == tmp_path
