"""What runbooks call besides the commands themselves: settings from parameters, display,
and recording results so a test or the CLI can read them back from the executed notebook.

Secrets never enter a notebook as values: a runbook takes the *name* of an environment
variable (``token_env="LUMIKU_TOKEN"``), because papermill writes parameter values into
the output notebook.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumiku_ops.durations import parse_duration
from lumiku_ops.errors import ConfigError
from lumiku_ops.escaping import code_block, code_span, escape_markdown
from lumiku_ops.migrate.apply import ApplyResult, apply_migrations
from lumiku_ops.migrate.confirm import runbook_dry_run
from lumiku_ops.redaction import mask_url, redact
from lumiku_ops.settings import Settings, load_settings
from lumiku_ops.verify.endpoints import Check, Exchange, load_checks, probe
from lumiku_ops.verify.results import Verification

if TYPE_CHECKING:
    from lumiku_ops.diagnose.diagnosis import Diagnosis
    from lumiku_ops.migrate.create import MigrationCreated

RECORD_MIMETYPE = "application/vnd.lumiku-ops.record+json"


def runbook_settings(
    *,
    project_dir: str = "",
    api_url: str = "",
    token_env: str = "LUMIKU_TOKEN",
    database_url_env: str = "DATABASE_URL",
    migrations_dir: str = "",
) -> Settings:
    """Settings from a runbook's parameters; secrets come from the named variables.

    Empty strings mean "not given": ``$LUMIKU_PROJECT``, ``$LUMIKU_API_URL``,
    ``$LUMIKU_MIGRATIONS_DIR`` and the defaults apply; an unset database variable means
    the embedded PostgreSQL.
    """
    return load_settings(
        token_env=token_env,
        database_url_env=database_url_env,
        project_dir=project_dir or None,
        api_url=api_url or None,
        migrations_dir=migrations_dir or None,
    )


def diagnose_step(settings: Settings, *, log_file: str = "", service_role: str = "") -> Diagnosis:
    """The runbook's diagnosis; an empty ``log_file`` or ``service_role`` means "not given"."""
    from lumiku_ops.diagnose.diagnosis import diagnose

    return diagnose(
        settings, log_files=[log_file] if log_file else [], service_role=service_role or None
    )


def describe_settings(settings: Settings) -> str:
    """Where this run points, as Markdown, with every secret masked."""
    database = mask_url(settings.database_url) if settings.database_url else "embedded PostgreSQL"
    return "\n".join(
        [
            f"- service: {code_span(redact(settings.api_url))}",
            f"- database: {code_span(database)}",
            f"- project: {code_span(settings.project_dir)}",
            f"- migrations: {code_span(settings.migrations_dir)}",
            f"- token: {'set' if settings.token else 'not set'}",
        ]
    )


