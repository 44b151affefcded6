"""``lumiku-ops diagnose``: why do the endpoints answer 500?"""

from __future__ import annotations

import click

from lumiku_ops.cli.base import (
    api_url_option,
    cli,
    database_url_option,
    emit,
    json_option,
    lazy,
    migrations_option,
    project_option,
    shadow_url_option,
)
from lumiku_ops.diagnose.verdicts import HEALTHY
from lumiku_ops.durations import parse_duration
from lumiku_ops.settings import load_settings

run_diagnosis = lazy("lumiku_ops.diagnose.diagnosis", "diagnose")
format_diagnosis = lazy("lumiku_ops.diagnose.format", "format_diagnosis")


def _checked_max_mib(context: click.Context, parameter: click.Parameter, value: str) -> float:
    # nan and inf parse as floats; one error line here, before any work, not a traceback later.
    from lumiku_ops.logs.reader import MIB, check_max_mib

    return check_max_mib(value) / MIB


@cli.command()
@api_url_option
@database_url_option
@project_option
@migrations_option
@shadow_url_option
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    metavar="PATH",
    help="Path to probe, e.g. /api/items (repeatable; default: the project's endpoints).",
)
@click.option(
    "--log",
    "log_files",
    multiple=True,
    metavar="FILE",
    help="The service's log, - for stdin (repeatable): link each 5xx to the models.",
)
@click.option(
    "--log-max-mib",
    metavar="MIB",
    callback=_checked_max_mib,
    default="64",
    show_default=True,
    help="Read only the last this many MiB of each log.",
)
@click.option(
    "--since",
    metavar="DURATION",
    help="Ignore log errors older than this (e.g. 30m, 2h).",
)
@click.option(
    "--service-role",
    metavar="NAME",
    help="Check this role's privileges on every model table (read-only).",
)
@json_option
def diagnose(
    api_url: str | None,
    database_url: str | None,
    project_dir: str | None,
    migrations_dir: str | None,
    shadow_url: str | None,
    endpoints: tuple[str, ...],
    log_files: tuple[str, ...],
    log_max_mib: float,
    since: str | None,
    service_role: str | None,
    as_json: bool,
) -> int:
    """Gather evidence on the 500s and state one verdict with its remedy."""
    settings = load_settings(
        api_url=api_url,
        database_url=database_url,
        project_dir=project_dir,
        migrations_dir=migrations_dir,
        shadow_url=shadow_url,
    )
    result = run_diagnosis(
        settings,
        endpoints=list(endpoints) or None,
        log_files=list(log_files),
        log_max_mib=log_max_mib,
        since_s=parse_duration(since) if since else None,
        service_role=service_role,
    )
    return emit(result, as_json=as_json, render=format_diagnosis, ok=result.verdict == HEALTHY)
