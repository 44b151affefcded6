"""The diagnosis report shows text from outside (names and reasons from the project's models
and from PostgreSQL) as text, never as markup."""

from __future__ import annotations

import mistune

from lumiku_ops.diagnose.diagnosis import Diagnosis
from lumiku_ops.diagnose.format import format_migration_evidence
from lumiku_ops.diagnose.verdicts import Remedy
from lumiku_ops.escaping import escape_markdown


def test_what_postgresql_refuses_of_the_models_is_listed_as_text() -> None:
    hostile = (
        "the models declare index ix_<img src=x onerror=alert(1)> on [t](http://127.0.0.1/x), "
        "which PostgreSQL refuses: *syntax* error\x1b[2J\n# at `)`"
    )
    refusal = {
        "kind": "index",
        "table": "t",
        "name": None,
        "sql": "",
        "reason": "",
        "detail": hostile,
    }
    diagnosis = Diagnosis(
        verdict="MIGRATION_NOT_CREATED",
        affected_tables=["t"],
        remedy=Remedy(None, "", ""),
        findings=["MIGRATION_NOT_CREATED"],
        summary="",
        migrations={"revisions": [], "created_by": {"t": None}, "models_refused": [refusal]},
    )
    section = format_migration_evidence(diagnosis)
    assert f"\n- {escape_markdown(hostile)}" in section
    assert "\x1b" not in section

    rendered = str(mistune.create_markdown(escape=True, plugins=["table"])(section))
    for tag in ("<img", "<a ", "<em", "<h1", "<code"):
        assert tag not in rendered, tag

    diagnosis.migrations["models_refused"] = []
    assert "Refused by PostgreSQL" not in format_migration_evidence(diagnosis)
