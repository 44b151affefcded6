"""Diagnose vs ``alembic check`` on the corpus of real projects (tests/projects/<name>).

For each project installed from ``requirements-corpus.lock`` (optuna, mlflow, dstack), one
run builds a database at head the project's own way (its ``env.py``, after the baseline it
creates outside Alembic, if any), then times on that same database:

* ``alembic check`` run the project's way: ``alembic.command.check`` with the ini the package
  ships and its ``env.py`` (the reference figure), and, once, ``alembic upgrade`` of the
  history on the empty database (what a cold replay cannot go below);
* ``lumiku_ops.diagnose.diagnose`` with ``endpoints=[]`` (schema only, no HTTP), on the
  project reached through its ``[tool.lumiku-ops]`` folder and a copy of its migrations:
  *cold* (empty shadow cache on disk and in memory; the first of the process also starts
  the shadow server), *warm* (the cache a previous run left on disk, as a second
  ``lumiku-ops diagnose`` process finds it) and *after one new revision* (the warm cache,
  after a no-op revision was added to the copy and the database upgraded to it).

Usage (from the repository root, after ``python3 dev.py test`` installed the corpus)::

    .venv/bin/python bench/real_projects.py [--repeat 3] [--project optuna ...]
        [--database-url postgresql+psycopg://USER:PASSWORD@HOST:PORT/postgres]

Without ``--database-url`` an embedded PostgreSQL in a temporary folder holds the databases
and the replays; with it, databases ``lumiku_bench_<random>`` are created on that server
(which also serves as the shadow server) and dropped at the end. Exit code 0 when every
diagnosis agreed with ``alembic check`` (HEALTHY where it found nothing), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO_ROOT))

from bench_db import bench_database  # noqa: E402

from lumiku_ops import history  # noqa: E402
from lumiku_ops.diagnose.diagnosis import diagnose  # noqa: E402
from lumiku_ops.errors import LumikuOpsError  # noqa: E402
from lumiku_ops.settings import load_settings  # noqa: E402
from tests.corpus.projects import (  # noqa: E402
    BY_NAME,
    CORPUS,
    RealProject,
    alembic_check,
    script_directory,
    upgrade,
)

TARGETS = {"cold": 3.0, "warm": 0.6, "new revision": 1.5}  # diagnose / alembic check
NOOP_REVISION = '''"""bench: one more revision

Revision ID: {rev}
Revises: {down}
"""

from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    pass
'''


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _admin(server_url: str, statement: str) -> None:
    admin = create_engine(server_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextmanager
def project_database(server_url: str) -> Iterator[str]:
    """A new database beside the bench's own, dropped afterwards."""
    name = f"lumiku_bench_{uuid.uuid4().hex[:10]}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_noop_revision(project: RealProject, migrations: Path) -> str:
    """A revision that changes no schema, on top of the copy's head; its id."""
    (head,) = script_directory(project, migrations).get_heads()
    rev = uuid.uuid4().hex[:12]
    path = migrations / "versions" / f"{rev}_bench_one_more_revision.py"
    path.write_text(NOOP_REVISION.format(rev=rev, down=head))
    return rev


def bench_project(
    project: RealProject, url: str, shadow_url: str | None, repeat: int, work: Path
) -> tuple[list[str], bool]:
    """The table rows for one project, and whether diagnose agreed with alembic check."""
    migrations = work / project.name / "migrations"
    shutil.copytree(
        project.migrations_dir(), migrations, ignore=shutil.ignore_patterns("__pycache__")
    )
    started = time.perf_counter()
    upgrade(project, url, "heads", migrations=migrations)
    built = time.perf_counter() - started

    diffs: list[int] = []
    checks = [timed(lambda: diffs.append(len(alembic_check(project, url)))) for _ in range(repeat)]
    check = statistics.median(checks)

    settings = load_settings(
        database_url=url,
        project_dir=str(project.folder),
        migrations_dir=str(migrations),
        shadow_url=shadow_url,
    )
    verdicts: list[str] = []
    error: str | None = None

    def run(cache: Path) -> float:
        nonlocal error
        # A new process starts with empty in-memory caches and no History object.
        history.forget()
        started = time.perf_counter()
        try:
            verdicts.append(diagnose(settings, endpoints=[], cache_dir=cache).verdict)
        except LumikuOpsError as exc:
            error = str(exc).splitlines()[0]
            return float("nan")
        return time.perf_counter() - started

    caches = work / project.name / "caches"
    first = run(caches / "first")
    cold = [run(caches / f"cold-{n}") for n in range(repeat)]
    warm = [run(caches / "first") for _ in range(repeat)]
    after: list[float] = []
    for _ in range(repeat):
        upgrade(project, url, add_noop_revision(project, migrations), migrations=migrations)
        after.append(run(caches / "first"))

    def row(label: str, times: list[float]) -> str:
        target = TARGETS.get(label.removeprefix("diagnose "))
        aim = f"  (target <= {target:.1f}x)" if target else ""
        median = statistics.median(times)
        if median != median:  # NaN: diagnose failed
            return f"  {label:<34}{'failed':>9} {'-':>10}{aim}"
        return f"  {label:<34}{median:8.3f}s {median / check:9.2f}x{aim}"

    rows = [
        f"{project.name}: database at head the project's way in {built:.1f} s; "
        f"alembic check reports {diffs[0]} difference(s)",
        f"  {'measurement':<34}{'median':>9} {'this/check':>10}",
        f"  {'alembic check (the project way)':<34}{check:8.3f}s {1.0:9.2f}x",
        # What a cold diagnose cannot go below: the same history run on an empty database.
        f"  {'alembic upgrade, empty database':<34}{built:8.3f}s {built / check:9.2f}x"
        "  (one run: the floor of a cold replay)",
        row("diagnose cold + shadow start", [first]),
        row("diagnose cold", cold),
        row("diagnose warm", warm),
        row("diagnose new revision", after),
    ]
    agreed = error is None and all(v == "HEALTHY" for v in verdicts) == (diffs[0] == 0)
    if error:
        rows.append(f"  diagnose failed: {error}")
    else:
        rows.append(f"  diagnose verdicts: {', '.join(sorted(set(verdicts)))}")
    return rows, agreed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--project", action="append", choices=sorted(BY_NAME), help="only these (repeatable)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server to use instead of a throwaway embedded one "
        "(databases are created on it and dropped afterwards; replays run there too)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    projects = [BY_NAME[name] for name in args.project] if args.project else CORPUS
    agreed_all = True
    with bench_database(args.database_url) as first_url, tempfile.TemporaryDirectory() as work:
        # The embedded shadow server lives in the user's cache folder: a new one here, so
        # the first run starts it from nothing, as on a machine that never ran lumiku-ops.
        os.environ["LUMIKU_CACHE_DIR"] = str(Path(work) / "user-cache")
        server_url = make_url(first_url).set(database="postgres").render_as_string(False)
        for project in projects:
            with project_database(server_url) as url:
                rows, agreed = bench_project(
                    project, url, args.database_url, args.repeat, Path(work)
                )
            agreed_all &= agreed
            print("\n".join(rows), flush=True)
    print(
        "headline: targets diagnose/alembic check: warm <= 0.6x, new revision <= 1.5x, "
        f"cold <= 3x; diagnose agreed with alembic check: {'yes' if agreed_all else 'no'}"
    )
    return 0 if agreed_all else 1


if __name__ == "__main__":
    sys.exit(main())
