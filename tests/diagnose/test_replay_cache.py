"""The incremental replay cache: each revision's catalog is keyed by the history up to it.

Counted, not timed: ``MigrationReplay.replayed`` lists the revisions a call ran on a
database; the others came from the cache (and the database state from a template).
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lumiku_ops.db import templates
from lumiku_ops.migrate import runner, shadow
from lumiku_ops.project import load_project
from tests.utils.postgres import PostgresServer

pytestmark = pytest.mark.db
NINE = [f"{n:04d}" for n in range(1, 10)]

REVISION = '''"""table {n}"""
from alembic import op
import sqlalchemy as sa

revision = "{n:04d}"
down_revision = {down!r}


def upgrade():
    op.create_table("t{n}", sa.Column("id", sa.Integer(), primary_key=True){extra})


def downgrade():
    op.drop_table("t{n}")
'''


def write_revision(versions: Path, n: int, extra: str = "") -> None:
    down = f"{n - 1:04d}" if n > 1 else None
    text = REVISION.format(n=n, down=down, extra=extra)
    (versions / f"{n:04d}_table_{n}.py").write_text(text)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    package = root / f"svc_{uuid.uuid4().hex[:8]}"
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text("from sqlalchemy import MetaData\nmetadata = MetaData()\n")
    (root / "migrations" / "env.py").write_text("# never run\n")
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [tool.lumiku-ops]
        metadata = "{package.name}.models:metadata"
        migrations = "migrations"
        """)
    )
    for n in range(1, 10):  # enough for templates to be worth their copy
        write_revision(versions, n)
    return root


def templates_on(server: PostgresServer) -> set[str]:
    with server._admin() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'lumiku\\_replay\\_%'"
        ).fetchall()
    return {str(row[0]) for row in rows}


@pytest.fixture
def server(pg_server: PostgresServer) -> Iterator[PostgresServer]:
    """The test server, rid afterwards of the replay templates the test kept on it."""
    before = templates_on(pg_server)
    yield pg_server
    for name in templates_on(pg_server) - before:
        pg_server.drop_database(name)


