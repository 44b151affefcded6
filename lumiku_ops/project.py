"""The project seam: which service lumiku-ops works on, named, never imported by name.

A project is a folder whose ``pyproject.toml`` holds a ``[tool.lumiku-ops]`` table::

    [tool.lumiku-ops]
    metadata = "app.models:SQLModel.metadata"   # the SQLAlchemy MetaData (required)
    alembic_ini = "alembic.ini"                 # its script_location gives the migrations
    exclude_tables = ["celery_taskmeta"]        # objects that are not models
    exclude_prefixes = ["procrastinate_"]
    endpoints = ["/api/items", "/api/users"]    # what diagnose probes by default
    ready_path = "/health/ready"                # runbook 03's readiness step
    shadow_url = "postgresql+psycopg://ops@127.0.0.1/postgres"  # replays run there
    checks = "ops/checks.toml"                  # what verify and runbook 04 expect
    # How a real history is laid out and compared (each optional):
    migrations = "src/app/migrations"           # overrides the ini's script_location
    version_locations = ["migrations/postgresql"]  # revision folders chosen in env.py
    sys_path = ["src"]                          # folders put first on sys.path
    x_arguments = ["tenant=public"]             # what `alembic -x` would pass
    include_object = "app.migrations.hooks:include_object"  # Alembic's hook signatures
    include_name = "app.migrations.hooks:include_name"
    baseline = "app.migrations.baseline:create"  # what exists before the first revision
    compare_server_default = false              # as Alembic's context.configure()
    compare_type = true

A Prisma project (``kind = "prisma"``) names its schema and migrations instead; a project
with no Python may put the same keys at the top level of a ``lumiku-ops.toml``::

    kind = "prisma"
    prisma_schema = "prisma/schema.prisma"      # or a folder of .prisma files (default)
    prisma_migrations = "prisma/migrations"     # the migration folders (default)
    endpoints = ["/api/items"]

``load_project`` is the only reader of that table (its keys checked by
:mod:`lumiku_ops.project_config`; the project's own code imported by
:mod:`lumiku_ops.project_code`). It puts the project folder first on
``sys.path`` (as Alembic's ``prepend_sys_path = .``), so the models import as the service
itself imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumiku_ops.errors import ConfigError
from lumiku_ops.project_code import (
    as_imported,
    describe_exit,
    import_attribute,
    import_metadata,
    prepend_to_sys_path,
    project_code,
    resolve_location,
    script_location,
)
from lumiku_ops.project_config import (
    ALEMBIC_ONLY,
    ALWAYS_EXCLUDED,
    KEYS,
    KINDS,
    PRISMA_ONLY,
    STANDALONE,
    TABLE,
    common_keys,
    config_error,
    hook_reference,
    optional_bool,
    optional_string,
    read_table,
    string_list,
    x_arguments_of,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, MetaData

# The project seam: what callers outside the package import from here, wherever it lives.
__all__ = [
    "ALWAYS_EXCLUDED",
    "STANDALONE",
    "TABLE",
    "Project",
    "describe_exit",
    "import_attribute",
    "load_project",
    "prepend_to_sys_path",
    "project_code",
    "resolve_location",
    "script_location",
]


@dataclass(frozen=True)
class Project:
    """A service's models, migrations, non-model objects and endpoints."""

    root: Path
    metadata_ref: str
    alembic_ini: Path | None
    migrations_dir: Path
    exclude_tables: frozenset[str] = ALWAYS_EXCLUDED
    exclude_prefixes: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    ready_path: str | None = None
    shadow_url: str | None = field(default=None, repr=False)
    checks_file: Path | None = None
    # Layout: the revision folders env.py chooses, and folders put first on sys.path.
    version_locations: tuple[str, ...] = ()
    sys_path: tuple[Path, ...] = ()
    # ``-x key=value`` arguments, as ``alembic -x`` passes them to the revisions.
    x_arguments: tuple[str, ...] = ()
    # Comparison, as Alembic's autogenerate does it: hooks named "module:function".
    include_object_ref: str | None = None
    include_name_ref: str | None = None
    compare_server_default: bool = False
    compare_type: bool = True
    # A history that starts after a create_all: "module:function", called with a Connection.
    baseline_ref: str | None = None
    # "alembic" or "prisma"; a Prisma project's schema (a file or a folder of .prisma files).
    kind: str = "alembic"
    prisma_schema: Path | None = None
    config_file: Path | None = None

    @property
    def pyproject(self) -> Path:
        """The file the project was read from."""
        return self.config_file or self.root / "pyproject.toml"

    def is_model_object(self, name: str | None) -> bool:
        """False for Alembic's table, the audit trail and the project's own exclusions."""
        if name is None:
            return True
        return name not in self.exclude_tables and not name.startswith(self.exclude_prefixes)

    def include_object(
        self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Alembic's ``include_object`` hook: compare and generate only model objects."""
        if type_ == "table":
            return self.is_model_object(name)
        table = getattr(obj, "table", None)
        return self.is_model_object(getattr(table, "name", None))

    def metadata(self) -> MetaData:
        """The configured ``MetaData``, imported once per process.

        A Prisma project's ``MetaData`` is reflected from the tables Prisma's schema engine
        creates for ``schema.prisma`` on a scratch database.

        Raises:
            ConfigError: the module does not import or the attribute is not a MetaData.
        """
        if self.kind == "prisma":
            from lumiku_ops.prisma.models import prisma_metadata

            return prisma_metadata(self)
        return import_metadata(self.root, self.metadata_ref)

    def metadata_as_imported(self) -> dict[str, frozenset[Any]]:
        """Each model table's constraints and indexes as the models' module declared them.

        Taken when the ``MetaData`` is first imported, before any revision module runs: a
        revision may attach objects to the shared tables at import (a ``CheckConstraint``
        built from a model's columns attaches itself to that table), and the replay imports
        every revision. Keyed by ``Table.key``.
        """
        metadata = self.metadata()
        return as_imported(metadata)

    def hook(self, key: str) -> Callable[..., bool] | None:
        """The project's ``include_object`` or ``include_name`` function, if it names one.

        Raises:
            ConfigError: the module does not import or the attribute is not callable.
        """
        references = {
            "include_object": self.include_object_ref,
            "include_name": self.include_name_ref,
        }
        reference = references[key]
        if reference is None:
            return None
        function = import_attribute(self.root, reference, key)
        if not callable(function):
            raise config_error(self.pyproject, key, f"'{reference}' is not a function")

        def guarded(*args: Any, **kwargs: Any) -> bool:
            try:
                with project_code():  # a hook that prints must not corrupt --json
                    return bool(function(*args, **kwargs))
            except (SystemExit, KeyboardInterrupt) as exc:
                raise ConfigError(
                    f"{self.pyproject}: [{TABLE}] {key}: '{reference}' stopped: "
                    f"{describe_exit(exc).replace(' while being imported', '')}"
                ) from None

        return guarded

    def baseline(self) -> Callable[[Connection], None] | None:
        """The project's ``baseline`` function, if it names one: what a database holds before
        the history's first revision (a ``create_all`` of the initial models, say).

        Raises:
            ConfigError: the module does not import or the attribute is not callable.
        """
        reference = self.baseline_ref
        if reference is None:
            return None
        function = import_attribute(self.root, reference, "baseline")
        if not callable(function):
            raise config_error(self.pyproject, "baseline", f"'{reference}' is not a function")

        def guarded(connection: Connection) -> None:
            try:
                with project_code():
                    function(connection)
            except (SystemExit, KeyboardInterrupt) as exc:
                raise ConfigError(
                    f"{self.pyproject}: [{TABLE}] baseline: '{reference}' stopped: "
                    f"{describe_exit(exc).replace(' while being imported', '')}"
                ) from None

        return guarded

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (without the shadow URL, which may hold a password)."""
        return {
            "root": str(self.root),
            "kind": self.kind,
            "metadata": self.metadata_ref if self.kind == "alembic" else None,
            "prisma_schema": str(self.prisma_schema) if self.prisma_schema else None,
            "migrations": str(self.migrations_dir),
            "exclude_tables": sorted(self.exclude_tables - ALWAYS_EXCLUDED),
            "exclude_prefixes": list(self.exclude_prefixes),
            "endpoints": list(self.endpoints),
            "ready_path": self.ready_path,
            "checks": str(self.checks_file) if self.checks_file else None,
        }


def load_project(folder: Path | str, *, migrations_dir: Path | None = None) -> Project:
    """Read ``[tool.lumiku-ops]`` from ``folder/pyproject.toml`` into a Project.

    Args:
        folder: the project's root folder.
        migrations_dir: overrides the ini file's ``script_location`` (``--migrations``).

    Raises:
        ConfigError: the file, the table or a key is missing or malformed; the message
            names the file and the key and shows the lines to add.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"project folder {root} does not exist; pass --project DIR")
    pyproject, table = read_table(root)
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise config_error(pyproject, unknown[0], f"unknown key (known: {', '.join(sorted(KEYS))})")
    kind = optional_string(pyproject, table, "kind") or "alembic"
    if kind not in KINDS:
        raise config_error(pyproject, "kind", f"'{kind}' is not one of {', '.join(KINDS)}")
    common = common_keys(pyproject, table)
    if kind == "prisma":
        return _prisma_project(root, pyproject, table, common, migrations_dir)
    for key in PRISMA_ONLY:
        if key in table:
            raise config_error(pyproject, key, 'only for Prisma projects (kind = "prisma")')
    reference = table.get("metadata")
    if not isinstance(reference, str) or not reference:
        raise config_error(pyproject, "metadata", "missing; it names the models' MetaData")
    ini_name = optional_string(pyproject, table, "alembic_ini") or "alembic.ini"
    ini = (root / ini_name).resolve()
    sys_path = tuple(
        (root / entry).resolve() for entry in string_list(pyproject, table, "sys_path")
    )
    for entry in reversed(sys_path):
        prepend_to_sys_path(entry)
    configured = optional_string(pyproject, table, "migrations")
    if migrations_dir is not None:
        migrations = Path(migrations_dir).expanduser().resolve()
    elif configured is not None:
        migrations = resolve_location(configured, root, f"{pyproject}: [{TABLE}] migrations")
    else:
        if not ini.is_file():
            raise config_error(
                pyproject, "alembic_ini", f"{ini} not found (or pass --migrations DIR)"
            )
        migrations = script_location(ini)
    return Project(
        root=root,
        metadata_ref=reference,
        alembic_ini=ini if ini.is_file() else None,
        migrations_dir=migrations,
        **common,
        version_locations=string_list(pyproject, table, "version_locations"),
        sys_path=sys_path,
        x_arguments=x_arguments_of(pyproject, table),
        include_object_ref=hook_reference(pyproject, table, "include_object"),
        include_name_ref=hook_reference(pyproject, table, "include_name"),
        baseline_ref=hook_reference(pyproject, table, "baseline"),
        compare_server_default=optional_bool(pyproject, table, "compare_server_default", False),
        compare_type=optional_bool(pyproject, table, "compare_type", True),
    )


def _prisma_project(
    root: Path,
    config: Path,
    table: dict[str, Any],
    common: dict[str, Any],
    migrations_dir: Path | None,
) -> Project:
    for key in ALEMBIC_ONLY:
        if key in table:
            raise config_error(config, key, "only for Alembic projects; a Prisma project has none")
    schema = root / (optional_string(config, table, "prisma_schema") or "prisma/schema.prisma")
    if not schema.exists():
        raise config_error(
            config, "prisma_schema", f"{schema} not found (a .prisma file or folder)"
        )
    if migrations_dir is not None:
        migrations = Path(migrations_dir).expanduser().resolve()
    else:
        folder = optional_string(config, table, "prisma_migrations") or "prisma/migrations"
        migrations = (root / folder).resolve()
    if not migrations.is_dir():
        raise config_error(config, "prisma_migrations", f"{migrations} is not a folder")
    common["exclude_tables"] = common["exclude_tables"] | {"_prisma_migrations"}
    return Project(
        root=root,
        metadata_ref="",
        alembic_ini=None,
        migrations_dir=migrations,
        kind="prisma",
        prisma_schema=schema.resolve(),
        **common,
    )
