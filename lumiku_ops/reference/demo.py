"""The main job: replay the incident end to end and leave a report a reviewer can trust.

On the embedded PostgreSQL: put a database in the pre-incident state, start the reference
service, show the three endpoints answering 500, then run the four runbooks on a scratch
copy of the history WITHOUT the Background Remover's migration, which is exactly "the
migration was never created": 01 finds MIGRATION_NOT_CREATED, 02 creates the migration,
03 applies it, 04 verifies the three 200s. Finally it confirms the created migration is
schema-equivalent to the one it stands for.

Two stacks replay it. ``alembic`` (the default): the reference's own history, the database
at revision 0001, the runbooks on a copy of ``migrations/`` without 0002, compared with the
committed 0002. ``prisma``: the seeds' own stack, ``examples/prisma_seeds`` (a
``schema.prisma`` with the four models and a ``prisma/migrations`` history without them),
the database at that history's head (applied by lumiku-ops's Prisma apply, which writes
``_prisma_migrations``), the runbooks on a copy of the whole project folder, and the created
``migration.sql`` compared with the seeds' expected SQL (``expected/`` in the example).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.compare import compare_catalogs
from lumiku_ops.db.embedded import start_embedded
from lumiku_ops.errors import ConfigError, LumikuOpsError
from lumiku_ops.incident.report import write_incident_report
from lumiku_ops.migrate.revisions import copy_migrations
from lumiku_ops.migrate.runner import upgrade_database
from lumiku_ops.migrate.shadow import replay_migrations
from lumiku_ops.project import Project, load_project
from lumiku_ops.redaction import redact
from lumiku_ops.reference.accounts import ensure_account, issue_token
from lumiku_ops.reference.index_page import write_index
from lumiku_ops.reference.secrets import resolve_jwt_secret
from lumiku_ops.reference.service_process import start_service_process
from lumiku_ops.runbooks.run import RunbookRun, run_runbook
from lumiku_ops.settings import Settings
from lumiku_ops.verify.endpoints import probe

DEMO_DATABASE = "lumiku_demo"
DEMO_CREDITS = 1092  # the balance the seed's debug report saw
MISSING_REVISION = "0002"
MIGRATION_MESSAGE = "add_background_remover_models"
STACKS = ("alembic", "prisma")
# The seeds' own stack, in the checkout: a Prisma project without the Background Remover's
# migration, and the SQL the seeds expect that migration to hold.
PRISMA_EXAMPLE = Path("examples") / "prisma_seeds"
PRISMA_EXPECTED = Path("expected") / f"{MIGRATION_MESSAGE}.sql"
# What each stack's created migration is compared with, as the reports say it.
COMPARED_WITH = {
    "alembic": f"the committed revision {MISSING_REVISION}",
    "prisma": "the seeds' expected SQL",
}


@dataclass
class DemoResult:
    """What the replay found, did and measured."""

    report_dir: Path
    stack: str = "alembic"
    verdict: str | None = None
    revision_created: str | None = None
    equivalent_to_committed: bool = False
    differences: list[str] = field(default_factory=list)
    before: dict[str, int | None] = field(default_factory=dict)
    after: dict[str, int | None] = field(default_factory=dict)
    runs: list[RunbookRun] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    incident: Path | None = None

    @property
    def compared_with(self) -> str:
        """What the created migration must be schema-equivalent to."""
        return COMPARED_WITH.get(self.stack, COMPARED_WITH["alembic"])

    @property
    def passed(self) -> bool:
        """True when every runbook passed, the verdict was right, and the fix holds."""
        fixed = bool(self.after) and all(status == 200 for status in self.after.values())
        return (
            self.error is None
            and len(self.runs) == 4
            and all(run.passed for run in self.runs)
            and self.verdict == "MIGRATION_NOT_CREATED"
            and self.equivalent_to_committed
            and fixed
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "passed": self.passed,
            "stack": self.stack,
            "report_dir": str(self.report_dir),
            "verdict": self.verdict,
            "revision_created": self.revision_created,
            "equivalent_to_committed": self.equivalent_to_committed,
            "compared_with": self.compared_with,
            "differences": self.differences,
            "before": self.before,
            "after": self.after,
            "runs": [run.to_dict() for run in self.runs],
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "error": self.error,
            "incident": str(self.incident) if self.incident else None,
        }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    # The runbooks' kernels inherit this process's environment: that is how the token
    # reaches them without ever being a notebook parameter.
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _statuses(project: Project, api_url: str, token: str) -> dict[str, int | None]:
    return {
        path: probe(api_url, "GET", path, token, timeout_s=10).status for path in project.endpoints
    }


def prisma_example(settings: Settings) -> Path:
    """The seeds' Prisma project in the checkout (``examples/prisma_seeds``).

    Raises:
        ConfigError: the checkout does not have it.
    """
    folder = settings.project_dir / PRISMA_EXAMPLE
    if not (folder / "lumiku-ops.toml").is_file() or not (folder / PRISMA_EXPECTED).is_file():
        raise ConfigError(
            f"the Prisma demo's project is not in {folder}: run `lumiku-ops demo --stack "
            "prisma` from a checkout of the lumiku-ops repository (or set LUMIKU_PROJECT to one)"
        )
    return folder


class _Replay(ABC):
    """One stack's part of the replay: the database before, the scratch history the runbooks
    work on, and the equivalence check afterwards. ``settings`` point at the database."""

    project: Project
    settings: Settings
    environment: dict[str, str]
    scratch_note: str

    @abstractmethod
    def prepare_database(self, say: Callable[[str], None]) -> None:
        """Put the database in the pre-incident state."""

    @abstractmethod
    def make_scratch(self, report_dir: Path) -> None:
        """The copy of the history without the missing migration, and its environment."""

    @abstractmethod
    def differences(self) -> list[str]:
        """How the created migration differs from what it stands for (empty: equivalent)."""


class _AlembicReplay(_Replay):
    """The reference's own history: 0001 applied, 0002 missing from the copy."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.project = settings.project
        self.settings = settings
        self.url = url

    def prepare_database(self, say: Callable[[str], None]) -> None:
        upgrade_database(self.url, self.project, "0001")
        say(f"database: embedded PostgreSQL, '{DEMO_DATABASE}' at revision 0001 (pre-incident)")

    def make_scratch(self, report_dir: Path) -> None:
        self.scratch = copy_migrations(
            self.project, report_dir / "migrations", without=[MISSING_REVISION]
        )
        self.scratch_note = f"migrations: scratch copy without {MISSING_REVISION} at {self.scratch}"
        self.environment = {
            "DATABASE_URL": self.url,
            "LUMIKU_MIGRATIONS_DIR": str(self.scratch),
            "LUMIKU_PROJECT": str(self.project.root),
        }

    def differences(self) -> list[str]:
        cache = self.settings.cache_dir
        ours = replay_migrations(
            replace(self.project, migrations_dir=self.scratch), cache_dir=cache
        )
        committed = replay_migrations(self.project, cache_dir=cache)
        return [d.summary() for d in compare_catalogs(committed.head_catalog, ours.head_catalog)]


