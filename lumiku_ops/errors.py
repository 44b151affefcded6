"""Errors the CLI reports as one clear line, without a traceback."""

from __future__ import annotations


class LumikuOpsError(Exception):
    """Base class: a problem the operator can act on; the message says what to do."""


class ConfigError(LumikuOpsError):
    """A setting is missing, malformed or unsafe (a placeholder secret, say)."""


class DatabaseUnreachableError(LumikuOpsError):
    """The database did not answer; the message names the host, never the password."""


class EmbeddedDatabaseError(LumikuOpsError):
    """The embedded PostgreSQL could not be started."""
