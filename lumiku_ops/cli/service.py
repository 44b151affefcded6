"""``serve``, ``token`` and ``demo``: run the reference service and reach it."""

from __future__ import annotations

from pathlib import Path

import click

from lumiku_ops.cli.base import EXIT_ERROR, cli, database_url_option, emit, json_option
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import Settings, load_settings


def _reference(**overrides: str | None) -> Settings:
    # The reference wing imports the service only now, so --help and the core stay light.
    settings = load_settings(**overrides)
    from lumiku_ops.reference import require_reference

    require_reference(settings.project_dir)
    return settings


@cli.command()
@database_url_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JSON-lines logs here instead of stderr.",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not run a batch worker in this process (run 'lumiku-ops worker' instead).",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="API processes on the port (one per core suits a busy service).",
)
def serve(
    database_url: str | None,
    host: str,
    port: int,
    log_file: Path | None,
    no_worker: bool,
    processes: int,
) -> None:
    """Serve the reference Background Remover API."""
    settings = _reference(database_url=database_url)
    from lumiku_ops.reference.serve import ensure_port_free, run_service, service_settings

    config = service_settings(settings, log_file=log_file)
    ensure_port_free(host, port)
    where = mask_url(settings.database_url) if settings.database_url else "embedded PostgreSQL"
    click.echo(f"lumiku-ops: serving on http://{host}:{port} (database: {where})", err=True)
    run_service(config, host=host, port=port, worker=not no_worker, processes=processes)


@cli.command()
@database_url_option
@click.option("--user-id", metavar="ID", help="User id (created if missing).")
@click.option("--email", metavar="E", help="E-mail (default: oncall@lumiku.local).")
@click.option("--credits", type=click.IntRange(min=0), help="Set the user's credit balance.")
def token(
    database_url: str | None, user_id: str | None, email: str | None, credits: int | None
) -> None:
    """Create the user if needed and print only a JWT for it."""
    settings = _reference(database_url=database_url)
    from lumiku_ops.db.connect import resolve_database_url
    from lumiku_ops.reference.accounts import ensure_account, issue_token
    from lumiku_ops.reference.secrets import resolve_jwt_secret

    secret = resolve_jwt_secret(settings)
    account = ensure_account(
        resolve_database_url(settings), user_id=user_id, email=email, credits=credits
    )
    click.echo(issue_token(account, secret))


@cli.command()
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port for the service (default: a free one)."
)
@click.option(
    "--reports",
    "reports_root",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the timestamped report folder goes.",
)
@click.option("--no-smoke-test", is_flag=True, help="Skip the real background removal in 04.")
@click.option(
    "--stack",
    type=click.Choice(["alembic", "prisma"]),
    default="alembic",
    show_default=True,
    help="alembic: the reference's own history. prisma: the seeds' stack, "
    "examples/prisma_seeds (needs Node.js 20+; installs Prisma's schema engine once).",
)
@json_option
def demo(
    port: int | None, reports_root: Path, no_smoke_test: bool, stack: str, as_json: bool
) -> int:
    """Replay the incident and fix it with the four runbooks, on an embedded database."""
    say = (lambda _: None) if as_json else (lambda line: click.echo(line, err=True))
    settings = _reference()
    from lumiku_ops.reference.demo import run_demo
    from lumiku_ops.reference.index_page import format_demo

    result = run_demo(
        settings,
        stack=stack,
        reports_root=reports_root,
        port=port,
        smoke_test=not no_smoke_test,
        say=say,
    )
    if result.error and not as_json:
        click.echo(f"error: {result.error}", err=True)
    code = emit(result, as_json=as_json, render=format_demo, ok=result.passed)
    return EXIT_ERROR if result.error else code
