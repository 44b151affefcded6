"""Transaction segments: where a range of revisions has to commit before it ends.

PostgreSQL runs DDL in transactions, so a range normally runs whole or not at all. A
revision that uses ``op.get_context().autocommit_block()`` (``CREATE INDEX CONCURRENTLY``,
``ALTER TYPE ... ADD VALUE`` before PostgreSQL 12) cannot: Alembic commits before the block
and begins again after it. Such a revision is a segment of its own; the revisions between
them form plain segments, each one transaction. Applies commit at segment boundaries only,
so a failure leaves the database at a revision, never inside a plain segment.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic.script import Script, ScriptDirectory

AUTOCOMMIT = "autocommit_block"


@dataclass(frozen=True)
class Segment:
    """Revisions run together; ``autocommit``: one revision that commits around a block."""

    revisions: tuple[str, ...]  # in the order they run
    destination: str  # the revision the database is at once the segment is done ("base")
    autocommit: bool


@cache
def _autocommit_functions(path: str) -> frozenset[str]:
    try:
        source = Path(path).read_text()
    except OSError:
        return frozenset()
    if AUTOCOMMIT not in source:
        return frozenset()
    found = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset({"upgrade", "downgrade"})
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            if any(
                isinstance(inner, ast.Attribute) and inner.attr == AUTOCOMMIT
                for inner in ast.walk(node)
            ):
                found.add(node.name)
    # Used through a helper: assume both directions need it (one segment more, no harm).
    return frozenset(found) or frozenset({"upgrade", "downgrade"})


def uses_autocommit_block(script: Script, *, upgrade: bool = True) -> bool:
    """True when the revision's ``upgrade()`` (or ``downgrade()``) leaves the transaction."""
    functions = _autocommit_functions(str(script.path))
    return ("upgrade" if upgrade else "downgrade") in functions


def split_into_segments(
    scripts: ScriptDirectory,
    revisions: Sequence[str],
    destination: str | None,
    *,
    upgrade: bool = True,
) -> list[Segment]:
    """Cut ``revisions`` (in run order) into segments; ``destination`` ends the last one."""
    segments: list[Segment] = []
    plain: list[str] = []

    def lands_after(index: int) -> str:
        if upgrade:
            return revisions[index]
        return revisions[index + 1] if index + 1 < len(revisions) else (destination or "base")

    for index, revision in enumerate(revisions):
        script = scripts.get_revision(revision)
        if script is not None and uses_autocommit_block(script, upgrade=upgrade):
            if plain:
                segments.append(Segment(tuple(plain), lands_after(index - 1), False))
                plain = []
            segments.append(Segment((revision,), lands_after(index), True))
        else:
            plain.append(revision)
    if plain:
        segments.append(Segment(tuple(plain), lands_after(len(revisions) - 1), False))
    return segments


def describe_script(script: Script | None, root: Path | None = None) -> str:
    """``revision 0003 (migrations/versions/0003_x.py)``: the revision and its file."""
    if script is None:
        return "an unknown revision"
    path = Path(script.path)
    if root is not None:
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            pass
    return f"revision {script.revision} ({path})"
