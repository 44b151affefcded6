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

``load_project`` is the only reader of that table. It puts the project folder first on
``sys.path`` (as Alembic's ``prepend_sys_path = .``), so the models import as the service
itself imports them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumiku_ops.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Connection, MetaData

TABLE = "tool.lumiku-ops"
# Alembic's bookkeeping and the apply audit trail are never models, whatever the project says.
ALWAYS_EXCLUDED = frozenset({"alembic_version", "lumiku_ops_audit"})
_EXAMPLE = (
    "[tool.lumiku-ops]\n"
    'metadata = "app.models:Base.metadata"\n'
    'alembic_ini = "alembic.ini"\n'
    'endpoints = ["/api/items"]'
)
# The file a project without Python describes itself in (the same keys, at the top level).
STANDALONE = "lumiku-ops.toml"
_KINDS = ("alembic", "prisma")
# Keys that only mean something for one kind of project.
_ALEMBIC_ONLY = (
    "metadata",
    "alembic_ini",
    "migrations",
    "version_locations",
    "x_arguments",
    "include_object",
    "include_name",
    "baseline",
    "compare_server_default",
    "compare_type",
)
_PRISMA_ONLY = ("prisma_schema", "prisma_migrations")
_KEYS = {
    "kind",
    "prisma_schema",
    "prisma_migrations",
    "metadata",
    "alembic_ini",
    "exclude_tables",
    "exclude_prefixes",
    "endpoints",
    "ready_path",
    "shadow_url",
    "checks",
    "migrations",
    "version_locations",
    "sys_path",
    "x_arguments",
    "include_object",
    "include_name",
    "baseline",
    "compare_server_default",
    "compare_type",
}


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
        return _import_metadata(self.root, self.metadata_ref)

    def metadata_as_imported(self) -> dict[str, frozenset[Any]]:
        """Each model table's constraints and indexes as the models' module declared them.

        Taken when the ``MetaData`` is first imported, before any revision module runs: a
        revision may attach objects to the shared tables at import (a ``CheckConstraint``
        built from a model's columns attaches itself to that table), and the replay imports
        every revision. Keyed by ``Table.key``.
        """
        metadata = self.metadata()
        return _as_imported.get(id(metadata)) or _snapshot(metadata)

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
            raise _error(self.pyproject, key, f"'{reference}' is not a function")

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
            raise _error(self.pyproject, "baseline", f"'{reference}' is not a function")

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


def prepend_to_sys_path(folder: Path) -> None:
    """Put the project folder first on ``sys.path``, once."""
    entry = str(folder)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)


def _error(pyproject: Path, key: str, problem: str) -> ConfigError:
    if pyproject.name == STANDALONE:
        return ConfigError(f"{pyproject}: {key}: {problem}")
    return ConfigError(
        f"{pyproject}: [{TABLE}] {key}: {problem}; add the table, for example:\n{_EXAMPLE}"
    )


# What each imported MetaData's tables held at its first import (Project.metadata_as_imported).
_as_imported: dict[int, dict[str, frozenset[Any]]] = {}


def _snapshot(metadata: MetaData) -> dict[str, frozenset[Any]]:
    return {
        key: frozenset([*table.constraints, *table.indexes])
        for key, table in metadata.tables.items()
    }


@cache
def _import_metadata(root: Path, reference: str) -> MetaData:
    from sqlalchemy import MetaData

    target = import_attribute(root, reference, "metadata")
    if not isinstance(target, MetaData):
        raise _error(
            root / "pyproject.toml",
            "metadata",
            f"'{reference}' is a {type(target).__name__}, not a SQLAlchemy MetaData",
        )
    _as_imported.setdefault(id(target), _snapshot(target))
    return target


@contextmanager
def project_code() -> Iterator[None]:
    """Run the project's own code with its ``print`` output sent to stderr.

    A models module, a hook or a revision may print or configure logging on stdout; stdout
    belongs to lumiku-ops's results (``--json`` is one JSON document). Handlers the code
    creates meanwhile (``logging.basicConfig(stream=sys.stdout)``) keep pointing at stderr.
    """
    with redirect_stdout(sys.stderr):
        yield


