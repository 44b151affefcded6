"""Errors the CLI reports as one clear line, without a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lumiku_ops.verify.endpoints import CheckResult


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
