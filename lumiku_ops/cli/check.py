"""``lumiku-ops check``: the CI guard against a migration that was never created."""

from __future__ import annotations

import click

from lumiku_ops.cli.base import (
    cli,
    database_url_option,
    emit,
    json_option,
    lazy,
    migrations_option,
    project_option,
    shadow_url_option,
)
from lumiku_ops.settings import load_settings

check_project = lazy("lumiku_ops.migrate.guard", "check_project")
format_check = lazy("lumiku_ops.migrate.format", "format_check")


@cli.command()
@project_option
@migrations_option
@shadow_url_option
@database_url_option
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail on objects the migrations create and the models lack.",
)
@json_option
def check(
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    database_url: str | None,
    strict: bool,
    as_json: bool,
) -> int:
    """Fail if models lack a migration, heads fork, files are untracked, or a DB lags.

    Given a database, a Prisma project (kind = "prisma") also fails when a migration was
    edited after it was applied there, or failed there (MIGRATION_FAILED).
    """
    settings = load_settings(
        project_dir=project_dir,
        migrations_dir=migrations_dir,
        shadow_url=shadow_url,
        database_url=database_url,
    )
    result = check_project(
        settings, check_database=settings.database_url is not None, strict=strict
    )
    return emit(result, as_json=as_json, render=format_check, ok=result.passed)
