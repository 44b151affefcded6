"""Fixtures for the corpus: per project, databases upgraded once per session the project's
way, and cloned per test with ``CREATE DATABASE ... TEMPLATE`` (a copy costs milliseconds,
a replay of a real history seconds)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from tests.corpus.projects import BY_NAME, CORPUS, RealProject, script_directory, upgrade
from tests.utils.cli import as_json
from tests.utils.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[2]
# Nothing from the developer's shell may decide which project, database or shadow is used.
NOT_INHERITED = {
    "DATABASE_URL",
    "LUMIKU_API_URL",
    "LUMIKU_DATA_DIR",
    "LUMIKU_MIGRATIONS_DIR",
    "LUMIKU_PROJECT",
    "LUMIKU_SHADOW_URL",
    "LUMIKU_TOKEN",
}


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Templates:
    """One project's databases at the three revisions the scenarios start from."""

    project: RealProject
    server: PostgresServer
    prev: str  # the removed revision's parent
    behind: str  # the removed revision: one revision behind head
    head: str
    clones: list[str] = field(default_factory=list)

    def clone(self, template: str) -> str:
        """A new database copied from one of the templates; dropped at the session's end."""
        name = f"lumiku_test_corpus_{uuid.uuid4().hex[:10]}"
        with self.server._admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        self.clones.append(name)
        return self.server.url_for(name)


def _build_templates(project: RealProject, server: PostgresServer) -> Templates:
    scripts = script_directory(project)
    removed = scripts.get_revision(project.removed)
    assert removed is not None and isinstance(removed.down_revision, str)
    (head,) = scripts.get_heads()
    assert removed.nextrev == frozenset({head}), "the table assumes the removed one is head-1"
    prefix = f"lumiku_test_corpus_{project.name}_{uuid.uuid4().hex[:6]}"
    names = {step: f"{prefix}_{step}" for step in ("prev", "behind", "head")}
    source = None
    for step, revision in (("prev", removed.down_revision), ("behind", removed.revision)):
        with server._admin() as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names[step]))
            if source:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(source))
            conn.execute(statement)
        upgrade(project, server.url_for(names[step]), revision)
        source = names[step]
    with server._admin() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(names["head"]), sql.Identifier(names["behind"])
            )
        )
    upgrade(project, server.url_for(names["head"]), "heads")
    return Templates(project, server, names["prev"], names["behind"], names["head"])


@pytest.fixture(scope="session")
def corpus_templates(pg_server: PostgresServer) -> Iterator[dict[str, Templates]]:
    """Per project, built on first use: three template databases for the whole session."""
    built: dict[str, Templates] = {}
    yield built
    for templates in built.values():
        for name in [*templates.clones, templates.prev, templates.behind, templates.head]:
            pg_server.drop_database(name)


@pytest.fixture(params=[project.name for project in CORPUS])
def real(
    request: pytest.FixtureRequest,
    corpus_templates: dict[str, Templates],
    pg_server: PostgresServer,
    tmp_path: Path,
) -> RealProjectRun:
    name = str(request.param)
    package = BY_NAME[name].migrations.partition(".")[0]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed: `python3 dev.py test` installs the corpus")
    if name not in corpus_templates:
        corpus_templates[name] = _build_templates(BY_NAME[name], pg_server)
    return RealProjectRun(corpus_templates[name], tmp_path)


@dataclass
class RealProjectRun:
    """lumiku-ops driven on one corpus project as a subprocess, from an empty folder."""

    templates: Templates
    tmp_path: Path

    @property
    def project(self) -> RealProject:
        return self.templates.project

    @property
    def shadow(self) -> list[str]:
        # Replays run on the server under test: no second embedded server per command.
        return ["--shadow-url", self.templates.server.base_url]

    def lumiku(self, *args: str) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        environ["LUMIKU_DATA_DIR"] = str(self.tmp_path / "lumiku" / "pgdata")
        environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
        )
        cwd = self.tmp_path / "elsewhere"
        cwd.mkdir(exist_ok=True)
        return subprocess.run(
            [sys.executable, "-m", "lumiku_ops", *args, "--project", str(self.project.folder)],
            capture_output=True,
            text=True,
            env=environ,
            cwd=cwd,
            timeout=300,
        )

    def diagnose(self, url: str, *extra: str) -> tuple[int, dict[str, Any]]:
        api = f"http://127.0.0.1:{closed_port()}"
        result = self.lumiku(
            "diagnose", "--database-url", url, "--api-url", api, *self.shadow, "--json", *extra
        )
        return result.returncode, as_json(result)


@pytest.fixture(scope="module", autouse=True)
def _alembic_comparators_restored() -> Iterator[None]:
    """Take back what a project's Alembic plugin registers while its models are imported.

    dstack's models import alembic-postgresql-enum, which adds an enum comparator to
    Alembic's process-wide registry; left there, every later in-process comparison in the
    test session (other projects' tests) would also see enum differences.
    """
    from alembic.autogenerate import comparators

    saved = {key: list(value) for key, value in comparators._registry.items()}
    yield
    comparators._registry.clear()
    comparators._registry.update(saved)
