"""``migrate create`` on a Prisma project: the SQL Prisma's engine gives for the history's
head to the schema, written as ``prisma/migrations/<UTC stamp>_<slug>/migration.sql``.

As ``prisma migrate dev --create-only`` would write it, except that, without
``--allow-destructive``, the engine's drop steps (``-- DropTable``, ``-- DropIndex``, an
``ALTER TABLE ... DROP``) are left out and listed, as for Alembic projects.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from lumiku_ops.errors import MigrationError, NothingToCreateError
from lumiku_ops.history import history_for
from lumiku_ops.history.prisma import PrismaHistory
from lumiku_ops.migrate.create import MigrationCreated, build_checklist
from lumiku_ops.migrate.differences import describe_change
from lumiku_ops.settings import Settings

_MESSAGE = re.compile(r"^[A-Za-z0-9 _-]{1,60}$")
# The engine heads each step with a comment: "-- CreateTable", "-- DropIndex", ...
_STEP = re.compile(r"(?m)^(?=-- [A-Z][A-Za-z]*\s*$)")
# A drop, a rename or a truncation loses data; dropping a default or a NOT NULL does not.
_DESTRUCTIVE = re.compile(
    r"\bDROP\b(?!\s+(?:DEFAULT|NOT\s+NULL)\b)|\bRENAME\b|\bTRUNCATE\b", re.IGNORECASE
)


def split_steps(sql: str) -> list[str]:
    """The engine's script, one step (comment header and statements) per item."""
    return [step for step in _STEP.split(sql) if step.strip()]


def _header(step: str) -> str:
    return step.strip().splitlines()[0].removeprefix("-- ").strip()


def create_prisma_migration(
    settings: Settings,
    message: str | None = None,
    *,
    cache_dir: Path | None = None,
    allow_destructive: bool = False,
    now: datetime | None = None,
) -> MigrationCreated:
    """Write the migration the schema needs and no migration creates.

    Raises:
        NothingToCreateError: Prisma's engine finds the head and the schema equal.
        MigrationError: the message is unusable, or the folder exists already.
    """
    if message and not _MESSAGE.match(message):
        raise MigrationError(
            "--message must be 1-60 letters, digits, spaces, '_' or '-' (e.g. add_note_to_orders)"
        )
    history = history_for(settings, cache_dir=cache_dir)
    if not isinstance(history, PrismaHistory):
        raise MigrationError('this project is not a Prisma project (kind = "prisma")')
    head = history.head_differences
    steps = split_steps(history.engine_sql)
    kept, skipped = [], []
    for step in steps:
        if _DESTRUCTIVE.search(step) and not allow_destructive:
            skipped.append(f"{_header(step)}: {' '.join(step.split()[2:])[:160]}")
        else:
            kept.append(step)
    if not kept:
        left_out = (
            f" (left out, being destructive: {'; '.join(skipped)}; pass --allow-destructive "
            "to write them)"
            if skipped
            else ""
        )
        raise NothingToCreateError(
            "nothing to create: Prisma's engine finds every model of the schema already "
            f"created by a migration{left_out}"
        )
    message = message or describe_change(head)
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_") or "migration"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    name = f"{stamp}_{slug}"
    folder = history.directory / name
    if folder.exists():
        raise MigrationError(f"{folder} exists already; wait a second or pass another --message")
    previous = history.heads()[0] if history.heads() else None
    sql = "".join(step if step.endswith("\n") else step + "\n" for step in kept)
    folder.mkdir()
    try:
        path = folder / "migration.sql"
        path.write_text(sql, encoding="utf-8", newline="\n")
        after = history_for(settings, cache_dir=cache_dir)  # a new one: a new folder
        checklist = build_checklist(after.models, after.replay.head_catalog, after.uncaptured)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a failed create leaves nothing behind
        raise
    return MigrationCreated(
        revision=name,
        down_revision=previous,
        message=message,
        path=path,
        python_source=sql,
        sql=sql,
        checklist=checklist,
        only_in_revisions=skipped,
    )
