"""Progress through a range of revisions: which one is running, to name it on failure.

Apart from ``runner`` because the callers that run a range (apply, its transactions, the
shadow replay) hold a ``Progress`` of their own to read after a failure, without needing
anything else of the runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alembic.script import Script

from lumiku_ops.errors import MigrationError
from lumiku_ops.migrate.migration_context import RevisionPicker
from lumiku_ops.migrate.segments import describe_script, uses_autocommit_block
from lumiku_ops.project import Project


@dataclass
class Progress:
    """The revision Alembic is running (the last one it was handed), to name it on failure."""

    running: Script | None = None

    def describe(self, project: Project) -> str:
        """``revision 0003 (migrations/versions/0003_x.py)``, or what ran before any."""
        if self.running is None:
            return "the range, before its first revision"
        return describe_script(self.running, project.root)


def tracked(
    project: Project,
    picker: RevisionPicker,
    progress: Progress,
    *,
    in_transaction: bool,
    upgrading: bool,
) -> RevisionPicker:
    """``picker``, recording each revision it hands Alembic in ``progress``; inside a
    transaction the caller began, a revision with an ``autocommit_block()`` is refused."""

    def pick(rev: Any, context: Any) -> Iterator[Any]:
        for step in picker(rev, context):
            script = getattr(step, "revision", None)
            progress.running = script
            if (
                in_transaction
                and isinstance(script, Script)
                and uses_autocommit_block(script, upgrade=upgrading)
            ):
                # Alembic would stop on an empty AssertionError: it cannot commit our transaction.
                raise MigrationError(
                    f"{describe_script(script, project.root)} uses autocommit_block(), which "
                    "cannot run inside a transaction begun by the caller; run it on its own"
                )
            yield step

    return pick
