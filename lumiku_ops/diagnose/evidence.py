"""The evidence a diagnosis gathers, in the form it reports it.

What the probes' statuses say on their own, what the revision history says about this
database (``Diagnosis.migrations``), and which window of the service's logs to read. Apart
from ``diagnosis`` so that the flow there reads as the order of the steps, and the shape
of each piece of evidence is found in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lumiku_ops.db.catalog import TableCatalog
from lumiku_ops.db.reader import DatabaseState
from lumiku_ops.diagnose.verdicts import API_UNREACHABLE, AUTH_REJECTED, UNKNOWN_SERVER_ERROR
from lumiku_ops.history import History
from lumiku_ops.logs.linking import LogEvidence
from lumiku_ops.migrate.differences import Difference, collapse
from lumiku_ops.migrate.shadow import MigrationReplay
from lumiku_ops.verify.endpoints import Exchange


def http_findings(exchanges: Sequence[Exchange]) -> list[str]:
    """What the probes' statuses alone say: no answer, a refused token, a 5xx."""
    findings = []
    if any(exchange.status is None for exchange in exchanges):
        findings.append(API_UNREACHABLE)
    if any(exchange.status in (401, 403) for exchange in exchanges):
        findings.append(AUTH_REJECTED)
    if any(exchange.status is not None and exchange.status >= 500 for exchange in exchanges):
        findings.append(UNKNOWN_SERVER_ERROR)
    return findings


def migrations_evidence(
    history: History,
    replay: MigrationReplay,
    models: TableCatalog,
    db: DatabaseState,
    head: Sequence[Difference],
) -> dict[str, Any]:
    """What the revision history says about ``db``: ``Diagnosis.migrations``; the recorded
    failures are added by the caller, which reads them."""
    creators = replay.created_by()
    recorded = db.recorded_revision
    pending: list[str] = []
    if recorded is None or recorded in replay.order:
        start = replay.order.index(recorded) + 1 if recorded else 0
        pending = replay.order[start:]
    return {
        "kind": history.kind,
        "directory": str(history.directory),
        "revisions": [info.to_dict() for info in history.revisions()],
        "heads": replay.heads,
        "recorded_revision": recorded,
        "pending": pending,
        "created_by": {table: creators.get(table) for table in sorted(models)},
        "uncaptured_by_revisions": [d.describe() for d in collapse(head) if d.models_ahead],
        # Alembic's differences with the head, one per operation, as `alembic check` lists them.
        "uncaptured": [d.to_dict() for d in head if d.models_ahead],
        "only_in_revisions": [d.to_dict() for d in head if not d.models_ahead],
        "failed": [],
        "edited": [],
        # What the models declare and PostgreSQL refuses to create (Refusal.to_dict()).
        "models_refused": list(getattr(models, "refused", [])),
        "unknown": [],
    }


def read_log(log_files: Sequence[str], max_bytes: int, since_s: float | None) -> LogEvidence | None:
    """The logs to read and the window to read them in (None: no log given)."""
    if not log_files:
        return None
    now = datetime.now(UTC)
    since = None
    if since_s and since_s < (now - datetime.min.replace(tzinfo=UTC)).total_seconds():
        since = now - timedelta(seconds=since_s)  # longer ago than year 1: no bound at all
    return LogEvidence(sources=list(log_files), max_bytes=max_bytes, since=since)
