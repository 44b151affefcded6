"""The report's refusals and the GRANT a PostgreSQL log's role line gives, without a server."""

from __future__ import annotations

from pathlib import Path

from lumiku_ops.diagnose.chain import denied_grants
from lumiku_ops.logs.linking import LinkedError
from lumiku_ops.logs.parsers import LogParser
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
    assert denied_grants([linked], None) == (
        ["BackgroundRemovalJob"],
        ['GRANT DELETE ON TABLE public."BackgroundRemovalJob" TO "app_rw";'],
    )
    # A denial on a table that does not exist is no privilege problem.
    missing = LinkedError(event, table="BackgroundRemovalJob", exists=False)
    assert denied_grants([missing], None) == ([], [])


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
