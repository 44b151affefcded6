"""The history seam: one object per command describing a project's migrations.

Every command needs the same facts: the revisions in order, what each creates (learned by
replaying them on a shadow database), what the models define, what differs between the
models and the history's head, and what a database records. ``history_for`` answers them
once per command, behind one shape (``History``) with one implementation per migration
tool: Alembic (``alembic.AlembicHistory``) and Prisma (``prisma.PrismaHistory``).
"""

from __future__ import annotations

from pathlib import Path

from lumiku_ops.history.base import History, Recorded
from lumiku_ops.settings import Settings

__all__ = ["History", "Recorded", "forget", "history_for"]

# One History per Settings object (one per command): the replay, the models' catalog and
# the head comparison are computed once however many steps ask for them. A new or edited
# migration file (``migrate create`` in the same process) makes a new one.
_histories: dict[tuple[int, Path | None, tuple[tuple[str, int, int], ...]], History] = {}
_KEEP = 4
_SUFFIXES = (".py", ".sql", ".prisma")


def _signature(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for folder in folders:
        paths = folder.rglob("*") if folder.is_dir() else [folder]
        for path in paths:
            if path.suffix in _SUFFIXES and path.is_file():
                stat = path.stat()
                entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


def history_for(settings: Settings, *, cache_dir: Path | None = None) -> History:
    """The history of ``settings.project``, made once per settings object.

    Raises:
        ConfigError: the project is not described, or its migrations cannot be read.
    """
    project = settings.project
    folders = [project.migrations_dir]
    if project.prisma_schema is not None:
        folders.append(project.prisma_schema)
    else:
        from lumiku_ops.migrate.scripts import version_locations

        folders += version_locations(project)
    key = (id(settings), cache_dir, _signature(folders))
    found = _histories.get(key)
    if found is not None and found.settings is settings:
        return found
    if project.kind == "prisma":
        from lumiku_ops.history.prisma import PrismaHistory

        history: History = PrismaHistory(settings, cache_dir=cache_dir)
    else:
        from lumiku_ops.history.alembic import AlembicHistory

        history = AlembicHistory(settings, cache_dir=cache_dir)
    _histories[key] = history
    while len(_histories) > _KEEP:
        del _histories[next(iter(_histories))]
    return history


def forget() -> None:
    """Drop every in-memory cache of histories, as a new process starts: the History
    objects, Alembic's loaded revisions, the replay and comparison caches and the models'
    compiled DDL (what the cache folder holds stays). The models' import stays too: a
    module imported once is not imported again by a process either.
    """
    from lumiku_ops.history import prisma
    from lumiku_ops.migrate import comparison, listing, models_catalog, revisions, scripts, shadow

    _histories.clear()
    scripts._histories.clear()
    revisions._listed.clear()
    listing._memory.clear()
    shadow._memory.clear()
    models_catalog._memory.clear()
    models_catalog._ddl.clear()
    comparison._memory.clear()
    prisma._memory.clear()
