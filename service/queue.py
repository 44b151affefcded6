"""The platform's job queue (procrastinate on the service's own PostgreSQL).

Jobs are deferred on the caller's database connection, inside the transaction that
charges and records the work, so a batch is never charged without its jobs being queued
(nor queued without being charged). Any number of workers, on any machine, consume the
queue; procrastinate's heartbeats let a restarted worker retry jobs a dead one held.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate.types import JSONValue
from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

QUEUE = "background-remover-batch"
ITEM_TASK = "background_remover.process_item"
FINALIZE_TASK = "background_remover.finalize_batch"
# Database hiccups retry; image failures never reach here (they fail the item instead).
RETRY = RetryStrategy(max_attempts=5, wait=2)


def conninfo_for(database_url: str) -> str:
    """A libpq connection string for a SQLAlchemy ``postgresql+psycopg://`` URL."""
    url = make_url(database_url)
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    params.update({key: value for key, value in url.query.items() if isinstance(value, str)})
    return make_conninfo("", **{key: value for key, value in params.items() if value is not None})


def make_queue_app(database_url: str) -> App:
    """A procrastinate app for ``database_url`` with our tasks; opens nothing yet."""
    app = App(connector=PsycopgConnector(conninfo=conninfo_for(database_url)))
    options: dict[str, Any] = {"queue": QUEUE, "pass_context": True, "retry": RETRY}
    app.task(name=ITEM_TASK, **options)(process_item)  # type: ignore[no-untyped-call]
    app.task(name=FINALIZE_TASK, **options)(finalize_batch)  # type: ignore[no-untyped-call]
    return app


def _driver_connection(connection: Connection) -> Any:
    return connection.connection.driver_connection


def defer_items(app: App, connection: Connection, job_ids: Iterable[str]) -> None:
    """Queue one job per batch item, inside ``connection``'s transaction."""
    deferrer = app.configure_task(ITEM_TASK, queue=QUEUE, connection=_driver_connection(connection))
    items: list[dict[str, JSONValue]] = [{"job_id": job_id} for job_id in job_ids]
    deferrer.batch_defer(*items)


def defer_finalize(app: App, connection: Connection, batch_pk: str) -> None:
    """Queue the batch's ZIP and final status, inside ``connection``'s transaction."""
    app.configure_task(
        FINALIZE_TASK,
        queue=QUEUE,
        connection=_driver_connection(connection),
        queueing_lock=f"finalize-{batch_pk}",
    ).defer(batch_pk=batch_pk)


def process_item(context: JobContext, job_id: str) -> None:
    """Remove one batch item's background (a no-op if the item is already final)."""
    from service.batch_worker import process_batch_item

    process_batch_item(context.additional_context["runtime"], job_id)


def finalize_batch(context: JobContext, batch_pk: str) -> None:
    """Zip a finished batch's cut-outs and set its final status (once)."""
    from service.batch_worker import finalize

    finalize(context.additional_context["runtime"], batch_pk)
