"""Alembic driven in-process, on a connection we own (the cookbook's connection sharing)."""

from __future__ import annotations

import io
import shutil
import sys
from argparse import Namespace
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, pool


def alembic_config(
    migrations_dir: Path,
    connection: Connection | None = None,
    *,
    output: io.StringIO | None = None,
) -> Config:
    """A Config for ``migrations_dir``; ``connection`` is handed to ``env.py`` if given.

    ``output`` collects what offline (``--sql``) mode prints, instead of stdout.
    """
    # Alembic's progress messages would pollute --json output; results carry what matters.
    config = Config(
        output_buffer=output, stdout=io.StringIO(), cmd_opts=Namespace(quiet=True, x=None)
    )
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "60")
    config.attributes["configure_logger"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        # Generated revisions come out formatted like the rest of the code base.
        config.set_section_option("post_write_hooks", "hooks", "ruff_format")
        config.set_section_option("post_write_hooks", "ruff_format.type", "exec")
        config.set_section_option("post_write_hooks", "ruff_format.executable", ruff)
        config.set_section_option(
            "post_write_hooks", "ruff_format.options", "format --quiet REVISION_SCRIPT_FILENAME"
        )
    return config


def offline_sql(migrations_dir: Path, revision_range: str, *, downgrade: bool = False) -> str:
    """The SQL Alembic's offline mode prints for ``revision_range`` (``from:to``)."""
    buffer = io.StringIO()
    config = alembic_config(migrations_dir, output=buffer)
    if downgrade:
        command.downgrade(config, revision_range, sql=True)
    else:
        command.upgrade(config, revision_range, sql=True)
    return buffer.getvalue()


def upgrade_database(url: str, migrations_dir: Path, target: str = "head") -> None:
    """Upgrade the database at ``url`` to ``target`` in one transaction."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(migrations_dir, connection), target)
    finally:
        engine.dispose()
