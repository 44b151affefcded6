"""nbval executes each runbook with its DEFAULT parameters against a live environment,
and compares the outputs that matter (verdict, endpoint statuses, recorded results).

The defaults read the environment (LUMIKU_API_URL, LUMIKU_TOKEN, DATABASE_URL,
LUMIKU_MIGRATIONS_DIR), so each notebook gets the state an operator would meet it in.
The expected outputs live in tests/runbooks/expected/ (see tests/utils/nbval_expected.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lumiku_ops.runbooks.run import run_runbook
from tests.utils.nbval_expected import expected_path, write_expected
from tests.utils.project import REPO_ROOT
from tests.conftest import JWT_SECRET
from tests.utils.db import upgrade
from tests.utils.factories import user_with_token
from tests.utils.migrations import scratch
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]

# notebook -> (database revision, remove 0002 from the migrations copy)
STATES = {
    "01_diagnose_500s": ("0001", True),
    "02_create_migration": ("0001", True),
    "03_apply_migration": ("0001", False),
    "04_verify_endpoints": ("head", False),
}


@pytest.mark.parametrize("name", list(STATES))
def test_nbval(
    name: str,
    fresh_db: str,
    service_factory: Callable[[str], RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    revision, without_0002 = STATES[name]
    upgrade(fresh_db, revision)
    _, token = user_with_token(fresh_db, JWT_SECRET, email="nbval@lumiku.local")
    service = service_factory(fresh_db)
    migrations = scratch(tmp_path, without=("0002",) if without_0002 else ())
    env = {
        **os.environ,
        "LUMIKU_API_URL": service.base_url,
        "LUMIKU_TOKEN": token,
        "DATABASE_URL": fresh_db,
        "LUMIKU_MIGRATIONS_DIR": str(migrations),
        # nbval starts the kernel in the notebook's folder, inside the package.
        "LUMIKU_PROJECT": str(REPO_ROOT),
    }
    expected = expected_path(name)
    if os.environ.get("LUMIKU_NBVAL_REGENERATE"):
        # On a copy of its own: 02 must still find the revision missing afterwards.
        copy = scratch(tmp_path / "regenerate", without=("0002",) if without_0002 else ())
        for key, value in {**env, "LUMIKU_MIGRATIONS_DIR": str(copy)}.items():
            monkeypatch.setenv(key, value)
        # Not in the project folder, as nbval's kernel is not: remedies then name --project.
        run = run_runbook(name, out_dir=tmp_path / "regenerate", cwd=tmp_path)
        assert run.passed, run.error
        write_expected(name, run.notebook)
    result = run_nbval(expected, env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


def run_nbval(notebook: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
            "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
            str(notebook.relative_to(REPO_ROOT)),
        ],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )


def test_nbval_fails_when_the_verdict_changes(
    fresh_db: str, service_factory: Callable[[str], RunningService], tmp_path: Path
) -> None:
    # The expected 01 says MIGRATION_NOT_CREATED; at head with 0002 present it is healthy.
    upgrade(fresh_db, "head")
    _, token = user_with_token(fresh_db, JWT_SECRET, email="nbval@lumiku.local")
    service = service_factory(fresh_db)
    env = {
        **os.environ,
        "LUMIKU_API_URL": service.base_url,
        "LUMIKU_TOKEN": token,
        "DATABASE_URL": fresh_db,
        "LUMIKU_MIGRATIONS_DIR": str(scratch(tmp_path)),
        "LUMIKU_PROJECT": str(REPO_ROOT),
    }
    result = run_nbval(expected_path("01_diagnose_500s"), env)
    assert result.returncode != 0
    assert "MIGRATION_NOT_CREATED" in result.stdout  # the expected output it compared
    assert "HEALTHY" in result.stdout  # and the one it got
