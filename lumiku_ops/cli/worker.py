"""``worker``: process batch items from the queue."""

from __future__ import annotations

import click

from lumiku_ops.cli.base import cli, database_url_option
from lumiku_ops.redaction import mask_url
from lumiku_ops.settings import load_settings


@cli.command()
@database_url_option
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Items processed at the same time.",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Seconds without a heartbeat after which another worker's job is retried.",
)
def worker(database_url: str | None, concurrency: int, stalled_after: float) -> None:
    """Process Background Remover batch items until Ctrl-C."""
    settings = load_settings(database_url=database_url)
    from lumiku_ops.reference import require_reference

    require_reference(settings.project_dir)
    from lumiku_ops.reference.serve import worker_settings
    from lumiku_ops.reference.worker import WorkerOptions, run_worker

    config = worker_settings(settings)
    where = mask_url(settings.database_url) if settings.database_url else "embedded PostgreSQL"
    click.echo(f"lumiku-ops: worker on {where} (concurrency {concurrency})", err=True)
    run_worker(config, WorkerOptions(concurrency=concurrency, stalled_after_s=stalled_after))
