"""The diagnosis verdicts, their precedence, and the remedy each one calls for.

Precedence, highest first, when several conditions hold at once:

1. ``DATABASE_UNREACHABLE``: nothing about the schema can be known.
1b. ``MIGRATION_FAILED`` (Prisma): ``_prisma_migrations`` holds a failed migration, which
   blocks every later one (P3009): nothing can be applied, a new migration included, until
   it is fixed and marked rolled back.
2. ``MIGRATION_NOT_CREATED``: the models define tables or columns that no revision
   creates; applying revisions cannot help until one exists (the seed's case).
3. ``REVISION_MISMATCH``: the version table does not describe the schema (it claims a
   revision whose tables are missing, or the tables are ahead of it, as after the seed's
   "manual SQL" option); applying would fail or skip work.
4. ``MIGRATION_NOT_APPLIED``: the schema is exactly at its recorded, older revision.
5. ``SCHEMA_PARTIAL``: some model tables exist, others not, matching no revision.
6. ``SCHEMA_DRIFT``: the tables exist but differ from the models.
7. ``PERMISSION_DENIED``: the schema is healthy, but the log shows 42501 on a model table
   (or ``--service-role`` lacks a privilege on one); the remedy is the ``GRANT``.
8. ``API_UNREACHABLE``, 9. ``AUTH_REJECTED``, 10. ``UNKNOWN_SERVER_ERROR`` (500s with a
   healthy schema), and 11. ``HEALTHY``.

A schema verdict that rests only on differences no query can fail on (an index, a
constraint, a foreign key, a server default) is *minor*: it ranks just below
``PERMISSION_DENIED``, so it never hides a verdict that explains 500s.

Schema verdicts rank above HTTP ones because they are causes and HTTP failures symptoms:
a 500 from a missing table is explained by the table, whatever else the API does.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Sequence
from dataclasses import dataclass

DATABASE_UNREACHABLE = "DATABASE_UNREACHABLE"
MIGRATION_FAILED = "MIGRATION_FAILED"
MIGRATION_NOT_CREATED = "MIGRATION_NOT_CREATED"
REVISION_MISMATCH = "REVISION_MISMATCH"
MIGRATION_NOT_APPLIED = "MIGRATION_NOT_APPLIED"
SCHEMA_PARTIAL = "SCHEMA_PARTIAL"
SCHEMA_DRIFT = "SCHEMA_DRIFT"
PERMISSION_DENIED = "PERMISSION_DENIED"
API_UNREACHABLE = "API_UNREACHABLE"
AUTH_REJECTED = "AUTH_REJECTED"
UNKNOWN_SERVER_ERROR = "UNKNOWN_SERVER_ERROR"
HEALTHY = "HEALTHY"

PRECEDENCE = (
    DATABASE_UNREACHABLE,
    MIGRATION_FAILED,
    MIGRATION_NOT_CREATED,
    REVISION_MISMATCH,
    MIGRATION_NOT_APPLIED,
    SCHEMA_PARTIAL,
    SCHEMA_DRIFT,
    PERMISSION_DENIED,
    API_UNREACHABLE,
    AUTH_REJECTED,
    UNKNOWN_SERVER_ERROR,
    HEALTHY,
)


def strongest(findings: Sequence[str], *, minor: Collection[str] = ()) -> str:
    """The verdict that wins among ``findings`` (``HEALTHY`` when there are none).

    Findings in ``minor`` rank just below ``PERMISSION_DENIED``, whatever their name.
    """

    def rank(finding: str) -> float:
        if finding in minor:
            return PRECEDENCE.index(PERMISSION_DENIED) + 0.5
        return PRECEDENCE.index(finding)

    return min(findings, key=rank) if findings else HEALTHY


@dataclass(frozen=True)
class Remedy:
    """The next runbook to open and the exact command to run."""

    runbook: str | None
    command: str
    explanation: str

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready form."""
        return {"runbook": self.runbook, "command": self.command, "explanation": self.explanation}


