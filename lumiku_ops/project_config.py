"""Reading a project's settings: the ``[tool.lumiku-ops]`` table of ``pyproject.toml`` (or
the top level of ``lumiku-ops.toml``), each key checked, every error naming the file and key.

The keys are described in :mod:`lumiku_ops.project`; ``load_project`` there is the one
caller of these helpers.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from lumiku_ops.errors import ConfigError

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
KINDS = ("alembic", "prisma")
# Keys that only mean something for one kind of project.
ALEMBIC_ONLY = (
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
PRISMA_ONLY = ("prisma_schema", "prisma_migrations")
KEYS = {
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


def config_error(pyproject: Path, key: str, problem: str) -> ConfigError:
    """The error for a bad ``key``: the file and key named, and the table to add."""
    if pyproject.name == STANDALONE:
        return ConfigError(f"{pyproject}: {key}: {problem}")
    return ConfigError(
        f"{pyproject}: [{TABLE}] {key}: {problem}; add the table, for example:\n{_EXAMPLE}"
    )


def read_table(root: Path) -> tuple[Path, dict[str, Any]]:
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


def common_keys(pyproject: Path, table: dict[str, Any]) -> dict[str, Any]:
    """The keys every kind of project shares, checked."""
    root = pyproject.parent
    endpoints = string_list(pyproject, table, "endpoints")
    for path in endpoints:
        if not path.startswith("/"):
            raise config_error(pyproject, "endpoints", f"'{path}' is not a path starting with '/'")
    ready_path = optional_string(pyproject, table, "ready_path")
    if ready_path is not None and not ready_path.startswith("/"):
        raise config_error(
            pyproject, "ready_path", f"'{ready_path}' is not a path starting with '/'"
        )
    checks = optional_string(pyproject, table, "checks")
    return {
        "config_file": pyproject,
        "checks_file": (root / checks).resolve() if checks else None,
        "exclude_tables": ALWAYS_EXCLUDED | set(string_list(pyproject, table, "exclude_tables")),
        "exclude_prefixes": string_list(pyproject, table, "exclude_prefixes"),
        "endpoints": endpoints,
        "ready_path": ready_path,
        "shadow_url": optional_string(pyproject, table, "shadow_url"),
    }


def string_list(pyproject: Path, table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise config_error(pyproject, key, "must be a list of strings")
    if any("\0" in v for v in value):
        raise config_error(pyproject, key, "holds a NUL character")
    return tuple(value)


def optional_bool(pyproject: Path, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise config_error(pyproject, key, "must be true or false")
    return value


def x_arguments_of(pyproject: Path, table: dict[str, Any]) -> tuple[str, ...]:
    """``-x`` arguments: a list of ``"key=value"`` strings, or a table of strings."""
    value = table.get("x_arguments", [])
    if isinstance(value, dict):
        if not all(isinstance(v, str) for v in value.values()):
            raise config_error(pyproject, "x_arguments", "a table's values must be strings")
        return tuple(f"{k}={v}" for k, v in value.items())
    return string_list(pyproject, table, "x_arguments")


def hook_reference(pyproject: Path, table: dict[str, Any], key: str) -> str | None:
    reference = optional_string(pyproject, table, key)
    if reference is not None:
        module_name, _, attribute = reference.partition(":")
        if not module_name or not attribute:
            raise config_error(pyproject, key, f"'{reference}' is not 'package.module:function'")
    return reference


def optional_string(pyproject: Path, table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise config_error(pyproject, key, "must be a string")
    if value is not None and "\0" in value:
        raise config_error(pyproject, key, "holds a NUL character")
    return value or None
