"""Errors the CLI reports as one clear line, without a traceback."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lumiku_ops.verify.results import CheckResult


class LumikuOpsError(Exception):
    """Base class: a problem the operator can act on; the message says what to do."""


class ConfigError(LumikuOpsError):
    """A setting is missing, malformed or unsafe (a placeholder secret, say)."""


class DatabaseUnreachableError(LumikuOpsError):
    """The database did not answer; the message names the host, never the password."""


class EmbeddedDatabaseError(LumikuOpsError):
    """The embedded PostgreSQL could not be started."""


class CheckFailedError(LumikuOpsError):
    """Raised by ``raise_for_failed_checks()``; carries the failed results as ``.checks``."""

    def __init__(self, message: str, *, checks: Sequence[CheckResult]) -> None:
        super().__init__(message)
        self.checks = list(checks)


class MigrationLockedError(LumikuOpsError):
    """Another operator holds the migration lock on this database."""


class ConfirmationRequiredError(LumikuOpsError):
    """The database is not on this machine and ``--confirm`` was not given."""


class ShadowReplayError(LumikuOpsError):
    """A revision failed when replayed on an empty database."""


class NothingToCreateError(LumikuOpsError):
    """The models hold no change that the revisions lack."""


class MigrationError(LumikuOpsError):
    """A revision could not be created, planned or applied."""


class PrismaMigrationsError(ConfigError):
    """A Prisma migrations folder, or one of its ``migration.sql`` files, cannot be used."""


class PrismaMigrationFailedError(MigrationError):
    """A Prisma ``migration.sql`` failed and was rolled back.

    It carries what ``_prisma_migrations`` needs to record the failure as ``prisma migrate
    deploy`` would (``lumiku_ops.prisma.rows.record_failure``): the migration's name and
    checksum, when it started, the row's ``logs`` (already masked) and the SQLSTATE.
    """

    def __init__(
        self,
        message: str,
        *,
        migration_name: str,
        checksum: str,
        started_at: datetime,
        logs: str,
        sqlstate: str | None,
    ) -> None:
        super().__init__(message)
        self.migration_name = migration_name
        self.checksum = checksum
        self.started_at = started_at
        self.logs = logs
        self.sqlstate = sqlstate


class SchemaNotReadyError(LumikuOpsError):
    """The core tables are missing, so no user can be created."""


class ModelInstallError(LumikuOpsError):
    """A model could not be installed; the message says what was tried."""


class PrismaEngineError(LumikuOpsError):
    """Prisma's schema engine could not be installed or run, or refused an operation.

    ``code`` is Prisma's error code when the engine gave one (``P1012`` an invalid schema,
    ``P3006`` a migration that failed on the shadow database, ...).
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PrismaSchemaError(PrismaEngineError):
    """A Prisma schema cannot be read (missing, not UTF-8, a NUL byte) or is invalid."""


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, wrapped by SQLAlchemy (``.orig``) or not."""
    return getattr(getattr(exc, "orig", exc), "sqlstate", None)


def database_reason(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """The one place a driver error becomes text: its first line, secrets masked.

    SQLAlchemy wraps psycopg's error (``.orig``) and appends the SQL and a link; the
    first line of the driver's own message is what an operator can act on.
    """
    from lumiku_ops.redaction import redact

    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return redact(lines[0] if lines else type(original).__name__, secrets)
