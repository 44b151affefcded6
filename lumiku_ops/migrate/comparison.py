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

from lumiku_ops.errors import LumikuOpsError, ShadowReplayError
from lumiku_ops.migrate import runner
from lumiku_ops.migrate.differences import Difference, to_differences
from lumiku_ops.migrate.revisions import list_revisions
from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.project import Project

_memory: dict[str, list[dict[str, Any]]] = {}


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


def _key(project: Project, metadata: MetaData) -> str:
    from lumiku_ops.migrate.shadow import history_keys, models_fingerprint

    history = history_keys(project, list_revisions(script_directory(project)))
    digest = hashlib.sha256()
    for part in (
        history[-1] if history else "",
        models_fingerprint(metadata, []),
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
    return f"head-diff-{digest.hexdigest()}"


def _remember(project: Project, key: str, found: list[Difference], cache_dir: Path | None) -> None:
    _memory[key] = [d.to_dict() for d in found]
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        (cache_dir / f"{key}.json").write_text(json.dumps(_memory[key]))
    except OSError:
        pass  # the cache only saves time


def _compare_at_head(
    project: Project, connection: Connection, metadata: MetaData
) -> list[Difference]:
    try:
        with connection.begin():
            return compare_models(connection, project, metadata)
    except LumikuOpsError:
        raise
    except Exception as exc:  # user-written hook code
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ShadowReplayError(
            f"comparing the models with the revisions' head failed: {type(exc).__name__}: {first}"
        ) from None


def remember_head_differences(
    project: Project, connection: Connection, cache_dir: Path | None = None
) -> None:
    """Compare the models with ``connection``'s database, which a replay has just taken to
    the head, and keep the result for ``compare_models_with_head`` (no second replay)."""
    metadata = project.metadata()
    key = _key(project, metadata)
    if key not in _memory:
        _remember(project, key, _compare_at_head(project, connection, metadata), cache_dir)


def compare_models_with_head(
    project: Project, *, shadow_url: str | None = None, cache_dir: Path | None = None
) -> list[Difference]:
    """Alembic's differences between the models and a shadow database at the head.

    ``add_*``/``modify_*`` are what no revision creates; ``remove_*`` are "only in the
    revisions". Cached by the revision files, the models' DDL and the comparison settings.

    Raises:
        ShadowReplayError: the revisions cannot be replayed on the shadow server.
    """
    from lumiku_ops.db.scratch import shadow_database

    metadata = project.metadata()
    key = _key(project, metadata)
    path = cache_dir / f"{key}.json" if cache_dir else None
    if key not in _memory and path is not None:
        try:
            _memory[key] = json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    if key not in _memory:
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
            found = _compare_at_head(project, connection, metadata)
        _remember(project, key, found, cache_dir)
    return [Difference.from_dict(data) for data in _memory[key]]
