"""The project's own code, imported and run with care: its folders first on ``sys.path``, its
output kept off stdout, any way out of it turned into a ``ConfigError``; and the folders
Alembic names as ``package:path``, found the way Alembic finds them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumiku_ops.errors import ConfigError
from lumiku_ops.project_config import TABLE, config_error

if TYPE_CHECKING:
    from sqlalchemy import MetaData


def prepend_to_sys_path(folder: Path) -> None:
    """Put the project folder first on ``sys.path``, once."""
    entry = str(folder)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)


# What each imported MetaData's tables held at its first import (Project.metadata_as_imported).
_as_imported: dict[int, dict[str, frozenset[Any]]] = {}


def _snapshot(metadata: MetaData) -> dict[str, frozenset[Any]]:
    return {
        key: frozenset([*table.constraints, *table.indexes])
        for key, table in metadata.tables.items()
    }


@cache
def import_metadata(root: Path, reference: str) -> MetaData:
    """The models' ``MetaData`` that ``reference`` names, imported once per project."""
    from sqlalchemy import MetaData

    target = import_attribute(root, reference, "metadata")
    if not isinstance(target, MetaData):
        raise config_error(
            root / "pyproject.toml",
            "metadata",
            f"'{reference}' is a {type(target).__name__}, not a SQLAlchemy MetaData",
        )
    _as_imported.setdefault(id(target), _snapshot(target))
    return target


def as_imported(metadata: MetaData) -> dict[str, frozenset[Any]]:
    """Each table's constraints and indexes as ``metadata`` held them when first imported
    (as now, for a MetaData that ``import_metadata`` did not import)."""
    return _as_imported.get(id(metadata)) or _snapshot(metadata)


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
        raise config_error(pyproject, key, f"'{reference}' is not 'package.module:attribute'")
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
            raise config_error(pyproject, key, f"'{module_name}' has no attribute '{attribute}'")
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
