"""What counts as a difference on a Prisma project is what Prisma's engine counts.

Found on a real project (a public auth service's history): its migrations add COMMENTs,
which Prisma has no notion of, and one migration sets a default its schema lacks, which
Prisma's engine does diff (`prisma migrate dev` would write `DROP DEFAULT`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lumiku_ops.history import history_for
from lumiku_ops.migrate.create import create_migration
from lumiku_ops.prisma import engine
from lumiku_ops.prisma.engine import schema_sql
from lumiku_ops.settings import load_settings
from tests.prisma.conftest import SCHEMA_V1, schema, write_migrations
from tests.utils.db import connection_to
from tests.utils.postgres import PostgresServer

pytestmark = pytest.mark.db

COMMENTS = (
    "COMMENT ON TABLE \"Account\" IS 'accounts';\n"
    'COMMENT ON COLUMN "Account"."email" IS \'login\';\n'
)
DEFAULT = 'ALTER TABLE "Account" ALTER COLUMN "email" SET DEFAULT \'nobody\';\n'


def _project(root: Path, extra: str) -> Path:
    (root / "prisma").mkdir(parents=True)
    (root / "prisma" / "schema.prisma").write_text(SCHEMA_V1)
    write_migrations(
        root / "prisma" / "migrations",
        {"20250101000000_init": schema_sql(schema(SCHEMA_V1)) + extra},
    )
    (root / "lumiku-ops.toml").write_text('kind = "prisma"\n')
    return root


def test_comments_are_no_difference_and_a_default_is_one(
    prisma_engine: Path, pg_server: PostgresServer, tmp_path: Path
) -> None:
    """Without ``_NOT_PRISMA`` the comments would be "models ahead"; without
    ``compare_server_default=True`` the default (which the engine does plan) goes unnamed."""
    shadow = pg_server.url_for("postgres")
    quiet = load_settings(project_dir=_project(tmp_path / "comments", COMMENTS), shadow_url=shadow)
    assert history_for(quiet).head_differences == []

    settings = load_settings(
        project_dir=_project(tmp_path / "default", COMMENTS + DEFAULT), shadow_url=shadow
    )
    (found,) = history_for(settings).head_differences
    assert (found.kind, found.table, found.name) == ("modify_default", "Account", "email")
    assert found.models_ahead


def test_create_writes_a_drop_default_it_is_not_destructive(
    prisma_engine: Path, pg_server: PostgresServer, tmp_path: Path
) -> None:
    """Dropping a default loses no data: without the lookahead in ``_DESTRUCTIVE`` create
    left it out, and its checklist stayed incomplete."""
    root = _project(tmp_path / "svc", DEFAULT)
    settings = load_settings(project_dir=root, shadow_url=pg_server.url_for("postgres"))
    created = create_migration(settings, "drop_email_default")
    assert 'ALTER COLUMN "email" DROP DEFAULT' in created.sql
    assert created.only_in_revisions == []
    assert created.complete


def test_a_target_at_the_head_is_answered_without_starting_the_engine_again(
    prisma_engine: Path,
    pg_server: PostgresServer,
    make_db: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target's tables, enums and extensions have the head's digests, so the head's
    answer is the engine's answer; an enum label added by hand (no column changes) and
    the engine is asked again, and says so."""
    root = _project(tmp_path / "svc", "")
    target = make_db()
    with connection_to(target) as connection:
        connection.exec_driver_sql(schema_sql(schema(SCHEMA_V1)))
        connection.commit()
    settings = load_settings(project_dir=root, shadow_url=pg_server.url_for("postgres"))
    history = history_for(settings, cache_dir=tmp_path / "cache")
    assert history.head_differences == []
    tables = set(history.models) | set(history.replay.head_catalog)
    asked: list[str] = []
    real = engine.url_to_schema
    monkeypatch.setattr(
        engine, "url_to_schema", lambda *a, **k: asked.append("engine") or real(*a, **k)
    )
    with connection_to(target) as connection:
        assert history.compare_target(connection, tables) == []
        assert asked == []
        connection.exec_driver_sql("ALTER TYPE \"Plan\" ADD VALUE 'TEAM'")
        connection.commit()
        found = history.compare_target(connection, tables)
    assert asked == ["engine"]
    assert found, "the engine plans to drop the label; the comparison must say so"
