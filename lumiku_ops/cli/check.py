"""``lumiku-ops check``: the CI guard against a migration that was never created."""

from __future__ import annotations

from lumiku_ops.check import check_project
from lumiku_ops.cli.base import cli, database_url_option, emit, json_option, migrations_option
from lumiku_ops.report_migrate import format_check
from lumiku_ops.settings import load_settings


@cli.command()
@migrations_option
@database_url_option
@json_option
def check(migrations_dir: str | None, database_url: str | None, as_json: bool) -> int:
    """Fail if models lack a revision, heads fork, files are untracked, or a DB lags."""
    settings = load_settings(migrations_dir=migrations_dir, database_url=database_url)
    result = check_project(settings, check_database=settings.database_url is not None)
    return emit(result, as_json=as_json, render=format_check, ok=result.passed)
