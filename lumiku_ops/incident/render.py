"""The incident report as Markdown (pure, from the recorded results) and as HTML."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from lumiku_ops.escaping import (
    CSP_META,
    code_block,
    code_span,
    escape_html,
    escape_markdown,
    escape_markdown_keeping_code,
)
from lumiku_ops.incident.collect import IncidentFolder

SQL_LINES = 80
_UNESCAPE = re.compile(r"\\(.)")
CI_LINES = """\
# .github/workflows/migrations.yml (any CI: the same two commands)
- name: Every model change has its revision
  run: lumiku-ops check --json
- name: Production is not behind (before deploying the code)
  run: lumiku-ops check --database-url "$DATABASE_URL"
"""


def _at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "unknown"


def _clock(value: str | None) -> str:
    if not value:
        return "unknown"
    try:
        return _at(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return escape_markdown(value)


def _cell(text: Any) -> str:
    return escape_markdown(text)


def _paths(paths: list[str], empty: str) -> str:
    return ", ".join(code_span(p) for p in paths) or empty


def _span(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def after_statuses(incident: IncidentFolder) -> dict[str, int | None]:
    """Each endpoint's status in the final verification (runbook 04's checks)."""
    statuses: dict[str, int | None] = {}
    for check in incident.recorded("04_verify_endpoints").get("checks", []):
        # Verification.outcomes(): each check's path and the status it got.
        path = check.get("path")
        if path:
            statuses[path] = check.get("status")
    return statuses


def _summary(incident: IncidentFolder) -> list[str]:
    diagnosis = incident.recorded("01_diagnose_500s")
    before: dict[str, Any] = diagnosis.get("http_statuses", {})
    failing = sorted(p for p, s in before.items() if s is None or s >= 500)
    working = sorted(p for p, s in before.items() if s is not None and s < 400)
    after = after_statuses(incident)
    fixed = bool(after) and all(status == 200 for status in after.values())
    started, ended = incident.started, incident.ended
    took = _span((ended - started).total_seconds()) if started and ended else "unknown"
    return [
        "## Executive summary",
        "",
        f"- **Problem:** {len(failing)} endpoint(s) answered 5xx: " + _paths(failing, "none"),
        f"- **Root cause:** {code_span(diagnosis.get('verdict', 'not diagnosed'))}: "
        + escape_markdown_keeping_code(diagnosis.get("summary", "runbook 01 did not run.")),
        f"- **Impact:** {_paths(failing, 'nothing')} unusable; {_kept_working(working, before)}",
        f"- **Time to fix:** {took}, from the first runbook ({_at(started)}) "
        f"to the last ({_at(ended)}).",
        f"- **Status:** {'fixed and verified' if fixed else 'NOT verified as fixed'}.",
        "",
    ]


def _kept_working(working: list[str], probed: dict[str, Any]) -> str:
    """What kept working, without claiming more than was probed: when every endpoint
    runbook 01 probed failed, nothing is known of the others."""
    if working:
        return f"{_paths(working, 'nothing')} kept working."
    if probed:
        return "no other endpoint was probed, so whether the rest kept working is unknown."
    return "no endpoint was probed."


def _worked_and_failed(incident: IncidentFolder) -> list[str]:
    before = incident.recorded("01_diagnose_500s").get("http_statuses", {})
    lines = ["## What worked and what failed", "", "| endpoint | status | |", "|---|---|---|"]
    for path, status in sorted(before.items()):
        ok = status is not None and status < 400
        lines.append(
            f"| {code_span(f'GET {path}')} | {_cell(status)} | {'works' if ok else '**fails**'} |"
        )
    return [*lines, ""]


def _chain(incident: IncidentFolder) -> list[str]:
    rows = incident.recorded("01_diagnose_500s").get("log_chain") or []
    lines = ["## Evidence chain", ""]
    if not rows:
        return [*lines, "Runbook 01 read no service log (`-p log_file PATH`).", ""]
    lines += [
        "request → error → table/column → model → revision, from the service's log:",
        "",
        "| time | request | error | table/column | model | revision |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        revision = row.get("revision") or "no revision"
        request_id = str(row.get("request_id") or "")[:12]
        lines.append(
            f"| {_clock(row.get('time'))} | {_cell(row.get('request') or '-')} "
            f"{code_span(request_id) if request_id else ''} | {_cell(row.get('error'))} "
            f"| {_cell(row.get('object'))} | {_cell(row.get('model'))} "
            f"| {_cell(revision)} ({_cell(row.get('revision_state'))}) |"
        )
    return [*lines, ""]


def _timeline(incident: IncidentFolder) -> list[str]:
    events: list[tuple[str, str]] = []
    chain = incident.recorded("01_diagnose_500s").get("log_chain") or []
    times = sorted(row.get("first_time") or row["time"] for row in chain if row.get("time"))
    if times:
        failures = sum(int(row.get("count", 1)) for row in chain)
        events.append((_clock(times[0]), f"first logged 5xx of the {failures} the chain explains"))
    names = {
        "01_diagnose_500s": "diagnosis: verdict {verdict}",
        "02_create_migration": "revision {revision} created",
        "03_apply_migration": "migration {outcome}: {from_revision} → {to_revision}",
        "04_verify_endpoints": "endpoints verified: passed = {passed}",
    }
    for name, run in incident.runbooks.items():
        events.append((_at(run.started), f"runbook `{name}` started"))
        label = names[name].format_map(_Default(run.recorded))
        events.append((_at(run.ended), label if run.passed else f"runbook `{name}` FAILED"))
    for row in incident.recorded("03_apply_migration").get("audit") or []:
        events.append((_clock(row.get("at")), "audit trail: apply committed"))
    lines = ["## Root-cause timeline", "", "| time | event |", "|---|---|"]
    lines += [f"| {at} | {what} |" for at, what in sorted(events)]
    return [*lines, ""]


class _Default(dict[str, Any]):
    """Recorded values for a timeline label: escaped, ``?`` when missing."""

    def __getitem__(self, key: str) -> str:
        return _cell(super().__getitem__(key)) if key in self else "?"


def _fix(incident: IncidentFolder) -> list[str]:
    created = incident.recorded("02_create_migration")
    applied = incident.recorded("03_apply_migration")
    lines = ["## The fix", ""]
    if created:
        lines += [
            f"- revision {code_span(created.get('revision'))} "
            f"(after {code_span(created.get('down_revision'))}), "
            f"file {code_span(created.get('path'))}; complete: {_cell(created.get('complete'))}, "
            f"lint passed: {_cell(created.get('lint_passed'))}",
        ]
    for row in applied.get("audit") or []:
        lines.append(
            f"- applied {_clock(row.get('at'))} by {code_span(row.get('os_user'))} (database "
            f"role {code_span(row.get('db_user'))}) on host {code_span(row.get('host'))}: "
            f"{_cell(row.get('from_revision'))} → {_cell(row.get('to_revision'))}, "
            f"{_cell(row.get('outcome'))} in {_cell(row.get('duration_ms'))} ms"
        )
    if applied and not applied.get("audit"):
        lines.append(
            f"- outcome: {_cell(applied.get('outcome'))} (no audit row: nothing was committed)"
        )
    sql = str(created.get("sql") or "")
    if sql:
        shown = sql.splitlines()
        more = len(shown) - SQL_LINES
        lines += [
            "",
            code_block(
                "\n".join([*shown[:SQL_LINES], *([f"-- … {more} more lines"] if more > 0 else [])]),
                "sql",
            ),
        ]
    return [*lines, ""]


def _verification(incident: IncidentFolder) -> list[str]:
    before = incident.recorded("01_diagnose_500s").get("http_statuses", {})
    after = after_statuses(incident)
    lines = ["## Verification", "", "| endpoint | before | after |", "|---|---|---|"]
    for path in sorted(set(before) | set(after)):
        was, now = before.get(path, "not probed"), after.get(path, "not checked")
        lines.append(f"| {code_span(f'GET {path}')} | {_cell(was)} | {_cell(now)} |")
    return [*lines, ""]


def _prevention() -> list[str]:
    return [
        "## Prevention",
        "",
        "`lumiku-ops check` fails (exit 3) when a model table, column, index or key has no "
        "revision, when a revision file is untracked or git-ignored, when the history has two "
        "heads, or (given a database) when that database is behind. In CI:",
        "",
        "```yaml",
        *CI_LINES.rstrip().splitlines(),
        "```",
        "",
    ]


def format_incident(incident: IncidentFolder, *, generated: datetime) -> str:
    """The whole report as Markdown (secrets not yet masked: the writer masks them)."""
    verdict = _cell(incident.recorded("01_diagnose_500s").get("verdict", "not diagnosed"))
    runs = [
        "## Runbooks",
        "",
        "| runbook | started | duration | result | report |",
        "|---|---|---|---|---|",
    ]
    for name, run in incident.runbooks.items():
        duration = f"{run.duration_s:.1f} s" if run.duration_s is not None else "?"
        runs.append(
            f"| {name} | {_at(run.started)} | {duration} | "
            f"{'passed' if run.passed else 'FAILED'} | [{name}.html]({name}.html) |"
        )
    return "\n".join(
        [
            f"# Incident report: {verdict}",
            "",
            f"Written {_at(generated)} from the executed runbooks in this folder.",
            "",
            *_summary(incident),
            *_worked_and_failed(incident),
            *_chain(incident),
            *_timeline(incident),
            *_fix(incident),
            *_verification(incident),
            *_prevention(),
            *runs,
            "",
        ]
    )


STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 64rem; color: #222; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left;
         overflow-wrap: anywhere; }
th { background: #f5f5f5; overflow-wrap: normal; white-space: nowrap; }
code { background: #f3f3f3; padding: 0 .25rem; overflow-wrap: anywhere; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; }
"""


def render_incident_html(markdown: str) -> str:
    """The Markdown report as one self-contained HTML page (raw HTML in it is escaped)."""
    import mistune

    body = mistune.create_markdown(escape=True, plugins=["table"])(markdown)
    heading = markdown.splitlines()[0].lstrip("# ") if markdown else "Incident report"
    # The heading is Markdown: drop its backslash escapes, then escape it for HTML.
    title = escape_html(_UNESCAPE.sub(r"\1", heading))
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{CSP_META}'
        f"<title>{title}</title><style>{STYLE}</style></head><body>\n{body}</body></html>\n"
    )