class _PrismaReplay(_Replay):
    """The seeds' Prisma project: its whole history applied, as a deploy leaves it; the
    runbooks on a copy of the project folder, into which 02 writes the new migration."""

    def __init__(self, settings: Settings, url: str, example: Path) -> None:
        self.example = example
        self.project = load_project(example)
        # Scratch databases go to the demo's own server, whatever folder the project is in.
        self.data_dir = settings.lumiku_dir / "pgdata"
        self.settings = replace(
            settings,
            database_url=url,
            project_dir=example,
            migrations_override=None,
            data_dir=self.data_dir,
        )
        self.url = url

    def prepare_database(self, say: Callable[[str], None]) -> None:
        from lumiku_ops.migrate.apply import apply_migrations

        applied = apply_migrations(self.settings, dry_run=False, confirm=True)
        say(
            f"database: embedded PostgreSQL, '{DEMO_DATABASE}' at {applied.to_revision} "
            f"(the committed Prisma head: {len(applied.revisions)} migrations applied and "
            "recorded in _prisma_migrations)"
        )

    def make_scratch(self, report_dir: Path) -> None:
        self.scratch = Path(
            shutil.copytree(
                self.example,
                report_dir / "project",
                ignore=shutil.ignore_patterns(".lumiku", "__pycache__"),
            )
        )
        self.scratch_settings = replace(self.settings, project_dir=self.scratch)
        migrations = self.scratch_settings.project.migrations_dir
        self.scratch_note = f"project: scratch copy of {self.example} at {self.scratch}"
        self.environment = {
            "DATABASE_URL": self.url,
            "LUMIKU_MIGRATIONS_DIR": str(migrations),
            "LUMIKU_PROJECT": str(self.scratch),
            "LUMIKU_DATA_DIR": str(self.data_dir),
        }

    def differences(self) -> list[str]:
        """The scratch history (with the created migration) against the committed history
        with the seeds' expected SQL in its place: every model table's columns, indexes and
        constraints, by name, both replayed the same way."""
        from lumiku_ops.history.prisma import PrismaHistory
        from lumiku_ops.prisma.migrations import list_migrations

        ours_history = PrismaHistory(self.scratch_settings)
        committed = {m.name for m in list_migrations(self.project.migrations_dir)}
        new = [m.name for m in ours_history.migrations if m.name not in committed]
        if len(new) != 1:
            return [f"expected one created migration, found {len(new)}: {', '.join(new)}"]
        created = new[0]
        ours: TableCatalog = ours_history.replay.head_catalog
        with tempfile.TemporaryDirectory(prefix="lumiku-expected-") as folder:
            expected_dir = Path(folder) / "migrations"
            shutil.copytree(self.project.migrations_dir, expected_dir)
            (expected_dir / created).mkdir()
            shutil.copyfile(
                self.example / PRISMA_EXPECTED, expected_dir / created / "migration.sql"
            )
            expected_settings = replace(self.scratch_settings, migrations_override=expected_dir)
            expected = PrismaHistory(expected_settings).replay.head_catalog
        return [d.summary() for d in compare_catalogs(expected, ours)]


