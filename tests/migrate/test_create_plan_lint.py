"""migrate create, plan and lint, on scratch copies of the migrations and real databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from lumiku_ops.errors import NothingToCreateError
from lumiku_ops.migrate.create import create_migration
from lumiku_ops.migrate.lint import lint_migrations
from lumiku_ops.migrate.plan import plan_migrations
from lumiku_ops.migrate.shadow import replay_migrations
from lumiku_ops.settings import load_settings
from tests.utils.cli import lumiku
from tests.utils.db import connect, upgrade
from tests.utils.migrations import add_revision, scratch
from tests.utils.project import MIGRATIONS, REFERENCE, with_migrations


def test_create_writes_a_revision_equivalent_to_the_committed_one(tmp_path: Path) -> None:
    migrations = scratch(tmp_path, without=("0002",))
    created = create_migration(
        load_settings(migrations_dir=migrations),
        "add_background_remover_models",
        cache_dir=tmp_path / "cache",
    )
    assert created.revision == "0002" and created.down_revision == "0001"
    assert created.path.name == "0002_add_background_remover_models.py"
    assert created.complete
    assert 'CREATE TABLE "BackgroundRemovalJob"' in created.sql
    assert "UPDATE alembic_version SET version_num='0002'" in created.sql
    ours = replay_migrations(with_migrations(migrations), cache_dir=tmp_path / "cache")
    committed = replay_migrations(REFERENCE, cache_dir=tmp_path / "cache")
    assert ours.head_catalog == committed.head_catalog

    with pytest.raises(NothingToCreateError):
        create_migration(
            load_settings(migrations_dir=migrations), "again", cache_dir=tmp_path / "cache"
        )


def test_create_refuses_when_there_is_nothing_to_create() -> None:
    result = lumiku("migrate", "create", "--message", "nothing", "--migrations", str(MIGRATIONS))
    assert result.returncode == 1
    assert result.stderr.startswith("error: nothing to create")
    assert not list(MIGRATIONS.glob("versions/0003_*"))


def test_create_json_is_only_json(tmp_path: Path) -> None:
    migrations = scratch(tmp_path, without=("0002",))
    result = lumiku(
        "migrate",
        "create",
        "-m",
        "add_background_remover_models",
        "--migrations",
        str(migrations),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["revision"] == "0002" and body["complete"] is True


@pytest.mark.db
def test_the_plan_is_one_transaction_that_moves_the_version_table(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    plan = plan_migrations(load_settings(database_url=fresh_db))
    assert plan.current == "0001" and plan.pending == ["0002"]
    assert plan.sql.startswith("BEGIN;") and plan.sql.rstrip().endswith("COMMIT;")
    assert "SET LOCAL lock_timeout = '5000ms';" in plan.sql
    # The safe form of the seed's "Option B": pasting it leaves history and schema in step.
    with connect(fresh_db) as connection:
        connection.exec_driver_sql(plan.sql.replace("BEGIN;", "").replace("COMMIT;", ""))
    with connect(fresh_db) as connection:
        assert (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        )
    assert plan_migrations(load_settings(database_url=fresh_db)).pending == []


def test_plan_from_a_given_revision_needs_no_database() -> None:
    result = lumiku(
        "migrate", "plan", "--from", "0001", "--database-url", "postgresql://u:p@127.0.0.1:1/x"
    )
    assert result.returncode == 0, result.stderr
    assert "0002" in result.stdout and "COMMIT;" in result.stdout


def test_lint_flags_a_destructive_revision(tmp_path: Path) -> None:
    migrations = scratch(tmp_path)
    add_revision(
        migrations,
        "0003",
        "0002",
        'op.drop_column("BackgroundRemovalBatch", "zipUrl")\nop.execute("TRUNCATE credits")',
    )
    settings = load_settings(migrations_dir=migrations)
    report = lint_migrations(settings, from_revision="0002")
    rules = {f.rule for f in report.errors}
    assert {"destructive-drop-column", "destructive-truncate"} <= rules
    assert not report.passed
    allowed = lint_migrations(settings, from_revision="0002", allow_destructive=True)
    assert allowed.passed and allowed.findings

    result = lumiku("migrate", "lint", "--from", "0002", "--migrations", str(migrations))
    assert result.returncode == 3
    assert "destructive-drop-column" in result.stdout and "FAILED" in result.stdout


def test_lint_passes_the_incident_revision_with_squawk_warnings() -> None:
    report = lint_migrations(load_settings(), from_revision="0001")
    assert report.passed
    assert {f.source for f in report.findings} == {"squawk"}


def test_create_writes_no_drop_unless_allowed(tmp_path: Path) -> None:
    """A column only the revisions create would be dropped by plain autogenerate."""
    migrations = scratch(tmp_path, without=("0002",))
    add_revision(
        migrations,
        "0003",
        "0001",
        'op.add_column("users", sa.Column("legacy_flag", sa.Boolean(), nullable=True))',
        'op.drop_column("users", "legacy_flag")',
    )
    settings = load_settings(migrations_dir=migrations)
    created = create_migration(settings, "add_tables", cache_dir=tmp_path / "cache")
    assert "drop_column" not in created.python_source.split("def downgrade")[0]
    assert "legacy_flag" not in created.python_source
    assert created.only_in_revisions == ["drop column `users.legacy_flag`"]
    assert created.complete
    created.path.unlink()

    allowed = create_migration(
        settings, "add_tables", cache_dir=tmp_path / "cache", allow_destructive=True
    )
    upgrade_part = allowed.python_source.split("def downgrade")[0]
    assert 'op.drop_column("users", "legacy_flag")' in upgrade_part
    assert allowed.only_in_revisions == []


def test_a_failed_create_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lumiku_ops.migrate import create

    migrations = scratch(tmp_path, without=("0002",))
    before = sorted(p.name for p in (migrations / "versions").glob("*.py"))

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("offline SQL failed")

    monkeypatch.setattr(create, "offline_sql", broken)
    with pytest.raises(RuntimeError):
        create_migration(
            load_settings(migrations_dir=migrations), "x", cache_dir=tmp_path / "cache"
        )
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == before


def test_an_unnamed_constraint_gets_the_name_postgresql_gives_it() -> None:
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import leave_out_destructive

    upgrade = ops.UpgradeOps(
        ops=[
            ops.CreateForeignKeyOp(None, "orders", "users", ["user_id"], ["id"]),
            ops.CreateUniqueConstraintOp(None, "orders", ["code", "shop"]),
        ]
    )
    skipped: list[str] = []
    leave_out_destructive(upgrade, False, skipped)
    names = [op.constraint_name for op in upgrade.ops]
    assert names == ["orders_user_id_fkey", "orders_code_shop_key"]
    downgrade = upgrade.reverse()
    assert [op.constraint_name for op in downgrade.ops] == [
        "orders_code_shop_key",
        "orders_user_id_fkey",
    ]


def test_drops_inside_a_tables_operations_are_left_out() -> None:
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import leave_out_destructive

    upgrade = ops.UpgradeOps(
        ops=[
            ops.ModifyTableOps(
                "orders",
                [
                    ops.AddColumnOp.from_column_and_tablename(
                        None, "orders", sa.Column("note", sa.Text())
                    ),
                    ops.DropColumnOp("orders", "legacy"),
                    ops.DropIndexOp("ix_orders_legacy", table_name="orders"),
                    ops.DropConstraintOp("orders_code_key", "orders", type_="unique"),
                ],
            )
        ]
    )
    skipped: list[str] = []
    leave_out_destructive(upgrade, False, skipped)
    (table,) = upgrade.ops
    assert isinstance(table, ops.ModifyTableOps)
    assert [type(op).__name__ for op in table.ops] == ["AddColumnOp"]
    assert skipped == [
        "drop column `orders.legacy`",
        "drop index `ix_orders_legacy` on `orders`",
        "drop constraint `orders_code_key` on `orders`",
    ]


def test_an_index_or_constraint_alembic_changes_by_drop_and_create_is_left_out() -> None:
    """Re-created under the same name: the create alone would fail, the pair loses the old
    definition. Both halves are left out and named, unless destructive changes are allowed."""
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import leave_out_destructive

    def operations() -> ops.UpgradeOps:
        return ops.UpgradeOps(
            ops=[
                ops.ModifyTableOps(
                    "orders",
                    [
                        ops.DropIndexOp("ix_orders_code", table_name="orders"),
                        ops.CreateIndexOp("ix_orders_code", "orders", ["code", "shop"]),
                        ops.DropConstraintOp("orders_ref_key", "orders", type_="unique"),
                        ops.CreateUniqueConstraintOp("orders_ref_key", "orders", ["ref", "shop"]),
                        ops.CreateIndexOp("ix_orders_shop", "orders", ["shop"]),
                    ],
                )
            ]
        )

    upgrade, skipped = operations(), []
    leave_out_destructive(upgrade, False, skipped)
    (table,) = upgrade.ops
    assert isinstance(table, ops.ModifyTableOps)
    assert [getattr(op, "index_name", None) for op in table.ops] == ["ix_orders_shop"]
    assert skipped == [
        "change `ix_orders_code` on `orders` (dropped and re-created)",
        "change `orders_ref_key` on `orders` (dropped and re-created)",
    ]

    allowed, skipped = operations(), []
    leave_out_destructive(allowed, True, skipped)
    assert len(allowed.ops[0].ops) == 5 and skipped == []  # type: ignore[attr-defined]


def test_a_plugins_drops_and_lost_enum_values_are_left_out() -> None:
    """Operations of Alembic plugins (alembic_postgresql_enum's, say), judged by shape."""
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import leave_out_destructive

    class DropEnumOp(ops.MigrateOperation):
        def __init__(self, name: str) -> None:
            self.name = name

    class SyncEnumValuesOp(ops.MigrateOperation):
        def __init__(self, name: str, old_values: list[str], new_values: list[str]) -> None:
            self.name, self.old_values, self.new_values = name, old_values, new_values

    upgrade = ops.UpgradeOps(
        ops=[
            DropEnumOp("status"),
            SyncEnumValuesOp("kind", ["a", "b"], ["a"]),
            SyncEnumValuesOp("level", ["low"], ["low", "high"]),
        ]
    )
    skipped: list[str] = []
    leave_out_destructive(upgrade, False, skipped)
    assert [op.name for op in upgrade.ops] == ["level"]  # type: ignore[attr-defined]
    assert skipped == ["drop enum `status`", "remove 'b' from `kind`"]


def test_a_long_unnamed_constraint_is_cut_as_postgresql_cuts_it() -> None:
    from lumiku_ops.migrate.operations import _pg_name

    # PostgreSQL (15, checked) names `ALTER TABLE <this table> ADD UNIQUE (some_column_name,
    # other_column)` exactly so: the longer part is cut, the suffix kept.
    table = "a_very_long_table_name_for_testing_postgresql_truncation_rules"
    name = _pg_name(table, ["some_column_name", "other_column"], "key")
    assert name == "a_very_long_table_name_for_te_some_column_name_other_column_key"


def test_an_enum_column_added_to_a_table_creates_its_type_first_and_drops_it_last() -> None:
    """Alembic's add_column does not create an sa.Enum's PostgreSQL type (create_table
    does): without it the revision fails with ``type ... does not exist``."""
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import create_enum_types

    def operations() -> ops.UpgradeOps:
        kind = sa.Enum("FINITE", "INF_POS", name="valuekind")
        return ops.UpgradeOps(
            ops=[
                ops.ModifyTableOps(
                    "trial_values",
                    [
                        ops.AddColumnOp("trial_values", sa.Column("kind", kind, nullable=True)),
                        ops.AddColumnOp("trial_values", sa.Column("kind2", kind)),
                    ],
                )
            ]
        )

    upgrade = operations()
    create_enum_types(upgrade, lambda schema, name: False, set())
    create = "sa.Enum('FINITE', 'INF_POS', name='valuekind').create(op.get_bind(), checkfirst=True)"
    code = render_python_code(upgrade)
    assert code.count(create) == 1 and code.index(create) < code.index("op.add_column")
    downgrade = render_python_code(upgrade.reverse())
    drop = create.replace(".create(", ".drop(")
    assert downgrade.count(drop) == 1 and downgrade.rindex("op.drop_column") < downgrade.index(drop)

    present = operations()  # the type exists at the head already
    create_enum_types(present, lambda schema, name: name == "valuekind", set())
    assert ".create(" not in render_python_code(present)

    with_table = operations()  # a table created first creates the type itself
    table = ops.CreateTableOp(
        "runs", [sa.Column("kind", sa.Enum("FINITE", "INF_POS", name="valuekind"))]
    )
    with_table.ops.insert(0, table)
    create_enum_types(with_table, lambda schema, name: False, set())
    assert ".create(" not in render_python_code(with_table)


def test_a_not_null_column_without_a_server_default_is_a_warning() -> None:
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import not_null_without_default

    upgrade = ops.UpgradeOps(
        ops=[
            ops.ModifyTableOps(
                "orders",
                [
                    ops.AddColumnOp("orders", sa.Column("note", sa.Text(), nullable=False)),
                    ops.AddColumnOp(
                        "orders", sa.Column("n", sa.Integer(), nullable=False, server_default="0")
                    ),
                    ops.AddColumnOp("orders", sa.Column("tag", sa.Text(), nullable=True)),
                ],
            )
        ]
    )
    (warning,) = not_null_without_default(upgrade)
    assert warning.startswith("column `orders.note` is added NOT NULL without a server default")


class _Money(sa.TypeDecorator[object]):
    impl = sa.Numeric(14, 2)
    cache_ok = True


# (database, models): Alembic's existing_type (as reflected) and modify_type (as declared).
WIDENING = [
    (sa.VARCHAR(20), sa.String(50)),  # mlflow's assessments.assessment_type
    (sa.VARCHAR(20), sa.String(50).with_variant(sa.String(10), "mysql")),
    (sa.VARCHAR(20), sa.Text()),
    (sa.VARCHAR(20), sa.String()),
    (sa.TEXT(), sa.String()),
    (sa.CHAR(2), sa.CHAR(5)),
    (sa.VARCHAR(5, collation="C"), sa.String(9, collation="C")),
    (sa.SMALLINT(), sa.Integer()),
    (sa.INTEGER(), sa.BigInteger()),
    (sa.INTEGER(), sa.Double()),
    (sa.INTEGER(), sa.Numeric()),
    (sa.INTEGER(), sa.Numeric(12, 2)),
    (sa.NUMERIC(10, 2), sa.Numeric(12, 2)),
    (sa.NUMERIC(10, 2), sa.Numeric(11, 3)),
    (sa.NUMERIC(10, 2), sa.Numeric()),
    (sa.NUMERIC(10, 2), _Money()),
    (sa.REAL(), sa.Double()),
    (sa.REAL(), sa.Float(30)),
    (postgresql.TIMESTAMP(precision=3), sa.DateTime()),
    (postgresql.ARRAY(sa.VARCHAR(5)), postgresql.ARRAY(sa.Text())),
    (sa.INTEGER(), sa.Integer()),
]
NARROWING = [
    (sa.VARCHAR(50), sa.String(20)),
    (sa.TEXT(), sa.String(255)),
    (sa.VARCHAR(20), sa.CHAR(20)),
    (sa.CHAR(5), sa.String(10)),  # PostgreSQL strips CHAR's trailing blanks
    (sa.VARCHAR(5, collation="C"), sa.String(9)),
    (sa.BIGINT(), sa.Integer()),
    (sa.INTEGER(), sa.SmallInteger()),
    (sa.INTEGER(), sa.REAL()),  # 31 bits do not fit a 24-bit mantissa
    (sa.BIGINT(), sa.Double()),
    (sa.INTEGER(), sa.Numeric(8)),
    (sa.NUMERIC(12, 2), sa.Numeric(10, 2)),
    (sa.NUMERIC(10, 2), sa.Numeric(10, 3)),
    (sa.NUMERIC(10, 2), sa.Numeric(12, 0)),
    (sa.NUMERIC(), sa.Numeric(38, 10)),
    (sa.NUMERIC(10, 2), sa.Integer()),
    (sa.NUMERIC(16, 2), _Money()),
    (sa.DOUBLE_PRECISION(), sa.REAL()),
    (sa.DOUBLE_PRECISION(), sa.Numeric()),  # PostgreSQL rounds to 15 digits
    (sa.VARCHAR(20), sa.Integer()),
    (postgresql.TIMESTAMP(), sa.DateTime(timezone=True)),
    (postgresql.TIMESTAMP(), postgresql.TIMESTAMP(precision=0)),
    (sa.VARCHAR(20), sa.Enum("a", "b", name="kind")),
    (postgresql.ENUM("a", "b", name="kind"), sa.Enum("a", name="level")),
    (postgresql.ARRAY(sa.VARCHAR(50)), postgresql.ARRAY(sa.String(5))),
    (postgresql.ARRAY(sa.INTEGER()), sa.Integer()),
    (None, sa.String(5)),
]


@pytest.mark.parametrize(("database", "models"), WIDENING, ids=repr)
def test_a_type_change_that_keeps_every_value_widens(database: object, models: object) -> None:
    from lumiku_ops.migrate.types import widens

    assert widens(database, models)


@pytest.mark.parametrize(("database", "models"), NARROWING, ids=repr)
def test_a_type_change_that_can_lose_or_reject_a_value_narrows(
    database: object, models: object
) -> None:
    from lumiku_ops.migrate.types import widens

    assert not widens(database, models)


def test_a_widening_type_change_is_written_and_a_narrowing_one_left_out() -> None:
    from alembic.operations import ops

    from lumiku_ops.migrate.operations import leave_out_destructive

    def alter(
        column: str, database: sa.types.TypeEngine[object], models: object
    ) -> ops.AlterColumnOp:
        return ops.AlterColumnOp("runs", column, existing_type=database, modify_type=models)

    upgrade = ops.UpgradeOps(
        ops=[
            alter("status", sa.VARCHAR(9), sa.String(20)),
            alter("name", sa.VARCHAR(50), sa.String(20)),
        ]
    )
    skipped: list[str] = []
    leave_out_destructive(upgrade, False, skipped)
    assert [op.column_name for op in upgrade.ops] == ["status"]  # type: ignore[attr-defined]
    assert skipped == ["change the type of column `runs.name` from VARCHAR(50) to VARCHAR(20)"]
