"""The demo's replay, one stack at a time: the database before, the scratch history the
runbooks work on, and the equivalence check afterwards; and the Alembic stack's part.

The Prisma stack's part is :mod:`lumiku_ops.reference.demo_prisma`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lumiku_ops.db.compare import compare_catalogs
from lumiku_ops.migrate.revisions import copy_migrations
from lumiku_ops.migrate.runner import upgrade_database
from lumiku_ops.migrate.shadow import replay_migrations
from lumiku_ops.project import Project
from lumiku_ops.settings import Settings

DEMO_DATABASE = "lumiku_demo"
MISSING_REVISION = "0002"
MIGRATION_MESSAGE = "add_background_remover_models"


class Replay(ABC):
    """One stack's part of the replay: the database before, the scratch history the runbooks
    work on, and the equivalence check afterwards. ``settings`` point at the database."""

    project: Project
    settings: Settings
    environment: dict[str, str]
    scratch_note: str

    @abstractmethod
    def prepare_database(self, say: Callable[[str], None]) -> None:
        """Put the database in the pre-incident state."""

    @abstractmethod
    def make_scratch(self, report_dir: Path) -> None:
        """The copy of the history without the missing migration, and its environment."""

    @abstractmethod
    def differences(self) -> list[str]:
        """How the created migration differs from what it stands for (empty: equivalent)."""


class AlembicReplay(Replay):
    """The reference's own history: 0001 applied, 0002 missing from the copy."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.project = settings.project
        self.settings = settings
        self.url = url

    def prepare_database(self, say: Callable[[str], None]) -> None:
        upgrade_database(self.url, self.project, "0001")
        say(f"database: embedded PostgreSQL, '{DEMO_DATABASE}' at revision 0001 (pre-incident)")

    def make_scratch(self, report_dir: Path) -> None:
        self.scratch = copy_migrations(
            self.project, report_dir / "migrations", without=[MISSING_REVISION]
        )
        self.scratch_note = f"migrations: scratch copy without {MISSING_REVISION} at {self.scratch}"
        self.environment = {
            "DATABASE_URL": self.url,
            "LUMIKU_MIGRATIONS_DIR": str(self.scratch),
            "LUMIKU_PROJECT": str(self.project.root),
        }

    def differences(self) -> list[str]:
        cache = self.settings.cache_dir
        ours = replay_migrations(
            replace(self.project, migrations_dir=self.scratch), cache_dir=cache
        )
        committed = replay_migrations(self.project, cache_dir=cache)
        return [d.summary() for d in compare_catalogs(committed.head_catalog, ours.head_catalog)]
