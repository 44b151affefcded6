"""Prisma's migration records: the folders, their checksums and ``_prisma_migrations``.

Everything here follows Prisma's schema engine (prisma-engines, ``schema-engine``), so that
``prisma migrate status``/``deploy`` and lumiku-ops read the same history the same way:

- A migration is a folder of ``prisma/migrations/`` holding ``migration.sql``; folders sort by
  name; files beside them (``migration_lock.toml``) are not migrations.
- ``checksum`` is the lowercase hex SHA-256 of ``migration.sql``'s bytes. A recorded checksum
  also matches the file with CRLF turned to LF or LF to CRLF (git's line endings), and one
  recorded without zero padding by old engines (prisma-engines#1887).
- A row is *applied* when ``finished_at`` is set and ``rolled_back_at`` is NULL; *failed* when
  both are NULL (it blocks every later deploy: P3009); ``migrate resolve --rolled-back`` sets
  ``rolled_back_at`` on a failed row, and the next deploy inserts a new row.
- ``migrate deploy`` creates the table with Prisma's DDL when it is absent, inserts a row when
  a migration starts (uuid4 id, checksum, ``started_at``), runs ``migration.sql`` as ONE batch
  (the simple query protocol: one implicit transaction, so ``$$`` bodies work), then adds 1 to
  ``applied_steps_count`` and sets ``finished_at``; when the script fails it sets ``logs``.

``apply_migration`` and ``record_failure`` are building blocks for the apply flow, which holds
the lock, sets the timeouts, confirms and audits (``lumiku_ops.migrate``): this module opens
no connection and takes no lock of its own.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from lumiku_ops.errors import (
    MigrationError,
    PrismaMigrationFailedError,
    PrismaMigrationsError,
    database_reason,
    sqlstate,
)
from lumiku_ops.redaction import redact

TABLE = "_prisma_migrations"
SCRIPT = "migration.sql"
LOCK_FILE = "migration_lock.toml"
# The session-level advisory lock ``prisma migrate deploy`` takes (prisma-engines,
# flavour/postgres.rs). An apply that also holds it makes a concurrent Prisma deploy wait.
PRISMA_ADVISORY_LOCK_KEY = 72707369
# Exactly what the schema engine runs (flavour/postgres.rs, create_migrations_table).
CREATE_TABLE = """\
CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
"""

_TABLE_EXISTS = text("SELECT to_regclass('_prisma_migrations') IS NOT NULL")
_ROWS = text(
    "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at,"
    " applied_steps_count FROM _prisma_migrations ORDER BY started_at, id"
)
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


@dataclass(frozen=True)
class PrismaMigration:
    """One folder of ``prisma/migrations/``: its name, folder, script and checksum."""

    name: str
    folder: Path
    sql: str
    checksum: str

    @property
    def path(self) -> Path:
        """The ``migration.sql`` file."""
        return self.folder / SCRIPT


def checksum(data: bytes) -> str:
    """Prisma's checksum of a script: the lowercase hex SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def checksum_matches(recorded: str, data: bytes) -> bool:
    """Whether ``recorded`` is the checksum of ``data``, as Prisma decides it.

    The file as it is, with CRLF turned into LF, or with LF turned into CRLF (each
    replacement applied once over the whole file, as Prisma does); a recorded checksum of
    another length than 64 is compared with the unpadded hex old engines wrote.
    """
    for variant in (data, data.replace(b"\r\n", b"\n"), data.replace(b"\n", b"\r\n")):
        digest = hashlib.sha256(variant).digest()
        if len(recorded) != 64 and recorded:
            if "".join(f"{byte:x}" for byte in digest) == recorded:
                return True
        elif digest.hex() == recorded:
            return True
    return False


