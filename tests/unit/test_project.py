"""The project seam: [tool.lumiku-ops] read by one loader, with errors that say what to add."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from lumiku_ops.errors import ConfigError
from lumiku_ops.migrate import runner, scripts
from lumiku_ops.project import load_project, resolve_location
from lumiku_ops.settings import load_settings

MODELS = """
from sqlalchemy import Column, Integer, MetaData, Table

metadata = MetaData()
Table("widget", metadata, Column("id", Integer, primary_key=True))


class Holder:
    metadata = metadata


NOT_METADATA = 42
"""


def make_project(root: Path, table: str, *, ini: str | None = None) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(MODELS)
    (root / "pyproject.toml").write_text(textwrap.dedent(table))
    if ini is not None:
        (root / "alembic.ini").write_text(ini)
    return root


INI = "[alembic]\nscript_location = db/migrations\n"


def test_a_full_table_is_read_and_paths_resolve_from_the_ini_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(
        tmp_path / "svc",
        """
        [tool.lumiku-ops]
        metadata = "pkg.models:Holder.metadata"
        exclude_tables = ["celery_taskmeta"]
        exclude_prefixes = ["queue_"]
        endpoints = ["/api/widgets"]
        ready_path = "/ready"
        """,
        ini=INI,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the current directory must not matter
    project = load_project(root)
    assert project.migrations_dir == root / "db" / "migrations"
    assert [t.name for t in project.metadata().sorted_tables] == ["widget"]
    assert project.endpoints == ("/api/widgets",) and project.ready_path == "/ready"
    assert project.is_model_object("widget")
    for name in ("alembic_version", "lumiku_ops_audit", "celery_taskmeta", "queue_jobs"):
        assert not project.is_model_object(name)


def test_here_in_script_location_and_the_migrations_override(tmp_path: Path) -> None:
    table = '[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\n'
    root = make_project(tmp_path, table, ini="[alembic]\nscript_location = %(here)s/alembic\n")
    assert load_project(root).migrations_dir == root / "alembic"
    assert load_project(root, migrations_dir=tmp_path / "x").migrations_dir == tmp_path / "x"


def test_settings_take_the_project_from_the_flag_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = '[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\n'
    root = make_project(tmp_path / "p", table, ini=INI)
    monkeypatch.setenv("LUMIKU_PROJECT", str(root))
    assert load_settings().migrations_dir == root / "db" / "migrations"
    monkeypatch.setenv("LUMIKU_PROJECT", str(tmp_path / "nowhere"))
    assert load_settings(project_dir=str(root)).project.root == root


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[project]\nname = 'x'\n", "has no [tool.lumiku-ops] table"),
        ("[tool.lumiku-ops]\nendpoints = []\n", "metadata: missing"),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models"\n', "is not 'package.module:attribute'"),
        ('[tool.lumiku-ops]\nmetadata = "nope.models:metadata"\n', "importing 'nope.models'"),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models:missing"\n', "has no attribute 'missing'"),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models:NOT_METADATA"\n', "not a SQLAlchemy MetaData"),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\nendpont = []\n', "unknown key"),
        (
            '[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\nendpoints = ["api/x"]\n',
            "not a path starting with '/'",
        ),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\nexclude_tables = "t"\n', "list"),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\nmigrations = "m\\u0000"\n', "NUL"),
        ('[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\nsys_path = ["s\\u0000"]\n', "NUL"),
    ],
)
def test_each_mistake_names_the_file_and_the_key(tmp_path: Path, table: str, message: str) -> None:
    root = make_project(tmp_path / f"p{abs(hash(table))}", table, ini=INI)
    with pytest.raises(ConfigError) as caught:
        load_project(root).metadata()
    text = str(caught.value)
    assert message in text
    assert str(root / "pyproject.toml") in text
    assert "[tool.lumiku-ops]" in text


def test_missing_pyproject_and_missing_ini_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pyproject.toml not found.*--project DIR"):
        load_project(tmp_path)
    root = make_project(tmp_path / "p", '[tool.lumiku-ops]\nmetadata = "pkg.models:metadata"\n')
    with pytest.raises(ConfigError, match="alembic_ini.*not found"):
        load_project(root)


# Layouts of real histories: revisions outside versions/, -x arguments, the Alembic config.
REVISION = '''"""{message}

