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
Each stack's part is in :mod:`lumiku_ops.reference.demo_replay` (the Alembic one and what
both do) and :mod:`lumiku_ops.reference.demo_prisma`; this module runs the replay.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumiku_ops.db.embedded import start_embedded
from lumiku_ops.errors import ConfigError, LumikuOpsError
from lumiku_ops.incident.report import write_incident_report
from lumiku_ops.project import Project
from lumiku_ops.redaction import redact
from lumiku_ops.reference.accounts import ensure_account, issue_token
from lumiku_ops.reference.demo_prisma import PrismaReplay, prisma_example, require_prisma_engine
from lumiku_ops.reference.demo_replay import (
    DEMO_DATABASE,
    MIGRATION_MESSAGE,
    MISSING_REVISION,
    AlembicReplay,
    Replay,
)
from lumiku_ops.reference.index_page import write_index
from lumiku_ops.reference.secrets import resolve_jwt_secret
from lumiku_ops.reference.service_process import start_service_process
from lumiku_ops.runbooks.run import RunbookRun, run_runbook
from lumiku_ops.settings import Settings
from lumiku_ops.verify.endpoints import probe

DEMO_CREDITS = 1092  # the balance the seed's debug report saw
STACKS = ("alembic", "prisma")
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
        require_prisma_engine(say)
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
    replay: Replay = (
        AlembicReplay(settings, url) if example is None else PrismaReplay(settings, url, example)
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
