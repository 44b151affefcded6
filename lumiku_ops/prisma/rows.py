"""Writing ``_prisma_migrations`` rows as ``prisma migrate deploy`` does.

``migrate deploy`` creates the table with Prisma's DDL when it is absent, inserts a row when
a migration starts (uuid4 id, checksum, ``started_at``), runs ``migration.sql`` as ONE batch
(the simple query protocol: one implicit transaction, so ``$$`` bodies work), then adds 1 to
``applied_steps_count`` and sets ``finished_at``; when the script fails it sets ``logs``.

``apply_migration`` and ``record_failure`` are building blocks for the apply flow, which holds
the lock, sets the timeouts, confirms and audits (``lumiku_ops.migrate``): this module opens
no connection and takes no lock of its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from lumiku_ops.errors import (
    MigrationError,
    PrismaMigrationFailedError,
    database_reason,
    sqlstate,
)
from lumiku_ops.migrate.sql_text import DOLLAR_TAG, after_comment, after_quoted
from lumiku_ops.prisma.migrations import PrismaMigration
from lumiku_ops.prisma.records import ensure_migrations_table
from lumiku_ops.redaction import redact

# The session-level advisory lock ``prisma migrate deploy`` takes (prisma-engines,
# flavour/postgres.rs). An apply that also holds it makes a concurrent Prisma deploy wait.
PRISMA_ADVISORY_LOCK_KEY = 72707369
_NOW = text("SELECT clock_timestamp()")
_INSERT_STARTED = text(
    "INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name)"
    " VALUES (:id, :checksum, :started_at, :name)"
)
_STEP_APPLIED = text(
    "UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1 WHERE id = :id"
)
_FINISHED = text("UPDATE _prisma_migrations SET finished_at = clock_timestamp() WHERE id = :id")
_INSERT_FAILED = text(
    "INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name, logs)"
    " VALUES (:id, :checksum, :started_at, :name, :logs)"
)
# What Prisma writes in ``logs`` when a script fails (user_facing_errors, P3018).
_P3018 = (
    "A migration failed to apply. New migrations cannot be applied before the error is "
    "recovered from. Read more about how to resolve migration issues in a production "
    "database: https://pris.ly/d/migrate-resolve\n\nMigration name: {name}\n\n"
    "Database error code: {code}\n\nDatabase error:\n{error}\n"
)


def apply_migration(
    connection: Connection, migration: PrismaMigration, *, secrets: Iterable[str | None] = ()
) -> str:
    """Run one migration and record it as ``prisma migrate deploy`` would; returns the row id.

    Everything happens in the caller's transaction, inside a savepoint: the row is inserted
    (uuid4 id, checksum, ``started_at``), ``migration.sql`` runs as one batch exactly as the
    file is, then the row gets ``applied_steps_count`` 1 and ``finished_at``. If the script
    fails, the savepoint is rolled back, so neither the row nor any part of the script is
    left, and the caller's earlier work stays as it was. What to keep is the caller's
    decision: commit the migrations before this one (Prisma's behaviour) or roll the whole
    range back, and then, outside any transaction, ``record_failure`` writes the failed row.

    Raises:
        PrismaMigrationFailedError: the database refused the script (the error carries the
            row that ``record_failure`` writes; ``logs`` are masked with ``secrets``).
        MigrationError: the script ends or opens a transaction itself (BEGIN, COMMIT,
            ROLLBACK...), which would commit part of it; nothing was run.
    """
    control = transaction_control(migration.sql)
    if control:
        line, statement = control[0]
        raise MigrationError(
            f"{migration.path} line {line}: {statement} ends or opens a transaction, and "
            "lumiku-ops runs each migration whole inside its own; nothing was changed. Remove "
            "its transaction statements (the file still runs all or nothing)"
        )
    ensure_migrations_table(connection)
    started_at: datetime = connection.execute(_NOW).scalar_one()
    row_id = str(uuid.uuid4())
    savepoint = connection.begin_nested()
    try:
        connection.execute(
            _INSERT_STARTED,
            {
                "id": row_id,
                "checksum": migration.checksum,
                "started_at": started_at,
                "name": migration.name,
            },
        )
        try:
            # ONE batch, the file as it is: no splitting on ";", no parameter parsing.
            connection.exec_driver_sql(migration.sql, execution_options={"no_parameters": True})
        except DBAPIError as exc:
            raise _failure(migration, started_at, exc, secrets) from exc
        connection.execute(_STEP_APPLIED, {"id": row_id})
        connection.execute(_FINISHED, {"id": row_id})
    except BaseException:  # the script's error, an interrupt: the savepoint goes back
        if savepoint.is_active:
            savepoint.rollback()
        raise
    savepoint.commit()
    return row_id


def record_failure(connection: Connection, failure: PrismaMigrationFailedError) -> str:
    """Commit the failed row ``prisma migrate deploy`` leaves; returns its id.

    The row has the migration's name and checksum, the time it started, ``logs`` (Prisma's
    P3018 text with the database's error), ``finished_at`` NULL and ``applied_steps_count``
    0, so ``prisma migrate deploy`` refuses to continue (P3009) until someone runs
    ``prisma migrate resolve --rolled-back NAME``. It runs in a transaction of its own (the
    table is created if needed), so call it after the failed work has been rolled back.

    Raises:
        MigrationError: a transaction is still open on ``connection``.
    """
    if connection.in_transaction():
        raise MigrationError(
            "record_failure needs the failed migration rolled back first (a transaction is open)"
        )
    row_id = str(uuid.uuid4())
    with connection.begin():
        ensure_migrations_table(connection)
        connection.execute(
            _INSERT_FAILED,
            {
                "id": row_id,
                "checksum": failure.checksum,
                "started_at": failure.started_at,
                "name": failure.migration_name,
                "logs": failure.logs,
            },
        )
    return row_id


def _failure(
    migration: PrismaMigration,
    started_at: datetime,
    exc: DBAPIError,
    secrets: Iterable[str | None],
) -> PrismaMigrationFailedError:
    secrets = list(secrets)
    state_code = sqlstate(exc)
    reason = database_reason(exc, secrets)
    logs = redact(
        _P3018.format(
            name=migration.name,
            code=state_code or "none",
            error=_database_error(migration.sql, exc),
        )
        + "\nlumiku-ops rolled the whole script back: none of it is in the database.\n",
        secrets,
    )
    return PrismaMigrationFailedError(
        f"migration {migration.name} failed and was rolled back: {reason}"
        f" (SQLSTATE {state_code}; {migration.path})",
        migration_name=migration.name,
        checksum=migration.checksum,
        started_at=started_at,
        logs=logs,
        sqlstate=state_code,
    )


def _database_error(script: str, exc: DBAPIError) -> str:
    """The error as Prisma words it: severity and message, detail, hint, and where."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    primary = getattr(diag, "message_primary", None)
    if diag is None or primary is None:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    parts = [f"{diag.severity or 'ERROR'}: {primary}"]
    parts += [f"DETAIL: {diag.message_detail}"] if diag.message_detail else []
    parts += [f"HINT: {diag.message_hint}"] if diag.message_hint else []
    text_ = "\n".join(parts)
    position = diag.statement_position
    if position and position.isdigit():
        text_ += "\n\nPosition:\n" + _excerpt(script, int(position))
    return text_


def _excerpt(script: str, position: int) -> str:
    """The line at character ``position`` (1-based) and up to five before it, numbered."""
    line_number = script.count("\n", 0, max(position - 1, 0)) + 1
    lines = script.splitlines()
    first = max(line_number - 5, 1)
    shown = []
    for number in range(first, min(line_number, len(lines)) + 1):
        marker = ">" if number == line_number else " "
        shown.append(f"{marker}{number:>4} {lines[number - 1]}".rstrip())
    return "\n".join(shown)


# --- Transaction statements inside a script ---------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_ATOMIC = re.compile(r"\s+ATOMIC\b", re.IGNORECASE)
_ENDS_OR_OPENS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT"}


def transaction_control(sql: str) -> list[tuple[int, str]]:
    """The statements of ``sql`` that end or open a transaction, as (line, first words).

    A small lexer in the spirit of psql's: comments, quoted strings and identifiers,
    dollar-quoted bodies, parentheses and SQL-standard ``BEGIN ATOMIC ... END`` function
    bodies never end a statement, so ``DO $$ BEGIN ... END $$`` or a function's body is not
    mistaken for a transaction. ``ROLLBACK TO SAVEPOINT`` and ``PREPARE name AS`` are fine;
    ``PREPARE TRANSACTION`` is not.
    """
    found: list[tuple[int, str]] = []
    words: list[str] = []
    start = 0
    parens = atomic = 0
    i, n = 0, len(sql)

    def close() -> None:
        first = words[0] if words else ""
        second = words[1] if len(words) > 1 else ""
        if (first in _ENDS_OR_OPENS and not (first == "ROLLBACK" and second == "TO")) or (
            first == "PREPARE" and second == "TRANSACTION"
        ):
            found.append((sql.count("\n", 0, start) + 1, " ".join(words[:2])))

    while i < n:
        char = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = after_comment(sql, i)
        elif char == "'":
            i = after_quoted(sql, i, "'", backslashes=False)
        elif char == '"':
            i = after_quoted(sql, i, '"', backslashes=False)
        elif char == "$" and (tag := DOLLAR_TAG.match(sql, i)):
            end = sql.find(tag.group(), tag.end())
            i = n if end < 0 else end + len(tag.group())
        elif char == ";":
            if parens == 0 and atomic == 0:
                close()
                words, i = [], i + 1
            else:
                i += 1
        elif char in "()":
            parens = max(parens + (1 if char == "(" else -1), 0)
            i += 1
        elif match := _WORD.match(sql, i):
            word = match.group().upper()
            i = match.end()
            if word == "E" and i < n and sql[i] == "'":
                i = after_quoted(sql, i, "'", backslashes=True)  # E'...\'...'
                continue
            if not words:
                start = match.start()
            if len(words) < 2:
                words.append(word)
            if word == "BEGIN" and words != ["BEGIN"] and parens == 0 and _ATOMIC.match(sql, i):
                atomic += 1
            elif word == "CASE" and atomic:
                atomic += 1
            elif word == "END" and atomic:
                atomic -= 1
        else:
            i += 1
    if words:
        close()
    return found
