"""``lumiku-ops report DIR``: write ``incident.md`` and ``incident.html`` from the runbooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumiku_ops.incident.collect import read_incident_folder
from lumiku_ops.incident.render import after_statuses, format_incident, render_incident_html
from lumiku_ops.redaction import redact
from lumiku_ops.settings import Settings


@dataclass
class IncidentReport:
    """Where the report was written and what it says."""

    markdown: Path
    html: Path
    verdict: str | None
    revision: str | None
    runbooks: list[str]
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    time_to_fix_s: float | None = None

    @property
    def fixed(self) -> bool:
        """True when the final verification saw every checked endpoint answer 200."""
        return bool(self.after) and all(status == 200 for status in self.after.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "markdown": str(self.markdown),
            "html": str(self.html),
            "verdict": self.verdict,
            "revision": self.revision,
            "runbooks": self.runbooks,
            "before": self.before,
            "after": self.after,
            "fixed": self.fixed,
            "time_to_fix_s": round(self.time_to_fix_s, 1) if self.time_to_fix_s else None,
        }


def write_incident_report(settings: Settings, folder: Path) -> IncidentReport:
    """Read the executed runbooks in ``folder`` and write the incident report beside them.

    Every line goes through the same masking as every other output: the token and the
    database URL of ``settings``, bearer tokens, JWTs and URL passwords.

    Raises:
        ConfigError: ``folder`` holds no executed runbook.
    """
    incident = read_incident_folder(folder)
    secrets = [settings.token, settings.jwt_secret, settings.database_url]
    # Mask before the report escapes what it shows: an escaped secret no longer matches.
    for run in incident.runbooks.values():
        run.recorded = _masked(run.recorded, secrets)
    markdown = redact(format_incident(incident, generated=datetime.now(UTC)), secrets)
    md_path, html_path = folder / "incident.md", folder / "incident.html"
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(render_incident_html(markdown), encoding="utf-8")
    started, ended = incident.started, incident.ended
    return IncidentReport(
        markdown=md_path,
        html=html_path,
        verdict=incident.recorded("01_diagnose_500s").get("verdict"),
        revision=incident.recorded("02_create_migration").get("revision"),
        runbooks=list(incident.runbooks),
        before=incident.recorded("01_diagnose_500s").get("http_statuses", {}),
        after=after_statuses(incident),
        time_to_fix_s=(ended - started).total_seconds() if started and ended else None,
    )


def _masked(value: Any, secrets: list[str | None]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_masked(key, secrets): _masked(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, secrets) for item in value]
    return value


def format_report(report: IncidentReport) -> str:
    """The terminal summary of a written report."""
    return "\n".join(
        [
            f"verdict:   {report.verdict}",
            f"revision:  {report.revision}",
            f"verified:  {'yes' if report.fixed else 'NO'}",
            f"report:    {report.markdown}",
            f"           {report.html}",
        ]
    )
