"""``lumiku-ops check``: the CI guard the seed's "Prevent Future Issues" asked for.

It fails when the models hold changes no revision captures (the incident itself), when the
history has more than one head, when a revision file is untracked or git-ignored (in the
original project the migrations folder was git-ignored: the migration existed on a laptop
and never reached production), and, given a database, when that database is behind.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lumiku_ops.history import history_for
from lumiku_ops.migrate.differences import Difference, collapse, describe
from lumiku_ops.migrate.status import migration_status
from lumiku_ops.settings import Settings


@dataclass(frozen=True)
class CheckItem:
    """One guard and its outcome."""

    name: str
    passed: bool
    detail: str
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return vars(self).copy()


@dataclass
class CheckReport:
    """All guards; the project passes when none failed."""

    items: list[CheckItem] = field(default_factory=list)
    # What the models hold and no revision creates, and what only the revisions create.
    uncaptured: list[Difference] = field(default_factory=list)
    only_in_revisions: list[Difference] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every guard that ran passed."""
        return all(item.passed for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "passed": self.passed,
            "checks": [item.to_dict() for item in self.items],
            "uncaptured": [d.to_dict() for d in self.uncaptured],
            "only_in_revisions": [d.to_dict() for d in self.only_in_revisions],
        }


# Who decides what the models hold that no revision creates.
_COMPARER = {"alembic": "Alembic's comparison", "prisma": "Prisma's schema engine"}


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30
    )


# The folders Python installs distributions into: what lies there came from a package
# index, not from the project's own source, whatever git ignores around it.
_INSTALLED = {"site-packages", "dist-packages"}


def _installed(folder: Path) -> bool:
    """True when ``folder`` belongs to an installed distribution (a ``site-packages``)."""
    return not _INSTALLED.isdisjoint(folder.resolve().parts)


def check_tracked(paths: list[Path]) -> CheckItem:
    """Every revision file is committed to git and not ignored.

    Applies only to revisions that are the project's source: inside a git work tree and
    not installed as part of a package (revisions shipped in a wheel live under
    ``site-packages``, which a virtual environment inside the work tree leaves git-ignored).
    """
    name = "revision files tracked by git"
    if not paths:
        return CheckItem(name, True, "no revision files")
    folder = paths[0].parent
    if _installed(folder):
        return CheckItem(name, True, f"{folder} is an installed package, not in git", True)
    try:
        inside = _git(folder, "rev-parse", "--is-inside-work-tree")
    except FileNotFoundError:
        return CheckItem(name, True, "git is not installed", True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return CheckItem(name, True, f"{folder} is not in a git work tree", True)
    # Named from the folder they share: "0002_x.py" in Alembic's versions/, and in Prisma's
    # migrations/ "NAME/migration.sql" (every file there is called migration.sql).
    root = Path(os.path.commonpath([path.parent for path in paths]))
    problems = []
    for path in paths:
        shown = path.relative_to(root).as_posix()
        if _git(folder, "check-ignore", "-q", str(path)).returncode == 0:
            problems.append(f"{shown} is git-ignored")
        elif _git(folder, "ls-files", "--error-unmatch", str(path)).returncode != 0:
            problems.append(f"{shown} is not tracked (git add it)")
    return CheckItem(
        name,
        not problems,
        "; ".join(problems) or f"all {len(paths)} revision files are tracked",
    )


def check_project(
    settings: Settings,
    *,
    check_database: bool = False,
    cache_dir: Path | None = None,
    strict: bool = False,
) -> CheckReport:
    """Run every guard; ``check_database`` adds "the database is not behind".

    The models are compared with the revisions' head as ``alembic check`` compares them
    (the project's hooks and switches). Objects only the revisions create are listed, and
    fail the check only when ``strict``.
    """
    history = history_for(settings, cache_dir=cache_dir)
    report = CheckReport()
    heads = history.heads()
    report.items.append(
        CheckItem(
            "one head",
            len(heads) == 1,
            f"head {heads[0]}"
            if len(heads) == 1
            else f"{len(heads)} heads: {', '.join(heads)}"
            " (merge them: alembic merge heads -m merge)",
        )
    )
    _ = history.replay, history.models  # a revision that cannot replay: one error
    report.uncaptured = history.uncaptured
    report.only_in_revisions = history.only_in_revisions
    report.items.append(
        CheckItem(
            "models captured by revisions",
            not report.uncaptured,
            f"no revision creates {describe(collapse(report.uncaptured))}"
            " (create it: lumiku-ops migrate create)"
            if report.uncaptured
            else f"{_COMPARER.get(history.kind, 'the comparison')} finds nothing in the models "
            "that no revision creates",
        )
    )
    if report.only_in_revisions:
        report.items.append(
            CheckItem(
                "nothing only in the revisions",
                not strict,
                f"only in the revisions: {describe(collapse(report.only_in_revisions))}"
                + ("" if strict else " (a finding; --strict fails on it)"),
            )
        )
    report.items.append(check_tracked([info.path for info in history.revisions()]))
    if check_database:
        status = migration_status(settings)
        detail = f"{status.database} is at {status.current or 'no revision'}"
        if status.pending:
            detail += f"; pending: {', '.join(status.pending)}"
        if status.failed:
            detail += (
                f"; failed, blocking every later migration: {', '.join(status.failed)} "
                "(fix it, then npx prisma migrate resolve --rolled-back NAME)"
            )
        if status.edited:
            detail += (
                f"; edited since applied: {', '.join(status.edited)} (restore the file as "
                "it was applied; put the change in a new migration)"
            )
        report.items.append(CheckItem("database up to date", status.up_to_date, detail))
    return report
