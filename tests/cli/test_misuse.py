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


# A models module's side effects: its output goes to stderr, any way out is one error line.
MISBEHAVING_MODELS = {
    "exits-0": "print('models: loading')\nimport sys\nsys.exit(0)\n",
    "argparse": (
        "import argparse\nparser = argparse.ArgumentParser(prog='svc')\n"
        "parser.add_argument('--port', type=int)\nparser.parse_args()\n"
    ),
    "raises": "import logging\nlogging.basicConfig()\nraise RuntimeError('no settings')\n",
    "interrupted": "print('models: loading')\nraise KeyboardInterrupt\n",
}
WELL_BEHAVED = (
    "import logging, sys\nfrom sqlalchemy import Column, Integer, MetaData, Table\n"
    "logging.basicConfig(stream=sys.stdout, level=logging.INFO)\n"
    "logging.getLogger('svc').info('models: configured')\nprint('models: loading')\n"
    "metadata = MetaData()\nTable('widget', metadata, Column('id', Integer, primary_key=True))\n"
)
FIRST_REVISION = '''"""widget

Revision ID: 0001
"""
import logging
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
print("revision module: imported")


def upgrade():
    print("revision: creating widget")
    logging.getLogger("svc").warning("revision: logging")
    op.create_table("widget", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("widget")
'''


def noisy_project(root: Path, models: str) -> Path:
    package = root / "svc_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(models)
    (root / "pyproject.toml").write_text(
        '[tool.lumiku-ops]\nmetadata = "svc_models.models:metadata"\n'
    )
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "versions" / "0001_widget.py").write_text(FIRST_REVISION)
    return root


@pytest.mark.parametrize("behaviour", sorted(MISBEHAVING_MODELS))
def test_a_models_module_that_exits_or_fails_at_import_is_one_error(
    tmp_path: Path, behaviour: str
) -> None:
    root = noisy_project(tmp_path / "svc", MISBEHAVING_MODELS[behaviour])
    result = lumiku("check", "--project", str(root), "--json", LUMIKU_DATA_DIR=str(tmp_path / "d"))
    line = one_error_line(result)  # exit 1, never 0, and no traceback
    assert result.stdout == "", "a failed --json command prints nothing on stdout"
    assert "metadata: importing 'svc_models.models'" in line
    assert {"exits-0": "sys.exit(0)", "argparse": "sys.exit(2)"}.get(behaviour, "") in line
    if behaviour != "raises":
        assert "models: loading" in result.stderr or "usage: svc" in result.stderr


@pytest.mark.db
def test_the_projects_prints_and_logs_never_reach_json_stdout(tmp_path: Path) -> None:
    root = noisy_project(tmp_path / "svc", WELL_BEHAVED)
    cache = tmp_path / "user-cache"
    result = lumiku(
        "check",
        "--project",
        str(root),
        "--json",
        LUMIKU_DATA_DIR=str(tmp_path / "d"),
        LUMIKU_CACHE_DIR=str(cache),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(cache.glob("*.json")), "the replay is cached in the user's cache folder"
    assert not (tmp_path / "cache").exists() and not (root / ".lumiku").exists()
    assert json.loads(result.stdout)["passed"] is True  # exactly one JSON document
    for noise in ("models: loading", "models: configured", "revision: creating widget"):
        assert noise in result.stderr


@pytest.mark.db
def test_a_history_needing_a_missing_extension_is_refused_before_any_replay(
    tmp_path: Path,
) -> None:
    root = noisy_project(tmp_path / "svc", WELL_BEHAVED)
    second = FIRST_REVISION.replace('"0001"', '"0002"').replace(
        "down_revision = None", "down_revision = '0001'"
    )
    second = second.replace(
        'op.create_table("widget", sa.Column("id", sa.Integer(), primary_key=True))',
        "op.execute('CREATE EXTENSION IF NOT EXISTS lumiku_no_such_extension')",
    )
    (root / "migrations" / "versions" / "0002_extension.py").write_text(second)
    result = lumiku("check", "--project", str(root), "--json", LUMIKU_DATA_DIR=str(tmp_path / "d"))
    line = one_error_line(result)
    assert 'revision 0002 needs the extension "lumiku_no_such_extension"' in line
    assert "revision: creating widget" not in result.stderr, "0001 was replayed first"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("01_diagnose_5000s", "no runbook '01_diagnose_5000s'"),
        ("0", "'0' could be 01_diagnose_500s"),
    ],
)
def test_a_runbook_name_is_checked_before_anything_is_printed(
    tmp_path: Path, name: str, problem: str
) -> None:
    result = lumiku("runbook", "run", name, "--out", str(tmp_path / "out"))
    line = one_error_line(result)
    assert problem in line and "choose one of: 01_diagnose_500s, 02_create_migration" in line
    assert result.stderr.strip() == line and result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_a_runbook_is_named_by_any_unambiguous_start() -> None:
    from lumiku_ops.runbooks.run import resolve_runbook

    for name in ("01", "01_diagnose", "01_diagnose_500s", "01_diagnose_500s.ipynb"):
        assert resolve_runbook(name).name == "01_diagnose_500s.ipynb"
    assert resolve_runbook("04_v").name == "04_verify_endpoints.ipynb"


@pytest.mark.db
def test_a_revision_that_exits_is_one_error_naming_its_file(tmp_path: Path) -> None:
    root = noisy_project(tmp_path / "svc", WELL_BEHAVED)
    revision = root / "migrations" / "versions" / "0001_widget.py"
    revision.write_text(
        revision.read_text().replace(
            '    print("revision: creating widget")\n', "    import sys\n    sys.exit(0)\n"
        )
    )
    result = lumiku("check", "--project", str(root), "--json", LUMIKU_DATA_DIR=str(tmp_path / "d"))
    line = one_error_line(result)
    assert "0001_widget.py called sys.exit(0)" in line and result.stdout == ""
