"""A clumsy operator gets one ``error:`` line that says what to do, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.cli import lumiku
from tests.utils.db import connect, upgrade


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_missing_or_empty_migrations_folder(tmp_path: Path) -> None:
    missing = one_error_line(lumiku("diagnose", "--migrations", str(tmp_path / "nope")))
    assert "is not an Alembic migrations folder" in missing and "--migrations DIR" in missing
    (tmp_path / "empty").mkdir()
    empty = one_error_line(lumiku("diagnose", "--migrations", str(tmp_path / "empty")))
    assert str(tmp_path / "empty") in empty


@pytest.mark.parametrize("endpoint", ["api/apps", "@127.0.0.1:18790/steal", "//evil.example/x"])
def test_an_endpoint_is_a_path_so_the_token_stays_with_the_api(endpoint: str) -> None:
    line = one_error_line(lumiku("diagnose", "--endpoint", endpoint, LUMIKU_TOKEN="t" * 40))
    assert f"endpoint '{endpoint}' is not a path" in line


def test_an_unknown_target_revision() -> None:
    line = one_error_line(lumiku("migrate", "apply", "--target", "9999", "--dry-run"))
    assert "No such revision or branch '9999'" in line


@pytest.mark.db
def test_apply_and_status_on_a_database_recording_an_unknown_revision(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    with connect(fresh_db) as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'deadbeef'")
    line = one_error_line(lumiku("migrate", "apply", "--database-url", fresh_db))
    assert "records revision deadbeef, which this history does not have" in line
    with connect(fresh_db) as connection:  # nothing was changed
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == (
            "deadbeef"
        )
    status = lumiku("migrate", "status", "--database-url", fresh_db, "--json")
    assert status.returncode == 3, status.stderr
    data = json.loads(status.stdout)
    assert data["known_revision"] is False and data["pending"] == [] and not data["up_to_date"]
    text = lumiku("migrate", "status", "--database-url", fresh_db)
    assert "UNKNOWN REVISION: deadbeef is not in this history" in text.stdout
    assert "BEHIND" not in text.stdout


def test_an_output_folder_that_cannot_be_created() -> None:
    line = one_error_line(lumiku("runbook", "run", "01", "--out", "/proc/lumiku-x"))
    assert "cannot create the output folder /proc/lumiku-x" in line


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range(port: str) -> None:
    result = lumiku("serve", "--port", port)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Invalid value for '--port'" in result.stderr


def test_a_malformed_service_variable() -> None:
    line = one_error_line(lumiku("serve", "--port", "18999", LUMIKU_RECOVERY_INTERVAL="abc"))
    assert "LUMIKU_RECOVERY_INTERVAL must be a number of seconds, not 'abc'" in line


def test_a_folder_that_is_not_a_project(tmp_path: Path) -> None:
    result = lumiku("check", "--project", str(tmp_path))
    line = one_error_line(result)
    assert f"{tmp_path / 'pyproject.toml'} not found" in line
    assert "[tool.lumiku-ops]" in result.stderr and 'metadata = "' in result.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.lumiku-ops]\nmetadata = "nowhere:meta"\n')
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    line = one_error_line(lumiku("diagnose", "--project", str(tmp_path)))
    assert "[tool.lumiku-ops] metadata: importing 'nowhere' from" in line


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("nan", "not nan"),
        ("inf", "not inf"),
        ("-inf", "not -inf"),
        ("1e400", "not inf"),
        ("1e300", "not 1e+300"),
        ("-1", "not -1.0"),
        ("0", "not 0.0"),
        ("abc", "--log-max-mib takes a number of MiB, not 'abc'"),
    ],
)
def test_a_log_window_that_is_not_a_positive_size(given: str, says: str) -> None:
    line = one_error_line(lumiku("diagnose", "--log", "-", "--log-max-mib", given, "--json"))
    assert line.startswith("error: --log-max-mib ") and says in line, line


def test_runbook_01_with_a_missing_log_file_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    log = tmp_path / "service.log"
    line = one_error_line(
        lumiku("runbook", "run", "01", "-p", "log_file", str(log), "--out", str(out))
    )
    assert line.startswith(f"error: parameter 'log_file': cannot read log file {log}: "), line
    assert not out.exists()


def test_an_empty_output_folder_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lumiku_ops", "runbook", "run", "01", "--out", ""],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert one_error_line(result) == (
        "error: --out is empty; give the output folder, e.g. --out reports/incident"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_since_longer_than_the_calendar_means_no_bound(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("")
    result = lumiku(
        "diagnose",
        "--log",
        str(log),
        "--since",
        "99999999999999999999h",
        "--json",
        LUMIKU_API_URL="http://127.0.0.1:9",
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["evidence"]["log"]["since"] is None