def suggest_message(tables: Sequence[str]) -> str:
    """A revision message for new tables: their shared leading words (``add_background_models``)."""
    split = [re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name) for name in tables]
    common: list[str] = []
    for words in zip(*split, strict=False):
        if len({word.lower() for word in words}) != 1:
            break
        common.append(words[0].lower())
    stem = "_".join(common) if common else (split[0][0].lower() if split and split[0] else "schema")
    return f"add_{stem}_models"


def remedy_for(
    verdict: str,
    *,
    affected: Sequence[str],
    migrations_flag: str = "",
    matching_revision: str | None = None,
    grants: Sequence[str] = (),
    owner_only: Sequence[str] = (),
    owner_command: str = "SET ROLE <the table's owner>;",
    message: str | None = None,
    residual: Sequence[str] = (),
    kind: str = "alembic",
    failed: Sequence[str] = (),
    recorded_revision: str | None = None,
    order: Sequence[str] = (),
    unknown: Sequence[str] = (),
) -> Remedy:
    """The remedy for ``verdict``; commands read DATABASE_URL and LUMIKU_TOKEN from the env.

    ``message`` is the new revision's message (default: from the affected tables);
    ``residual`` what still differs from ``matching_revision`` (a near match); ``kind``
    the migration tool (``alembic``, ``prisma``); ``failed`` Prisma's failed migrations;
    ``recorded_revision`` and ``order`` (the revisions, oldest first) say which way a
    Prisma database's records are wrong; ``unknown`` are the migrations it records and the
    folder lacks.
    """
    m = migrations_flag
    if verdict == MIGRATION_FAILED:
        name = failed[0] if failed else "<migration name>"
        return Remedy(
            None,
            f"npx prisma migrate resolve --rolled-back {_sh(name) if failed else name}",
            f"Migration {name} failed on this database and blocks every later one: undo what "
            "it changed (its SQL ran in one transaction if lumiku-ops applied it), fix its "
            "migration.sql, mark it rolled back, then apply again with `lumiku-ops migrate "
            f"apply --confirm{m}`.",
        )
    if verdict == MIGRATION_NOT_CREATED:
        return Remedy(
            "02_create_migration",
            f"lumiku-ops migrate create --message {message or suggest_message(affected)}{m}",
            "Autogenerate the missing revision from the models, review it, commit it, apply it.",
        )
    if verdict == MIGRATION_NOT_APPLIED:
        return Remedy(
            "03_apply_migration",
            f"lumiku-ops migrate apply --confirm{m}",
            "The revision exists but this database is behind: review `migrate plan`, then apply.",
        )
    if verdict == REVISION_MISMATCH and kind == "prisma" and unknown:
        return Remedy(
            "03_apply_migration",
            f"{_delete_rows(unknown)} && lumiku-ops migrate apply --confirm{m}",
            f"The database records {', '.join(unknown)}, which the migrations folder does not "
            "have: bring the folder back (the branch or commit that has it) and point "
            "--project at it; only if that migration was abandoned and its changes undone, "
            "delete its rows (this command; psql takes the URL without ?schema=) and apply.",
        )
    if verdict == REVISION_MISMATCH:
        target = matching_revision or "<revision matching the schema>"
        rest = (
            f" The schema still differs from {target} in: {'; '.join(residual)}; fix that with "
            "a reviewed corrective revision or by hand, then run `lumiku-ops migrate verify`."
            if residual
            else ""
        )
        if kind == "prisma":
            stamp, record = _prisma_records(target, recorded_revision, order)
        else:
            stamp, record = f"alembic stamp {target}", "record that revision (stamp)"
        return Remedy(
            "03_apply_migration",
            f"{stamp} && lumiku-ops migrate apply --confirm{m}",
            f"The version table does not describe the schema, which matches revision {target}: "
            f"{record}, then apply what is really pending." + rest,
        )
    if verdict == SCHEMA_PARTIAL:
        return Remedy(
            "03_apply_migration",
            "lumiku-ops migrate verify",
            "Tables are missing in a way no revision explains (dropped by hand, or a script "
            "half-applied): list the differences, restore the missing tables with a reviewed "
            "corrective revision, then verify again.",
        )
    if verdict == SCHEMA_DRIFT:
        return Remedy(
            "02_create_migration",
            "lumiku-ops migrate verify",
            "The tables differ from the models: list the differences and write a corrective "
            "revision (autogenerate compares the models with the revisions, not with this "
            "database, so it cannot see drift).",
        )
    if verdict == PERMISSION_DENIED and not grants:
        # DROP and ALTER belong to the table's owner: a GRANT would widen nothing useful.
        return Remedy(None, owner_command, " ".join(owner_only))
    if verdict == PERMISSION_DENIED:
        return Remedy(
            None,
            " ".join(grants),
            " ".join(
                [
                    "The tables exist but the service's role may not use them: run this as "
                    "the tables' owner (psql), then call the endpoints again.",
                    *owner_only,
                ]
            ),
        )
    if verdict == DATABASE_UNREACHABLE:
        return Remedy(
            None,
            "DATABASE_URL=postgresql+psycopg://USER@HOST:PORT/DB lumiku-ops diagnose",
            "Check that the server is running and that DATABASE_URL points at it.",
        )
    if verdict == API_UNREACHABLE:
        return Remedy(
            None,
            "lumiku-ops serve",
            "The service did not answer: start it, or set LUMIKU_API_URL to where it runs.",
        )
    if verdict == AUTH_REJECTED:
        return Remedy(
            None,
            'export LUMIKU_TOKEN="$(lumiku-ops token)"',
            "The service refused the token: set LUMIKU_TOKEN to a valid token for this service.",
        )
    if verdict == UNKNOWN_SERVER_ERROR:
        return Remedy(
            None,
            "grep <requestId> <service log>",
            "The schema is healthy, so the 500s come from elsewhere: look the request ids up "
            "in the service's JSON log.",
        )
    return Remedy(
        "04_verify_endpoints",
        "lumiku-ops verify",
        "Nothing wrong found: confirm the endpoints' responses.",
    )