class Replayed:
    """``runner.replay`` watched: the revisions a replay ran on a database."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.revisions: list[str] = []
        run = runner.replay

        def counting(project: Any, connection: Any, revisions: list[str], **kw: Any) -> None:
            self.revisions.extend(revisions)
            run(project, connection, revisions, **kw)

        monkeypatch.setattr(runner, "replay", counting)

    def replay(self, root: Path, shadow_url: str | None, cache: Path) -> shadow.MigrationReplay:
        self.revisions = []
        shadow._memory.clear()  # a new process: only the disk cache and the server remain
        done = shadow.replay_migrations(load_project(root), shadow_url=shadow_url, cache_dir=cache)
        assert getattr(done, "replayed", self.revisions) == self.revisions
        return done


@pytest.mark.parametrize("on_shadow_url", [True, False], ids=["shadow-url", "embedded"])
def test_a_grown_history_replays_only_its_new_revision(
    history: Path,
    server: PostgresServer,
    tmp_path: Path,
    on_shadow_url: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.base_url if on_shadow_url else None
    cache = tmp_path / "cache"
    watch = Replayed(monkeypatch)
    replay = watch.replay
    cold = replay(history, url, cache)
    assert watch.revisions == NINE

    warm = replay(history, url, cache)
    assert watch.revisions == []
    assert warm.catalogs == cold.catalogs and warm.order == cold.order

    write_revision(history / "migrations" / "versions", 10)
    grown = replay(history, url, cache)
    # From the template of the cached head, on the shadow_url server or on the embedded
    # shadow server kept in the cache folder.
    assert watch.revisions == ["0010"]
    assert sorted(grown.at("0010")) == sorted(f"t{n}" for n in range(1, 11))
    assert {k: grown.catalogs[k] for k in cold.order} == cold.catalogs

    write_revision(history / "migrations" / "versions", 2, extra=', sa.Column("x", sa.Text())')
    edited = replay(history, url, cache)
    # Only heads are kept as templates, so an edited revision replays the whole history.
    assert watch.revisions == [*NINE, "0010"]
    assert "x" in str(edited.at("0002")["t2"]) and edited.at("0001") == cold.at("0001")
    fresh = replay(history, url, tmp_path / "cold-cache")
    assert fresh.catalogs == edited.catalogs
    if on_shadow_url:
        assert len(templates_on(server)) <= templates.KEEP_TEMPLATES


def test_a_replay_failure_never_shows_the_url_a_revision_was_handed() -> None:
    quoted = RuntimeError(
        "cannot reach postgresql+psycopg://ops:s3cr3t-pw@shadow:5432/lumiku_shadow_1"
    )
    message = str(
        shadow._replay_failure("0002", quoted, "postgresql+psycopg://ops:s3cr3t-pw@shadow/postgres")
    )
    assert "s3cr3t-pw" not in message and "revision 0002" in message


MOOD = ', sa.Column("mood", sa.Enum("calm", "busy", name="mood"))'


@pytest.mark.parametrize("on_shadow_url", [True, False], ids=["shadow-url", "embedded"])
def test_a_type_declared_again_by_a_later_revision_replays_as_alembic_upgrade_runs_it(
    history: Path,
    server: PostgresServer,
    tmp_path: Path,
    on_shadow_url: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two revisions whose create_table declares an ENUM of the same name (optuna, dstack):
    # `alembic upgrade head` creates the type once, remembered by its one migration context.
    versions = history / "migrations" / "versions"
    write_revision(versions, 1, MOOD)
    url = server.base_url if on_shadow_url else None
    cache = tmp_path / "cache"
    watch = Replayed(monkeypatch)
    watch.replay(history, url, cache)

    write_revision(versions, 10, MOOD)  # resumed from the kept template, with its memory
    grown = watch.replay(history, url, cache)
    assert watch.revisions == ["0010"]
    assert "mood" in {column["name"] for column in grown.at("0010")["t10"]["columns"]}


def test_a_baseline_runs_before_the_first_revision(
    history: Path, server: PostgresServer, tmp_path: Path
) -> None:
    package = next(p for p in history.iterdir() if p.name.startswith("svc_"))
    (package / "baseline.py").write_text(
        "from sqlalchemy import text\n\n\ndef create(connection):\n"
        '    connection.execute(text("CREATE TABLE first_schema (id int PRIMARY KEY)"))\n'
    )
    pyproject = history / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'baseline = "{package.name}.baseline:create"\n')
    # The first revision alters a table only the baseline creates (MLflow's history does).
    (history / "migrations" / "versions" / "0001_table_1.py").write_text(
        'from alembic import op\nimport sqlalchemy as sa\n\nrevision = "0001"\n'
        "down_revision = None\n\n\ndef upgrade():\n"
        '    op.add_column("first_schema", sa.Column("note", sa.Text()))\n'
    )
    replay = shadow.replay_migrations(
        load_project(history), shadow_url=server.base_url, cache_dir=tmp_path / "cache"
    )
    assert "note" in {column["name"] for column in replay.at("0001")["first_schema"]["columns"]}


def test_a_cold_run_compares_with_the_head_on_the_replay_itself(
    history: Path, server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One replay per cold command: the head comparison uses the replay's own shadow
    database. Without ``at_head`` in ``AlembicHistory._replay``, ``head_differences`` would
    upgrade a second shadow database, which ``runner.upgrade`` refuses here."""
    from lumiku_ops.history import history_for
    from lumiku_ops.migrate import comparison
    from lumiku_ops.settings import load_settings

    shadow._memory.clear()
    comparison._memory.clear()
    settings = load_settings(project_dir=history, shadow_url=server.base_url)
    found = history_for(settings, cache_dir=tmp_path / "cache")
    assert found.replay.replayed == NINE

    def second_replay(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the head comparison replayed the history a second time")

    monkeypatch.setattr(runner, "upgrade", second_replay)
    # The models are an empty MetaData: every table is "only in the revisions".
    assert sorted(d.table for d in found.only_in_revisions) == [f"t{n}" for n in range(1, 10)]
    assert found.uncaptured == []


def test_a_template_taken_by_another_run_means_a_full_replay_not_an_error(
    history: Path, server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = templates_on(server)
    cache = tmp_path / "cache"
    watch = Replayed(monkeypatch)
    watch.replay(history, server.base_url, cache)
    kept = templates_on(server) - before
    assert kept, "the head was not kept as a template"
    for name in kept:  # another run takes it between our look and our rename
        server.drop_database(name)
    monkeypatch.setattr(templates, "newest_template", lambda url, keys: len(keys) - 1)
    write_revision(history / "migrations" / "versions", 10)
    grown = watch.replay(history, server.base_url, cache)
    assert watch.revisions == [*NINE, "0010"]
    assert sorted(grown.at("0010")) == sorted(f"t{n}" for n in range(1, 11))


NOOP = '''"""changes nothing"""
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade():
    op.execute("SELECT 1")
'''


def test_a_new_revision_that_changes_no_table_reuses_the_head_comparison(
    history: Path, server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The head's tables are the same as before the revision (``table_digests``), so the
    comparison made then answers; Alembic reflects nothing. A revision that adds a table
    is compared again."""
    from lumiku_ops.history import forget, history_for
    from lumiku_ops.migrate import comparison
    from lumiku_ops.settings import load_settings

    cache = tmp_path / "cache"
    forget()
    settings = load_settings(project_dir=history, shadow_url=server.base_url)
    first = history_for(settings, cache_dir=cache).head_differences
    calls: list[str] = []
    real = comparison.compare_models
    monkeypatch.setattr(
        comparison, "compare_models", lambda *a, **k: calls.append("x") or real(*a, **k)
    )
    (history / "migrations" / "versions" / "0010_noop.py").write_text(NOOP)
    forget()
    again = history_for(settings, cache_dir=cache)
    assert again.replay.replayed == ["0010"]
    assert [d.to_dict() for d in again.head_differences] == [d.to_dict() for d in first]
    assert calls == []
    (history / "migrations" / "versions" / "0010_noop.py").unlink()
    write_revision(history / "migrations" / "versions", 10)
    forget()
    grown = history_for(settings, cache_dir=cache).head_differences
    assert calls == ["x"]
    assert sorted(d.table for d in grown) == sorted(f"t{n}" for n in range(1, 11))


def test_an_unchanged_history_is_listed_without_loading_its_revisions(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a ScriptDirectory imports every revision; the same files give the listing
    Alembic gave before, and one byte changed asks Alembic again."""
    from lumiku_ops.history import forget
    from lumiku_ops.migrate import listing

    cache = tmp_path / "cache"
    forget()
    first = listing.history_listing(load_project(history), cache)
    assert [info.revision for info in first.revisions] == NINE and first.heads == ["0009"]

    def not_again(project: Any) -> Any:
        raise AssertionError("Alembic loaded the revisions of an unchanged history")

    monkeypatch.setattr(listing, "script_directory", not_again)
    forget()
    assert listing.history_listing(load_project(history), cache) == first
    revision = history / "migrations" / "versions" / "0005_table_5.py"
    revision.write_text(revision.read_text() + "\n# one more line\n")
    forget()
    with pytest.raises(AssertionError, match="unchanged history"):
        listing.history_listing(load_project(history), cache)


@pytest.mark.parametrize(
    "damage", ["", "[]", '"text"', "42", '{"order": 1}', '{"differences": [1]}', "{"]
)
def test_a_damaged_cache_file_is_a_miss_never_a_crash(
    history: Path, server: PostgresServer, tmp_path: Path, damage: str
) -> None:
    """Every file the cache folder holds (listing, replay, revision points, models, head
    and schema comparisons) overwritten with something else: the same answers again."""
    from lumiku_ops.history import forget, history_for
    from lumiku_ops.settings import load_settings

    cache = tmp_path / "cache"
    settings = load_settings(project_dir=history, shadow_url=server.base_url)

    def answers() -> tuple[Any, ...]:
        forget()
        found = history_for(settings, cache_dir=cache)
        differences = [d.to_dict() for d in found.head_differences]
        return found.replay.catalogs, dict(found.models), differences, found.heads()

    first = answers()
    kinds = {path.name.split("-")[0] for path in cache.iterdir()}
    assert {"listing", "replay", "revision", "models2", "head", "schema"} <= kinds
    for path in cache.iterdir():
        path.write_text(damage)
    assert answers() == first
