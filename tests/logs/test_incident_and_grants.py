"""The report's refusals and the GRANT a PostgreSQL log's role line gives, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lumiku_ops.diagnose.chain import Denials, denied_grants
from lumiku_ops.diagnose.verdicts import PERMISSION_DENIED, remedy_for
from lumiku_ops.logs.linking import LinkedError, link_errors
from lumiku_ops.logs.parsers import LogParser
from lumiku_ops.migrate.shadow import MigrationReplay
from lumiku_ops.runbooks.steps import RECORD_MIMETYPE
from tests.utils.cli import lumiku


def test_the_role_and_statement_in_a_server_log_make_the_grant() -> None:
    parser = LogParser()
    for line in (
        "2026-11-23 05:51:01.123 UTC [1234] app_rw@prod ERROR:  permission denied for table "
        "BackgroundRemovalJob",
        "2026-11-23 05:51:01.123 UTC [1234] app_rw@prod STATEMENT:  "
        'DELETE FROM "BackgroundRemovalJob"',
    ):
        parser.feed(line)
    (event,) = parser.events()
    linked = LinkedError(event, table="BackgroundRemovalJob", exists=True)
    assert denied_grants([linked], None) == Denials(
        ["BackgroundRemovalJob"],
        ['GRANT DELETE ON TABLE "public"."BackgroundRemovalJob" TO "app_rw";'],
    )
    # A denial on a table that does not exist is no privilege problem.
    missing = LinkedError(event, table="BackgroundRemovalJob", exists=False)
    assert denied_grants([missing], None) == Denials()


USERS = {"users": {"name": "users", "columns": [{"name": "id"}], "indexes": {}}}
REPLAY = MigrationReplay(fingerprint="-", order=["0001"], heads=["0001"], catalogs={"0001": USERS})


def _linked(
    message: str, statement: str | None = None, schemas: dict[str, str] | None = None
) -> list[LinkedError]:
    """A PostgreSQL log's denial, linked to a project whose one model table is ``users``."""
    parser = LogParser()
    parser.feed(f"2026-11-23 05:51:01.123 UTC [1234] app_rw@prod ERROR:  {message}")
    if statement:
        parser.feed(f"2026-11-23 05:51:01.123 UTC [1234] app_rw@prod STATEMENT:  {statement}")
    return link_errors(
        parser.events(),
        models=USERS,
        database=USERS,
        replay=REPLAY,
        pending=[],
        classes={},
        schemas=schemas,
    )


@pytest.mark.parametrize(
    ("message", "statement"),
    [
        ("permission denied for table archive.users", None),
        ('relation "archive.users" does not exist', None),
        ("permission denied for table users", "SELECT * FROM archive.users"),
        ("permission denied for table users", 'DELETE FROM "archive"."users" WHERE id = 1'),
        ("permission denied for table users", "SELECT users.id FROM archive.users"),
    ],
)
def test_another_schemas_table_of_the_same_name_is_not_the_model(
    message: str, statement: str | None
) -> None:
    (error,) = _linked(message, statement)
    assert (error.table, error.blames_schema) == (None, False)
    assert denied_grants([error], None) == Denials()


def test_a_model_tables_grant_names_its_schema_and_quotes_it() -> None:
    (plain,) = _linked("permission denied for table users", "SELECT * FROM public.users")
    assert denied_grants([plain], None).grants == [
        'GRANT SELECT ON TABLE "public"."users" TO "app_rw";'
    ]
    schemas = {"users": 'Sales "EU"'}
    (error,) = _linked("permission denied for table users", "SELECT 1 FROM users", schemas)
    assert (error.table, error.schema) == ("users", 'Sales "EU"')
    assert denied_grants([error], None).grants == [
        'GRANT SELECT ON TABLE "Sales ""EU"""."users" TO "app_rw";'
    ]
    (elsewhere,) = _linked("permission denied for table public.users", None, schemas)
    assert elsewhere.table is None
    # Unqualified beside another schema's table of the same name: the search path's, linked.
    joined = "SELECT u.id FROM users u JOIN archive.users a ON a.id = u.id"
    (either,) = _linked("permission denied for table users", joined)
    assert either.table == "users"


