"""What a diagnosis says besides its verdict: the summary, and its remedy's flags.

The summary is the sentence an operator reads first; the flags are what the remedy's
commands need to reach the same project and migrations. Apart from ``diagnosis`` because
both are wording, built from findings the flow there has already made.
"""

from __future__ import annotations

from pathlib import Path

from lumiku_ops.diagnose.schema import SchemaFinding
from lumiku_ops.diagnose.verdicts import (
    API_UNREACHABLE,
    AUTH_REJECTED,
    DATABASE_UNREACHABLE,
    MIGRATION_FAILED,
    MIGRATION_NOT_APPLIED,
    MIGRATION_NOT_CREATED,
    PERMISSION_DENIED,
    REVISION_MISMATCH,
    SCHEMA_DRIFT,
    SCHEMA_PARTIAL,
    UNKNOWN_SERVER_ERROR,
)
from lumiku_ops.history import Recorded
from lumiku_ops.migrate.differences import describe
from lumiku_ops.settings import Settings


def summary(
    verdict: str,
    affected: list[str],
    schema: SchemaFinding | None,
    recorded: Recorded | None = None,
) -> str:
    """One paragraph on ``verdict``: what is wrong with which tables or objects."""
    if verdict == REVISION_MISMATCH and recorded is not None and recorded.unknown:
        return (
            "The database records migrations the migrations folder does not have: "
            f"{', '.join(recorded.unknown)}; nothing can be applied until that is resolved."
        )
    tables = ", ".join(affected) if affected else "none"
    matching = schema.matching if schema else None
    objects = describe(schema.objects) if schema and schema.objects else tables
    text = {
        DATABASE_UNREACHABLE: "The database did not answer; the schema could not be checked.",
        MIGRATION_FAILED: "A migration failed on this database and blocks every later one.",
        MIGRATION_NOT_CREATED: f"The models define what no revision creates: {objects}.",
        REVISION_MISMATCH: "The version table does not describe the schema "
        f"(the tables match revision {matching or 'none'}); affected: {tables}.",
        MIGRATION_NOT_APPLIED: f"A revision creates {objects}, but this database is behind.",
        SCHEMA_PARTIAL: f"Some model tables are missing, matching no revision: {tables}.",
        SCHEMA_DRIFT: f"The database differs from the models and from every revision: {objects}.",
        PERMISSION_DENIED: f"The schema is healthy, but the service's role is denied: {tables}.",
        API_UNREACHABLE: "The schema is healthy, but the service did not answer.",
        AUTH_REJECTED: "The schema is healthy, but the service refused the token.",
        UNKNOWN_SERVER_ERROR: "The schema is healthy, yet endpoints answer 5xx.",
    }.get(verdict, "The schema matches the models and every endpoint answered.")
    if verdict == MIGRATION_NOT_APPLIED and not affected and not (schema and schema.objects):
        text = "Revisions are pending for this database; they change no model table."
    if schema is not None and verdict == schema.verdict:
        if schema.residual:
            text += f" Still different from {matching}: {'; '.join(schema.residual)}."
        if schema.minor:
            s = "these differences" if len(schema.objects) > 1 else "this difference"
            text += f" No query fails because of {s}."
        for other in schema.also:
            if other.verdict:
                text += f" Besides: {summary(other.verdict, other.affected, other)}"
    return text


def project_flags(settings: Settings) -> str:
    """The flags a remedy's commands need to reach the same project and migrations."""
    flags = ""
    if settings.project_dir != Path.cwd().resolve():
        flags += f" --project {settings.project_dir}"
    if settings.migrations_override is not None:
        flags += f" --migrations {settings.migrations_override}"
    return flags
