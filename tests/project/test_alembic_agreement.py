"""What counts as a difference is Alembic's decision: check, diagnose and verify agree with
``alembic check`` run the project's way on the same database.

Each case puts into a private copy of the inventory sample one thing real histories hold and
Alembic's autogenerate does not count (a foreign key named differently, a primary key's
column order, a server default only a revision sets, an index the models add only on
PostgreSQL, a unique constraint the project's ``include_object`` leaves out).
"""

from __future__ import annotations

import re

import pytest

from lumiku_ops.escaping import escape_markdown
from tests.project.conftest import FIRST, HEAD, SCHEMA_VERDICTS, SECOND, Inventory, as_json

pytestmark = [pytest.mark.db, pytest.mark.slow]


def edit(inventory: Inventory, relative: str, old: str, new: str) -> None:
    path = inventory.dir / relative
    source = path.read_text()
    assert source.count(old) == 1, f"{relative} changed: update the test's anchor {old!r}"
    path.write_text(source.replace(old, new))


def revision(name: str) -> str:
    file = {
        FIRST: "3f9a2c71b0de_warehouses_and_products.py",
        SECOND: "b7e4158d2c60_stock_levels_and_movements.py",
    }[name]
    return f"src/inventory_app/db_migrations/versions/{file}"


ENV = "src/inventory_app/db_migrations/env.py"
HOOKS = "src/inventory_app/hooks.py"


def add_case(inventory: Inventory, case: str, *, with_hook: bool = True) -> None:
    """Put one of the things Alembic does not count into the copy."""
    if case == "fk-named-differently":
        edit(
            inventory,
            revision(SECOND),
            'name=op.f("fk_stock_levels_product_id_products")',
            'name="stock_levels_product_id_fkey"',
        )
    elif case == "primary-key-column-order":
        edit(
            inventory,
            revision(SECOND),
            'sa.PrimaryKeyConstraint("warehouse_id", "product_id"',
            'sa.PrimaryKeyConstraint("product_id", "warehouse_id"',
        )
    elif case == "server-default-set-by-a-revision":
        edit(
            inventory,
            revision(SECOND),
            'sa.Column("note", sa.Text(), nullable=True)',
            'sa.Column("note", sa.Text(), server_default=sa.text("\'\'"), nullable=True)',
        )
        # Alembic's default: the project's own env.py then leaves defaults alone too.
        edit(inventory, ENV, "            compare_server_default=True,\n", "")
    elif case == "postgresql-only-index-in-the-models":
        models = inventory.dir / "src" / "inventory_app" / "models.py"
        models.write_text(
            models.read_text() + "\n\nfrom sqlalchemy import DDL, event  # noqa: E402\n\n"
            "event.listen(\n    Product.__table__,\n    'after_create',\n"
            "    DDL('CREATE INDEX ix_products_lower_name ON products (lower(name))')"
            ".execute_if(dialect='postgresql'),\n)\n"
        )
    elif case == "unique-constraint-excluded-by-a-hook":
        edit(
            inventory,
            revision(FIRST),
            'sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),\n',
            'sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),\n'
            '        sa.UniqueConstraint("name", name="uq_products_name"),\n',
        )
        # The project's hook (env.py imports it too) leaves the constraint out.
        edit(
            inventory,
            HOOKS,
            '    if type_ == "table":\n        return _is_model_table(name)\n',
            '    if type_ == "unique_constraint" and name == "uq_products_name":\n'
            "        return False\n"
            '    if type_ == "table":\n        return _is_model_table(name)\n',
        )
        if not with_hook:
            # lumiku-ops is not told of the hook: only env.py (and so alembic check) uses it.
            edit(
                inventory,
                "pyproject.toml",
                'include_object = "inventory_app.hooks:include_object"\n',
                "",
            )
    else:
        raise AssertionError(case)


CASES = [
    "fk-named-differently",
    "primary-key-column-order",
    "server-default-set-by-a-revision",
    "postgresql-only-index-in-the-models",
    "unique-constraint-excluded-by-a-hook",
]


