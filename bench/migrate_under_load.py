"""What ``lumiku-ops migrate apply`` does to traffic, and how it gives up when it is blocked.

The reference service runs under uvicorn (``lumiku-ops serve``) on a database at revision
``0001`` (production before the Background Remover's tables), serving a steady load from
locust (headless, ``--rate`` requests per second in all, bounded in time and in count) on
the endpoints that work: ``GET /api/credits/balance`` and ``GET /api/apps``. Two rounds:

1. **apply**: after ``--settle`` seconds of load, ``lumiku-ops migrate apply`` (to head) runs
   as a subprocess; the load goes on for ``--settle`` seconds after it.
2. **blocked**: the database is put back at ``0001``; another session takes
   ``LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE`` (revision 0002 only creates new
   tables, so the version table is the one existing table it must write) and holds it while
   ``migrate apply --lock-timeout`` runs; the lock is released once the apply has exited.

For each round it prints failed requests and p99 before, during and after the apply, how
long the apply took (the whole process, start-up included), and for the blocked round how
long it took to give up, counted from when its session was first seen waiting for the lock
(``pg_locks``, polled every 10 ms), and the revision the database was left at. The last
line is the headline: failed requests, the ratio p99 during / p99 before, and the blocked
apply's time to give up against its lock timeout.

Usage (from the repository root)::

    .venv/bin/python bench/migrate_under_load.py [--rate 200] [--settle 8] [--lock-timeout 2]

It starts an embedded PostgreSQL in a temporary folder (deleted at exit). Only 127.0.0.1
receives traffic. Exit code 0 when the targets held (no failed request, the blocked apply
gave up within its lock timeout plus 1 s and left 0001, the first apply reached head).
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO_ROOT))

from bench.loadgen import Sample, format_table, percentile, run_locust  # noqa: E402
from lumiku_ops.db.embedded import start_embedded  # noqa: E402
from lumiku_ops.migrate.runner import downgrade, upgrade_database  # noqa: E402
from lumiku_ops.project import load_project  # noqa: E402
from lumiku_ops.reference.accounts import ensure_account, issue_token  # noqa: E402
from lumiku_ops.reference.service_process import start_service_process  # noqa: E402

PROJECT = load_project(REPO_ROOT)
PATHS = ["/api/credits/balance", "/api/apps"]
USERS = 20  # locust users; each sends rate / USERS requests per second
APPLY_BOUND_S = 30  # an apply still running after this is killed and reported as hung


@dataclass
class Round:
    """One round: the load's samples and the apply's outcome."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    apply_started: float = 0.0
    apply_ended: float = 0.0
    exit_code: int = 0
    waiting_since: float | None = None  # when the apply was first seen waiting for a lock
    message: str = ""
    revision: str | None = None

    @property
    def apply_s(self) -> float:
        return self.apply_ended - self.apply_started

    @property
    def gave_up_s(self) -> float | None:
        """From the apply's first lock wait to its exit (None if it never waited)."""
        return None if self.waiting_since is None else self.apply_ended - self.waiting_since

    def window(self, which: str) -> list[Sample]:
        if which == "before":
            return [s for s in self.samples if s.started < self.apply_started]
        if which == "during":
            return [s for s in self.samples if self.apply_started <= s.started <= self.apply_ended]
        return [s for s in self.samples if s.started > self.apply_ended]


def recorded_revision(url: str) -> str | None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return ",".join(sorted(rows)) or None
    finally:
        engine.dispose()


def back_to_0001(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            downgrade(PROJECT, connection, "0001")
    finally:
        engine.dispose()


def watch_lock_wait(url: str, round_: Round, done: threading.Event) -> None:
    """Note when the apply's session first waits for a lock (polled every 10 ms, bounded)."""
    query = (
        "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE NOT l.granted AND a.application_name = 'lumiku-ops migrate apply'"
    )
    with psycopg.connect(libpq_dsn(url), autocommit=True) as connection:
        deadline = time.monotonic() + APPLY_BOUND_S + 5
        while not done.is_set() and time.monotonic() < deadline:
            if connection.execute(query).fetchone() is not None:
                round_.waiting_since = time.time()
                return
            time.sleep(0.01)


def apply(url: str, lock_timeout_s: float, round_: Round) -> None:
    """``lumiku-ops migrate apply`` to head, as an operator runs it; killed after a bound."""
    command = [
        sys.executable,
        "-m",
        "lumiku_ops",
        "migrate",
        "apply",
        "--database-url",
        url,
        "--project",
        str(REPO_ROOT),
        "--lock-timeout",
        f"{lock_timeout_s:g}s",
        "--json",
    ]
    round_.apply_started = time.time()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=APPLY_BOUND_S, check=False
        )
    except subprocess.TimeoutExpired:  # killed by subprocess.run
        round_.apply_ended = time.time()
        round_.exit_code = -1
        round_.message = f"still waiting after {APPLY_BOUND_S} s: killed"
        return
    round_.apply_ended = time.time()
    round_.exit_code = result.returncode
    output = (result.stdout.strip() or result.stderr.strip()).splitlines()
    round_.message = output[-1] if output else ""
    if result.returncode == 0:
        outcome = json.loads(result.stdout)
        round_.message = f"{outcome.get('outcome')} {', '.join(outcome.get('revisions', []))}"


