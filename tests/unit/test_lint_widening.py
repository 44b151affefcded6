"""lint's destructive rule judges a planned type change as ``migrate create`` does."""

from __future__ import annotations

from lumiku_ops.migrate.lint import destructive_statements, widening_judge

CATALOG = {
    "runs": {"columns": [{"name": "status", "type": "character varying(20)"}]},
    "t": {"columns": [{"name": "n", "type": "integer"}]},
}


def _messages(sql: str) -> list[str]:
    judge = widening_judge(CATALOG, sql)
    return [f.message for f in destructive_statements(sql, allowed=False, widening=judge)]


def test_a_widening_is_no_finding_and_a_narrowing_stays_an_error() -> None:
    """Without the judge both are errors, so the revision create writes for a widened
    column (mlflow's runs.status) would fail its own lint."""
    sql = (
        "-- Running upgrade a -> b\n\n"
        "ALTER TABLE runs ALTER COLUMN status TYPE VARCHAR(50);\n\n"
        'ALTER TABLE "t" ALTER COLUMN "n" SET DATA TYPE SMALLINT;\n'
    )
    (message,) = _messages(sql)
    assert message.startswith('type change (may narrow): ALTER TABLE "t"')


def test_a_column_changed_twice_or_unknown_is_never_judged_widening() -> None:
    """The catalog is the database's revision: a second change in the plan, or a column it
    does not hold, is kept as a finding rather than guessed."""
    twice = (
        "ALTER TABLE runs ALTER COLUMN status TYPE VARCHAR(10);\n"
        "ALTER TABLE runs ALTER COLUMN status TYPE VARCHAR(50);\n"
    )
    assert len(_messages(twice)) == 2
    assert len(_messages("ALTER TABLE other ALTER COLUMN x TYPE TEXT;\n")) == 1
