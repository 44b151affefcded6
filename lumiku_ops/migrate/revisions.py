"""The revision scripts on disk: ids, messages, files, heads, order, and what they need."""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic.script import Script, ScriptDirectory

from lumiku_ops.migrate.scripts import script_directory
from lumiku_ops.project import Project


@dataclass(frozen=True)
class RevisionInfo:
    """One revision file."""

    revision: str
    down_revision: str | None
    message: str
    path: Path

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready form."""
        return {
            "revision": self.revision,
            "down_revision": self.down_revision,
            "message": self.message,
            "file": self.path.name,
        }


# Walking the revision map is the same answer for the same (loaded) ScriptDirectory, and a
# command asks several times; ``script_directory`` gives a new one when a file changes.
_listed: weakref.WeakKeyDictionary[ScriptDirectory, list[RevisionInfo]] = (
    weakref.WeakKeyDictionary()
)


def list_revisions(scripts: ScriptDirectory) -> list[RevisionInfo]:
    """Every revision, oldest first (base to heads)."""
    known = _listed.get(scripts)
    if known is None:
        known = _listed[scripts] = _walk(scripts)
    return list(known)


def _walk(scripts: ScriptDirectory) -> list[RevisionInfo]:
    found: list[Script] = list(scripts.walk_revisions("base", "heads"))
    found.reverse()
    return [
        RevisionInfo(
            revision=script.revision,
            down_revision=_single(script.down_revision),
            message=(script.doc or "").splitlines()[0] if script.doc else "",
            path=Path(script.path),
        )
        for script in found
    ]


def _single(down: str | Sequence[str] | None) -> str | None:
    if down is None or isinstance(down, str):
        return down
    return ",".join(down)  # a merge revision has several parents


# CREATE EXTENSION [IF NOT EXISTS] name, as a revision's SQL or op.execute() text holds it.
_CREATE_EXTENSION = re.compile(
    r'CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"([^"]+)"|([A-Za-z_][\w-]*))', re.I
)


def required_extensions(revisions: Sequence[RevisionInfo]) -> list[tuple[str, str]]:
    """``(revision, extension)`` for each extension the revisions create, oldest first.

    Read from the files' text (their SQL and ``op.execute`` strings), comment lines left
    out, so a missing extension is known before anything is replayed.
    """
    found: list[tuple[str, str]] = []
    for info in revisions:
        try:
            source = info.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in source.splitlines():
            if line.lstrip().startswith(("#", "--")):
                continue
            for match in _CREATE_EXTENSION.finditer(line):
                name = match.group(1) or match.group(2)
                if all(name != known for _, known in found):
                    found.append((info.revision, name))
    return found


def next_revision_id(scripts: ScriptDirectory) -> str:
    """The next id in the project's style: ``0003`` after ``0002``, else Alembic's random id.

    A history numbered ``0001``, ``0002`` continues its sequence; a history of Alembic's
    hexadecimal ids (or an empty one) gets a new id the way ``alembic revision`` makes it.
    """
    revisions = [s.revision for s in scripts.walk_revisions()]
    if revisions and all(r.isdigit() for r in revisions):
        width = max(len(r) for r in revisions)
        return f"{max(int(r) for r in revisions) + 1:0{width}d}"
    from alembic.util import rev_id

    return str(rev_id())


def copy_migrations(project: Project, destination: Path, *, without: Sequence[str] = ()) -> Path:
    """Copy an Alembic folder, leaving out the revision files of the ids in ``without``.

    This is how the incident is reproduced: a copy without ``0002`` is a project whose
    models gained tables that no revision creates.
    """
    import shutil

    scripts = script_directory(project)
    skipped = {Path(scripts.get_revision(rev).path).name for rev in without}
    shutil.copytree(
        project.migrations_dir,
        destination,
        ignore=lambda folder, names: [
            name for name in names if name in skipped or name == "__pycache__"
        ],
        dirs_exist_ok=True,
    )
    return destination