def run_round(
    name: str,
    base_url: str,
    url: str,
    token: str,
    args: argparse.Namespace,
    *,
    blocker: bool,
) -> Round:
    round_ = Round(name)
    per_user = args.rate / USERS
    run_time = int(2 * args.settle + args.lock_timeout + 15)
    max_requests = int(per_user * run_time * 1.2) + 1

    def load() -> None:
        round_.samples = run_locust(
            base_url,
            paths=PATHS,
            token=token,
            users=USERS,
            per_user_rate=per_user,
            run_time_s=run_time,
            max_requests_per_user=max_requests,
        )

    loader = threading.Thread(target=load, name=f"load-{name}")
    loader.start()
    # The load runs for run_time; the apply comes after `settle` seconds of it, and the
    # load's end leaves `settle` seconds or more after the apply.
    time.sleep(args.settle)
    holder: psycopg.Connection[tuple[object, ...]] | None = None
    done = threading.Event()
    watcher = threading.Thread(target=watch_lock_wait, args=(url, round_, done))
    try:
        if blocker:
            holder = psycopg.connect(libpq_dsn(url))
            holder.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            watcher.start()
        apply(url, args.lock_timeout, round_)
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()
        if holder is not None:
            holder.rollback()
            holder.close()
    round_.revision = recorded_revision(url)
    loader.join(timeout=run_time + 120)
    return round_


def libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=200, help="requests per second in all")
    parser.add_argument(
        "--settle", type=float, default=8, help="seconds of load before and after each apply"
    )
    parser.add_argument(
        "--lock-timeout", type=float, default=2, help="the apply's --lock-timeout, in seconds"
    )
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.settle < 1 or args.lock_timeout <= 0:
        parser.error("--rate and --lock-timeout must be positive, --settle at least 1")

    folder = Path(tempfile.mkdtemp(prefix="lumiku-bench-"))
    embedded = start_embedded(folder / "pgdata", cleanup="delete", database="lumiku_bench")
    url = embedded.url("lumiku_bench")
    upgrade_database(url, PROJECT, "0001")
    secret = secrets.token_urlsafe(32)
    account = ensure_account(url, email="load@lumiku.local", credits=1092)
    token = issue_token(account, secret)
    service = start_service_process(
        url, jwt_secret=secret, log_file=folder / "service.log", worker=False
    )
    try:
        print(f"round 1: {args.rate:g} req/s, migrate apply to head after {args.settle:g} s")
        applied = run_round("apply", service.base_url, url, token, args, blocker=False)
        back_to_0001(url)
        print("round 2: the same, with alembic_version locked by another session")
        blocked = run_round("blocked", service.base_url, url, token, args, blocker=True)
    finally:
        service.stop()
    return report([applied, blocked], args)


def report(rounds: list[Round], args: argparse.Namespace) -> int:
    rows = []
    for round_ in rounds:
        for which in ("before", "during", "after"):
            samples = round_.window(which)
            ok = [s.ms for s in samples if s.ok]
            rows.append(
                (
                    round_.name,
                    which,
                    str(len(samples)),
                    str(len(samples) - len(ok)),
                    f"{percentile(ok, 50):.1f}",
                    f"{percentile(ok, 99):.1f}",
                )
            )
    print()
    print(f"load: {args.rate:g} req/s on {' and '.join(PATHS)} (locust, {USERS} users)")
    print(format_table(("round", "window", "requests", "failed", "p50 ms", "p99 ms"), rows))
    print()
    print(
        format_table(
            (
                "round",
                "apply took s",
                "lock wait to exit s",
                "exit",
                "revision after",
                "apply said",
            ),
            [
                (
                    r.name,
                    f"{r.apply_s:.2f}",
                    "-" if r.gave_up_s is None else f"{r.gave_up_s:.2f}",
                    str(r.exit_code),
                    r.revision or "none",
                    r.message if len(r.message) <= 100 else r.message[:97] + "...",
                )
                for r in rounds
            ],
        )
    )
    applied, blocked = rounds
    failed = sum(1 for r in rounds for s in r.samples if not s.ok)
    total = sum(len(r.samples) for r in rounds)
    before = percentile([s.ms for s in applied.window("before") if s.ok], 99)
    during = percentile([s.ms for s in applied.window("during") if s.ok], 99)
    limit = args.lock_timeout + 1
    passed = (
        failed == 0
        and applied.revision == "0002"
        and blocked.exit_code != 0
        and blocked.revision == "0001"
        and blocked.gave_up_s is not None
        and blocked.gave_up_s <= limit
    )
    gave_up = "never waited" if blocked.gave_up_s is None else f"{blocked.gave_up_s:.2f} s"
    print(
        f"headline: {failed} failed of {total} requests; p99 during/before apply"
        f" {during / before:.1f}x ({during:.1f} / {before:.1f} ms); blocked apply gave up"
        f" {gave_up} after its lock wait began (limit {limit:g} s; {blocked.apply_s:.2f} s"
        f" with process start), left at revision {blocked.revision}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
