"""The schema verdict when the models are ahead of every revision for reasons of the
project's own (a table its code creates, an index only the models hold): that lead is a
condition of the history, and hides nothing the database itself says."""

from __future__ import annotations

from typing import Any

from lumiku_ops.db.reader import DatabaseState
from lumiku_ops.diagnose.schema import classify_schema
from lumiku_ops.migrate.differences import Difference
from lumiku_ops.migrate.shadow import MigrationReplay


def _table(name: str, *columns: str) -> dict[str, Any]:
    return {
        "name": name,
        "columns": [
            {"name": c, "type": "text", "not_null": False, "default": None} for c in columns
        ],
        "indexes": {},
        "constraints": {},
    }


R1 = {"orders": _table("orders", "id"), "users": _table("users", "id")}
R2 = {"orders": _table("orders", "id", "note"), "users": _table("users", "id")}
REPLAY = MigrationReplay("f", ["r1", "r2"], ["r2"], {"r1": R1, "r2": R2})
MODELS = {"orders", "users", "heartbeats"}
# What the models hold at the head and no revision creates: a table, and an index.
HEAD = [
    Difference("add_table", "heartbeats", detail="table `heartbeats`"),
    Difference("add_index", "users", "ix_users_id", ("id",), detail="index `ix_users_id`"),
]


def _at(revision: str, catalog: dict[str, Any]) -> DatabaseState:
    return DatabaseState("postgresql://", True, recorded_revision=revision, catalog=catalog)


def test_the_models_lead_names_every_table_alembic_names_and_nothing_else() -> None:
    found = classify_schema(REPLAY, _at("r2", R2), MODELS, HEAD, HEAD)
    assert found.verdict == "MIGRATION_NOT_CREATED" and not found.minor
    assert found.affected == ["heartbeats", "users"]  # the index-only table too
    assert found.also == []


def test_a_pending_revision_is_found_under_the_models_lead() -> None:
    target = [*HEAD, Difference("add_column", "orders", "note", ("note",))]
    found = classify_schema(REPLAY, _at("r1", R1), MODELS, HEAD, target)
    assert found.verdict == "MIGRATION_NOT_CREATED"
    assert [f.verdict for f in found.all] == ["MIGRATION_NOT_CREATED", "MIGRATION_NOT_APPLIED"]
    assert found.also[0].affected == ["orders"]


def test_a_column_added_by_hand_is_drift_under_the_models_lead_not_a_partial_schema() -> None:
    by_hand = {**R2, "users": _table("users", "id", "owner")}
    target = [*HEAD, Difference("remove_column", "users", "owner", ("owner",))]
    found = classify_schema(REPLAY, _at("r2", by_hand), MODELS, HEAD, target)
    assert [f.verdict for f in found.all] == ["MIGRATION_NOT_CREATED", "SCHEMA_DRIFT"]
    assert found.also[0].affected == ["users"]
