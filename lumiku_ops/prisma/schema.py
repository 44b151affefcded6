"""Read a Prisma schema (one ``.prisma`` file, or a folder of them) for the schema engine.

Prisma 5 and 6 schemas name their database in the ``datasource`` block (``url =
env("DATABASE_URL")``, ``directUrl``, ``shadowDatabaseUrl``); the 8.x engine rejects those
fields (Prisma 7 moved them to ``prisma.config.ts``), and lumiku-ops hands the engine its
databases itself. So those lines are blanked out, not deleted: the engine's messages then
point at the same line numbers as the user's file. Prisma allows no multi-line values in a
datasource field, so a line-based rule is exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from lumiku_ops.errors import PrismaSchemaError

# Fields of the datasource block that hold connection URLs (Prisma 5/6).
URL_FIELDS = ("url", "directUrl", "shadowDatabaseUrl")
_BLOCK_START = re.compile(r"^\s*datasource\s+\w+\s*\{")
_BLOCK_END = re.compile(r"^\s*\}")
_URL_FIELD = re.compile(rf"^\s*(?:{'|'.join(URL_FIELDS)})\s*=")


class SchemaFile(NamedTuple):
    """One schema file as the engine receives it: the path it is named by, and its text."""

    path: str
    content: str


def strip_datasource_urls(content: str) -> str:
    """``content`` with every ``url``/``directUrl``/``shadowDatabaseUrl`` line of a
    ``datasource`` block made empty (the line count is unchanged)."""
    lines = content.split("\n")
    inside = False
    for number, line in enumerate(lines):
        if not inside:
            # A block opened and closed on one line holds no field on a line of its own.
            inside = bool(_BLOCK_START.match(line)) and "}" not in line.split("{", 1)[1]
        elif _BLOCK_END.match(line):
            inside = False
        elif _URL_FIELD.match(line):
            lines[number] = "\r" if line.endswith("\r") else ""
    return "\n".join(lines)


def _decode(path: Path, data: bytes) -> str:
    if b"\0" in data:
        raise PrismaSchemaError(f"{path}: holds a NUL byte; a Prisma schema is UTF-8 text")
    try:
        # utf-8-sig: a byte-order mark some editors write is not part of the schema.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PrismaSchemaError(
            f"{path}: is not UTF-8 (byte {exc.start}); save the schema as UTF-8"
        ) from None


def schema_paths(location: Path) -> list[Path]:
    """The ``.prisma`` files at ``location``: the file itself, or a folder's files (its
    subfolders too, as Prisma reads them) in path order.

    Raises:
        PrismaSchemaError: nothing there, or a folder without any ``.prisma`` file.
    """
    if location.is_file():
        return [location]
    if location.is_dir():
        found = sorted(p for p in location.rglob("*.prisma") if p.is_file())
        if not found:
            raise PrismaSchemaError(f"{location}: a folder with no .prisma file")
        return found
    raise PrismaSchemaError(
        f"no Prisma schema at {location}; set prisma_schema to the schema file or folder"
    )


def read_schema(location: Path) -> list[SchemaFile]:
    """The schema at ``location`` (a file, or a folder of ``.prisma`` files), ready for the
    engine: each file named by its path, its datasource URL lines blanked.

    Raises:
        PrismaSchemaError: missing, unreadable, not UTF-8, holding a NUL byte, or not a
            PostgreSQL schema in the ``public`` schema alone.
    """
    files = []
    for path in schema_paths(location):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PrismaSchemaError(f"{path}: cannot be read ({exc.strerror})") from None
        files.append(SchemaFile(str(path), strip_datasource_urls(_decode(path, data))))
    require_postgresql_public(files)
    return files


_PROVIDER = re.compile(r'^\s*provider\s*=\s*"(?P<provider>[^"]*)"')
_SCHEMAS = re.compile(r"^\s*schemas\s*=\s*\[(?P<names>[^\]]*)\]")


def require_postgresql_public(files: Sequence[SchemaFile]) -> None:
    """Refuse, with one line, a datasource lumiku-ops cannot serve: another database than
    PostgreSQL, or Prisma's multi-schema ``schemas = [...]`` beyond ``public`` (every
    catalog lumiku-ops reads is of ``public``; anything else would go unseen)."""
    for item in files:
        inside = False
        for number, line in enumerate(item.content.split("\n"), start=1):
            if not inside:
                inside = bool(_BLOCK_START.match(line))
                continue
            if _BLOCK_END.match(line):
                inside = False
                continue
            provider = _PROVIDER.match(line)
            if provider and provider["provider"] not in ("postgresql", "postgres"):
                raise PrismaSchemaError(
                    f'{item.path}:{number}: provider = "{provider["provider"]}"; lumiku-ops '
                    "serves PostgreSQL projects only"
                )
            schemas = _SCHEMAS.match(line)
            names = re.findall(r'"([^"]*)"', schemas["names"]) if schemas else []
            if any(name != "public" for name in names):
                raise PrismaSchemaError(
                    f"{item.path}:{number}: schemas = [{', '.join(names)}]; lumiku-ops reads "
                    "the public schema only, so tables in the others would go unseen"
                )


def schema_files(files: Sequence[SchemaFile | tuple[str, str]]) -> list[SchemaFile]:
    """``files`` as :class:`SchemaFile` values, datasource URL lines blanked (idempotent).

    Raises:
        PrismaSchemaError: no file, or a file holding a NUL byte.
    """
    checked = []
    for path, content in files:
        if "\0" in content:
            raise PrismaSchemaError(f"{path}: holds a NUL byte; a Prisma schema is UTF-8 text")
        checked.append(SchemaFile(str(path), strip_datasource_urls(content)))
    if not checked:
        raise PrismaSchemaError("no Prisma schema file was given")
    return checked
