"""``lumiku-ops migrate …``: create, plan, lint, apply, status, verify, rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
from lumiku_ops.durations import parse_duration
from lumiku_ops.settings import Settings, load_settings

apply_migrations = lazy("lumiku_ops.migrate.apply", "apply_migrations")
rollback_migrations = lazy("lumiku_ops.migrate.apply", "rollback_migrations")
create_migration = lazy("lumiku_ops.migrate.create", "create_migration")
lint_migrations = lazy("lumiku_ops.migrate.plan", "lint_migrations")
plan_migrations = lazy("lumiku_ops.migrate.plan", "plan_migrations")
migration_status = lazy("lumiku_ops.migrate.status", "migration_status")
verify_schema = lazy("lumiku_ops.migrate.status", "verify_schema")
format_apply = lazy("lumiku_ops.migrate.format", "format_apply")
format_created = lazy("lumiku_ops.migrate.format", "format_created")
format_lint = lazy("lumiku_ops.migrate.format", "format_lint")
format_plan = lazy("lumiku_ops.migrate.format", "format_plan")
format_schema_verification = lazy("lumiku_ops.migrate.format", "format_schema_verification")
format_status = lazy("lumiku_ops.migrate.format", "format_status")

target_option = click.option(
    "--target", default="head", show_default=True, metavar="REV", help="Revision to reach."
)
from_option = click.option(
    "--from", "from_revision", metavar="REV", help="Plan from REV instead of the database's."
)


F = TypeVar("F", bound=Callable[..., Any])


def _safety_options(command: F) -> F:
    for option in reversed(
        [
            click.option(
                "--dry-run", is_flag=True, help="Run in a transaction, report, roll back."
            ),
            click.option(
                "--confirm", is_flag=True, help="Required for a database not on this machine."
            ),
            click.option(
                "--lock-timeout",
                default="5s",
                show_default=True,
                help="Give up waiting for a table lock after this.",
            ),
            click.option(
                "--statement-timeout",
                default="5m",
                show_default=True,
                help="Abort a statement running longer ('0' = none).",
            ),
            click.option(
                "--wait",
                is_flag=True,
                help="Wait for another operator's migration instead of failing.",
            ),
        ]
    ):
        command = option(command)
    return command


def _settings(
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
) -> Settings:
    return load_settings(
        database_url=database_url,
        project_dir=project_dir,
        migrations_dir=migrations_dir,
        shadow_url=shadow_url,
    )


@cli.group()
def migrate() -> None:
    """Create, plan, lint, apply, check and roll back migrations."""


@migrate.command()
@click.option(
    "--message",
    "-m",
    default=None,
    help="Revision message (default: what changes, e.g. add_note_to_orders).",
)
@click.option(
    "--allow-destructive",
    is_flag=True,
    help="Also write drops, renames and narrowing type changes (listed, not written, without).",
)
@project_option
@migrations_option
@shadow_url_option
@json_option
def create(
    message: str | None,
    allow_destructive: bool,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Autogenerate a revision from the models against a shadow database."""
    result = create_migration(
        _settings(None, project_dir, migrations_dir, shadow_url),
        message,
        allow_destructive=allow_destructive,
    )
    return emit(result, as_json=as_json, render=format_created, ok=result.complete)


@migrate.command()
@target_option
@from_option
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@json_option
def plan(
    target: str,
    from_revision: str | None,
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Print the SQL the pending revisions would run, one transaction at a time."""
    settings = _settings(database_url, project_dir, migrations_dir, shadow_url)
    result = plan_migrations(settings, target=target, from_revision=from_revision)
    return emit(result, as_json=as_json, render=format_plan, ok=True)


@migrate.command()
@target_option
@from_option
@click.option(
    "--allow-destructive", is_flag=True, help="Report DROP/TRUNCATE/type changes as warnings."
)
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@json_option
def lint(
    target: str,
    from_revision: str | None,
    allow_destructive: bool,
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Lint the planned SQL with squawk and the destructive-statement rule."""
    settings = _settings(database_url, project_dir, migrations_dir, shadow_url)
    result = lint_migrations(
        settings, target=target, from_revision=from_revision, allow_destructive=allow_destructive
    )
    return emit(result, as_json=as_json, render=format_lint, ok=result.passed)


@migrate.command()
@target_option
@_safety_options
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@json_option
def apply(
    target: str,
    dry_run: bool,
    confirm: bool,
    lock_timeout: str,
    statement_timeout: str,
    wait: bool,
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Apply pending revisions atomically, under a lock, with timeouts."""
    settings = _settings(database_url, project_dir, migrations_dir, shadow_url)
    result = apply_migrations(
        settings,
        target=target,
        dry_run=dry_run,
        confirm=confirm,
        wait=wait,
        lock_timeout_s=parse_duration(lock_timeout),
        statement_timeout_s=parse_duration(statement_timeout),
    )
    return emit(result, as_json=as_json, render=format_apply, ok=True)


@migrate.command()
@click.option(
    "--to", "to", metavar="REV", help="Revision to go back to (default: the previous one)."
)
@_safety_options
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@json_option
def rollback(
    to: str | None,
    dry_run: bool,
    confirm: bool,
    lock_timeout: str,
    statement_timeout: str,
    wait: bool,
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Downgrade with the same lock, timeouts and confirmation rules as apply."""
    settings = _settings(database_url, project_dir, migrations_dir, shadow_url)
    result = rollback_migrations(
        settings,
        to=to,
        dry_run=dry_run,
        confirm=confirm,
        wait=wait,
        lock_timeout_s=parse_duration(lock_timeout),
        statement_timeout_s=parse_duration(statement_timeout),
    )
    return emit(result, as_json=as_json, render=format_apply, ok=True)


@migrate.command()
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@json_option
def status(
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Show the recorded revision, heads and pending list; exit 3 when behind."""
    settings = _settings(database_url, project_dir, migrations_dir, shadow_url)
    result = migration_status(settings)
    return emit(result, as_json=as_json, render=format_status, ok=result.up_to_date)


@migrate.command()
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@json_option
def verify(
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    as_json: bool,
) -> int:
    """Check every model table has exactly the model's columns, indexes and keys."""
    result = verify_schema(_settings(database_url, project_dir, migrations_dir, shadow_url))
    return emit(result, as_json=as_json, render=format_schema_verification, ok=result.passed)