def _require_prisma_engine(say: Callable[[str], None]) -> None:
    """Node.js 20+ and Prisma's engine, before anything is created (installs it once)."""
    from lumiku_ops.prisma.install import find_node, install_engine

    find_node()  # one `error:` line saying what to install, before anything else
    home = install_engine()
    say(f"engine:   Prisma's schema engine at {home}")


def run_demo(
    settings: Settings,
    *,
    stack: str = "alembic",
    reports_root: Path = Path("reports"),
    port: int | None = None,
    smoke_test: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> DemoResult:
    """Replay the incident and fix it with the four runbooks; never raises for a finding.

    Raises:
        ConfigError: ``stack`` is unknown, or the Prisma example is not in the checkout.
        PrismaEngineError: for ``prisma``, Node.js 20+ is missing or the engine would not
            install; raised before anything is created.
    """
    if stack not in STACKS:
        raise ConfigError(f"no demo stack '{stack}'; choose one of: {', '.join(STACKS)}")
    started = time.perf_counter()
    example = prisma_example(settings) if stack == "prisma" else None
    if example is not None:
        mark = time.perf_counter()
        _require_prisma_engine(say)
        started_engine = time.perf_counter() - mark
    # Absolute: the runbooks' kernels run in the project folder, not in this one.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = DemoResult(report_dir=(reports_root / stamp).resolve(), stack=stack)
    result.report_dir.mkdir(parents=True, exist_ok=True)
    if example is not None:
        result.timings["engine"] = started_engine

    mark = time.perf_counter()
    embedded = start_embedded(settings.lumiku_dir / "pgdata")
    embedded.drop_database(DEMO_DATABASE)
    embedded.create_database(DEMO_DATABASE)
    url = embedded.url(DEMO_DATABASE)
    replay: _Replay = (
        _AlembicReplay(settings, url) if example is None else _PrismaReplay(settings, url, example)
    )
    project = replay.project
    replay.prepare_database(say)
    result.timings["database"] = time.perf_counter() - mark

    mark = time.perf_counter()
    secret = resolve_jwt_secret(settings)
    service = start_service_process(
        url, jwt_secret=secret, log_file=result.report_dir / "service.log", port=port
    )
    result.timings["service"] = time.perf_counter() - mark
    try:
        account = ensure_account(url, email="demo@lumiku.local", credits=DEMO_CREDITS)
        token = issue_token(account, secret)
        say(f"service:  {service.base_url} (log: {service.log_file})")
        result.before = _statuses(project, service.base_url, token)
        for path, status in result.before.items():
            say(f"  before  {status}  GET {path}")

        replay.make_scratch(result.report_dir)
        say(replay.scratch_note)
        plan: list[tuple[str, dict[str, Any]]] = [
            (
                "01_diagnose_500s",
                {"expected_verdict": "MIGRATION_NOT_CREATED", "log_file": str(service.log_file)},
            ),
            ("02_create_migration", {"message": MIGRATION_MESSAGE}),
            ("03_apply_migration", {"dry_run": False, "confirm": True}),
            ("04_verify_endpoints", {"smoke_test": smoke_test}),
        ]
        environment = {
            "LUMIKU_API_URL": service.base_url,
            "LUMIKU_TOKEN": token,
            **replay.environment,
        }
        with _environment(environment):
            for name, parameters in plan:
                say(f"runbook:  {name} ...")
                run = run_runbook(name, parameters=parameters, out_dir=result.report_dir)
                result.runs.append(run)
                result.timings[name] = run.duration_s
                say(
                    f"          {'passed' if run.passed else 'FAILED: ' + str(run.error)} "
                    f"in {run.duration_s:.1f} s"
                )
                if not run.passed:
                    break
        if result.runs:
            result.verdict = result.runs[0].recorded.get("verdict")
        if len(result.runs) > 1:
            result.revision_created = result.runs[1].recorded.get("revision")
            mark = time.perf_counter()
            result.differences = replay.differences()
            result.equivalent_to_committed = not result.differences
            result.timings["equivalence"] = time.perf_counter() - mark
            say(
                f"equivalence: {result.revision_created} "
                + (
                    f"is schema-equivalent to {result.compared_with}"
                    if result.equivalent_to_committed
                    else f"differs from {result.compared_with}: {'; '.join(result.differences)}"
                )
            )
        result.after = _statuses(project, service.base_url, token)
        for path, status in result.after.items():
            say(f"  after   {status}  GET {path}")
        if result.runs:
            try:
                written = write_incident_report(
                    replace(replay.settings, token=token), result.report_dir
                )
                result.incident = written.html
                say(f"incident: {written.markdown}")
            except LumikuOpsError as exc:  # the index still says what was found and done
                say(f"incident report not written: {exc}")
    except Exception as exc:  # a report that says what broke beats a traceback
        result.error = redact(f"{type(exc).__name__}: {exc}", [token if "token" in dir() else None])
    finally:
        service.stop()
        result.timings["total"] = time.perf_counter() - started
        write_index(result)
    return result
