"""A Node service's Prisma errors become the same evidence as PostgreSQL's own messages."""

from __future__ import annotations

import json

from lumiku_ops.logs.parsers import LogEvent, LogParser


def _events(*lines: str) -> list[LogEvent]:
    parser = LogParser()
    for line in lines:
        parser.feed(line)
    return parser.events()


def test_p2021_in_plain_text_names_the_table() -> None:
    """Without the P2021 pattern the line matches no SQLSTATE and no event is kept."""
    (event,) = _events(
        "Invalid `prisma.backgroundRemoverSubscription.findUnique()` invocation in",
        "The table `public.BackgroundRemoverSubscription` does not exist in the current database.",
    )
    assert event.sqlstate == "42P01"
    assert event.fields == {"object": "public.BackgroundRemoverSubscription"}


def test_p2022_names_table_and_column_with_or_without_schema() -> None:
    """The column pattern must split `table.column` (and drop a leading schema)."""
    plain, qualified = _events(
        "The column `BackgroundRemovalJob.tier` does not exist in the current database.",
        "The column `public.BackgroundRemovalJob.tier` does not exist in the current database.",
    )
    for event in (plain, qualified):
        assert event.sqlstate == "42703"
        assert event.fields == {"table": "BackgroundRemovalJob", "column": "tier"}


def test_a_json_logger_error_object_gives_request_status_and_table() -> None:
    """pino's ``req``/``res``/``err``: without ``_node`` the status and path are lost, and
    without the ``err`` branch the code P2021 is never read."""
    record = {
        "level": 50,
        "reqId": "req-7",
        "req": {"method": "GET", "url": "/api/background-remover/jobs?token=s3cret"},
        "res": {"statusCode": 500},
        "err": {
            "type": "PrismaClientKnownRequestError",
            "code": "P2021",
            "message": "\nInvalid `prisma.backgroundRemovalJob.findMany()` invocation:\n\n"
            "The table `public.BackgroundRemovalJob` does not exist in the current database.",
        },
    }
    (event,) = _events(json.dumps(record))
    assert (event.status, event.method, event.request_id) == (500, "GET", "req-7")
    assert event.path is not None and event.path.startswith("/api/background-remover/jobs")
    assert "s3cret" not in event.path
    assert event.sqlstate == "42P01"
    assert event.fields == {"object": "public.BackgroundRemovalJob"}


def test_a_postgres_code_in_a_node_error_is_kept() -> None:
    """Prisma wraps PostgreSQL's errors: its ``code`` is then the SQLSTATE itself."""
    record = {
        "statusCode": 500,
        "err": {"code": "42501", "message": 'permission denied for table "credits"'},
    }
    (event,) = _events(json.dumps(record))
    assert event.sqlstate == "42501"
    assert event.fields.get("object") == "credits"
