"""nbval executes each runbook with its DEFAULT parameters against a live environment.

The defaults read the environment (LUMIKU_API_URL, LUMIKU_TOKEN, DATABASE_URL,
LUMIKU_MIGRATIONS_DIR), so each notebook gets the state an operator would meet it in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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
    name: str, fresh_db: str, service_factory: Callable[[str], RunningService], tmp_path: Path
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
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
            "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
            f"runbooks/{name}.ipynb",
        ],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout
