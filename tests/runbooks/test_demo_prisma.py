"""``lumiku-ops demo --stack prisma``: the seeds' incident in the seeds' own stack, end to end.

The seeds' Prisma project (``examples/prisma_seeds``) on the embedded server with Prisma's real
schema engine: the three 500s, runbooks 01-04 on a scratch copy of the project, the created
``migration.sql`` equal to the seeds' expected SQL, the 200s, and the reports.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psutil
import pytest

from tests.utils.cli import lumiku
from tests.utils.project import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "prisma_seeds"
EXPECTED_SQL = EXAMPLE / "expected" / "add_background_remover_models.sql"
ENDPOINTS = ("subscription", "jobs", "stats")


def _statements(sql: str) -> list[str]:
    """The statements of a script, whitespace-normalised, comments dropped, sorted."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return sorted(" ".join(s.split()) for s in "\n".join(lines).split(";") if s.strip())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None, reason="Prisma's schema engine needs Node.js")
def test_the_prisma_demo_replays_and_fixes_the_seeds_incident(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    jwt_secret = "demo-test-" + "p" * 30 + "-5c2a"
    migrations_before = sorted(p.name for p in (EXAMPLE / "prisma" / "migrations").iterdir())
    result = lumiku(
        "demo",
        "--stack",
        "prisma",
        "--no-smoke-test",
        "--reports",
        str(tmp_path / "reports"),
        "--json",
        LUMIKU_DATA_DIR=str(data_dir),
        LUMIKU_JWT_SECRET=jwt_secret,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    demo = json.loads(result.stdout)
    assert demo["passed"] and demo["stack"] == "prisma" and demo["error"] is None
    assert demo["verdict"] == "MIGRATION_NOT_CREATED"
    assert [run["name"] for run in demo["runs"] if run["passed"]] == [
        "01_diagnose_500s",
        "02_create_migration",
        "03_apply_migration",
        "04_verify_endpoints",
    ]
    paths = [f"/api/background-remover/{name}" for name in ENDPOINTS]
    assert demo["before"] == dict.fromkeys(paths, 500)
    assert demo["after"] == dict.fromkeys(paths, 200)

    # 02 wrote <UTC stamp>_add_background_remover_models/migration.sql into the scratch copy,
    # never into the checkout's example.
    created = demo["revision_created"]
    assert re.fullmatch(r"\d{14}_add_background_remover_models", created), created
    report = Path(demo["report_dir"])
    written = report / "project" / "prisma" / "migrations" / created / "migration.sql"
    assert written.is_file()
    assert (
        sorted(p.name for p in (EXAMPLE / "prisma" / "migrations").iterdir()) == migrations_before
    )
    # 03 applied exactly it, on the committed head the demo deployed first.
    applied = demo["runs"][2]["recorded"]
    assert (applied["from_revision"], applied["to_revision"]) == (
        "20251018_add_user_settings",
        created,
    )

    # Schema-equivalent to the seeds' expected SQL (catalogs compared by the demo), and in
    # fact the same statements; the example's copy of that SQL is the seeds' fixture.
    assert demo["equivalent_to_committed"] and demo["differences"] == []
    assert demo["compared_with"] == "the seeds' expected SQL"
    assert (
        EXPECTED_SQL.read_bytes()
        == (REPO_ROOT / "tests/fixtures/seed_expected_migration.sql").read_bytes()
    )
    assert _statements(written.read_text()) == _statements(EXPECTED_SQL.read_text())

    # The reviewer's page and the incident report.
    page = (report / "index.html").read_text()
    assert "ALL CHECKS PASSED" in page and "MIGRATION_NOT_CREATED" in page
    equivalence = "schema-equivalent to the seeds&#x27; expected SQL"
    assert f"Migration created: <code>{created}</code>: {equivalence}" in page
    assert "Background Remover API on Prisma" in page
    for path in ENDPOINTS:
        row = re.search(rf"GET /api/background-remover/{path}</code></td>(.*?)</tr>", page)
        assert row is not None
        assert re.findall(r">(\d{3}|no answer)<", row.group(1)) == ["500", "200"]
    assert re.findall(r"href='([^']+)'", page)[0] == "incident.html"
    incident = (report / "incident.md").read_text()
    assert incident.startswith("# Incident report: MIGRATION_NOT_CREATED\n")
    assert f"`{created}` (after `20251018_add_user_settings`)" in incident
    assert "- **Status:** fixed and verified." in incident
    # Runbook 01 probed only the three failing endpoints: nothing is claimed of the rest.
    assert "unusable; no other endpoint was probed" in incident
    for path in ENDPOINTS:
        assert f"| `GET /api/background-remover/{path}` | 500 | 200 |" in incident
    assert jwt_secret not in incident and "eyJ" not in incident
    # Runbook 02 showed the migration as SQL, once.
    notebook = (report / "02_create_migration.html").read_text()
    assert "The file above is the SQL" in notebook
    # Nothing left running: no server on its data directory, no service.
    leftovers = [
        p.info
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"]
        and any(str(data_dir) in a or str(report) in a for a in p.info["cmdline"])
    ]
    assert leftovers == []


def test_without_node_the_prisma_demo_says_what_to_install_and_creates_nothing(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = lumiku(
        "demo",
        "--stack",
        "prisma",
        "--reports",
        str(tmp_path / "reports"),
        PATH=str(empty),
        LUMIKU_DATA_DIR=str(tmp_path / "pgdata"),
        LUMIKU_JWT_SECRET="demo-test-" + "n" * 30,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Node.js 20 or newer is needed for Prisma projects")
    assert not (tmp_path / "reports").exists() and not (tmp_path / "pgdata").exists()
