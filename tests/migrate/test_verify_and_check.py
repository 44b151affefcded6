"""migrate verify (the database against the models) and check (the CI guard)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from lumiku_ops.migrate.guard import check_project, check_tracked
from lumiku_ops.migrate.status import verify_schema
from lumiku_ops.reference.seed import SEED_STATED_COLUMN_COUNTS
from lumiku_ops.settings import load_settings
from tests.utils.cli import lumiku
from tests.utils.db import connect, upgrade
from tests.utils.migrations import add_revision, scratch


@pytest.mark.db
def test_verify_passes_at_head_and_names_the_seeds_wrong_counts(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    result = lumiku("migrate", "verify", "--database-url", fresh_db, "--json")
    assert result.returncode == 0, result.stderr
    tables = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    assert all(t["ok"] for t in tables.values())
    assert tables["BackgroundRemovalBatch"]["expected_columns"] == 19
    # The core knows nothing of the seed: no note unless a caller passes stated counts.
    assert tables["BackgroundRemovalBatch"]["seed_note"] is None
    noted = verify_schema(
        load_settings(database_url=fresh_db), stated_columns=SEED_STATED_COLUMN_COUNTS
    )
    notes = {check.table: check.seed_note for check in noted.tables}
    assert notes["BackgroundRemovalBatch"] and "expects 18" in notes["BackgroundRemovalBatch"]
    assert notes["BackgroundRemoverSubscription"]
    assert "expects 17" in notes["BackgroundRemoverSubscription"]
    assert notes["BackgroundRemovalJob"] is None


@pytest.mark.db
def test_verify_fails_on_a_dropped_column(fresh_db: str) -> None:
    upgrade(fresh_db, "head")
    with connect(fresh_db) as connection:
        connection.execute(text('ALTER TABLE "BackgroundRemovalJob" DROP COLUMN "modelName"'))
    result = lumiku("migrate", "verify", "--database-url", fresh_db)
    assert result.returncode == 3
    assert "BackgroundRemovalJob: 18/19 columns (missing columns modelName)" in result.stdout


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def repo_with(tmp_path: Path, *, without: tuple[str, ...] = ()) -> Path:
    migrations = scratch(tmp_path, without=without)
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return migrations


def test_check_passes_on_this_project() -> None:
    result = lumiku("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout


def test_check_fails_when_the_migration_was_never_created(tmp_path: Path) -> None:
    migrations = repo_with(tmp_path, without=("0002",))
    result = lumiku("check", "--migrations", str(migrations))
    assert result.returncode == 3
    assert (
        "✗ models captured by revisions: no revision creates table `BackgroundRemovalBatch`"
        in result.stdout
    )


def test_check_fails_on_an_untracked_or_ignored_revision_file(tmp_path: Path) -> None:
    migrations = repo_with(tmp_path)
    add_revision(migrations, "0003", "0002", "pass")
    report = check_project(load_settings(migrations_dir=migrations))
    tracked = next(item for item in report.items if item.name == "revision files tracked by git")
    assert not tracked.passed and "0003_test_0003.py is not tracked" in tracked.detail

    (tmp_path / ".gitignore").write_text("migrations/versions/\n")
    git(tmp_path, "rm", "-q", "--cached", "-r", "migrations/versions")
    report = check_project(load_settings(migrations_dir=migrations))
    tracked = next(item for item in report.items if item.name == "revision files tracked by git")
    assert "0002_add_background_remover_models.py is git-ignored" in tracked.detail


def test_revisions_outside_any_git_work_tree_are_not_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever encloses the temporary folder, git looks no further up than this.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    migrations = scratch(tmp_path / "released")
    paths = sorted((migrations / "versions").glob("*.py"))
    tracked = check_tracked(paths)
    assert tracked.passed and tracked.skipped, tracked
    assert "is not in a git work tree" in tracked.detail


def test_revisions_installed_in_a_git_ignored_site_packages_are_not_checked(
    tmp_path: Path,
) -> None:
    # A virtual environment inside the work tree: git ignores it, and the package's
    # revisions in it are no file of the project's.
    repo_with(tmp_path)
    (tmp_path / ".gitignore").write_text(".venv/\n")
    installed = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "service"
    migrations = scratch(installed)
    paths = sorted((migrations / "versions").glob("*.py"))
    subprocess.run(["git", "-C", str(tmp_path), "check-ignore", "-q", str(paths[0])], check=True)
    tracked = check_tracked(paths)
    assert tracked.passed and tracked.skipped, tracked
    assert "is an installed package" in tracked.detail


def test_check_fails_on_two_heads(tmp_path: Path) -> None:
    migrations = repo_with(tmp_path)
    add_revision(migrations, "0003", "0001", "pass")
    report = check_project(load_settings(migrations_dir=migrations))
    heads = next(item for item in report.items if item.name == "one head")
    assert not heads.passed and "2 heads: 0002, 0003" in heads.detail


@pytest.mark.db
def test_check_with_a_database_fails_when_it_is_behind(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    result = lumiku("check", "--database-url", fresh_db)
    assert result.returncode == 3
    assert "✗ database up to date" in result.stdout and "pending: 0002" in result.stdout
