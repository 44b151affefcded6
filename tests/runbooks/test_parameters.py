"""Runbook parameters are checked against their declared types before anything runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lumiku_ops.errors import ConfigError
from lumiku_ops.runbooks.parameters import check_file_parameters, validate_parameters
from lumiku_ops.runbooks.run import runbook_parameters
from tests.utils.cli import lumiku
from tests.utils.db import connect, upgrade

APPLY = runbook_parameters("03_apply_migration")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"dry_run": "False", "confirm": "true"}, {"dry_run": False, "confirm": True}),
        ({"dry_run": "FALSE", "confirm": "True"}, {"dry_run": False, "confirm": True}),
        ({"dry_run": True, "lock_timeout": "750ms"}, {"dry_run": True, "lock_timeout": "750ms"}),
    ],
)
def test_true_false_spellings_are_converted(given: dict[str, object], expected: object) -> None:
    assert validate_parameters("03", APPLY, given) == expected


@pytest.mark.parametrize(
    ("given", "names"),
    [
        ({"confirm": "no"}, "'confirm' is a bool"),
        ({"confirm": "yes"}, "'confirm' is a bool"),
        ({"confirm": "1"}, "'confirm' is a bool"),
        ({"dry_run": "0"}, "'dry_run' is a bool"),
        ({"dry_run": 0}, "'dry_run' is a bool"),
        ({"api_ulr": "http://x"}, "has no parameter 'api_ulr'"),
        ({"lock_timeout": "forever"}, "forever"),
        ({"target": 2}, "'target' is a string"),
        ({"api_url": "http://ops:pw@api.example.com"}, "'api_url' holds a password"),
        ({"api_url": "https://api.example.com/?token=eyJhbGciOi.eyJzdWIi.c2ln"}, "a token"),
        ({"api_url": "https://api.example.com/x?access_token=abc123"}, "'api_url' holds a token"),
        ({"api_url": "https://api.example.com/?v=1&api_key=abc123"}, "'api_url' holds a token"),
        ({"api_url": "https://api.example.com/?API-KEY=abc123"}, "'api_url' holds a token"),
        ({"api_url": "https://api.example.com/?jwt=abc"}, "'api_url' holds a token"),
        ({"api_url": "https://api.example.com/cb#access_token=abc"}, "'api_url' holds a token"),
        ({"target": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMifQ"}, "'target' holds a token"),
        ({"target": "he\x00ad"}, "'target' holds a NUL byte"),
    ],
)
def test_a_wrong_value_names_the_parameter(given: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        validate_parameters("03", APPLY, given)


def test_a_query_without_a_credential_is_kept() -> None:
    url = "https://api.example.com/v1?page=2&sort_key=name&monkey=1"
    assert validate_parameters("03", APPLY, {"api_url": url}) == {"api_url": url}


def test_a_log_file_must_be_a_readable_regular_file(tmp_path: Path) -> None:
    (tmp_path / "service.log").write_text("")
    check_file_parameters({"log_file": "service.log"}, cwd=tmp_path)
    check_file_parameters({"log_file": ""}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"parameter 'log_file': .*nope\.log: No such file"):
        check_file_parameters({"log_file": "nope.log"}, cwd=tmp_path)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ConfigError, match="parameter 'log_file': .* not a regular file"):
        check_file_parameters({"log_file": str(tmp_path / "pipe")}, cwd=Path("/"))


@pytest.mark.db
@pytest.mark.parametrize(
    "flags",
    [
        ["-p", "dry_run", "False", "-p", "confirm", "no"],
        ["-p", "dry_run", "False", "-p", "confirm", "yes"],
        ["-p", "dry_run", "0", "-p", "confirm", "1"],
        ["-p", "dry_run", "false", "-p", "confirm", "true", "-p", "lock_timeout", "forever"],
    ],
)
def test_confirm_no_applies_nothing_and_runs_nothing(
    flags: list[str], fresh_db: str, tmp_path: Path
) -> None:
    upgrade(fresh_db, "0001")
    out = tmp_path / "out"
    result = lumiku("runbook", "run", "03", *flags, "--out", str(out), DATABASE_URL=fresh_db)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: parameter '")
    assert not out.exists()  # no notebook was executed, no report written
    with connect(fresh_db) as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert revision == "0001"


def test_a_bad_deadline_is_a_usage_error_not_a_failed_check() -> None:
    declared = runbook_parameters("04_verify_endpoints")
    with pytest.raises(ConfigError, match="parameter 'deadline'"):
        validate_parameters("04", declared, {"deadline": "forever"})
    assert validate_parameters("04", declared, {"deadline": "2m"}) == {"deadline": "2m"}
