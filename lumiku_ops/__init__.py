"""lumiku-ops: diagnose, migrate, verify and check, as a library that runbooks call.

The public API is what ``__all__`` lists; the ``lumiku-ops`` command line exposes it verb
for verb. Importing this package reads no environment and opens no connection.
"""

from lumiku_ops.check import CheckReport, check_project
from lumiku_ops.diagnose import Diagnosis, diagnose
from lumiku_ops.durations import parse_duration
from lumiku_ops.endpoints import (
    Check,
    Verification,
    default_checks,
    load_checks,
    probe,
    raise_for_failed_checks,
    verify_endpoints,
)
from lumiku_ops.errors import CheckFailedError, ConfigError, LumikuOpsError
from lumiku_ops.migrate_apply import ApplyResult, apply_migrations, rollback_migrations
from lumiku_ops.migrate_create import MigrationCreated, NothingToCreateError, create_migration
from lumiku_ops.migrate_plan import LintReport, MigrationPlan, lint_migrations, plan_migrations
from lumiku_ops.migrate_status import (
    MigrationStatus,
    SchemaVerification,
    migration_status,
    verify_schema,
)
from lumiku_ops.notebook import (
    apply_step,
    checks_from,
    describe_settings,
    format_readiness,
    latency_chart,
    read_recorded,
    readiness,
    record,
    runbook_settings,
    show,
    show_code,
    show_png,
    show_smoke,
    smoke_step,
)
from lumiku_ops.redaction import mask_url, redact
from lumiku_ops.report import (
    format_database_evidence,
    format_diagnosis,
    format_http_evidence,
    format_migration_evidence,
    format_verdict,
)
from lumiku_ops.report_migrate import (
    format_apply,
    format_check,
    format_created,
    format_lint,
    format_plan,
    format_schema_verification,
    format_status,
    git_commands,
)
from lumiku_ops.runbook import RunbookRun, run_runbook
from lumiku_ops.settings import Settings, load_settings
from lumiku_ops.transcript import format_summary, format_transcript, format_verification

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
    "format_apply",
    "format_check",
    "format_created",
    "format_database_evidence",
    "format_diagnosis",
    "format_http_evidence",
    "format_lint",
    "format_migration_evidence",
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
    "show_png",
    "show_smoke",
    "smoke_step",
    "verify_endpoints",
    "verify_schema",
]