@cache
def import_attribute(root: Path, reference: str, key: str) -> Any:
    """The object ``module:attr.path`` names, imported with the project's folders first.

    This is the one place where the project's own code is imported. Whatever the module
    does at import (prints, ``sys.exit(0)``, an ``argparse`` of its own, Ctrl-C) is
    contained: its output goes to stderr and any way out becomes a ``ConfigError``.

    Raises:
        ConfigError: the reference is malformed, the module does not import, or the
            attribute is missing; the message names ``key`` in ``[tool.lumiku-ops]``.
    """
    pyproject = root / "pyproject.toml"
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise _error(pyproject, key, f"'{reference}' is not 'package.module:attribute'")
    prepend_to_sys_path(root)
    try:
        with project_code():
            target: Any = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001  (the user's module may exit or be interrupted)
        raise ConfigError(
            f"{pyproject}: [{TABLE}] {key}: importing '{module_name}' from {root} "
            f"failed: {describe_exit(exc)}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise _error(pyproject, key, f"'{module_name}' has no attribute '{attribute}'")
        target = getattr(target, part)
    return target


def describe_exit(exc: BaseException) -> str:
    """One line for whatever stopped the project's code: an error, an exit or Ctrl-C."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}) while being imported"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _strings(pyproject: Path, table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(pyproject, key, "must be a list of strings")
    if any("\0" in v for v in value):
        raise _error(pyproject, key, "holds a NUL character")
    return tuple(value)


def _optional_bool(pyproject: Path, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _error(pyproject, key, "must be true or false")
    return value


def _x_arguments(pyproject: Path, table: dict[str, Any]) -> tuple[str, ...]:
    """``-x`` arguments: a list of ``"key=value"`` strings, or a table of strings."""
    value = table.get("x_arguments", [])
    if isinstance(value, dict):
        if not all(isinstance(v, str) for v in value.values()):
            raise _error(pyproject, "x_arguments", "a table's values must be strings")
        return tuple(f"{k}={v}" for k, v in value.items())
    return _strings(pyproject, table, "x_arguments")


def _hook_reference(pyproject: Path, table: dict[str, Any], key: str) -> str | None:
    reference = _optional_string(pyproject, table, key)
    if reference is not None:
        module_name, _, attribute = reference.partition(":")
        if not module_name or not attribute:
            raise _error(pyproject, key, f"'{reference}' is not 'package.module:function'")
    return reference


def _optional_string(pyproject: Path, table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise _error(pyproject, key, "must be a string")
    if value is not None and "\0" in value:
        raise _error(pyproject, key, "holds a NUL character")
    return value or None


def script_location(ini: Path) -> Path:
    """The migrations folder an ``alembic.ini`` names, resolved like Alembic does.

    ``%(here)s`` is the ini file's folder; a relative path is taken from that folder too
    (not from the current directory); ``package:path`` names a folder inside a package.
    """
    from configparser import ConfigParser, Error

    parser = ConfigParser(defaults={"here": str(ini.parent)})
    try:
        parser.read(ini, encoding="utf-8")
        location = parser.get("alembic", "script_location", fallback=None)
    except Error as exc:
        raise ConfigError(f"{ini}: cannot be read as an ini file: {exc}") from None
    if not location:
        raise ConfigError(
            f"{ini}: [alembic] script_location is missing; add, for example:\n"
            "[alembic]\nscript_location = %(here)s/migrations"
        )
    return resolve_location(location.strip(), ini.parent, f"{ini}: script_location")


def resolve_location(location: str, base: Path, where: str) -> Path:
    """A folder named as Alembic names one: a path (relative to ``base``) or ``package:path``.

    Raises:
        ConfigError: ``package:path`` names no importable package.
    """
    if ":" in location and not _looks_like_path(location):
        # As Alembic's coerce_resource_to_filename: "pkg:sub:dir" is pkg's folder sub/dir.
        package, *parts = location.split(":")
        prepend_to_sys_path(base)
        try:
            with project_code():
                spec = importlib.util.find_spec(package)
        except BaseException:  # noqa: BLE001  (the package's __init__ is the project's code)
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"{where} '{location}' names no importable package")
        return Path(list(spec.submodule_search_locations)[0]).joinpath(*parts).resolve()
    path = Path(location).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _looks_like_path(location: str) -> bool:
    # "C:\\x" and "./a:b" are paths; "pkg:dir" and "pkg.sub:a:b" are package resources.
    package = location.split(":", 1)[0]
    return Path(location).is_absolute() or len(package) < 2 or "/" in package or "\\" in package


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
    pyproject, table = _read_table(root)
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise _error(pyproject, unknown[0], f"unknown key (known: {', '.join(sorted(_KEYS))})")
    kind = _optional_string(pyproject, table, "kind") or "alembic"
    if kind not in _KINDS:
        raise _error(pyproject, "kind", f"'{kind}' is not one of {', '.join(_KINDS)}")
    common = _common_keys(pyproject, table)
    if kind == "prisma":
        return _prisma_project(root, pyproject, table, common, migrations_dir)
    for key in _PRISMA_ONLY:
        if key in table:
            raise _error(pyproject, key, 'only for Prisma projects (kind = "prisma")')
    reference = table.get("metadata")
    if not isinstance(reference, str) or not reference:
        raise _error(pyproject, "metadata", "missing; it names the models' MetaData")
    ini_name = _optional_string(pyproject, table, "alembic_ini") or "alembic.ini"
    ini = (root / ini_name).resolve()
    sys_path = tuple((root / entry).resolve() for entry in _strings(pyproject, table, "sys_path"))
    for entry in reversed(sys_path):
        prepend_to_sys_path(entry)
    configured = _optional_string(pyproject, table, "migrations")
    if migrations_dir is not None:
        migrations = Path(migrations_dir).expanduser().resolve()
    elif configured is not None:
        migrations = resolve_location(configured, root, f"{pyproject}: [{TABLE}] migrations")
    else:
        if not ini.is_file():
            raise _error(pyproject, "alembic_ini", f"{ini} not found (or pass --migrations DIR)")
        migrations = script_location(ini)
    return Project(
        root=root,
        metadata_ref=reference,
        alembic_ini=ini if ini.is_file() else None,
        migrations_dir=migrations,
        **common,
        version_locations=_strings(pyproject, table, "version_locations"),
        sys_path=sys_path,
        x_arguments=_x_arguments(pyproject, table),
        include_object_ref=_hook_reference(pyproject, table, "include_object"),
        include_name_ref=_hook_reference(pyproject, table, "include_name"),
        baseline_ref=_hook_reference(pyproject, table, "baseline"),
        compare_server_default=_optional_bool(pyproject, table, "compare_server_default", False),
        compare_type=_optional_bool(pyproject, table, "compare_type", True),
    )


def _read_table(root: Path) -> tuple[Path, dict[str, Any]]:
    """The project's keys: ``[tool.lumiku-ops]`` in ``pyproject.toml``, else the top level
    of ``lumiku-ops.toml`` (a project with no Python)."""
    pyproject = root / "pyproject.toml"
    standalone = root / STANDALONE
    data: dict[str, Any] = {}
    if pyproject.is_file():
        data = _toml(pyproject)
        table = data.get("tool", {}).get("lumiku-ops")
        if isinstance(table, dict):
            return pyproject, table
    if standalone.is_file():
        return standalone, _toml(standalone)
    if not pyproject.is_file():
        raise ConfigError(
            f"{pyproject} not found: run from the project's folder or pass --project DIR, "
            f"and describe the project in it:\n{_EXAMPLE}\n"
            f'(a Prisma project may instead hold a {STANDALONE} with kind = "prisma")'
        )
    raise ConfigError(f"{pyproject} has no [{TABLE}] table; add one:\n{_EXAMPLE}")


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as TOML: {exc}") from None


def _common_keys(pyproject: Path, table: dict[str, Any]) -> dict[str, Any]:
    """The keys every kind of project shares, checked."""
    root = pyproject.parent
    endpoints = _strings(pyproject, table, "endpoints")
    for path in endpoints:
        if not path.startswith("/"):
            raise _error(pyproject, "endpoints", f"'{path}' is not a path starting with '/'")
    ready_path = _optional_string(pyproject, table, "ready_path")
    if ready_path is not None and not ready_path.startswith("/"):
        raise _error(pyproject, "ready_path", f"'{ready_path}' is not a path starting with '/'")
    checks = _optional_string(pyproject, table, "checks")
    return {
        "config_file": pyproject,
        "checks_file": (root / checks).resolve() if checks else None,
        "exclude_tables": ALWAYS_EXCLUDED | set(_strings(pyproject, table, "exclude_tables")),
        "exclude_prefixes": _strings(pyproject, table, "exclude_prefixes"),
        "endpoints": endpoints,
        "ready_path": ready_path,
        "shadow_url": _optional_string(pyproject, table, "shadow_url"),
    }


def _prisma_project(
    root: Path,
    config: Path,
    table: dict[str, Any],
    common: dict[str, Any],
    migrations_dir: Path | None,
) -> Project:
    for key in _ALEMBIC_ONLY:
        if key in table:
            raise _error(config, key, "only for Alembic projects; a Prisma project has none")
    schema = root / (_optional_string(config, table, "prisma_schema") or "prisma/schema.prisma")
    if not schema.exists():
        raise _error(config, "prisma_schema", f"{schema} not found (a .prisma file or folder)")
    if migrations_dir is not None:
        migrations = Path(migrations_dir).expanduser().resolve()
    else:
        folder = _optional_string(config, table, "prisma_migrations") or "prisma/migrations"
        migrations = (root / folder).resolve()
    if not migrations.is_dir():
        raise _error(config, "prisma_migrations", f"{migrations} is not a folder")
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
