from __future__ import annotations

import re
from datetime import datetime

from service.models import metadata, new_id
from service.serializers import iso_millis


def test_ids_look_like_cuids_and_sort_by_time() -> None:
    ids = [new_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(re.fullmatch(r"c[0-9a-z]{24}", value) for value in ids)


def test_iso_millis_matches_prisma_serialisation() -> None:
    assert iso_millis(datetime(2025, 10, 18, 15, 6, 48, 123456)) == "2025-10-18T15:06:48.123Z"


def test_every_index_and_constraint_follows_prisma_naming() -> None:
    for table in metadata.tables.values():
        assert table.primary_key.name == f"{table.name}_pkey"
        for index in table.indexes:
            columns = "_".join(column.name for column in index.columns)
            assert index.name == f"{table.name}_{columns}_{'key' if index.unique else 'idx'}"
        for fk in table.foreign_key_constraints:
            assert fk.name == f"{table.name}_{fk.column_keys[0]}_fkey"
            assert (fk.ondelete, fk.onupdate) == ("CASCADE", "CASCADE")
