"""``lumiku-ops diagnose``: why do the endpoints answer 500?"""

from __future__ import annotations

import click

from lumiku_ops.cli.base import (
    api_url_option,
    cli,
    database_url_option,
    emit,
    json_option,
    migrations_option,
)
from lumiku_ops.diagnose import diagnose as run_diagnosis
from lumiku_ops.report import format_diagnosis
from lumiku_ops.settings import load_settings
from lumiku_ops.verdicts import HEALTHY


@cli.command()
@api_url_option
@database_url_option
@migrations_option
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    metavar="PATH",
    help="Endpoint to probe (repeatable; default: the three failing and two contrast ones).",
)
@json_option
def diagnose(
    api_url: str | None,
    database_url: str | None,
    migrations_dir: str | None,
    endpoints: tuple[str, ...],
    as_json: bool,
) -> int:
    """Gather evidence on the 500s and state one verdict with its remedy."""
    settings = load_settings(
        api_url=api_url, database_url=database_url, migrations_dir=migrations_dir
    )
    result = run_diagnosis(settings, endpoints=list(endpoints) or None)
    return emit(result, as_json=as_json, render=format_diagnosis, ok=result.verdict == HEALTHY)
