"""The database's Alembic revision against the code's head, for the readiness probe."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection


def script_directory(migrations_dir: Path) -> ScriptDirectory:
    """The revision scripts in ``migrations_dir``."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    return ScriptDirectory.from_config(config)


@dataclass(frozen=True)
class SchemaVersion:
    """Where the database is in the revision history."""

    current: str | None
    head: str | None
    pending: list[str] = field(default_factory=list)
    known: bool = True

    @property
    def at_head(self) -> bool:
        """True when the recorded revision is the code's single head."""
        return self.known and self.current == self.head


def read_schema_version(connection: Connection, scripts: ScriptDirectory) -> SchemaVersion:
    """Read ``alembic_version`` (absent means no revision) and list what is pending."""
    current = MigrationContext.configure(connection).get_current_revision()
    head = scripts.get_current_head()
    if current is not None and not _is_known(scripts, current):
        return SchemaVersion(current=current, head=head, known=False)
    pending = [rev.revision for rev in scripts.iterate_revisions(head, current)]
    pending.reverse()  # oldest first, the order they would run in
    return SchemaVersion(current=current, head=head, pending=pending)


def _is_known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except CommandError:  # alembic raises rather than returning None for unknown ids
        return False