def show(markdown: str) -> None:
    """Display Markdown in the notebook (or print it outside one)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown))


def show_code(source: str, language: str = "python") -> None:
    """Display source code with syntax highlighting."""
    show(code_block(source, language))


def migration_source(created: MigrationCreated) -> tuple[str, str]:
    """The created migration's file as it will be committed, and the language to show it in:
    an Alembic revision's Python, or a Prisma migration's ``migration.sql``."""
    return created.python_source, "sql" if created.path.suffix == ".sql" else "python"


def show_migration_sql(created: MigrationCreated) -> None:
    """The SQL the created migration runs: an Alembic revision's offline SQL; for a file that
    is its own SQL (Prisma's ``migration.sql``, shown just above), what runs it instead of a
    second copy."""
    if created.path.suffix == ".sql":
        show(
            f"The file above is the SQL: {code_span(created.path.name)} runs as it is, as one "
            "batch in one transaction, and `migrate apply` records it in `_prisma_migrations` "
            "as `prisma migrate deploy` does."
        )
        return
    show_code(created.sql, "sql")


def show_png(png: bytes | None) -> None:
    """Display a PNG image (or say why there is none)."""
    from IPython.display import Image, display

    if png is None:
        show("_No chart: matplotlib is not installed (`pip install 'lumiku-ops[charts]'`)._")
        return
    display(Image(data=png))


def record(name: str, value: Any) -> None:
    """Store ``value`` (JSON-able) in the notebook's outputs under ``name``."""
    from IPython.display import display

    # As JSON text, sorted: nbval compares (and its sanitizers can clean) text, not objects.
    text = json.dumps({name: value}, default=str, sort_keys=True, indent=1)
    display({RECORD_MIMETYPE: text}, raw=True)


def read_recorded(notebook: Path | str) -> dict[str, Any]:
    """Everything a runbook recorded, read back from an executed notebook."""
    data = json.loads(Path(notebook).read_text())
    recorded: dict[str, Any] = {}
    for cell in data.get("cells", []):
        for output in cell.get("outputs", []):
            value = output.get("data", {}).get(RECORD_MIMETYPE)
            if isinstance(value, list):  # nbformat may split text into lines
                value = "".join(value)
            if isinstance(value, str):
                value = json.loads(value)
            if isinstance(value, dict):
                recorded.update(value)
    return recorded


def checks_from(path: str) -> list[Check] | None:
    """The checks in ``path``, or ``None`` (the defaults) when ``path`` is empty."""
    return load_checks(path) if path else None


def apply_step(
    settings: Settings,
    *,
    target: str = "head",
    dry_run: bool = True,
    confirm: bool = False,
    lock_timeout: str = "5s",
    statement_timeout: str = "5m",
    wait: bool = False,
) -> ApplyResult:
    """The runbook's apply: a real change needs BOTH ``dry_run=False`` and ``confirm=True``.

    Anything else is a dry run, so a careless execution with the defaults changes nothing.
    """
    return apply_migrations(
        settings,
        target=target,
        dry_run=runbook_dry_run(dry_run=dry_run, confirm=confirm),
        confirm=confirm,
        lock_timeout_s=parse_duration(lock_timeout),
        statement_timeout_s=parse_duration(statement_timeout),
        wait=wait,
    )


def readiness(settings: Settings) -> Exchange | None:
    """The answer of the project's ``ready_path`` (no token sent), or ``None`` without one."""
    path = settings.project.ready_path
    if path is None:
        return None
    return probe(settings.api_url, "GET", path, None, timeout_s=5.0)


def format_readiness(exchange: Exchange | None) -> str:
    """The readiness answer as Markdown."""
    if exchange is None:
        return "The project sets no `ready_path`: readiness not checked (step skipped)."
    status = exchange.status if exchange.status is not None else exchange.error_category
    return (
        f"{code_span(f'GET {exchange.request_target}')} → **{escape_markdown(status)}**\n\n"
        + code_block(exchange.body_text, "json")
    )


def latency_chart(verification: Verification) -> bytes | None:
    """A horizontal bar chart of each check's latency (PNG), failures in red.

    ``None`` without matplotlib (``pip install 'lumiku-ops[charts]'``): the core installs
    without it, and the summary and transcripts above already give every latency.
    """
    try:
        import matplotlib
    except ImportError:
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [result.check.name for result in verification.checks]
    latencies = [result.exchange.latency_ms for result in verification.checks]
    colours = ["#2e7d32" if result.passed else "#c62828" for result in verification.checks]
    figure, axes = plt.subplots(figsize=(7, 0.5 + 0.45 * max(len(names), 1)))
    axes.barh(names, latencies, color=colours)
    axes.invert_yaxis()
    axes.set_xlabel("latency (ms)")
    axes.set_title("Endpoint latency (green: passed, red: failed)")
    for index, value in enumerate(latencies):
        axes.text(value, index, f" {value:.0f} ms", va="center", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


@dataclass(frozen=True)
class SmokeSkipped:
    """The smoke test was not asked for."""

    reason: str
    passed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"skipped": True, "reason": self.reason}


def smoke_step(
    settings: Settings, *, enabled: bool, tier: str = "basic", timeout_s: float = 120.0
) -> Any:
    """Upload a generated image and wait for its cut-out, or skip when not ``enabled``."""
    if not enabled:
        return SmokeSkipped("smoke_test=False")
    if not settings.token:
        raise ConfigError("the smoke test needs a token: set the variable token_env names")
    from lumiku_ops.reference.smoke import run_removal_smoke_test

    return run_removal_smoke_test(settings.api_url, settings.token, tier=tier, timeout_s=timeout_s)


def show_smoke(smoke: Any) -> None:
    """The original beside the cut-out on a checkerboard, and the checks made on it."""
    if isinstance(smoke, SmokeSkipped):
        show(f"Smoke test skipped ({smoke.reason}).")
        return
    from lumiku_ops.reference.smoke import checkerboard_preview

    show_png(checkerboard_preview(smoke))
    rows = "\n".join(f"| {name} | {'✓' if ok else '✗'} |" for name, ok in smoke.checks.items())
    show(f"| check | result |\n|---|---|\n{rows}")