@pytest.mark.parametrize(
    ("message", "statement", "verb"),
    [
        ("must be owner of table users", "DROP TABLE users", "DROP"),
        ("must be owner of table users", "ALTER TABLE users ADD COLUMN note text", "ALTER"),
        ("must be owner of table users", None, "the statement"),
    ],
)
def test_a_denied_drop_or_alter_needs_the_owner_not_a_grant(
    message: str, statement: str | None, verb: str
) -> None:
    (error,) = _linked(message, statement)
    assert (error.table, error.event.sqlstate) == ("users", "42501")
    known = denied_grants([error], None, {"users": "app_owner"})
    assert known == Denials(
        ["users"],
        [],
        [
            f'{verb} on "public"."users" needs its owner, the role "app_owner"; no GRANT gives '
            "it: run it as that role (a reviewed migration), not as the service's role."
        ],
        ["app_owner"],
    )
    assert known.owner_command == 'SET ROLE "app_owner";'
    unknown = denied_grants([error], None)
    assert unknown.grants == [] and "needs the table's owner;" in unknown.owner_only[0]
    assert unknown.owner_command == "SET ROLE <the table's owner>;"
    remedy = remedy_for(
        PERMISSION_DENIED,
        affected=known.tables,
        grants=known.grants,
        owner_only=known.owner_only,
        owner_command=known.owner_command,
    )
    assert remedy.command == 'SET ROLE "app_owner";' and "GRANT SELECT" not in remedy.command


def test_the_service_log_names_the_role_so_the_grant_needs_no_placeholder() -> None:
    record = {
        "time": "2026-11-23T05:51:01+0000",
        "level": "ERROR",
        "message": "unhandled error",
        "request_id": "r-1",
        "method": "GET",
        "path": "/api/users",
        "sqlstate": "42501",
        "db_role": "app_rw",
        "exc_info": "psycopg.errors.InsufficientPrivilege: permission denied for table users\n"
        "[SQL: SELECT users.id FROM users]",
    }
    parser = LogParser()
    parser.feed(json.dumps(record))
    (event,) = parser.events()
    assert event.role == "app_rw"
    error = LinkedError(event, table="users", schema="public", exists=True)
    assert denied_grants([error], None).grants == [
        'GRANT SELECT ON TABLE "public"."users" TO "app_rw";'
    ]


def test_report_on_a_folder_without_runbooks_is_one_error_line(tmp_path: Path) -> None:
    result = lumiku("report", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: no executed runbook in {tmp_path}; run them first, e.g. "
        f"lumiku-ops runbook run 01 --out {tmp_path}"
    ]
    missing = lumiku("report", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"error: {tmp_path / 'nope'} is not a folder")


def _executed(folder: Path, name: str, recorded: dict[str, object], **papermill: object) -> Path:
    """A notebook as papermill leaves it, recording ``recorded``."""
    output = {
        "output_type": "display_data",
        "metadata": {},
        "data": {RECORD_MIMETYPE: recorded},
    }
    notebook = {
        "cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [output]}],
        "metadata": {
            "papermill": {
                "start_time": "2026-11-23T05:52:00",
                "end_time": "2026-11-23T05:52:04+00:00",
                "duration": 4.0,
                **papermill,
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = folder / f"{name}.ipynb"
    path.write_text(json.dumps(notebook))
    return path


@pytest.mark.parametrize(
    ("recorded", "papermill", "problem"),
    [
        ({"http_statuses": ["/a", 500]}, {}, "http_statuses is a list, expected an object"),
        ({"http_statuses": {"/a": {"s": 1}}}, {}, "http_statuses./a is an object, expected a"),
        ({"log_chain": "GET /a"}, {}, "log_chain is a string, expected a list"),
        ({"log_chain": None}, {}, "log_chain is null, expected a list"),
        ({"log_chain": [{"count": {"n": 2}}]}, {}, "log_chain[0].count is an object, expected"),
        ({"verdict": "MIGRATION_NOT_CREATED"}, {"duration": "4 s"}, "papermill duration is a"),
    ],
)
def test_report_names_the_notebook_and_a_value_of_the_wrong_type(
    tmp_path: Path, recorded: dict[str, object], papermill: dict[str, object], problem: str
) -> None:
    notebook = _executed(tmp_path, "01_diagnose_500s", recorded, **papermill)
    result = lumiku("report", str(tmp_path))
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {notebook}: ") and problem in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_diagnose_500s.ipynb"]


def test_report_accepts_what_the_runbooks_record(tmp_path: Path) -> None:
    _executed(
        tmp_path,
        "01_diagnose_500s",
        {
            "verdict": "MIGRATION_NOT_CREATED",
            "http_statuses": {"/a": 500, "/b": 200, "/c": None},
            "log_chain": [{"time": "2026-11-23T05:51:01+00:00", "count": 2, "request": "GET /a"}],
        },
    )
    result = lumiku("report", str(tmp_path))
    assert result.returncode == 3, result.stderr  # not verified as fixed: no runbook 04
    assert (tmp_path / "incident.md").is_file()
