"""The history as Alembic lists it (revisions in order, heads) and its cache keys, kept by
the content of the files Alembic reads, so a command on an unchanged history never loads
the revision modules again.

Loading a ``ScriptDirectory`` imports every revision file: tens of milliseconds on a real
history, paid by every command before it can say anything. What it answers is a function
of the files in the migration folders (and the configuration that chose them), so the
answer is kept under the SHA-256 of those files' names and bytes: the same bytes give the
same listing, and any change, even one byte, loads Alembic's view again.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lumiku_ops.migrate.cache_files import load, store
from lumiku_ops.migrate.revisions import RevisionInfo, list_revisions
from lumiku_ops.migrate.scripts import script_directory, version_locations
from lumiku_ops.project import Project

# Bumped when what a cached point holds changes, so old entries are never misread.
CACHE_FORMAT = 3
# The listing's own format.
_LISTING_FORMAT = 1
_memory: dict[str, Listing] = {}


@dataclass(frozen=True)
class Listing:
    """The revisions oldest first, the heads, and each revision's ``history_keys`` key."""

    revisions: list[RevisionInfo]
    heads: list[str]
    keys: list[str]

    def to_json(self) -> dict[str, Any]:
        """Cache form."""
        return {
            "format": _LISTING_FORMAT,
            "revisions": [
                [info.revision, info.down_revision, info.message, str(info.path)]
                for info in self.revisions
            ],
            "heads": self.heads,
            "keys": self.keys,
        }

    @classmethod
    def from_json(cls, data: Any) -> Listing | None:
        """The listing a cache file holds, or ``None`` for anything else."""
        try:
            if data["format"] != _LISTING_FORMAT:
                return None
            revisions = [RevisionInfo(r, d, m, Path(p)) for r, d, m, p in data["revisions"]]
            heads, keys = list(data["heads"]), list(data["keys"])
        except (KeyError, TypeError, ValueError):
            return None
        if len(keys) != len(revisions) or not all(isinstance(k, str) for k in keys):
            return None
        return cls(revisions, heads, keys)


def _folders(project: Project) -> list[Path]:
    return [project.migrations_dir, *version_locations(project)]


def _config(project: Project) -> bytes:
    """What decides which tables are recorded, and how revisions run."""
    return repr(
        (
            sorted(project.exclude_tables),
            project.exclude_prefixes,
            project.x_arguments,
            project.baseline_ref,
        )
    ).encode()


def _start(project: Project, prefix: str) -> hashlib._Hash:
    """A digest of ``prefix``, what decides which tables are recorded and how revisions
    run, and the baseline's file: where both the listing's and the history's keys start."""
    digest = hashlib.sha256(prefix.encode())
    digest.update(_config(project))
    baseline = _baseline_file(project)
    if baseline is not None:
        digest.update(baseline.read_bytes())
    return digest


def _files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".tmp"
    )


def files_digest(project: Project) -> str:
    """SHA-256 of the migration folders (where they are, every file's name and bytes),
    the baseline's file and the configuration ``history_keys`` starts from."""
    digest = _start(project, f"listing{_LISTING_FORMAT}\0{CACHE_FORMAT}\0")
    for folder in _folders(project):
        digest.update(b"\0folder\0" + str(folder.resolve()).encode())
        for path in _files(folder):
            digest.update(b"\0" + str(path.relative_to(folder)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def history_listing(project: Project, cache_dir: Path) -> Listing:
    """The project's revisions, heads and keys; from the cache when the files are the same.

    Raises:
        ConfigError: the migrations cannot be loaded (as ``script_directory``).
    """
    folders = _folders(project)
    if not all(folder.is_dir() for folder in folders):
        script_directory(project)  # the one clear error about the folder
    key = f"listing-{files_digest(project)}"
    known = _memory.get(key)
    if known is None:
        known = Listing.from_json(load(cache_dir / f"{key}.json"))
    if known is None:
        scripts = script_directory(project)
        revisions = list_revisions(scripts)
        known = Listing(revisions, sorted(scripts.get_heads()), history_keys(project, revisions))
        store(cache_dir / f"{key}.json", known.to_json())
    _memory[key] = known
    return Listing(list(known.revisions), list(known.heads), list(known.keys))


def history_keys(project: Project, revisions: list[RevisionInfo]) -> list[str]:
    """One key per revision: the SHA-256 of the history up to and including it.

    ``key[n] = sha256(key[n-1], revision n's id, parent and file)``, starting from the
    files every revision shares (``env.py``, the template, SQL files revisions read) and
    what decides which tables are recorded. Adding a revision keeps every earlier key, so
    only the new one misses the cache; editing a revision changes its key and every later.
    """
    own = {info.path.resolve() for info in revisions}
    shared = _start(project, f"{CACHE_FORMAT}\0")
    for folder in _folders(project):
        for path in _files(folder):
            if path.suffix == ".pyc" or path.resolve() in own:
                continue
            shared.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    key, keys = shared.hexdigest(), []
    for info in revisions:
        step = hashlib.sha256(f"{key}\0{info.revision}\0{info.down_revision}\0".encode())
        step.update(info.path.read_bytes())
        key = step.hexdigest()
        keys.append(key)
    return keys


def _baseline_file(project: Project) -> Path | None:
    """The file of the project's ``baseline`` function: editing it replays the history."""
    if project.baseline_ref is None:
        return None
    module_name = project.baseline_ref.partition(":")[0]
    project.baseline()  # imports it (a ConfigError names the key)
    found = getattr(sys.modules.get(module_name), "__file__", None)
    return Path(found) if found and Path(found).is_file() else None
