"""API latency at production volume: the three read endpoints over HTTP vs their raw queries.

One run builds a throwaway database at head holding ``--users`` users and ``--jobs`` job rows
(one user owns ``--heavy-jobs`` of them, the rest share the others; every tenth job is a batch
item), generated in SQL with ``generate_series``. It starts the reference service under
uvicorn (``lumiku-ops serve``), then for each of ``GET /jobs``, ``GET /stats`` and
``GET /jobs/{id}`` (as the heavy user):

* **HTTP**: ``--clients`` locust users (keep-alive connections), each sending at most
  ``--rate / --clients`` requests per second, for ``--duration`` seconds;
* **raw**: the same SQL statements the endpoint sends (the auth lookup of the caller and the
  endpoint's own queries), through psycopg, by the same number of asyncio clients at the same
  pace, over a pool as large as the service's (20 connections).

It prints requests per second, p50 and p99 of both, and the ratio HTTP p99 / raw p99; the
last line is the headline: the worst ratio and the p99 of ``GET /jobs``.

Usage (from the repository root)::

    .venv/bin/python bench/api_latency.py [--users 1000] [--jobs 1000000]
        [--heavy-jobs 100000] [--clients 100] [--rate 100] [--duration 15]

Without ``--database-url`` it starts an embedded PostgreSQL in a temporary folder that is
deleted at exit; with it, a database ``lumiku_bench_<random>`` is created on that server and
dropped at the end. Only 127.0.0.1 receives traffic. Exit code 0 when every request
succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO_ROOT))

from bench_db import bench_database  # noqa: E402

from bench.loadgen import (  # noqa: E402
    Sample,
    format_table,
    percentile,
    run_locust,
    start_offsets,
)
from lumiku_ops.migrate.runner import upgrade_database  # noqa: E402
from lumiku_ops.project import load_project  # noqa: E402
from lumiku_ops.reference.service_process import start_service_process  # noqa: E402
from service.auth import create_token  # noqa: E402

PROJECT = load_project(REPO_ROOT)
HEAVY_USER = "bench-user-0000"
SERVICE_POOL = 20  # service.db.make_engine: pool_size 10 + max_overflow 10
PREFIX = "/api/background-remover"

JOB_COLUMNS = (
    '"id", "userId", "batchId", "itemIndex", "status", "originalUrl", "processedUrl",'
    ' "thumbnailUrl", "originalSize", "processedSize", "tier", "aiProvider", "modelName",'
    ' "creditsUsed", "pricingType", "processingTime", "errorMessage", "createdAt",'
    ' "completedAt"'
)
USER_LOOKUP = 'SELECT "id", "email", "name", "role" FROM users WHERE id = %(user)s'
# What each endpoint sends to the database, in order (service/auth.py, service/routes/*.py),
# each statement on its own as the service's read engine runs them (autocommit).
RAW_QUERIES: dict[str, list[str]] = {
    "GET /jobs": [
        USER_LOOKUP,
        f'SELECT {JOB_COLUMNS} FROM "BackgroundRemovalJob"'
        ' WHERE "userId" = %(user)s AND "batchId" IS NULL'
        ' ORDER BY "createdAt" DESC, "id" DESC LIMIT 51',
    ],
    "GET /stats": [
        USER_LOOKUP,
        'SELECT (SELECT count(*) FROM "BackgroundRemovalJob"'
        '   WHERE "userId" = %(user)s AND "batchId" IS NULL),'
        ' (SELECT count(*) FROM "BackgroundRemovalBatch" WHERE "userId" = %(user)s),'
        ' (SELECT "plan" FROM "BackgroundRemoverSubscription" WHERE "userId" = %(user)s)',
    ],
    "GET /jobs/{id}": [
        USER_LOOKUP,
        f'SELECT {JOB_COLUMNS} FROM "BackgroundRemovalJob"'
        ' WHERE "id" = %(job)s AND "userId" = %(user)s',
    ],
}


def generate_sql(users: int, jobs: int, heavy: int) -> list[str]:
    """SQL that fills the database in a few set-based statements (no row-by-row inserts)."""
    others = max(users - 1, 1)
    per_other = -(-(jobs - heavy) // others)  # ceiling: every other user gets a share
    return [
        f"""INSERT INTO users (id, email, password, "updatedAt")
            SELECT 'bench-user-' || lpad(u::text, 4, '0'), 'bench' || u || '@lumiku.local',
                   'not-a-password', CURRENT_TIMESTAMP
            FROM generate_series(0, {users - 1}) AS u""",
        # One row per job: its owner, its place among the owner's jobs, and a creation time
        # spread over a year in an order unrelated to the owner (a permutation of g).
        f"""CREATE UNLOGGED TABLE bench_jobs AS
            SELECT g,
                   CASE WHEN g < {heavy} THEN 0 ELSE 1 + (g - {heavy}) / {per_other} END AS u,
                   CASE WHEN g < {heavy} THEN g ELSE mod(g - {heavy}, {per_other}) END AS k,
                   CURRENT_TIMESTAMP(3)
                     - make_interval(secs => mod(g::bigint * 7919, {jobs}) * 31.5) AS at
            FROM generate_series(0, {jobs - 1}) AS g""",
        # Every tenth job is an item of a batch of ten (its owner's k / 100-th batch).
        """INSERT INTO "BackgroundRemovalBatch" (id, "userId", "batchId", status, "totalImages",
                   "processedImages", tier, "totalCredits", "originalPrice", "finalPrice",
                   "createdAt")
            SELECT 'bench-batch-' || u || '-' || k / 100, 'bench-user-' || lpad(u::text, 4, '0'),
                   'bb' || u || 'x' || k / 100, 'completed', 10, 10, 'basic', 30, 30, 30, min(at)
            FROM bench_jobs WHERE mod(k, 10) = 0 GROUP BY u, k / 100""",
        """INSERT INTO "BackgroundRemovalJob" (id, "userId", "batchId", "itemIndex", status,
                   "originalUrl", "processedUrl", "thumbnailUrl", "originalSize",
                   "processedSize", tier, "aiProvider", "modelName", "creditsUsed",
                   "pricingType", "processingTime", "createdAt", "completedAt")
            SELECT 'cbench' || lpad(g::text, 19, '0'), 'bench-user-' || lpad(u::text, 4, '0'),
                   CASE WHEN mod(k, 10) = 0 THEN 'bench-batch-' || u || '-' || k / 100 END,
                   CASE WHEN mod(k, 10) = 0 THEN mod(k, 100) / 10 END, 'completed',
                   '/storage/background-remover/uploads/' || g || '_original.png',
                   '/storage/background-remover/outputs/' || g || '.png',
                   '/storage/background-remover/thumbnails/' || g || '_thumb.webp',
                   250000, 180000, 'basic', 'rembg', 'u2netp', 3, 'credit', 850, at,
                   at + interval '1 second'
            FROM bench_jobs""",
        "DROP TABLE bench_jobs",
    ]


def fill(url: str, users: int, jobs: int, heavy: int) -> list[str]:
    """Generate the data, vacuum and analyse; return some of the heavy user's job ids."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            for statement in generate_sql(users, jobs, heavy):
                connection.exec_driver_sql(statement)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            # The load wrote about a gigabyte; without this, the checkpoint that follows
            # writes it out during the first measurement (its p99 then ranged 14 to 77 ms).
            try:
                connection.exec_driver_sql("CHECKPOINT")
            except DBAPIError:
                print("note: CHECKPOINT refused (needs pg_checkpoint); figures may be noisier")
            ids = connection.execute(
                text(
                    'SELECT id FROM "BackgroundRemovalJob" WHERE "userId" = :u'
                    " ORDER BY md5(id) LIMIT 500"
                ),
                {"u": HEAVY_USER},
            ).scalars()
            return list(ids)
    finally:
        engine.dispose()


