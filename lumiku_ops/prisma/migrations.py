"""Prisma's migrations folder: the migrations, their scripts and checksums.

Everything here follows Prisma's schema engine (prisma-engines, ``schema-engine``), so that
``prisma migrate status``/``deploy`` and lumiku-ops read the same history the same way:

- A migration is a folder of ``prisma/migrations/`` holding ``migration.sql``; folders sort by
  name; files beside them (``migration_lock.toml``) are not migrations.
- ``checksum`` is the lowercase hex SHA-256 of ``migration.sql``'s bytes. A recorded checksum
  also matches the file with CRLF turned to LF or LF to CRLF (git's line endings), and one
  recorded without zero padding by old engines (prisma-engines#1887).

What ``_prisma_migrations`` records of them is :mod:`lumiku_ops.prisma.records`; writing its
rows as ``prisma migrate deploy`` does is :mod:`lumiku_ops.prisma.rows`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lumiku_ops.errors import PrismaMigrationsError

SCRIPT = "migration.sql"
LOCK_FILE = "migration_lock.toml"


@dataclass(frozen=True)
class PrismaMigration:
    """One folder of ``prisma/migrations/``: its name, folder, script and checksum."""

    name: str
    folder: Path
    sql: str
    checksum: str

    @property
    def path(self) -> Path:
        """The ``migration.sql`` file."""
        return self.folder / SCRIPT


def checksum(data: bytes) -> str:
    """Prisma's checksum of a script: the lowercase hex SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def checksum_matches(recorded: str, data: bytes) -> bool:
    """Whether ``recorded`` is the checksum of ``data``, as Prisma decides it.

    The file as it is, with CRLF turned into LF, or with LF turned into CRLF (each
    replacement applied once over the whole file, as Prisma does); a recorded checksum of
    another length than 64 is compared with the unpadded hex old engines wrote.
    """
    for variant in (data, data.replace(b"\r\n", b"\n"), data.replace(b"\n", b"\r\n")):
        digest = hashlib.sha256(variant).digest()
        if len(recorded) != 64 and recorded:
            if "".join(f"{byte:x}" for byte in digest) == recorded:
                return True
        elif digest.hex() == recorded:
            return True
    return False


def list_migrations(folder: Path | str) -> list[PrismaMigration]:
    """The migrations of a Prisma migrations folder, in folder-name order.

    Raises:
        PrismaMigrationsError: the folder is missing, or a migration folder has no readable
            ``migration.sql``, or one that is not UTF-8 or holds a NUL character (PostgreSQL
            refuses those); the message names the file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise PrismaMigrationsError(
            f"Prisma migrations folder {root} does not exist; create one with "
            "`npx prisma migrate dev`, or set prisma_migrations in the project's settings"
        )
    migrations = []
    for entry in sorted(root.iterdir(), key=lambda path: path.name):
        if not entry.is_dir():
            continue  # migration_lock.toml and any other file beside the folders
        script = entry / SCRIPT
        try:
            data = script.read_bytes()
        except FileNotFoundError:
            raise PrismaMigrationsError(
                f"migration folder {entry} has no {SCRIPT}: each folder of {root} is one "
                f"migration; add its {SCRIPT} or remove the folder"
            ) from None
        except OSError as exc:
            raise PrismaMigrationsError(f"cannot read {script}: {exc.strerror or exc}") from None
        try:
            sql = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise PrismaMigrationsError(
                f"{script} is not UTF-8 (byte {exc.start + 1}, line {line}); Prisma reads "
                "migrations as UTF-8: save it in that encoding"
            ) from None
        if "\x00" in sql:
            line = sql.count("\n", 0, sql.index("\x00")) + 1
            raise PrismaMigrationsError(
                f"{script} holds a NUL character (line {line}); PostgreSQL cannot run it"
            )
        migrations.append(PrismaMigration(entry.name, entry, sql, checksum(data)))
    return migrations
