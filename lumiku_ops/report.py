"""Pure formatters: results to Markdown text. The CLI prints them; notebooks display them."""

from __future__ import annotations

from lumiku_ops.diagnose import Diagnosis

BODY_PREVIEW = 120


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_diagnosis(diagnosis: Diagnosis) -> str:
    """The diagnosis as Markdown: verdict, remedy, then the evidence section by section."""
    remedy = diagnosis.remedy
    lines = [
        f"## Verdict: {diagnosis.verdict}",
        "",
        diagnosis.summary,
        "",
        f"**Next step:** {remedy.explanation}",
        "",
        f"    {remedy.command}",
        "",
    ]
    if remedy.runbook:
        lines += [f"Runbook: `{remedy.runbook}`", ""]
    if len(diagnosis.findings) > 1:
        lines += [f"Also found: {', '.join(diagnosis.findings[1:])}", ""]

    if diagnosis.http:
        lines += [
            "### Endpoints",
            "",
            "| endpoint | status | latency | body |",
            "|---|---|---|---|",
        ]
        for exchange in diagnosis.http:
            status = (
                str(exchange.status)
                if exchange.status is not None
                else (exchange.error_category or "no answer")
            )
            body = exchange.body_text or exchange.error_message or ""
            if len(body) > BODY_PREVIEW:
                body = body[:BODY_PREVIEW] + "…"
            lines.append(
                f"| `{exchange.method} {exchange.request_target}` | {status} "
                f"| {exchange.latency_ms:.0f} ms | {_cell(body)} |"
            )
        lines.append("")

    db = diagnosis.database
    if db is not None:
        lines += ["### Database", ""]
        if not db.reachable:
            lines += [f"Unreachable: {db.error}", ""]
        else:
            lines += [
                f"- server: PostgreSQL {db.server_version} (read-only session: "
                f"{'yes' if db.read_only else 'NO'})",
                f"- recorded revision: {db.recorded_revision or 'none'}"
                + ("" if db.has_version_table else " (no alembic_version table)"),
                f"- model tables present: {', '.join(sorted(db.catalog)) or 'none'}",
                "",
            ]
            if diagnosis.table_diffs:
                lines += ["Tables against the models:", ""]
                lines += [f"- {diff.summary()}" for diff in diagnosis.table_diffs]
                lines.append("")
            if db.look_alikes:
                lines += ["Look-alike tables (probably meant to be model tables):", ""]
                lines += [
                    f"- `{item.schema}.{item.name}` looks like `{item.model_table}` ({item.reason})"
                    for item in db.look_alikes
                ]
                lines.append("")

    migrations = diagnosis.migrations
    if migrations:
        revisions = ", ".join(
            f"{r['revision']} {r['message']}" for r in migrations.get("revisions", [])
        )
        creators = migrations.get("created_by", {})
        uncreated = sorted(table for table, rev in creators.items() if rev is None)
        lines += [
            "### Migrations",
            "",
            f"- revisions: {revisions or 'none'}",
            f"- heads: {', '.join(migrations.get('heads', [])) or 'none'}",
            f"- pending for this database: {', '.join(migrations.get('pending', [])) or 'none'}",
            f"- model tables no revision creates: {', '.join(uncreated) or 'none'}",
            "",
        ]
    lines.append(f"_Diagnosed in {diagnosis.duration_ms:.0f} ms._")
    return "\n".join(lines)
