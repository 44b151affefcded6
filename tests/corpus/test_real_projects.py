"""lumiku-ops on real projects installed from PyPI (requirements-corpus.lock), reached only
through ``--project tests/projects/<name>``.

Alembic is the arbiter of what counts as a difference: each scenario first establishes what
``alembic check``'s comparison says on the same database, then asks lumiku-ops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.corpus.conftest import RealProjectRun, as_json
from tests.corpus.projects import (
    added_objects,
    alembic_differences,
    catalog_differences,
    copy_without,
    differing_tables,
    objects_of,
    refused_objects,
    upgrade,
)
from tests.utils.db import connect

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_the_healthy_history_agrees_with_alembic_check(real: RealProjectRun) -> None:
    url = real.templates.clone(real.templates.head)
    # The measure: what the models hold that the database lacks (Alembic's add_* and
    # modify_*); what only the revisions create (remove_*) is listed, never a verdict.
    alembic_tables = differing_tables(ahead(alembic_differences(url, real.project.metadata())))

    checked = real.lumiku("check", *real.shadow, "--json")
    report = as_json(checked)
    assert report["passed"] is (not alembic_tables), (alembic_tables, report)
    assert checked.returncode == (0 if not alembic_tables else 3), checked.stderr

    code, diagnosis = real.diagnose(url)
    refused = diagnosis["evidence"]["migrations"]["models_refused"]
    assert {(r["kind"], r["table"], r["name"]) for r in refused} == set(real.project.refused)
    if alembic_tables:
        assert diagnosis["affected_tables"] == alembic_tables, diagnosis
    else:
        assert diagnosis["verdict"] in ("HEALTHY", "API_UNREACHABLE"), diagnosis
        assert diagnosis["affected_tables"] == [], diagnosis


def test_the_newest_adding_revision_removed_is_found_created_and_applied(
    real: RealProjectRun, tmp_path: Path
) -> None:
    project = real.project
    copy = copy_without(project, tmp_path / "migrations")
    url = real.templates.clone(real.templates.prev)
    upgrade(project, url, "heads", migrations=copy)  # the database at the copy's head
    diffs = alembic_differences(url, project.metadata())
    removed = {*project.removed_tables, *project.removed_columns}
    head_diffs = alembic_differences(
        real.templates.server.url_for(real.templates.head), project.metadata()
    )
    assert added_objects(diffs) - added_objects(head_diffs) == removed  # the premise

    migrations = ["--migrations", str(copy)]
    code, diagnosis = real.diagnose(url, *migrations)
    assert code == 3 and diagnosis["verdict"] == "MIGRATION_NOT_CREATED", diagnosis
    assert diagnosis["affected_tables"] == differing_tables(ahead(diffs)), diagnosis
    named = set()
    for table in diagnosis["evidence"]["tables"]:
        if table.get("missing"):
            named.add(table["table"])
        named.update(f"{table['table']}.{column}" for column in table.get("missing_columns", []))
    assert removed <= named, diagnosis["evidence"]["tables"]

    created = real.lumiku(
        "migrate", "create", *migrations, *real.shadow, "-m", "re-create", "--json"
    )
    new = as_json(created)
    assert created.returncode == 0, created.stdout + created.stderr
    # downgrade() undoes the additions with drops; upgrade() must drop nothing.
    upgrade_part = new["python_source"].split("def downgrade")[0]
    assert "def upgrade" in upgrade_part and "drop_" not in upgrade_part, new["python_source"]

    database = ["--database-url", url]
    applied = real.lumiku("migrate", "apply", *migrations, *database, "--json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert as_json(applied)["to_revision"] == new["revision"]
    verified = real.lumiku("migrate", "verify", *migrations, *database, *real.shadow, "--json")
    assert verified.returncode == 0 and as_json(verified)["passed"] is True, verified.stdout

    # The created revision did what the removed one did: the same catalog as the real head,
    # but for what the models hold beyond the real head too (Alembic's check there says so;
    # none of it on a project whose models and history agree), less what PostgreSQL refuses.
    head_url = real.templates.server.url_for(real.templates.head)
    beyond = objects_of(ahead(head_diffs))
    assert refused_objects(project) <= beyond  # the premise: Alembic sees them missing
    assert objects_of(catalog_differences(url, head_url)) == beyond - refused_objects(project)


def _kind(diff: Any) -> str:
    return str((diff[0] if isinstance(diff, list) else diff)[0])


def ahead(diffs: list[Any]) -> list[Any]:
    """Alembic's differences where the models hold what the database lacks."""
    return [d for d in diffs if not _kind(d).startswith("remove_")]


def assert_found(real: RealProjectRun, diagnosis: dict[str, Any], verdict: str) -> None:
    """``verdict`` is the diagnosis; or, where ``alembic check`` already disagrees at the
    real head (the package's own models and history differ), one of its findings."""
    head_url = real.templates.server.url_for(real.templates.head)
    if alembic_differences(head_url, real.project.metadata()):
        assert verdict in diagnosis["findings"], diagnosis
    else:
        assert diagnosis["verdict"] == verdict, diagnosis


def test_a_database_one_revision_behind_is_not_applied(real: RealProjectRun) -> None:
    url = real.templates.clone(real.templates.behind)
    code, diagnosis = real.diagnose(url)
    assert code == 3, diagnosis
    assert_found(real, diagnosis, "MIGRATION_NOT_APPLIED")


def test_a_column_added_by_hand_is_schema_drift(real: RealProjectRun) -> None:
    url = real.templates.clone(real.templates.head)
    with connect(url) as connection:
        connection.exec_driver_sql(real.project.drift)
    code, diagnosis = real.diagnose(url)
    assert code == 3, diagnosis
    assert_found(real, diagnosis, "SCHEMA_DRIFT")
    assert real.project.drift_table in diagnosis["affected_tables"], diagnosis
