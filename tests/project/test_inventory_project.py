"""lumiku-ops on a project that is not the reference service, reached only through --project.

The inventory sample (``tests/projects/inventory``) differs from the reference on purpose:
its models live in ``inventory_app.models:Base.metadata``, its revisions (Alembic hex ids)
in ``inventory_app/db_migrations``, its history creates ``uuid-ossp``, and its ``env.py``
reads ``INVENTORY_DATABASE_URL`` whatever it is handed. Every test works on a private copy.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from lumiku_ops.db.scratch import owner_lock_key, shadow_database
from tests.project.conftest import (
    ENDPOINTS,
    FIRST,
    HEAD,
    SCHEMA_VERDICTS,
    SECOND,
    THIRD,
    Inventory,
    ShadowWatch,
    as_json,
    closed_port,
    shadow_databases,
)
from tests.utils.postgres import PostgresServer

pytestmark = [pytest.mark.db, pytest.mark.slow]

MODEL_TABLES = ["products", "stock_levels", "stock_movements", "warehouses"]


def test_the_sample_is_sound_under_plain_alembic(inventory: Inventory) -> None:
    """The premise of every other test: the sample's history matches its models, and its
    env.py listens to its own variable only."""
    url = inventory.database()
    for step in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"], ["check"]):
        done = inventory.alembic(url, *step)
        assert done.returncode == 0, (step, done.stderr)
    assert "No new upgrade operations detected" in done.stdout
    assert inventory.execute(url, "SELECT version_num FROM alembic_version") == HEAD

    port = closed_port()
    nowhere = f"postgresql+psycopg://nobody@127.0.0.1:{port}/inventory"
    ignored = inventory.alembic(nowhere, "-x", f"url={url}", "current")
    assert ignored.returncode != 0 and f"port {port}" in ignored.stderr


def test_a_column_added_to_a_model_is_found_created_and_applied(inventory: Inventory) -> None:
    url = inventory.database(at="head")
    inventory.add_product_column()

    code, diagnosis = inventory.diagnose(url)
    assert code == 3, diagnosis
    assert diagnosis["verdict"] == "MIGRATION_NOT_CREATED"
    assert diagnosis["affected_tables"] == ["products"]
    assert "migrate create" in diagnosis["remedy"]["command"]

    shadow = ["--shadow-url", inventory.server.base_url]
    failing = inventory.lumiku("check", *inventory.project, *shadow, "--json")
    report = as_json(failing)
    assert failing.returncode == 3 and report["passed"] is False
    (failed,) = [check for check in report["checks"] if not check["passed"]]
    assert "products" in failed["detail"] and "reorder_point" in failed["detail"]

    created = inventory.lumiku(
        "migrate", "create", *inventory.project, *shadow, "-m", "add reorder point", "--json"
    )
    new = as_json(created)
    assert created.returncode == 0, created.stderr
    assert new["down_revision"] == HEAD and new["revision"] not in (FIRST, SECOND, HEAD)
    assert re.fullmatch("[0-9a-f]{12}", new["revision"]), "not the project's id style"
    path = Path(new["path"])
    assert path.parent == inventory.versions and path.name.startswith(new["revision"])
    assert path.read_text() == new["python_source"]
    assert "ALTER TABLE products ADD COLUMN reorder_point INTEGER" in new["sql"]
    assert "inventory_audit_log" not in new["python_source"]  # excluded: never dropped
    assert sorted(row["table"] for row in new["checklist"]) == MODEL_TABLES
    assert all(row["ok"] for row in new["checklist"]), new["checklist"]

    passing = inventory.lumiku("check", *inventory.project, *shadow, "--json")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert as_json(passing)["passed"] is True

    database = ["--database-url", url]
    applied = inventory.lumiku("migrate", "apply", *inventory.project, *database, "--json")
    assert applied.returncode == 0, applied.stderr
    assert as_json(applied)["to_revision"] == new["revision"]
    verified = inventory.lumiku(
        "migrate", "verify", *inventory.project, *database, *shadow, "--json"
    )
    assert verified.returncode == 0 and as_json(verified)["passed"] is True


def test_a_database_one_revision_behind_is_applied_then_healthy(inventory: Inventory) -> None:
    url = inventory.database()
    database = ["--database-url", url]
    first = inventory.lumiku(
        "migrate", "apply", *inventory.project, *database, "--target", FIRST, "--json"
    )
    assert first.returncode == 0, first.stderr
    assert as_json(first)["outcome"] == "applied" and as_json(first)["to_revision"] == FIRST

    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "MIGRATION_NOT_APPLIED", diagnosis
    # SECOND creates the stock tables; HEAD adds an index to products
    assert diagnosis["affected_tables"] == ["products", "stock_levels", "stock_movements"]

    status = inventory.lumiku("migrate", "status", *inventory.project, *database, "--json")
    behind = as_json(status)
    assert status.returncode == 3
    assert (behind["current"], behind["pending"], behind["up_to_date"]) == (
        FIRST,
        [SECOND, THIRD, HEAD],
        False,
    )

    shadow = ["--shadow-url", inventory.server.base_url]
    lagging = inventory.lumiku("check", *inventory.project, *database, *shadow, "--json")
    assert lagging.returncode == 3, lagging.stdout + lagging.stderr
    (failed,) = [check for check in as_json(lagging)["checks"] if not check["passed"]]
    assert SECOND in failed["detail"]  # the database lags; the models are captured

    applied = inventory.lumiku("migrate", "apply", *inventory.project, *database, "--json")
    result = as_json(applied)
    assert applied.returncode == 0, applied.stderr
    assert (result["outcome"], result["from_revision"], result["to_revision"]) == (
        "applied",
        FIRST,
        HEAD,  # SECOND and THIRD in one transaction, then HEAD's autocommit_block() alone
    )
    assert inventory.execute(url, "SELECT version_num FROM alembic_version") == HEAD

    verified = inventory.lumiku(
        "migrate", "verify", *inventory.project, *database, *shadow, "--json"
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert as_json(verified)["passed"] is True

    code, diagnosis = inventory.diagnose(url)
    assert diagnosis["verdict"] in ("HEALTHY", "API_UNREACHABLE"), diagnosis
    assert diagnosis["verdict"] not in SCHEMA_VERDICTS and diagnosis["affected_tables"] == []
    assert code == (0 if diagnosis["verdict"] == "HEALTHY" else 3)
    probed = [exchange["request_target"] for exchange in diagnosis["evidence"]["http"]]
    assert probed == ENDPOINTS  # the project's endpoints, not the reference service's


@pytest.mark.parametrize(
    ("statement", "table", "kind", "columns"),
    [
        (
            "ALTER TABLE warehouses ADD COLUMN manager text",
            "warehouses",
            "extra_columns",
            ["manager"],
        ),
        (
            "ALTER TABLE products ALTER COLUMN name TYPE text",
            "products",
            "changed_columns",
            ["name"],
        ),
    ],
    ids=["column-added-by-hand", "type-changed-by-hand"],
)
def test_a_change_made_by_hand_at_head_is_schema_drift(
    inventory: Inventory, statement: str, table: str, kind: str, columns: list[str]
) -> None:
    url = inventory.database(at="head")
    inventory.execute(url, statement)
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "SCHEMA_DRIFT", diagnosis
    assert diagnosis["affected_tables"] == [table]
    (diff,) = diagnosis["evidence"]["tables"]  # the audit log is excluded, not drift
    assert diff["table"] == table
    assert [c if isinstance(c, str) else c["name"] for c in diff[kind]] == columns


def test_a_version_table_naming_an_unknown_revision_is_revision_mismatch(
    inventory: Inventory,
) -> None:
    url = inventory.database(at="head")
    inventory.execute(url, "UPDATE alembic_version SET version_num = '0badc0ffee42'")
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "REVISION_MISMATCH", diagnosis
    assert diagnosis["evidence"]["migrations"]["recorded_revision"] == "0badc0ffee42"
    assert HEAD in diagnosis["remedy"]["command"]  # stamp the revision the tables match


@pytest.mark.parametrize("command", ["diagnose", "check"])
def test_the_embedded_shadow_lacking_the_extension_is_one_clear_error(
    inventory: Inventory, command: str
) -> None:
    args = [command, *inventory.project, "--json"]
    if command == "diagnose":
        args += ["--database-url", inventory.database(at="head"), "--api-url", inventory.api_url]
    result = inventory.lumiku(*args)  # no --shadow-url, no LUMIKU_SHADOW_URL
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for needed in (FIRST, "uuid-ossp", "shadow_url"):
        assert needed in line, line


def test_runbook_01_on_the_project_records_migration_not_created(
    inventory: Inventory, tmp_path: Path
) -> None:
    url = inventory.database(at="head")
    inventory.add_product_column()
    out = tmp_path / "reports"
    # Each parameter as `-p NAME VALUE`; the database URL travels in the variable named.
    parameters = {
        "project_dir": str(inventory.dir),
        "database_url_env": "TARGET_DATABASE_URL",
        "api_url": inventory.api_url,
        "expected_verdict": "MIGRATION_NOT_CREATED",
    }
    pairs = [item for name, value in parameters.items() for item in ("-p", name, value)]
    result = inventory.lumiku(
        "runbook", "run", "01_diagnose_500s", *pairs, "--out", str(out), "--json",
        TARGET_DATABASE_URL=url,
        LUMIKU_SHADOW_URL=inventory.server.base_url,
    )  # fmt: skip
    run = as_json(result)
    assert result.returncode == 0, run.get("error")
    assert run["passed"] is True and Path(run["notebook"]).parent == out
    assert run["recorded"]["verdict"] == "MIGRATION_NOT_CREATED"
    assert run["recorded"]["affected_tables"] == ["products"]
    assert sorted(run["recorded"]["http_statuses"]) == ENDPOINTS


def test_no_scratch_database_outlives_the_commands(inventory: Inventory) -> None:
    before = shadow_databases(inventory.server)
    url = inventory.database(at="head")
    inventory.add_product_column()
    shadow = ["--shadow-url", inventory.server.base_url]
    with ShadowWatch(inventory.server) as watch:
        assert inventory.diagnose(url)[0] == 3
        assert inventory.lumiku("check", *inventory.project, *shadow, "--json").returncode == 3
        created = inventory.lumiku("migrate", "create", *inventory.project, *shadow, "-m", "x")
        assert created.returncode == 0, created.stderr
    made = watch.seen - before
    assert made, "lumiku-ops created no scratch database on the shadow server"
    left = made & shadow_databases(inventory.server)
    assert not left, f"scratch databases left on the shadow server: {sorted(left)}"


def test_a_scratch_database_left_by_a_killed_run_is_dropped_later(
    shadow_server: PostgresServer, shadow_url: str
) -> None:
    # A run killed mid-replay cannot drop its scratch database; the next replay on the
    # same server drops every one whose owner's lock is free, however recent, and leaves
    # one whose owner still holds its lock.
    abandoned = "lumiku_shadow_1000000000_deadbeef"
    recent = f"lumiku_shadow_{int(time.time())}_cafecafe"
    owned = f"lumiku_shadow_{int(time.time())}_{uuid.uuid4().hex[:8]}"
    owner = psycopg.connect(make_url(shadow_url).render_as_string(False).replace("+psycopg", ""))
    owner.autocommit = True
    owner.execute("SELECT pg_advisory_lock(%s)", (owner_lock_key(owned),))
    for name in (abandoned, recent, owned):
        shadow_server.create_database(name)
    try:
        with shadow_database(shadow_url) as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
            left = shadow_databases(shadow_server)
        assert abandoned not in left
        assert recent not in left
        assert owned in left
    finally:
        owner.close()
        for name in (abandoned, recent, owned):
            shadow_server.drop_database(name)


def test_revisions_in_a_folder_env_py_chooses_are_applied_through_version_locations(
    inventory: Inventory,
) -> None:
    # Many projects keep revisions per dialect or per app, named in env.py only.
    chosen = inventory.versions.parent / "postgresql"
    inventory.versions.rename(chosen)
    inventory.versions.mkdir()  # what script_location alone shows: an empty folder
    url = inventory.database()
    apply = ["migrate", "apply", *inventory.project, "--database-url", url, "--json"]

    empty = inventory.lumiku(*apply)
    assert empty.returncode == 1 and empty.stdout == "", empty.stdout
    (line,) = empty.stderr.strip().splitlines()
    assert line.startswith("error: the history is empty") and "version_locations" in line

    pyproject = inventory.dir / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.lumiku-ops]\n",
            '[tool.lumiku-ops]\nversion_locations = ["inventory_app:db_migrations:postgresql"]\n',
        )
    )
    applied = inventory.lumiku(*apply)
    assert applied.returncode == 0, applied.stderr
    assert (as_json(applied)["from_revision"], as_json(applied)["to_revision"]) == (None, HEAD)
    assert inventory.execute(url, "SELECT count(*) FROM products") == 0
