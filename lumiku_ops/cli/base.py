"""The command group, shared options, and the one way results reach the terminal."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any, Protocol

import click

EXIT_OK, EXIT_ERROR, EXIT_PROBLEM = 0, 1, 3


def lazy(module: str, name: str) -> Callable[..., Any]:
    """A stand-in for ``module.name`` that imports it on first call.

    ``lumiku-ops --help`` then imports no database driver, Alembic or notebook machinery,
    and stays as fast as ``alembic --help``; the CLI's contract tests can still replace
    the stand-in on the command's module.
    """

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class Result(Protocol):
    """What every library command returns."""

    def to_dict(self) -> dict[str, Any]: ...


@click.group()
@click.version_option(package_name="lumiku-ops")
def cli() -> None:
    """Runbooks for the 'migration never created' incident."""


database_url_option = click.option(
    "--database-url",
    metavar="URL",
    help="postgresql+psycopg://... (default: $DATABASE_URL, else the embedded server).",
)
api_url_option = click.option(
    "--api-url", metavar="URL", help="Service base URL (default: $LUMIKU_API_URL)."
)
migrations_option = click.option(
    "--migrations",
    "migrations_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=str),
    help="Migrations folder (default: the project's: alembic.ini's script_location, or a "
    "Prisma project's prisma_migrations).",
)
project_option = click.option(
    "--project",
    "project_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=str),
    help="Project folder: pyproject.toml with [tool.lumiku-ops], or lumiku-ops.toml "
    "(a Prisma project with no Python) (default: $LUMIKU_PROJECT, else .).",
)
shadow_url_option = click.option(
    "--shadow-url",
    metavar="URL",
    help="Server for scratch replay databases (default: $LUMIKU_SHADOW_URL, else embedded).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print only the result, as JSON, on stdout."
)


def emit(result: Result, *, as_json: bool, render: Callable[[Any], str], ok: bool) -> int:
    """Print ``result`` (JSON or rendered text) and return the exit code for ``ok``."""
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        click.echo(render(result))
    return EXIT_OK if ok else EXIT_PROBLEM