def shadow(inventory: Inventory) -> list[str]:
    return ["--shadow-url", inventory.server.base_url]


@pytest.mark.parametrize("case", CASES)
def test_what_alembic_does_not_count_is_no_difference(inventory: Inventory, case: str) -> None:
    add_case(inventory, case)
    url = inventory.database(at="head")
    plain = inventory.alembic(url, "check")
    assert plain.returncode == 0, plain.stdout + plain.stderr  # the premise: Alembic agrees

    checked = inventory.lumiku("check", *inventory.project, *shadow(inventory), "--json")
    report = as_json(checked)
    assert checked.returncode == 0, report
    assert report["uncaptured"] == []

    code, diagnosis = inventory.diagnose(url)
    assert diagnosis["verdict"] not in SCHEMA_VERDICTS, diagnosis["summary"]
    assert diagnosis["evidence"]["migrations"]["uncaptured_by_revisions"] == []
    assert diagnosis["evidence"]["migrations"]["uncaptured"] == []

    database = ["--database-url", url]
    verified = inventory.lumiku(
        "migrate", "verify", *inventory.project, *database, *shadow(inventory), "--json"
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_server_defaults_count_when_the_project_asks(inventory: Inventory) -> None:
    add_case(inventory, "server-default-set-by-a-revision")
    edit(inventory, "pyproject.toml", "[tool.lumiku-ops]\n", "[tool.lumiku-ops]\n"
         "compare_server_default = true\n")  # fmt: skip
    edit(
        inventory,
        ENV,
        "            compare_type=True,\n",
        "            compare_type=True,\n            compare_server_default=True,\n",
    )
    url = inventory.database(at="head")
    plain = inventory.alembic(url, "check")
    assert plain.returncode != 0 and "modify_default" in plain.stdout + plain.stderr

    checked = inventory.lumiku("check", *inventory.project, *shadow(inventory), "--json")
    report = as_json(checked)
    assert checked.returncode == 3
    (difference,) = report["uncaptured"]
    assert (difference["kind"], difference["table"], difference["name"]) == (
        "modify_default",
        "stock_movements",
        "note",
    )


@pytest.mark.parametrize("with_hook", [True, False], ids=["hook", "no-hook"])
def test_only_in_the_revisions_fails_check_only_when_strict(
    inventory: Inventory, with_hook: bool
) -> None:
    add_case(inventory, "unique-constraint-excluded-by-a-hook", with_hook=with_hook)
    lenient = inventory.lumiku("check", *inventory.project, *shadow(inventory), "--json")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    strict = inventory.lumiku("check", *inventory.project, *shadow(inventory), "--strict", "--json")
    report = as_json(strict)
    if with_hook:
        assert strict.returncode == 0 and report["only_in_revisions"] == [], report
    else:
        assert strict.returncode == 3, report
        (only,) = report["only_in_revisions"]
        assert (only["kind"], only["table"], only["columns"]) == (
            "remove_constraint",
            "products",
            ["name"],
        )
        (failed,) = [item for item in report["checks"] if not item["passed"]]
        assert "unique constraint on `products` (name)" in failed["detail"]


def test_one_revision_behind_is_not_applied_whatever_the_names(inventory: Inventory) -> None:
    add_case(inventory, "primary-key-column-order")
    add_case(inventory, "fk-named-differently")
    url = inventory.database(at=FIRST)
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "MIGRATION_NOT_APPLIED", diagnosis["summary"]
    # The pending revisions create the stock tables, and the newest an index on products.
    assert diagnosis["affected_tables"] == ["products", "stock_levels", "stock_movements"]
    assert "table `stock_levels`, table `stock_movements`" in diagnosis["summary"]


def test_a_column_added_by_hand_is_drift_whatever_the_names(inventory: Inventory) -> None:
    add_case(inventory, "fk-named-differently")
    url = inventory.database(at="head")
    inventory.execute(url, "ALTER TABLE warehouses ADD COLUMN manager text")
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "SCHEMA_DRIFT", diagnosis["summary"]
    assert diagnosis["affected_tables"] == ["warehouses"]
    assert "column `warehouses.manager`" in diagnosis["summary"]
    assert "No query fails" not in diagnosis["summary"]


def test_an_index_no_revision_creates_never_hides_a_pending_revision(
    inventory: Inventory,
) -> None:
    anchor = "    sku: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)\n"
    index = "    __table_args__ = (Index(None, 'sku'),)\n"
    edit(inventory, "src/inventory_app/models.py", anchor, anchor + index)

    behind = inventory.database(at=FIRST)
    code, diagnosis = inventory.diagnose(behind)
    assert diagnosis["verdict"] == "MIGRATION_NOT_APPLIED", diagnosis["summary"]
    assert "MIGRATION_NOT_CREATED" in diagnosis["findings"]

    at_head = inventory.database(at="head")
    code, diagnosis = inventory.diagnose(at_head)
    assert code == 3 and diagnosis["verdict"] == "MIGRATION_NOT_CREATED", diagnosis
    assert "index `ix_products_sku` on `products` (sku)" in diagnosis["summary"]
    assert "No query fails because of this difference." in diagnosis["summary"]
    assert "--message update_products" in diagnosis["remedy"]["command"]


def test_tables_matching_a_revision_but_one_index_name_it_and_the_rest(
    inventory: Inventory,
) -> None:
    """The revisions' SQL run by hand, but for one index: the version table unmoved."""
    url = inventory.database(at="head")
    inventory.execute(url, "DROP INDEX ix_stock_movements_warehouse_id")
    inventory.execute(url, f"UPDATE alembic_version SET version_num = '{FIRST}'")
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "REVISION_MISMATCH", diagnosis["summary"]
    assert f"alembic stamp {HEAD}" in diagnosis["remedy"]["command"]
    assert "(warehouse_id)" in diagnosis["summary"] and HEAD in diagnosis["summary"]


def test_a_table_of_another_application_is_not_drift(inventory: Inventory) -> None:
    """Only the model tables and those the revisions create are compared (and reflected)."""
    url = inventory.database(at="head")
    inventory.execute(url, "CREATE TABLE billing_invoices (id integer PRIMARY KEY)")
    code, diagnosis = inventory.diagnose(url)
    assert diagnosis["verdict"] not in SCHEMA_VERDICTS, diagnosis["summary"]
    assert diagnosis["evidence"]["tables"] == []


def test_verify_lists_what_only_the_revisions_create(inventory: Inventory) -> None:
    add_case(inventory, "unique-constraint-excluded-by-a-hook", with_hook=False)
    url = inventory.database(at="head")
    database = ["--database-url", url]
    verified = inventory.lumiku(
        "migrate", "verify", *inventory.project, *database, *shadow(inventory)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "- unique constraint on `products` (name)" in verified.stdout


def test_a_table_only_the_revisions_create_does_not_hide_a_pending_revision(
    inventory: Inventory,
) -> None:
    edit(
        inventory,
        revision(FIRST),
        "def upgrade() -> None:\n",
        "def upgrade() -> None:\n"
        '    op.create_table("legacy_codes", sa.Column("code", sa.Text(), primary_key=True))\n',
    )
    url = inventory.database(at=FIRST)
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "MIGRATION_NOT_APPLIED", diagnosis["summary"]
    (only,) = diagnosis["evidence"]["migrations"]["only_in_revisions"]
    assert (only["kind"], only["table"]) == ("remove_table", "legacy_codes")
    checked = inventory.lumiku("check", *inventory.project, *shadow(inventory), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_uncaptured_is_exactly_what_alembic_check_reports(inventory: Inventory) -> None:
    """The measure of item 2: the same operations, through the same hooks, on a database at
    the head (plus the noise of a foreign key named differently, which neither counts)."""
    add_case(inventory, "fk-named-differently")
    inventory.add_product_column()
    anchor = "    sku: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)\n"
    edit(
        inventory,
        "src/inventory_app/models.py",
        anchor,
        anchor.replace("unique=True", "unique=True, index=True"),
    )
    url = inventory.database(at="head")
    plain = inventory.alembic(url, "check")
    # The message is logged, then repeated after FAILED: a set of operation names.
    reported = re.findall(r"\('(add_\w+|remove_\w+|modify_\w+)'", plain.stdout + plain.stderr)
    # unique=True, index=True: a unique index replaces the unique constraint.
    expected = ["add_column", "add_index", "remove_constraint"]
    assert plain.returncode != 0 and sorted(set(reported)) == expected, plain.stderr

    code, diagnosis = inventory.diagnose(url)
    ours = diagnosis["evidence"]["migrations"]["uncaptured"]
    assert sorted((d["kind"], d["table"], d["name"]) for d in ours) == [
        ("add_column", "products", "reorder_point"),
        ("add_index", "products", "ix_products_sku"),
    ]
    (only,) = diagnosis["evidence"]["migrations"]["only_in_revisions"]
    assert (only["kind"], only["table"], only["columns"]) == (
        "remove_constraint",
        "products",
        ["sku"],
    )
    checked = as_json(inventory.lumiku("check", *inventory.project, *shadow(inventory), "--json"))
    assert checked["uncaptured"] == ours


def test_what_postgresql_refuses_of_the_models_is_listed_never_written_or_failed_on(
    inventory: Inventory,
) -> None:
    """A foreign key to a column with no unique constraint (MLflow's ``input_tags`` has one):
    no revision can create it, so ``create`` leaves it out and ``verify`` lists it; ``check``
    and ``diagnose`` count it as ``alembic check`` does."""
    anchor = "    name: Mapped[str] = mapped_column(String(200), nullable=False)\n"
    refusing = (
        '    name: Mapped[str] = mapped_column(String(200), ForeignKey("products.name"), '
        "nullable=False)\n"
    )
    edit(inventory, "src/inventory_app/models.py", anchor, refusing)
    url = inventory.database(at="head")
    plain = inventory.alembic(url, "check")
    assert plain.returncode != 0 and "add_fk" in plain.stdout + plain.stderr  # the premise

    before = sorted(inventory.versions.glob("*.py"))
    created = inventory.lumiku(
        "migrate", "create", *inventory.project, *shadow(inventory), "--json"
    )
    assert created.returncode == 1, created.stdout + created.stderr
    # A revision that would fail on every database is none; the reason is said.
    assert created.stderr.startswith("error: nothing to create"), created.stderr
    assert "left out: the models declare foreign key" in created.stderr
    assert sorted(inventory.versions.glob("*.py")) == before

    database = ["--database-url", url]
    verified = inventory.lumiku(
        "migrate", "verify", *inventory.project, *database, *shadow(inventory), "--json"
    )
    report = as_json(verified)
    assert verified.returncode == 0 and report["passed"] is True, report
    (refused,) = report["models_refused"]
    assert (refused["kind"], refused["table"]) == ("foreign_key", "warehouses"), refused
    assert "no unique constraint matching given keys" in refused["reason"]
    text = inventory.lumiku("migrate", "verify", *inventory.project, *database, *shadow(inventory))
    assert "Refused by PostgreSQL" in text.stdout and refused["detail"] in text.stdout

    # diagnose shows it too (in its JSON evidence and its report), beside the finding.
    code, diagnosis = inventory.diagnose(url)
    assert code == 3 and diagnosis["verdict"] == "MIGRATION_NOT_CREATED", diagnosis["summary"]
    assert diagnosis["evidence"]["migrations"]["models_refused"] == [refused]
    report = inventory.lumiku(
        "diagnose", *inventory.project, *database, *shadow(inventory), "--api-url",
        inventory.api_url,
    )  # fmt: skip
    assert report.returncode == 3, report.stderr
    listed = f"- {escape_markdown(refused['detail'])}\n"
    assert "Refused by PostgreSQL" in report.stdout and listed in report.stdout, report.stdout
