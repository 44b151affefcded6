"""Prisma remedies quote migration names: a folder name is text from outside, pasted into
a shell by someone on call."""

from __future__ import annotations

import shlex

from lumiku_ops.diagnose.verdicts import MIGRATION_FAILED, REVISION_MISMATCH, remedy_for

CRAFTED = "2025_x'; DROP TABLE users; -- $(touch /tmp/owned)"


def test_a_crafted_failed_name_stays_one_shell_word() -> None:
    """Without ``_sh`` the name would split into several words and run ``$(...)``."""
    remedy = remedy_for(MIGRATION_FAILED, affected=[], kind="prisma", failed=[CRAFTED])
    assert shlex.split(remedy.command) == [
        "npx",
        "prisma",
        "migrate",
        "resolve",
        "--rolled-back",
        CRAFTED,
    ]


def test_a_crafted_unknown_name_is_quoted_for_sql_and_for_the_shell() -> None:
    """The DELETE's string literal doubles the quote, and the shell sees one -c argument."""
    remedy = remedy_for(REVISION_MISMATCH, affected=[], kind="prisma", unknown=[CRAFTED])
    psql = remedy.command.split(" && ")[0]
    words = shlex.split(psql)
    assert words[:3] == ["psql", "$DATABASE_URL", "-c"] and len(words) == 4
    assert words[3] == (
        "DELETE FROM _prisma_migrations WHERE migration_name IN "
        "('2025_x''; DROP TABLE users; -- $(touch /tmp/owned)')"
    )