async def raw_clients(
    dsn: str,
    statements: list[str],
    params: list[dict[str, str]],
    *,
    clients: int,
    per_client_rate: float,
    duration_s: float,
    max_per_client: int,
) -> list[float]:
    """The endpoint's statements through psycopg, by ``clients`` paced asyncio clients."""
    from psycopg_pool import AsyncConnectionPool

    timings: list[float] = []
    interval = 1.0 / per_client_rate
    offsets = start_offsets(clients, interval)
    async with AsyncConnectionPool(
        dsn,
        min_size=SERVICE_POOL,
        max_size=SERVICE_POOL,
        kwargs={"autocommit": True},
        open=False,
    ) as connections:
        await connections.open(wait=True)
        deadline = time.perf_counter() + duration_s + interval

        async def client(number: int) -> None:
            # The same start offsets and timetable as the HTTP clients (bench/loadgen.py).
            await asyncio.sleep(offsets[number])
            first, slot = time.perf_counter(), 0
            for i in range(max_per_client):
                started = time.perf_counter()
                if started >= deadline:
                    return
                values = params[(number + i) % len(params)]
                async with connections.connection() as connection:
                    for statement in statements:
                        await (await connection.execute(statement, values)).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
                now = time.perf_counter()
                slot = max(slot + 1, math.ceil((now - first) / interval))
                await asyncio.sleep(max(0.0, first + slot * interval - now))

        await asyncio.gather(*(client(n) for n in range(clients)))
    return timings