def _sh(word: str) -> str:
    """``word`` quoted for a POSIX shell: a migration folder's name is text from outside."""
    return shlex.quote(word)


def _delete_rows(names: Sequence[str]) -> str:
    """The psql command that deletes ``names``' rows, quoted for SQL and then for the shell."""
    listed = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
    sql = f"DELETE FROM _prisma_migrations WHERE migration_name IN ({listed})"
    return f'psql "$DATABASE_URL" -c {_sh(sql)}'


def _prisma_records(target: str, recorded: str | None, order: Sequence[str]) -> tuple[str, str]:
    """The commands that make ``_prisma_migrations`` say ``target``, and what they do.

    Prisma has no ``stamp``: ``migrate resolve --applied`` records one migration at a time
    (and refuses one already applied, P3008), and nothing of Prisma's removes a row that
    says applied when its tables are absent: that row is deleted.
    """
    known = (target == "base" or target in order) and (recorded is None or recorded in order)
    start = order.index(recorded) + 1 if known and recorded else 0
    end = order.index(target) + 1 if known and target != "base" else 0
    if not known or start == end:
        return (
            f"npx prisma migrate resolve --applied {_sh(target)}",
            "record that migration as applied",
        )
    if end > start:
        commands = [
            f"npx prisma migrate resolve --applied {_sh(name)}" for name in order[start:end]
        ]
        return (
            " && ".join(commands),
            "record the migrations whose tables it already has as applied, one by one",
        )
    return (
        _delete_rows(order[end:start]),
        "delete the rows that record as applied the migrations whose tables it lacks "
        "(Prisma has no command for that; psql takes the URL without ?schema=)",
    )
