"""Pure formatters: results to Markdown text. The CLI prints them; notebooks display them."""

from __future__ import annotations

from lumiku_ops.diagnose.diagnosis import Diagnosis
from lumiku_ops.escaping import code_block, code_span, escape_markdown
from lumiku_ops.redaction import redact

BODY_PREVIEW = 120


def format_verdict(diagnosis: Diagnosis) -> str:
    """The verdict, its one-sentence summary, and the remedy."""
    remedy = diagnosis.remedy
    lines = [
        f"## Verdict: {diagnosis.verdict}",
        "",
        diagnosis.summary,
        "",
        f"**Next step:** {remedy.explanation}",
        "",
        code_block(remedy.command, "bash"),
        "",
    ]
    if remedy.runbook:
        lines += [f"Runbook: `{remedy.runbook}`", ""]
    if len(diagnosis.findings) > 1:
        lines += [f"Also found: {', '.join(diagnosis.findings[1:])}", ""]
    return "\n".join(lines)


def format_next_step(diagnosis: Diagnosis) -> str:
    """The verdict and the one command to run next, on one line."""
    remedy = diagnosis.remedy
    runbook = f" (runbook {code_span(remedy.runbook)})" if remedy.runbook else ""
    return f"**{escape_markdown(diagnosis.verdict)}**: next {code_span(remedy.command)}{runbook}"


def format_http_evidence(diagnosis: Diagnosis) -> str:
    """What answers and what fails: one row per probed endpoint, with its curl command."""
    if not diagnosis.http:
        return "No endpoint was probed."
    lines = ["### Endpoints", "", "| endpoint | status | latency | body |", "|---|---|---|---|"]
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
            f"| {code_span(f'{exchange.method} {exchange.request_target}')} "
            f"| {escape_markdown(status)} | {exchange.latency_ms:.0f} ms "
            f"| {escape_markdown(body)} |"
        )
    lines += ["", "Reproduce any of them:", ""]
    lines.append(code_block("\n".join(exchange.curl for exchange in diagnosis.http), "bash"))
    return "\n".join(lines)


def format_database_evidence(diagnosis: Diagnosis) -> str:
    """Reachability, recorded revision, model tables against the models, look-alikes."""
    db = diagnosis.database
    if db is None:
        return "The database was not inspected."
    lines = ["### Database", ""]
    if not db.reachable:
        return "\n".join([*lines, f"Unreachable: {escape_markdown(db.error)}"])
    lines += [
        f"- server: PostgreSQL {db.server_version} (read-only session: "
        f"{'yes' if db.read_only else 'NO'})",
        f"- recorded revision: {escape_markdown(db.recorded_revision or 'none')}"
        + ("" if db.has_version_table else f" (no {_version_table(diagnosis)} table)"),
        f"- model tables present: {escape_markdown(', '.join(sorted(db.catalog)) or 'none')}",
        "",
    ]
    role = db.privileges
    if role is not None and not role.exists:
        lines += [f"- service role {code_span(role.role)}: **does not exist** on this server", ""]
    elif role is not None:
        lacking = escape_markdown(
            "; ".join(f"{', '.join(p)} on {t}" for t, p in role.missing.items())
        )
        usage = "" if role.schema_usage else " (no USAGE on schema public)"
        lines += [f"- service role {code_span(role.role)}: lacks {lacking or 'nothing'}{usage}", ""]
    if diagnosis.table_diffs:
        lines += ["Tables against the models:", ""]
        lines += [f"- {escape_markdown(diff.summary())}" for diff in diagnosis.table_diffs]
        lines.append("")
    else:
        lines += ["Every model table matches the models.", ""]
    if db.look_alikes:
        lines += ["Look-alike tables (probably meant to be model tables):", ""]
        lines += [
            f"- {code_span(f'{item.schema}.{item.name}')} looks like {code_span(item.model_table)} "
            f"({escape_markdown(item.reason)})"
            for item in db.look_alikes
        ]
    return "\n".join(lines)


