"""The demo's Prisma stack: the seeds' own project (``examples/prisma_seeds``), its history
applied as a deploy leaves it, the runbooks on a copy of the folder, and the created
``migration.sql`` compared with the SQL the seeds expect.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import compare_catalogs
from lumiku_ops.errors import ConfigError
from lumiku_ops.project import load_project
from lumiku_ops.reference.demo_replay import DEMO_DATABASE, MIGRATION_MESSAGE, Replay
from lumiku_ops.settings import Settings

# The seeds' own stack, in the checkout: a Prisma project without the Background Remover's
# migration, and the SQL the seeds expect that migration to hold.
PRISMA_EXAMPLE = Path("examples") / "prisma_seeds"
PRISMA_EXPECTED = Path("expected") / f"{MIGRATION_MESSAGE}.sql"


def prisma_example(settings: Settings) -> Path:
    """The seeds' Prisma project in the checkout (``examples/prisma_seeds``).

    Raises:
        ConfigError: the checkout does not have it.
    """
    folder = settings.project_dir / PRISMA_EXAMPLE
    if not (folder / "lumiku-ops.toml").is_file() or not (folder / PRISMA_EXPECTED).is_file():
        raise ConfigError(
            f"the Prisma demo's project is not in {folder}: run `lumiku-ops demo --stack "
            "prisma` from a checkout of the lumiku-ops repository (or set LUMIKU_PROJECT to one)"
        )
    return folder


class PrismaReplay(Replay):
    """The seeds' Prisma project: its whole history applied, as a deploy leaves it; the
    runbooks on a copy of the project folder, into which 02 writes the new migration."""

    def __init__(self, settings: Settings, url: str, example: Path) -> None:
        self.example = example
        self.project = load_project(example)
        # Scratch databases go to the demo's own server, whatever folder the project is in.
        self.data_dir = settings.lumiku_dir / "pgdata"
        self.settings = replace(
            settings,
            database_url=url,
            project_dir=example,
            migrations_override=None,
            data_dir=self.data_dir,
        )
        self.url = url

    def prepare_database(self, say: Callable[[str], None]) -> None:
        from lumiku_ops.migrate.apply import apply_migrations

        applied = apply_migrations(self.settings, dry_run=False, confirm=True)
        say(
            f"database: embedded PostgreSQL, '{DEMO_DATABASE}' at {applied.to_revision} "
            f"(the committed Prisma head: {len(applied.revisions)} migrations applied and "
            "recorded in _prisma_migrations)"
        )

    def make_scratch(self, report_dir: Path) -> None:
        self.scratch = Path(
            shutil.copytree(
                self.example,
                report_dir / "project",
                ignore=shutil.ignore_patterns(".lumiku", "__pycache__"),
            )
        )
        self.scratch_settings = replace(self.settings, project_dir=self.scratch)
        migrations = self.scratch_settings.project.migrations_dir
        self.scratch_note = f"project: scratch copy of {self.example} at {self.scratch}"
        self.environment = {
            "DATABASE_URL": self.url,
            "LUMIKU_MIGRATIONS_DIR": str(migrations),
            "LUMIKU_PROJECT": str(self.scratch),
            "LUMIKU_DATA_DIR": str(self.data_dir),
        }

    def differences(self) -> list[str]:
        """The scratch history (with the created migration) against the committed history
        with the seeds' expected SQL in its place: every model table's columns, indexes and
        constraints, by name, both replayed the same way."""
        from lumiku_ops.history.prisma import PrismaHistory
        from lumiku_ops.prisma.migrations import list_migrations

        ours_history = PrismaHistory(self.scratch_settings)
        committed = {m.name for m in list_migrations(self.project.migrations_dir)}
        new = [m.name for m in ours_history.migrations if m.name not in committed]
        if len(new) != 1:
            return [f"expected one created migration, found {len(new)}: {', '.join(new)}"]
        created = new[0]
        ours: TableCatalog = ours_history.replay.head_catalog
        with tempfile.TemporaryDirectory(prefix="lumiku-expected-") as folder:
            expected_dir = Path(folder) / "migrations"
            shutil.copytree(self.project.migrations_dir, expected_dir)
            (expected_dir / created).mkdir()
            shutil.copyfile(
                self.example / PRISMA_EXPECTED, expected_dir / created / "migration.sql"
            )
            expected_settings = replace(self.scratch_settings, migrations_override=expected_dir)
            expected = PrismaHistory(expected_settings).replay.head_catalog
        return [d.summary() for d in compare_catalogs(expected, ours)]


def require_prisma_engine(say: Callable[[str], None]) -> None:
    """Node.js 20+ and Prisma's engine, before anything is created (installs it once)."""
    from lumiku_ops.prisma.install import find_node, install_engine

    find_node()  # one `error:` line saying what to install, before anything else
    home = install_engine()
    say(f"engine:   Prisma's schema engine at {home}")
