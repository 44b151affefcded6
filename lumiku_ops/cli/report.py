"""``lumiku-ops report``: the incident report from the executed runbooks in a folder."""

from __future__ import annotations

from pathlib import Path

import click

from lumiku_ops.cli.base import cli, emit, json_option, lazy
from lumiku_ops.settings import load_settings

write_incident_report = lazy("lumiku_ops.incident.report", "write_incident_report")
format_report = lazy("lumiku_ops.incident.report", "format_report")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@json_option
def report(folder: Path, as_json: bool) -> int:
    """Write incident.md and incident.html from the runbooks executed in FOLDER."""
    settings = load_settings()
    result = write_incident_report(settings, folder)
    return emit(result, as_json=as_json, render=format_report, ok=result.fixed)