def _version_table(diagnosis: Diagnosis) -> str:
    """The table the project's migration tool records applied revisions in."""
    return (
        "_prisma_migrations" if diagnosis.migrations.get("kind") == "prisma" else "alembic_version"
    )


def format_migration_evidence(diagnosis: Diagnosis) -> str:
    """The revision files, heads, what is pending, and which revision creates each table."""
    migrations = diagnosis.migrations
    if not migrations:
        return "The revisions were not inspected."
    creators = migrations.get("created_by", {})
    lines = ["### Migrations", "", "| revision | message | file |", "|---|---|---|"]
    lines += [
        f"| {escape_markdown(r['revision'])} | {escape_markdown(r['message'])} "
        f"| {code_span(r['file'])} |"
        for r in migrations.get("revisions", [])
    ]
    lines += [
        "",
        f"- heads: {escape_markdown(', '.join(migrations.get('heads', [])) or 'none')}",
        "- recorded in the database: "
        + escape_markdown(migrations.get("recorded_revision") or "none"),
        "- pending for this database: "
        + escape_markdown(", ".join(migrations.get("pending", [])) or "none"),
        "",
        "| model table | created by revision |",
        "|---|---|",
    ]
    lines += [
        f"| {escape_markdown(table)} | {escape_markdown(rev) if rev else '**none**'} |"
        for table, rev in creators.items()
    ]
    refused = migrations.get("models_refused", [])
    if refused:
        lines += [
            "",
            "Refused by PostgreSQL (the models declare it; no revision can create it):",
            "",
        ]
        lines += [f"- {escape_markdown(r['detail'])}" for r in refused]
    return "\n".join(lines)


def format_log_evidence(diagnosis: Diagnosis) -> str:
    """The evidence chain: request -> error -> table/column -> model -> revision, one table."""
    log = diagnosis.log
    if log is None:
        return "No service log was read (give `--log FILE`, or the runbook's `log_file`)."
    window = f"last {log.max_bytes / (1024 * 1024):g} MiB"
    if log.since:
        window += f", since {log.since:%Y-%m-%d %H:%M:%S} UTC"
    lines = [
        "### Evidence chain",
        "",
        f"{log.lines_read} lines read from {escape_markdown(', '.join(log.sources))} ({window}); "
        f"{len(log.errors)} errors found.",
        "",
    ]
    rows = diagnosis.chain or [
        {
            "request": f"{e.event.method or 'GET'} {e.event.path}" if e.event.path else None,
            "request_id": e.event.request_id,
            "error": e.error,
            "object": f"{e.table}.{e.column}" if e.column else e.table,
            "model": e.model,
            "revision": e.revision,
            "revision_state": e.revision_state,
        }
        for e in log.errors[-10:]
    ]
    if not rows:
        return "\n".join([*lines, "No database error in the log."])
    lines += [
        "| request | error | table/column | model | revision |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        request = escape_markdown(row["request"] or "(no request)")
        if row["request_id"]:
            request += f" {code_span(row['request_id'][:12])}"
        revision = escape_markdown(row["revision_state"] or "not a model object")
        if row["revision"]:
            revision = f"{escape_markdown(row['revision'])} ({revision})"
        elif row["revision_state"] == "none":
            revision = "**no revision**"
        lines.append(
            f"| {request} | {escape_markdown(redact(row['error'] or ''))} "
            f"| {escape_markdown(row['object'] or '-')} | {escape_markdown(row['model'] or '-')} "
            f"| {revision} |"
        )
    return "\n".join(lines)


def format_diagnosis(diagnosis: Diagnosis) -> str:
    """The diagnosis as Markdown: verdict, remedy, then the evidence section by section."""
    return "\n\n".join(
        [
            format_verdict(diagnosis),
            format_http_evidence(diagnosis),
            *([format_log_evidence(diagnosis)] if diagnosis.log else []),
            format_database_evidence(diagnosis),
            format_migration_evidence(diagnosis),
            f"_Diagnosed in {diagnosis.duration_ms:.0f} ms._",
        ]
    )