def list_migrations(folder: Path | str) -> list[PrismaMigration]:
    """The migrations of a Prisma migrations folder, in folder-name order.

    Raises:
        PrismaMigrationsError: the folder is missing, or a migration folder has no readable
            ``migration.sql``, or one that is not UTF-8 or holds a NUL character (PostgreSQL
            refuses those); the message names the file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise PrismaMigrationsError(
            f"Prisma migrations folder {root} does not exist; create one with "
            "`npx prisma migrate dev`, or set prisma_migrations in the project's settings"
        )
    migrations = []
    for entry in sorted(root.iterdir(), key=lambda path: path.name):
        if not entry.is_dir():
            continue  # migration_lock.toml and any other file beside the folders
        script = entry / SCRIPT
        try:
            data = script.read_bytes()
        except FileNotFoundError:
            raise PrismaMigrationsError(
                f"migration folder {entry} has no {SCRIPT}: each folder of {root} is one "
                f"migration; add its {SCRIPT} or remove the folder"
            ) from None
        except OSError as exc:
            raise PrismaMigrationsError(f"cannot read {script}: {exc.strerror or exc}") from None
        try:
            sql = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise PrismaMigrationsError(
                f"{script} is not UTF-8 (byte {exc.start + 1}, line {line}); Prisma reads "
                "migrations as UTF-8: save it in that encoding"
            ) from None
        if "\x00" in sql:
            line = sql.count("\n", 0, sql.index("\x00")) + 1
            raise PrismaMigrationsError(
                f"{script} holds a NUL character (line {line}); PostgreSQL cannot run it"
            )
        migrations.append(PrismaMigration(entry.name, entry, sql, checksum(data)))
    return migrations


@dataclass(frozen=True)
class MigrationRow:
    """One row of ``_prisma_migrations``."""

    id: str
    checksum: str
    finished_at: datetime | None
    migration_name: str
    logs: str | None
    rolled_back_at: datetime | None
    started_at: datetime
    applied_steps_count: int

    @property
    def applied(self) -> bool:
        """Finished and not rolled back: Prisma counts the migration as applied."""
        return self.finished_at is not None and self.rolled_back_at is None

    @property
    def failed(self) -> bool:
        """Neither finished nor rolled back: Prisma refuses to deploy (P3009)."""
        return self.finished_at is None and self.rolled_back_at is None

    @property
    def rolled_back(self) -> bool:
        """Marked by ``prisma migrate resolve --rolled-back``: ignored from then on."""
        return self.rolled_back_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        data = vars(self).copy()
        for key in ("finished_at", "rolled_back_at", "started_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        return data


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class RecordedMigrations:
    """What ``_prisma_migrations`` records, against the migrations folder.

    Names are listed once each: ``applied``, ``failed``, ``rolled_back`` and
    ``missing_from_folder`` in the order the rows were started, ``edited`` and ``pending`` in
    folder order.
    """

    has_table: bool
    rows: tuple[MigrationRow, ...] = ()
    # A row finished and not rolled back.
    applied: list[str] = field(default_factory=list)
    # A row neither finished nor rolled back: it blocks every later deploy (P3009).
    failed: list[str] = field(default_factory=list)
    # A row marked by `prisma migrate resolve --rolled-back` (the next deploy runs it again).
    rolled_back: list[str] = field(default_factory=list)
    # Applied, but its migration.sql now matches none of the applied rows' checksums.
    edited: list[str] = field(default_factory=list)
    # Recorded, but no folder has that name (Prisma: migrationsDirectoryIsBehind).
    missing_from_folder: list[str] = field(default_factory=list)
    # Folder migrations without an applied row, in the order a deploy runs them.
    pending: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """A failed row stops every deploy until it is resolved."""
        return bool(self.failed)

    def rows_named(self, name: str) -> list[MigrationRow]:
        """Every row of one migration, oldest first (a failed one's ``logs`` say why)."""
        return [row for row in self.rows if row.migration_name == name]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "has_table": self.has_table,
            "applied": list(self.applied),
            "failed": list(self.failed),
            "rolled_back": list(self.rolled_back),
            "edited": list(self.edited),
            "missing_from_folder": list(self.missing_from_folder),
            "pending": list(self.pending),
            "rows": [row.to_dict() for row in self.rows],
        }


def read_rows(connection: Connection) -> tuple[MigrationRow, ...] | None:
    """Every row of ``_prisma_migrations``, oldest first; None when the table is absent."""
    if not connection.execute(_TABLE_EXISTS).scalar_one():
        return None
    return tuple(MigrationRow(**row._asdict()) for row in connection.execute(_ROWS))


def state(connection: Connection, migrations: Sequence[PrismaMigration]) -> RecordedMigrations:
    """What the database records about ``migrations`` (``list_migrations``), by Prisma's rules.

    The table absent means nothing is recorded: every migration is pending.
    """
    rows = read_rows(connection)
    if rows is None:
        return RecordedMigrations(has_table=False, pending=[m.name for m in migrations])
    in_folder = {migration.name for migration in migrations}
    applied_rows: dict[str, list[MigrationRow]] = {}
    for row in rows:
        if row.applied:
            applied_rows.setdefault(row.migration_name, []).append(row)
    edited = [
        m.name
        for m in migrations
        if m.name in applied_rows
        and not any(
            checksum_matches(row.checksum, m.sql.encode("utf-8")) for row in applied_rows[m.name]
        )
    ]
    return RecordedMigrations(
        has_table=True,
        rows=rows,
        applied=list(applied_rows),
        failed=_unique(row.migration_name for row in rows if row.failed),
        rolled_back=_unique(row.migration_name for row in rows if row.rolled_back),
        edited=edited,
        missing_from_folder=_unique(
            row.migration_name for row in rows if row.migration_name not in in_folder
        ),
        pending=[m.name for m in migrations if m.name not in applied_rows],
    )


# --- Writing rows as `prisma migrate deploy` does -------------------------------------------


def ensure_migrations_table(connection: Connection) -> bool:
    """Create ``_prisma_migrations`` with Prisma's own DDL unless it exists; True if created.

    Runs in the caller's transaction. (Prisma's deploy also refuses, with P3005, a schema
    that holds other tables but no ``_prisma_migrations``: baselining is the caller's call.)
    """
    if connection.execute(_TABLE_EXISTS).scalar_one():
        return False
    connection.exec_driver_sql(CREATE_TABLE, execution_options={"no_parameters": True})
    return True


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
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
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
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif char == "'":
            i = _after_quoted(sql, i, "'", backslashes=False)
        elif char == '"':
            i = _after_quoted(sql, i, '"', backslashes=False)
        elif char == "$" and (tag := _DOLLAR_TAG.match(sql, i)):
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
                i = _after_quoted(sql, i, "'", backslashes=True)  # E'...\'...'
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


def _after_quoted(sql: str, i: int, quote: str, *, backslashes: bool) -> int:
    """The index just past the quoted text opening at ``i`` (doubled quotes stay inside)."""
    j = i + 1
    while j < len(sql):
        if backslashes and sql[j] == "\\":
            j += 2
        elif sql[j] == quote:
            if sql.startswith(quote * 2, j):
                j += 2
            else:
                return j + 1
        else:
            j += 1
    return len(sql)
