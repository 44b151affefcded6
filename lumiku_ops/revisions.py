"""The revision scripts on disk: ids, messages, files, heads, order, and their fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alembic.script import Script, ScriptDirectory

from lumiku_ops.errors import ConfigError
from service.schema_version import script_directory as service_script_directory


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


def script_directory(migrations_dir: Path) -> ScriptDirectory:
    """Alembic's view of ``migrations_dir``; a clear error when it is not one."""
    if not (migrations_dir / "env.py").exists():
        raise ConfigError(
            f"{migrations_dir} is not an Alembic folder (no env.py); pass --migrations DIR"
        )
    return service_script_directory(migrations_dir)


def list_revisions(scripts: ScriptDirectory) -> list[RevisionInfo]:
    """Every revision, oldest first (base to heads)."""
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


def fingerprint(migrations_dir: Path) -> str:
    """SHA-256 of every revision file's name and content: the shadow cache's key."""
    digest = hashlib.sha256()
    versions = migrations_dir / "versions"
    for path in sorted(versions.glob("*.py")) if versions.exists() else []:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for path in (
        sorted((migrations_dir / "sql").glob("*.sql")) if (migrations_dir / "sql").exists() else []
    ):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update((migrations_dir / "env.py").read_bytes())
    return digest.hexdigest()


def next_revision_id(scripts: ScriptDirectory) -> str:
    """The next id in the project's numeric sequence (``0002`` after ``0001``)."""
    numbers = [int(s.revision) for s in scripts.walk_revisions() if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def copy_migrations(source: Path, destination: Path, *, without: Sequence[str] = ()) -> Path:
    """Copy an Alembic folder, leaving out the revision files of the ids in ``without``.

    This is how the incident is reproduced: a copy without ``0002`` is a project whose
    models gained tables that no revision creates.
    """
    import shutil

    scripts = script_directory(source)
    skipped = {Path(scripts.get_revision(rev).path).name for rev in without}
    shutil.copytree(
        source,
        destination,
        ignore=lambda folder, names: [
            name for name in names if name in skipped or name == "__pycache__"
        ],
        dirs_exist_ok=True,
    )
    return destination
