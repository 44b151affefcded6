"""The apply audit trail: who moved which database from which revision to which, and how it
ended. It lives in the target database so that anyone looking at that database can see its
history, in a schema of its own (``lumiku_ops.audit``) so that the project's own
autogenerate and ``alembic check`` never see it. Earlier versions kept it in the
application's schema (``lumiku_ops_audit``): the first write moves those rows over and
drops that table, in the same transaction."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

SCHEMA, TABLE = "lumiku_ops", "lumiku_ops.audit"
OLD_TABLE = "lumiku_ops_audit"
COLUMNS = (
    "id, at, action, os_user, db_user, host, from_revision, to_revision, outcome, detail,"
    " duration_ms"
)
CREATE = text(
    """
    CREATE TABLE IF NOT EXISTS lumiku_ops.audit (
        id BIGSERIAL PRIMARY KEY,
        at TIMESTAMPTZ NOT NULL DEFAULT now(),
        action TEXT NOT NULL,
        os_user TEXT NOT NULL,
        db_user TEXT NOT NULL DEFAULT current_user,
        host TEXT NOT NULL,
        from_revision TEXT,
        to_revision TEXT,
        outcome TEXT NOT NULL,
        detail TEXT,
        duration_ms INTEGER
    )
    """
)


@dataclass(frozen=True)
class AuditRecord:
    """One apply or rollback."""

    at: str
    action: str
    os_user: str
    db_user: str
    host: str
    from_revision: str | None
    to_revision: str | None
    outcome: str
    detail: str | None
    duration_ms: int | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return vars(self).copy()


def write_audit(
    connection: Connection,
    *,
    action: str,
    from_revision: str | None,
    to_revision: str | None,
    outcome: str,
    detail: str | None,
    duration_ms: int,
) -> None:
    """Record one run, in its own transaction (a failed migration is recorded too)."""
    with connection.begin():
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        connection.execute(CREATE)
        _carry_over_old_table(connection)
        connection.execute(
            text(
                f"INSERT INTO {TABLE} (action, os_user, host, from_revision,"
                " to_revision, outcome, detail, duration_ms)"
                " VALUES (:action, :os_user, :host, :from_revision, :to_revision, :outcome,"
                " :detail, :duration_ms)"
            ),
            {
                "action": action,
                "os_user": _os_user(),
                "host": socket.gethostname(),
                "from_revision": from_revision,
                "to_revision": to_revision,
                "outcome": outcome,
                "detail": detail,
                "duration_ms": duration_ms,
            },
        )


def _carry_over_old_table(connection: Connection) -> None:
    # regclass::text is quoted and schema-qualified as needed, so it is safe to splice in.
    old = connection.execute(text(f"SELECT to_regclass('{OLD_TABLE}')::text")).scalar()
    if old is None:
        return
    connection.execute(
        text(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {old} ORDER BY id")
    )
    connection.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), max(id))"
            f" FROM {TABLE} HAVING max(id) IS NOT NULL"
        )
    )
    connection.execute(text(f"DROP TABLE {old}"))


def read_audit(connection: Connection, limit: int = 10) -> list[AuditRecord]:
    """The latest records, newest first; none when nothing was ever applied.

    A database no apply has written to since the move still has the old table: read that.
    """
    table = connection.execute(
        text(f"SELECT coalesce(to_regclass('{TABLE}'), to_regclass('{OLD_TABLE}'))::text")
    ).scalar()
    if table is None:
        return []
    rows = connection.execute(
        text(
            "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), action,"
            " os_user, db_user, host, from_revision, to_revision, outcome, detail, duration_ms"
            f" FROM {table} ORDER BY id DESC LIMIT :limit"
        ),
        {"limit": limit},
    ).all()
    return [AuditRecord(*row) for row in rows]


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): the uid is still an answer
        import os

        return str(os.getuid())
