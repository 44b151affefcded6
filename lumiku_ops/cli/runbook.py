"""``lumiku-ops runbook``: list the runbooks, or run one with papermill and render it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lumiku_ops.cli.base import cli, emit, json_option, lazy, project_option
from lumiku_ops.errors import ConfigError
from lumiku_ops.runbooks.catalogue import RUNBOOKS

if TYPE_CHECKING:
    from lumiku_ops.runbooks.run import RunbookRun

resolve_runbook = lazy("lumiku_ops.runbooks.run", "resolve_runbook")
run_runbook = lazy("lumiku_ops.runbooks.run", "run_runbook")
runbook_parameters = lazy("lumiku_ops.runbooks.run", "runbook_parameters")


def format_run(run: RunbookRun) -> str:
    """Where the files are, what was recorded, and how it ended."""
    lines = [
        f"{run.name}: {'PASSED' if run.passed else 'FAILED'} in {run.duration_s:.1f} s",
        f"  notebook:        {run.notebook}",
        f"  report:          {run.html}",
        f"  report + code:   {run.html_with_code}",
    ]
    if run.error:
        lines.append(f"  error:           {run.error}")
    for key, value in run.recorded.items():
        lines.append(f"  {key}: {json.dumps(value, default=str)}")
    return "\n".join(lines)


@cli.group()
def runbook() -> None:
    """Run the incident's runbooks (papermill) and render their reports."""


@runbook.command("list")
@json_option
def list_runbooks(as_json: bool) -> None:
    """List the runbooks and their parameters."""
    catalogue = {name: runbook_parameters(name) for name in RUNBOOKS}
    if as_json:
        click.echo(json.dumps(catalogue, indent=2))
        return
    for name, parameters in catalogue.items():
        click.echo(name)
        for parameter, info in parameters.items():
            click.echo(f"  {parameter} = {info['default']}  # {info['help']}")


@runbook.command()
@click.argument("name")
@click.option(
    "-p",
    "--parameter",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="KEY VALUE",
    help="Set a parameter (repeatable), as papermill's -p.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Output folder (default: reports/<timestamp>/).",
)
@project_option
@json_option
def run(
    name: str,
    parameters: tuple[tuple[str, str], ...],
    out_dir: str | None,
    project_dir: str | None,
    as_json: bool,
) -> int:
    """Execute a runbook and write the notebook and both HTML reports."""
    resolve_runbook(name)  # an unknown or ambiguous name fails before anything is printed
    if out_dir is not None and not out_dir.strip():
        # Path("") is the current folder: the run would scatter its files there.
        raise ConfigError("--out is empty; give the output folder, e.g. --out reports/incident")
    folder = (
        Path(out_dir) if out_dir else Path("reports") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    )
    # Strings as typed; run_runbook checks and converts them against the declared types.
    values: dict[str, Any] = dict(parameters)
    if project_dir is not None:
        values.setdefault("project_dir", str(Path(project_dir).resolve()))
    if not as_json:
        click.echo(f"running {name} into {folder} ...", err=True)
    result = run_runbook(name, parameters=values, out_dir=folder, progress=not as_json)
    return emit(result, as_json=as_json, render=format_run, ok=result.passed)