def libpq_dsn(url: str) -> str:
    """The psycopg connection string for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=1000, help="users")
    parser.add_argument("--jobs", type=int, default=1_000_000, help="job rows in all")
    parser.add_argument(
        "--heavy-jobs", type=int, default=100_000, help="job rows of the measured user"
    )
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients")
    parser.add_argument(
        "--rate", type=float, default=100, help="requests per second offered by all clients"
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument(
        "--warmup", type=int, default=5, help="unrecorded seconds of load before each one"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="API processes (lumiku-ops serve --processes)"
    )
    parser.add_argument("--database-url", metavar="URL", help="a server instead of embedded")
    args = parser.parse_args(argv)
    if not (0 < args.heavy_jobs <= args.jobs) or args.users < 2 or args.clients < 1:
        parser.error("need 0 < --heavy-jobs <= --jobs, --users >= 2, --clients >= 1")
    if args.duration < 1 or args.rate <= 0 or args.processes < 1 or args.warmup < 0:
        parser.error("--duration and --rate must be positive")
    per_client = args.rate / args.clients
    # Bounded in count as well as time: no client sends more than its paced share plus 20%.
    max_per_client = int(per_client * args.duration * 1.2) + 1

    with bench_database(args.database_url) as url:
        started = time.perf_counter()
        upgrade_database(url, PROJECT)
        job_ids = fill(url, args.users, args.jobs, args.heavy_jobs)
        print(
            f"{args.jobs:,} jobs for {args.users:,} users ({args.heavy_jobs:,} for the measured"
            f" one) generated in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        secret = secrets.token_urlsafe(32)
        token = create_token(user_id=HEAVY_USER, email="bench0@lumiku.local", secret=secret)
        with tempfile.TemporaryDirectory(prefix="lumiku-bench-log-") as logs:
            service = start_service_process(
                url,
                jwt_secret=secret,
                log_file=Path(logs) / "service.log",
                worker=False,
                processes=args.processes,
            )
            try:
                rows = measure(
                    service.base_url, service.process.pid, url, token, job_ids, args, max_per_client
                )
            finally:
                service.stop()
    return report(rows, args)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` and its API processes so far."""
    import psutil

    parent = psutil.Process(pid)
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def measure(
    base_url: str,
    pid: int,
    url: str,
    token: str,
    job_ids: list[str],
    args: Any,
    max_per_client: int,
) -> list[tuple[str, list[Sample], list[float], float]]:
    """HTTP then raw, endpoint by endpoint, at the same concurrency and pace."""
    per_client = args.rate / args.clients
    endpoints: dict[str, list[str]] = {
        "GET /jobs": [f"{PREFIX}/jobs"],
        "GET /stats": [f"{PREFIX}/stats"],
        "GET /jobs/{id}": [f"{PREFIX}/jobs/{job}" for job in job_ids],
    }
    rows = []
    for name, paths in endpoints.items():
        load = functools.partial(
            run_locust,
            base_url,
            paths=paths,
            token=token,
            users=args.clients,
            per_user_rate=per_client,
            max_requests_per_user=max_per_client,
            names=dict.fromkeys(paths, name),
        )
        if args.warmup:
            # Unrecorded: the pools fill, statements get prepared, caches warm up.
            print(f"warming up {name} for {args.warmup} s ...", flush=True)
            load(run_time_s=args.warmup)
        print(f"measuring {name} over HTTP ...", flush=True)
        cpu_before = cpu_seconds(pid)
        http = load(run_time_s=args.duration)
        # The service's own CPU per request: what the shared machine's noise does not change.
        cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / max(len(http), 1)
        print(f"measuring {name} through psycopg ...", flush=True)
        params = [{"user": HEAVY_USER, "job": job} for job in (job_ids if "{id}" in name else [""])]
        raw = asyncio.run(
            raw_clients(
                libpq_dsn(url),
                RAW_QUERIES[name],
                params,
                clients=args.clients,
                per_client_rate=per_client,
                duration_s=args.duration,
                max_per_client=max_per_client,
            )
        )
        rows.append((name, http, raw, cpu_ms))
    return rows


def report(rows: list[tuple[str, list[Sample], list[float], float]], args: Any) -> int:
    table = []
    worst_ratio, jobs_p99, failed_total = 0.0, float("nan"), 0
    for name, http, raw, cpu_ms in rows:
        ok = [s.ms for s in http if s.ok]
        failed = len(http) - len(ok)
        failed_total += failed
        span = (max(s.started for s in http) - min(s.started for s in http)) if http else 0
        http_rps = len(http) / span if span > 0 else float("nan")
        raw_rps = len(raw) / args.duration
        h50, h99 = percentile(ok, 50), percentile(ok, 99)
        r50, r99 = percentile(raw, 50), percentile(raw, 99)
        ratio = h99 / r99
        worst_ratio = max(worst_ratio, ratio)
        if name == "GET /jobs":
            jobs_p99 = h99
        table.append(
            (
                name,
                f"{http_rps:.0f}",
                f"{h50:.1f}",
                f"{h99:.1f}",
                str(failed),
                f"{cpu_ms:.1f}",
                f"{raw_rps:.0f}",
                f"{r50:.2f}",
                f"{r99:.2f}",
                f"{ratio:.1f}",
            )
        )
    print()
    print(
        f"{args.clients} clients, {args.rate:g} requests/s offered, {args.duration} s each,"
        f" {args.processes} API process(es);"
        " times in ms"
    )
    print(
        format_table(
            (
                "endpoint",
                "http req/s",
                "http p50",
                "http p99",
                "failed",
                "cpu ms/req",
                "raw q/s",
                "raw p50",
                "raw p99",
                "p99 http/raw",
            ),
            table,
        )
    )
    print(
        f"headline: HTTP p99 / raw p99 at most {worst_ratio:.1f}x (target 3x);"
        f" GET /jobs p99 {jobs_p99:.1f} ms (target 20 ms)"
    )
    return 0 if failed_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
