"""Batch workers: procrastinate workers that run the Background Remover's batch items.

Run any number of them, on any machine that reaches the database. Each one also retries
jobs whose worker stopped sending heartbeats (killed, crashed, or cut off), so a batch
survives the loss of the worker that was processing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from procrastinate import App
from procrastinate.worker import Worker
from sqlalchemy.orm import sessionmaker

from service.batch_worker import WorkerRuntime
from service.db import make_engine
from service.queue import QUEUE, conninfo_for, make_queue_app
from service.removal import RemovalEngine
from service.settings import ServiceSettings
from service.storage import MediaStore

log = logging.getLogger("service")
DEFAULT_CONCURRENCY = 1  # onnxruntime already uses every core for one image
DEFAULT_STALLED_AFTER_S = 10.0


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs: parallel items, and when a silent worker counts as dead."""

    concurrency: int = DEFAULT_CONCURRENCY
    stalled_after_s: float = DEFAULT_STALLED_AFTER_S


def _share_log_handlers() -> None:
    # The worker's own records go where the service's go (JSON lines), not to stderr.
    handlers = logging.getLogger("service").handlers
    if handlers:
        queue_log = logging.getLogger("procrastinate")
        queue_log.handlers = list(handlers)
        queue_log.setLevel(logging.WARNING)
        queue_log.propagate = False


async def _retry_stalled(app: App, stalled_after_s: float) -> None:
    while True:
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=stalled_after_s
            )
            for job in stalled:
                with contextlib.suppress(Exception):  # another worker retried it first
                    await app.job_manager.retry_job(job)
                    log.warning("retried a stalled job", extra={"queue_job_id": job.id})
        except Exception:  # noqa: BLE001 - a database blip must not stop the worker
            log.warning("could not look for stalled jobs", exc_info=True)
        await asyncio.sleep(max(stalled_after_s / 2, 0.5))


class BatchWorker:
    """One procrastinate worker with our tasks; ``stop()`` may be called from any thread."""

    def __init__(
        self,
        config: ServiceSettings,
        options: WorkerOptions | None = None,
        *,
        engine: RemovalEngine | None = None,
        install_signal_handlers: bool = True,
    ) -> None:
        self.options = options or WorkerOptions()
        self._config = config
        self._engine = engine or RemovalEngine(config.model_home)
        self._signals = install_signal_handlers
        self._worker: Worker | None = None
        self._stopping = threading.Event()

    async def _database_ready(self) -> bool:
        """Wait, quietly and interruptibly, until the database accepts connections and
        holds the job queue's tables.

        Opening procrastinate's pool on a dead server would block for its 30 s timeout and
        fill stderr with retries, and a worker on a database that no revision has touched
        yet would die on its first query; this waits instead, logs once, and lets stop()
        win. Once the migrations are applied, the worker starts by itself.
        """
        conninfo = conninfo_for(self._config.database_url)
        warned = ""
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, connect_timeout=2
                ) as connection:
                    found = await connection.execute("SELECT to_regclass('procrastinate_jobs')")
                    row = await found.fetchone()
                if row is not None and row[0] is not None:
                    return True
                problem = (
                    "batch worker waiting for the job queue's tables"
                    " (run 'lumiku-ops migrate apply')"
                )
            except psycopg.OperationalError:
                problem = "batch worker waiting for the database to accept connections"
            if problem != warned:
                log.warning(problem)
                warned = problem
            await asyncio.sleep(1)
        return False

    async def run_async(self) -> None:
        """Work until stopped (a signal, or ``stop()``)."""
        _share_log_handlers()
        if not await self._database_ready():
            return
        app = make_queue_app(self._config.database_url)
        db = make_engine(self._config.database_url)
        runtime = WorkerRuntime(
            factory=sessionmaker(db, expire_on_commit=False),
            store=MediaStore(self._config.media_root),
            engine=self._engine,
            # Deferring inside a task uses the task's own connection, never a pool.
            queue=make_queue_app(self._config.database_url),
        )
        stalled_after = self.options.stalled_after_s
        async with app.open_async():
            self._worker = Worker(
                app,
                queues=[QUEUE],
                name=f"lumiku-{socket.gethostname()}-{os.getpid()}",
                concurrency=self.options.concurrency,
                additional_context={"runtime": runtime},
                install_signal_handlers=self._signals,
                update_heartbeat_interval=max(stalled_after / 4, 0.5),
                stalled_worker_timeout=stalled_after,
                shutdown_graceful_timeout=30,
            )
            recovery = asyncio.create_task(_retry_stalled(app, stalled_after))
            try:
                if not self._stopping.is_set():
                    await self._worker.run()  # type: ignore[no-untyped-call]
            finally:
                recovery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recovery
                db.dispose()

    def run(self) -> None:
        """Blocking version of :meth:`run_async`."""
        asyncio.run(self.run_async())

    def stop(self) -> None:
        """Ask the worker to finish its current items and exit."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.stop()  # type: ignore[no-untyped-call]


def run_worker(config: ServiceSettings, options: WorkerOptions | None = None) -> None:
    """Process batch items from the queue until interrupted (Ctrl-C or SIGTERM)."""
    BatchWorker(config, options).run()


@contextlib.contextmanager
def worker_in_background(
    config: ServiceSettings, *, engine: RemovalEngine | None = None
) -> Iterator[BatchWorker]:
    """A worker in a thread of this process for the duration of the block.

    Leaving the block stops it and waits for it, so stopping the service leaves no
    worker behind.
    """
    worker = BatchWorker(config, engine=engine, install_signal_handlers=False)
    thread = threading.Thread(target=worker.run, name="batch-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=40)