Revision ID: {rev}
Revises: {down}
"""
from alembic import context, op
from sqlalchemy.engine import make_url

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None
{extra}

def upgrade():
    tenant = context.get_x_argument(as_dictionary=True).get("tenant", "none")
    url = make_url(op.get_context().config.get_main_option("sqlalchemy.url"))
    op.execute(f"CREATE SCHEMA {{tenant}}_{rev}  -- {{url.get_backend_name()}}")


def downgrade():
    pass
'''


def layout_project(
    root: Path, table: str, *, folder: str = "versions", extra: str = ""
) -> tuple[Path, str]:
    """A project with a unique package (``svc_<id>``) holding its migrations and revisions."""
    package = f"svc_{uuid.uuid4().hex[:8]}"
    migrations = root / package / "db"
    (migrations / folder).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "db" / "__init__.py").write_text("")
    (root / package / "models.py").write_text(MODELS)
    (migrations / "env.py").write_text("raise RuntimeError('env.py is never run')\n")
    for rev, down in (("a1", None), ("b2", "a1")):
        (migrations / folder / f"{rev}_step.py").write_text(
            REVISION.format(message=f"step {rev}", rev=rev, down=down, extra=extra)
        )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(table).format(package=package, migrations=migrations)
    )
    return root, package


@pytest.mark.parametrize(
    "location",
    ["{package}/db/postgresql", "%(here)s/{package}/db/postgresql", "{package}:db:postgresql"],
    ids=["relative-to-project", "here", "package-resource-with-two-colons"],
)
def test_revisions_in_version_locations_are_found_however_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, location: str
) -> None:
    root, package = layout_project(
        tmp_path / "svc",
        f"""
        [tool.lumiku-ops]
        metadata = "{{package}}.models:metadata"
        migrations = "{{migrations}}"
        version_locations = ["{location}"]
        x_arguments = ["tenant=acme"]
        """,
        folder="postgresql",
    )
    monkeypatch.chdir(tmp_path)  # neither the project root nor the package's folder
    project = load_project(root)
    assert scripts.version_locations(project) == [root / package / "db" / "postgresql"]
    sql = runner.offline_sql(project, "head")
    # Both revisions ran, with the -x argument and a parseable sqlalchemy.url.
    assert "CREATE SCHEMA acme_a1  -- postgresql" in sql
    assert "CREATE SCHEMA acme_b2  -- postgresql" in sql


def test_a_package_resource_location_splits_on_every_colon(tmp_path: Path) -> None:
    root, package = layout_project(tmp_path, '[tool.lumiku-ops]\nmetadata = "x:y"\n')
    found = resolve_location(f"{package}:db:versions", root, "here")
    assert found == root / package / "db" / "versions"
    assert resolve_location("db/versions", root, "here") == root / "db" / "versions"


def test_an_empty_history_is_an_error_naming_where_it_looked(tmp_path: Path) -> None:
    root, package = layout_project(
        tmp_path,
        '[tool.lumiku-ops]\nmetadata = "{package}.models:metadata"\nmigrations = "{migrations}"\n',
        folder="postgresql",  # env.py would choose it; the table does not say so
    )
    (root / package / "db" / "versions").mkdir()
    with pytest.raises(ConfigError, match="the history is empty.*version_locations"):
        scripts.script_directory(load_project(root))


def test_a_revision_that_fails_to_import_is_named(tmp_path: Path) -> None:
    root, package = layout_project(
        tmp_path,
        '[tool.lumiku-ops]\nmetadata = "{package}.models:metadata"\nmigrations = "{migrations}"\n',
        extra="import not_installed_anywhere  # noqa\n",
    )
    with pytest.raises(ConfigError) as caught:
        scripts.script_directory(load_project(root))
    message = str(caught.value)
    assert "a1_step.py fails to load" in message and "not_installed_anywhere" in message
    assert "\n" not in message


def test_the_history_is_loaded_once_until_a_revision_file_changes(tmp_path: Path) -> None:
    root, package = layout_project(
        tmp_path,
        '[tool.lumiku-ops]\nmetadata = "{package}.models:metadata"\nmigrations = "{migrations}"\n',
    )
    project = load_project(root)
    first = scripts.script_directory(project)
    assert scripts.script_directory(project) is first  # revision files imported once
    versions = root / package / "db" / "versions"
    (versions / "c3_step.py").write_text(
        REVISION.format(message="c3", rev="c3", down="b2", extra="")
    )
    again = scripts.script_directory(project)
    assert again is not first and again.get_current_head() == "c3"


def test_a_hook_that_prints_or_exits_keeps_stdout_clean_and_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, package = layout_project(
        tmp_path,
        '[tool.lumiku-ops]\nmetadata = "{package}.models:metadata"\nmigrations = "{migrations}"\n'
        'include_object = "{package}.hooks:include_object"\n'
        'include_name = "{package}.hooks:include_name"\n',
    )
    (root / package / "hooks.py").write_text(
        "import sys\n"
        "def include_object(*args):\n    print('hook: looked at', args[1])\n    return True\n"
        "def include_name(*args):\n    sys.exit(0)\n"
    )
    project = load_project(root)
    include_object = project.hook("include_object")
    assert include_object is not None and include_object(None, "widget", "table", False, None)
    printed = capsys.readouterr()
    assert printed.out == "" and "hook: looked at widget" in printed.err
    include_name = project.hook("include_name")
    assert include_name is not None
    with pytest.raises(ConfigError, match=r"include_name: .* stopped: it called sys.exit\(0\)"):
        include_name("widget", "table", {})


def test_a_baseline_is_a_function_named_like_the_hooks(tmp_path: Path) -> None:
    root, package = layout_project(
        tmp_path,
        '[tool.lumiku-ops]\nmetadata = "{package}.models:metadata"\nmigrations = "{migrations}"\n'
        'baseline = "{package}.models:metadata"\n',
    )
    project = load_project(root)
    assert project.baseline_ref == f"{package}.models:metadata"
    with pytest.raises(ConfigError, match=r"baseline: '.*' is not a function"):
        project.baseline()
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml")
        .read_text()
        .replace(f'baseline = "{package}.models:metadata"', 'baseline = "x"')
    )
    with pytest.raises(ConfigError, match=r"baseline: 'x' is not 'package.module:function'"):
        load_project(root)
