"""Alembic's comparison of the models with a database, configured as the project asks.

Every comparison (a shadow database at the revisions' head, or the target) runs
``alembic.autogenerate.compare_metadata`` with the project's ``include_object`` and
``include_name`` hooks (after its exclusions), ``compare_type`` and
``compare_server_default``, the options ``migrate create``'s autogenerate gets too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, MetaData

from lumiku_ops.db.fingerprint import agree, table_digests
from lumiku_ops.errors import LumikuOpsError, ShadowReplayError
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.differences import Difference, kept_differences, to_differences
from lumiku_ops.migrate.revisions import list_revisions
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.project import Project

_memory: dict[str, dict[str, Any]] = {}


def comparison_hooks(
    project: Project,
) -> tuple[Callable[..., bool], Callable[..., bool] | None]:
    """``include_object`` (the project's exclusions, then its own hook) and ``include_name``."""
    own = project.hook("include_object")

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if not project.include_object(obj, name, type_, reflected, compare_to):
            return False
        return own is None or bool(own(obj, name, type_, reflected, compare_to))

    return include_object, project.hook("include_name")


def comparison_options(project: Project, tables: Collection[str] | None = None) -> dict[str, Any]:
    """The ``context.configure()`` options of every comparison and of autogenerate.

    ``tables`` limits the comparison to those tables (and spares reflecting the others:
    a target shared with thousands of unrelated tables costs what the models cost).
    """
    include_object, include_name = comparison_hooks(project)
    if tables is not None:
        own_name = include_name

        def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
            if type_ == "table" and name not in tables:
                return False
            return own_name is None or bool(own_name(name, type_, parent_names))

    options: dict[str, Any] = {
        "include_object": include_object,
        "compare_type": project.compare_type,
        "compare_server_default": project.compare_server_default,
    }
    if include_name is not None:
        options["include_name"] = include_name
    return options


def compare_models(
    connection: Connection,
    project: Project,
    metadata: MetaData | None = None,
    *,
    tables: Collection[str] | None = None,
) -> list[Difference]:
    """Alembic's differences between the project's models and the database on
    ``connection`` (read only: Alembic reflects, it writes nothing); with ``tables``,
    only those tables of the database are looked at."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    target = project.metadata() if metadata is None else metadata
    options = comparison_options(project, tables)
    context = MigrationContext.configure(connection, opts={"target_metadata": target, **options})
    return to_differences(compare_metadata(context, target))


def _options_digest(project: Project, metadata: MetaData) -> hashlib._Hash:
    """What a comparison's result depends on besides the database: the models' DDL, the
    exclusions, the hooks (names and source) and the switches."""
    from lumiku_ops.db.models_ddl import pristine
    from lumiku_ops.migrate.models_catalog import models_fingerprint

    # What the models' module declared: a process that loads the revisions again (a test
    # run, a kernel) may have them attach their objects to the shared tables once more.
    with pristine(metadata, project.metadata_as_imported()) as tables:
        models = models_fingerprint(metadata, [], tables)
    digest = hashlib.sha256()
    for part in (
        models,
        repr(sorted(project.exclude_tables)),
        repr(project.exclude_prefixes),
        repr((project.include_object_ref, project.include_name_ref)),
        repr((project.compare_type, project.compare_server_default)),
    ):
        digest.update(part.encode())
    for key in ("include_object", "include_name"):
        hook = project.hook(key)  # an edited hook must not be answered from the cache
        source = getattr(sys.modules.get(getattr(hook, "__module__", "")), "__file__", None)
        if source:
            with contextlib.suppress(OSError):
                digest.update(Path(source).read_bytes())
    return digest


def _key(project: Project, metadata: MetaData, history_key: str | None = None) -> str:
    """The head comparison of this history (``history_key``: its last key, as
    ``shadow.history_keys`` gives it), these models and these options."""
    from lumiku_ops.migrate.listing import history_keys

    if history_key is None:
        history = history_keys(project, list_revisions(script_directory(project)))
        history_key = history[-1] if history else ""
    digest = _options_digest(project, metadata)
    digest.update(history_key.encode())
    return f"head-diff-{digest.hexdigest()}"


def _schema_key(project: Project, metadata: MetaData, tables: dict[str, str]) -> str:
    """The comparison of a database whose tables are ``tables`` (``table_digests``), under
    these models and options: a history that grew by revisions that changed no table
    reaches a head it has already compared."""
    digest = _options_digest(project, metadata)
    digest.update(json.dumps(sorted(tables.items())).encode())
    return f"schema-diff-{digest.hexdigest()}"


def _recall(key: str, cache_dir: Path | None) -> dict[str, Any] | None:
    if key not in _memory and cache_dir is not None:
        try:
            loaded = json.loads((cache_dir / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        if isinstance(loaded, dict) and kept_differences(loaded.get("differences")) is not None:
            _memory[key] = loaded
    return _memory.get(key)


def _remember(
    key: str, found: list[Difference], tables: dict[str, str] | None, cache_dir: Path | None
) -> None:
    _memory[key] = {"differences": [d.to_dict() for d in found], "tables": tables}
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / f"{key}.json").write_text(json.dumps(_memory[key]))
    except OSError:
        pass  # the cache only saves time


def _compare_at_head(
    project: Project, connection: Connection, metadata: MetaData, cache_dir: Path | None
) -> tuple[list[Difference], dict[str, str]]:
    try:
        with connection.begin():
            tables = table_digests(connection)
            known = _recall(_schema_key(project, metadata, tables), cache_dir)
            if known is not None:  # the same tables as a head compared before
                return [Difference.from_dict(d) for d in known["differences"]], tables
            found = compare_models(connection, project, metadata)
    except LumikuOpsError:
        raise
    except Exception as exc:  # user-written hook code
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ShadowReplayError(
            f"comparing the models with the revisions' head failed: {type(exc).__name__}: {first}"
        ) from None
    _remember(_schema_key(project, metadata, tables), found, tables, cache_dir)
    return found, tables


def remember_head_differences(
    project: Project,
    connection: Connection,
    cache_dir: Path | None = None,
    history_key: str | None = None,
) -> None:
    """Compare the models with ``connection``'s database, which a replay has just taken to
    the head, and keep the result for ``compare_models_with_head`` (no second replay)."""
    metadata = project.metadata()
    key = _key(project, metadata, history_key)
    if _recall(key, cache_dir) is None:
        _remember(key, *_compare_at_head(project, connection, metadata, cache_dir), cache_dir)


def compare_models_with_head(
    project: Project, *, shadow_url: str | None = None, cache_dir: Path | None = None
) -> list[Difference]:
    """Alembic's differences between the models and a shadow database at the head.

    ``add_*``/``modify_*`` are what no revision creates; ``remove_*`` are "only in the
    revisions". Cached by the revision files, the models' DDL and the comparison settings.

    Raises:
        ShadowReplayError: the revisions cannot be replayed on the shadow server.
    """
    entry = head_comparison(project, shadow_url=shadow_url, cache_dir=cache_dir)
    return [Difference.from_dict(d) for d in entry["differences"]]


def head_comparison(
    project: Project,
    *,
    shadow_url: str | None = None,
    cache_dir: Path | None = None,
    history_key: str | None = None,
) -> dict[str, Any]:
    """The head comparison as kept: ``differences`` (``Difference.to_dict()`` each) and
    ``tables``, the shadow database's ``table_digests`` at the head (``None`` in an entry
    an older lumiku-ops wrote). Replays the history on a shadow database when not kept.

    Raises:
        ShadowReplayError: the revisions cannot be replayed on the shadow server.
    """
    from lumiku_ops.db.scratch import shadow_database

    metadata = project.metadata()
    key = _key(project, metadata, history_key)
    known = _recall(key, cache_dir)
    if known is not None:
        return known
    with shadow_database(shadow_url) as connection:
        try:
            # Alembic begins and commits, around autocommit_block() revisions too.
            runner.upgrade(project, connection, "heads")
        except LumikuOpsError:
            raise
        except Exception as exc:  # user-written revision code
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ShadowReplayError(
                "comparing the models with the revisions' head failed: "
                f"{type(exc).__name__}: {first}"
            ) from None
        found, tables = _compare_at_head(project, connection, metadata, cache_dir)
    _remember(key, found, tables, cache_dir)
    return _memory[key]


def compare_target_with_head(
    connection: Connection,
    project: Project,
    tables: Collection[str],
    head: dict[str, Any],
) -> list[Difference]:
    """Alembic's differences between the models and the target's ``tables``, given the
    ``head_comparison`` of the same models and options.

    When the target's ``tables`` are exactly those of the shadow database at the head (the
    healthy case), the head's comparison is the answer and Alembic's reflection of the
    target is spared (``lumiku_ops.db.fingerprint`` says why that is the same result).
    """
    at_head = head.get("tables")
    if isinstance(at_head, dict) and agree(table_digests(connection, tables), at_head, tables):
        return [Difference.from_dict(d) for d in head["differences"]]
    return compare_models(connection, project, tables=tables)
