"""Differences as plain data: keys without generated names, messages that say what changes,
and the rank of findings no query can fail on."""

from __future__ import annotations

from lumiku_ops.db.compare import shape_differences
from lumiku_ops.diagnose.verdicts import strongest
from lumiku_ops.migrate.differences import Difference, describe_change


def test_the_default_message_says_what_changes() -> None:
    note = Difference("add_column", "orders", "note", ("note",), detail="column `orders.note`")
    assert describe_change([note]) == "add_note_to_orders"
    assert describe_change([Difference("add_table", "orders")]) == "add_orders_table"
    tables = [Difference("add_table", "stock_levels"), Difference("add_table", "stock_movements")]
    index = Difference("add_index", "stock_levels", "ix_stock_levels_qty", ("qty",))
    assert describe_change([*tables, index]) == "add_stock_tables"  # the index goes with it
    assert describe_change([index]) == "update_stock_levels"


def test_a_foreign_key_is_the_same_whatever_its_name() -> None:
    ours = Difference("remove_fk", "orders", "fk_orders_user", ("user_id",), "users(id)")
    theirs = Difference("remove_fk", "orders", "orders_user_id_fkey", ("user_id",), "users(id)")
    assert ours.key == theirs.key
    other = Difference("remove_fk", "orders", "fk_orders_user", ("user_id",), "admins(id)")
    assert ours.key != other.key


def test_findings_no_query_fails_on_rank_below_those_that_explain_500s() -> None:
    minor = {"MIGRATION_NOT_CREATED"}
    found = ["MIGRATION_NOT_CREATED", "MIGRATION_NOT_APPLIED"]
    assert strongest(found, minor=minor) == "MIGRATION_NOT_APPLIED"
    assert strongest(["MIGRATION_NOT_CREATED", "PERMISSION_DENIED"], minor=minor) == (
        "PERMISSION_DENIED"
    )
    assert strongest(["MIGRATION_NOT_CREATED", "API_UNREACHABLE"], minor=minor) == (
        "MIGRATION_NOT_CREATED"
    )
    assert strongest(found) == "MIGRATION_NOT_CREATED"  # not minor: it outranks


def _table(pk: str, index: str, fk: str) -> dict[str, object]:
    return {
        "name": "stock",
        "columns": [{"name": "a", "type": "uuid", "not_null": True, "default": None}],
        "indexes": {index: f"CREATE UNIQUE INDEX {index} ON public.stock USING btree (a, b)"},
        "constraints": {
            "pk": f"PRIMARY KEY ({pk})",
            fk: "FOREIGN KEY (a) REFERENCES products(id) ON DELETE RESTRICT",
        },
    }


def test_two_catalogs_differ_by_objects_not_by_names() -> None:
    revision = {"stock": _table("a, b", "pk_stock", "fk_stock_a_products")}
    by_hand = {"stock": _table("b, a", '"Stock pkey"', "stock_a_fkey")}
    assert shape_differences(revision, by_hand, ["stock"]) == []
    changed = {"stock": _table("a, b", "pk_stock", "fk_stock_a_products")}
    changed["stock"]["constraints"] = {"pk": "PRIMARY KEY (a, b)"}  # type: ignore[index]
    assert shape_differences(revision, changed, ["stock"]) == [
        "`stock`: FOREIGN KEY (a) REFERENCES products(id) ON DELETE RESTRICT missing"
    ]


def test_what_postgresql_refuses_to_create_is_left_out_by_table_and_name() -> None:
    from lumiku_ops.migrate.differences import without_refused

    unnamed_fk = Difference("add_fk", "input_tags", None, ("input_uuid",), "inputs(input_uuid)")
    no_column_index = Difference("add_index", "trace_tags", "ix_trace_tags", ())
    other_index = Difference("add_index", "trace_tags", "ix_trace_tags_key", ("key",))
    column = Difference("add_column", "input_tags", "note", ("note",))
    refused = [
        {"kind": "foreign_key", "table": "input_tags", "name": None},
        {"kind": "index", "table": "trace_tags", "name": "ix_trace_tags"},
        {"kind": "check_constraint", "table": "input_tags", "name": None},  # Alembic: none
    ]
    differences = [unnamed_fk, no_column_index, other_index, column]
    assert without_refused(differences, refused) == [other_index, column]
    assert without_refused(differences, []) == differences
