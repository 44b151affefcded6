"""lumiku-ops: diagnose, migrate, verify and check, as a library that runbooks call.

The public API is what ``__all__`` lists; the ``lumiku-ops`` command line exposes it verb
for verb. Importing this package reads no environment, opens no connection and imports
nothing heavy: each name is imported on first use (PEP 562), so ``lumiku-ops --help``
and a runbook that needs only ``diagnose`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ApplyResult": "lumiku_ops.migrate.apply",
    "Check": "lumiku_ops.verify.endpoints",
    "CheckFailedError": "lumiku_ops.errors",
    "CheckReport": "lumiku_ops.migrate.guard",
    "ConfigError": "lumiku_ops.errors",
    "Diagnosis": "lumiku_ops.diagnose.diagnosis",
    "LintReport": "lumiku_ops.migrate.lint",
    "LumikuOpsError": "lumiku_ops.errors",
    "MigrationCreated": "lumiku_ops.migrate.create",
    "MigrationPlan": "lumiku_ops.migrate.plan",
    "MigrationStatus": "lumiku_ops.migrate.status",
    "NothingToCreateError": "lumiku_ops.errors",
    "RunbookRun": "lumiku_ops.runbooks.run",
    "SchemaVerification": "lumiku_ops.migrate.status",
    "Settings": "lumiku_ops.settings",
    "Verification": "lumiku_ops.verify.results",
    "apply_migrations": "lumiku_ops.migrate.apply",
    "apply_step": "lumiku_ops.runbooks.steps",
    "check_project": "lumiku_ops.migrate.guard",
    "checks_from": "lumiku_ops.runbooks.steps",
    "create_migration": "lumiku_ops.migrate.create",
    "default_checks": "lumiku_ops.verify.endpoints",
    "describe_settings": "lumiku_ops.runbooks.steps",
    "diagnose": "lumiku_ops.diagnose.diagnosis",
    "diagnose_step": "lumiku_ops.runbooks.steps",
    "format_apply": "lumiku_ops.migrate.format",
    "format_check": "lumiku_ops.migrate.format",
    "format_created": "lumiku_ops.migrate.format",
    "format_database_evidence": "lumiku_ops.diagnose.format",
    "format_diagnosis": "lumiku_ops.diagnose.format",
    "format_http_evidence": "lumiku_ops.diagnose.format",
    "format_lint": "lumiku_ops.migrate.format",
    "format_log_evidence": "lumiku_ops.diagnose.format",
    "format_migration_evidence": "lumiku_ops.diagnose.format",
    "format_next_step": "lumiku_ops.diagnose.format",
    "format_plan": "lumiku_ops.migrate.format",
    "format_readiness": "lumiku_ops.runbooks.steps",
    "format_schema_verification": "lumiku_ops.migrate.format",
    "format_status": "lumiku_ops.migrate.format",
    "format_summary": "lumiku_ops.verify.transcript",
    "format_transcript": "lumiku_ops.verify.transcript",
    "format_verdict": "lumiku_ops.diagnose.format",
    "format_verification": "lumiku_ops.verify.transcript",
    "git_commands": "lumiku_ops.migrate.format",
    "latency_chart": "lumiku_ops.runbooks.steps",
    "lint_migrations": "lumiku_ops.migrate.lint",
    "load_checks": "lumiku_ops.verify.endpoints",
    "load_settings": "lumiku_ops.settings",
    "mask_url": "lumiku_ops.redaction",
    "migration_source": "lumiku_ops.runbooks.steps",
    "migration_status": "lumiku_ops.migrate.status",
    "parse_duration": "lumiku_ops.durations",
    "plan_migrations": "lumiku_ops.migrate.plan",
    "probe": "lumiku_ops.verify.endpoints",
    "raise_for_failed_checks": "lumiku_ops.verify.endpoints",
    "read_recorded": "lumiku_ops.runbooks.steps",
    "readiness": "lumiku_ops.runbooks.steps",
    "record": "lumiku_ops.runbooks.steps",
    "redact": "lumiku_ops.redaction",
    "rollback_migrations": "lumiku_ops.migrate.apply",
    "run_runbook": "lumiku_ops.runbooks.run",
    "runbook_settings": "lumiku_ops.runbooks.steps",
    "show": "lumiku_ops.runbooks.steps",
    "show_code": "lumiku_ops.runbooks.steps",
    "show_migration_sql": "lumiku_ops.runbooks.steps",
    "show_png": "lumiku_ops.runbooks.steps",
    "show_smoke": "lumiku_ops.runbooks.steps",
    "smoke_step": "lumiku_ops.runbooks.steps",
    "verify_endpoints": "lumiku_ops.verify.endpoints",
    "verify_schema": "lumiku_ops.migrate.status",
}

__all__ = [
    "ApplyResult",
    "Check",
    "CheckFailedError",
    "CheckReport",
    "ConfigError",
    "Diagnosis",
    "LintReport",
    "LumikuOpsError",
    "MigrationCreated",
    "MigrationPlan",
    "MigrationStatus",
    "NothingToCreateError",
    "RunbookRun",
    "SchemaVerification",
    "Settings",
    "Verification",
    "apply_migrations",
    "apply_step",
    "check_project",
    "checks_from",
    "create_migration",
    "default_checks",
    "describe_settings",
    "diagnose",
    "diagnose_step",
    "format_apply",
    "format_check",
    "format_created",
    "format_database_evidence",
    "format_diagnosis",
    "format_http_evidence",
    "format_lint",
    "format_log_evidence",
    "format_migration_evidence",
    "format_next_step",
    "format_plan",
    "format_readiness",
    "format_schema_verification",
    "format_status",
    "format_summary",
    "format_transcript",
    "format_verdict",
    "format_verification",
    "git_commands",
    "latency_chart",
    "lint_migrations",
    "load_checks",
    "load_settings",
    "mask_url",
    "migration_source",
    "migration_status",
    "parse_duration",
    "plan_migrations",
    "probe",
    "raise_for_failed_checks",
    "read_recorded",
    "readiness",
    "record",
    "redact",
    "rollback_migrations",
    "run_runbook",
    "runbook_settings",
    "show",
    "show_code",
    "show_migration_sql",
    "show_png",
    "show_smoke",
    "smoke_step",
    "verify_endpoints",
    "verify_schema",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lumiku_ops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from lumiku_ops.diagnose.diagnosis import Diagnosis, diagnose
    from lumiku_ops.diagnose.format import (
        format_database_evidence,
        format_diagnosis,
        format_http_evidence,
        format_log_evidence,
        format_migration_evidence,
        format_next_step,
        format_verdict,
    )
    from lumiku_ops.durations import parse_duration
    from lumiku_ops.errors import (
        CheckFailedError,
        ConfigError,
        LumikuOpsError,
        NothingToCreateError,
    )
    from lumiku_ops.migrate.apply import ApplyResult, apply_migrations, rollback_migrations
    from lumiku_ops.migrate.create import MigrationCreated, create_migration
    from lumiku_ops.migrate.format import (
        format_apply,
        format_check,
        format_created,
        format_lint,
        format_plan,
        format_schema_verification,
        format_status,
        git_commands,
    )
    from lumiku_ops.migrate.guard import CheckReport, check_project
    from lumiku_ops.migrate.lint import LintReport, lint_migrations
    from lumiku_ops.migrate.plan import MigrationPlan, plan_migrations
    from lumiku_ops.migrate.status import (
        MigrationStatus,
        SchemaVerification,
        migration_status,
        verify_schema,
    )
    from lumiku_ops.redaction import mask_url, redact
    from lumiku_ops.runbooks.run import RunbookRun, run_runbook
    from lumiku_ops.runbooks.steps import (
        apply_step,
        checks_from,
        describe_settings,
        diagnose_step,
        format_readiness,
        latency_chart,
        migration_source,
        read_recorded,
        readiness,
        record,
        runbook_settings,
        show,
        show_code,
        show_migration_sql,
        show_png,
        show_smoke,
        smoke_step,
    )
    from lumiku_ops.settings import Settings, load_settings
    from lumiku_ops.verify.endpoints import (
        Check,
        default_checks,
        load_checks,
        probe,
        raise_for_failed_checks,
        verify_endpoints,
    )
    from lumiku_ops.verify.results import Verification
    from lumiku_ops.verify.transcript import format_summary, format_transcript, format_verification
