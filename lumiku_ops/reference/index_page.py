"""``index.html``: one page that tells a reviewer what the incident replay found and did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lumiku_ops.escaping import CSP_META, escape_html

if TYPE_CHECKING:
    from lumiku_ops.reference.demo import DemoResult

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
.badge { display: inline-block; padding: .2rem .7rem; border-radius: .4rem; color: #fff;
         font-weight: 600; }
.ok { background: #2e7d32; } .bad { background: #c62828; } .info { background: #1565c0; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left; }
th { background: #f5f5f5; } code { background: #f3f3f3; padding: 0 .25rem; }
.s500 { color: #c62828; font-weight: 600; } .s200 { color: #2e7d32; font-weight: 600; }
"""


def _status(value: int | None) -> str:
    css = "s200" if value == 200 else "s500"
    return f'<span class="{css}">{value if value is not None else "no answer"}</span>'


def render_index(result: DemoResult) -> str:
    """The summary page as an HTML string (no external assets)."""
    e = escape_html
    passed = result.passed
    rows = "".join(
        f"<tr><td><code>GET {e(path)}</code></td><td>{_status(result.before.get(path))}</td>"
        f"<td>{_status(result.after.get(path))}</td></tr>"
        for path in result.before or result.after
    )
    runs = "".join(
        f"<tr><td>{e(run.name)}</td>"
        f"<td><span class='badge {'ok' if run.passed else 'bad'}'>"
        f"{'passed' if run.passed else 'failed'}</span></td>"
        f"<td>{run.duration_s:.1f} s</td>"
        f"<td><a href='{e(run.html.name)}'>report</a> · "
        f"<a href='{e(run.html_with_code.name)}'>with code</a> · "
        f"<a href='{e(run.notebook.name)}'>notebook</a></td>"
        f"<td>{e(run.error or '')}</td></tr>"
        for run in result.runs
    )
    timings = "".join(
        f"<tr><td>{e(name)}</td><td>{seconds:.1f} s</td></tr>"
        for name, seconds in result.timings.items()
    )
    equivalence = (
        f"schema-equivalent to {e(result.compared_with)}"
        if result.equivalent_to_committed
        else f"NOT equivalent to {e(result.compared_with)}: "
        + e("; ".join(result.differences) or "n/a")
    )
    prisma = result.stack == "prisma"
    subtitle = (
        "Background Remover API on Prisma: four models in <code>schema.prisma</code>, no "
        "migration creating them."
        if prisma
        else "Background Remover API, four tables in the models, no revision creating them."
    )
    created = "Migration created" if prisma else "Revision created"
    scratch = (
        "scratch project: <code>project/</code> (the created migration in "
        "<code>prisma/migrations/</code>, the seeds' expected SQL in <code>expected/</code>)"
        if prisma
        else "scratch migrations: <code>migrations/</code>"
    )
    error = f"<p class='badge bad'>{e(result.error)}</p>" if result.error else ""
    incident = (
        f"<p><a href='{e(result.incident.name)}'><strong>Incident report</strong></a> "
        f"(<a href='incident.md'>Markdown</a>): summary, evidence chain, timeline, fix, "
        "verification, prevention.</p>"
        if result.incident
        else ""
    )
    banner = "ALL CHECKS PASSED" if passed else "FAILED"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{CSP_META}
<title>Incident replay: migration never created</title>
<style>{STYLE}</style></head><body>
<h1>Incident replay: the migration that was never created</h1>
<p class="sub">{subtitle}</p>
<p><span class="badge {"ok" if passed else "bad"}">{banner}</span></p>
{incident}
{error}
<h2>Verdict</h2>
<p><span class="badge info">{e(result.verdict or "none")}</span>
   {created}: <code>{e(result.revision_created or "none")}</code>: {equivalence}.</p>
<h2>Endpoints before and after</h2>
<table><tr><th>endpoint</th><th>before</th><th>after</th></tr>{rows}</table>
<h2>Runbooks</h2>
<table><tr><th>runbook</th><th>result</th><th>time</th><th>files</th><th>error</th></tr>{runs}</table>
<h2>Timings</h2>
<table><tr><th>step</th><th>wall time</th></tr>{timings}</table>
<p class="sub">Service log: <a href="service.log">service.log</a> ·
   {scratch}</p>
</body></html>
"""


def write_index(result: DemoResult) -> None:
    """Write ``index.html`` into the report folder."""
    (result.report_dir / "index.html").write_text(render_index(result), encoding="utf-8")


def format_demo(result: DemoResult) -> str:
    """The terminal summary: verdict, revision, the three endpoints, where the reports are."""
    created = "migration created:" if result.stack == "prisma" else "revision created:"
    lines = [
        f"verdict found:       {result.verdict}",
        f"{created:<21}{result.revision_created}"
        + (
            f" (schema-equivalent to {result.compared_with})"
            if result.equivalent_to_committed
            else ""
        ),
    ]
    lines += [
        f"{path:<40} {result.before.get(path)} -> {result.after.get(path)}"
        for path in result.before
    ]
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    lines += [
        f"timings:             {timing}",
        f"report:              {result.report_dir / 'index.html'}",
        "ALL CHECKS PASSED" if result.passed else "FAILED",
    ]
    return "\n".join(lines)
