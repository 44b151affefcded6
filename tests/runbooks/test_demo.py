"""The main job end to end: the incident replayed and fixed, a report written, nothing left."""

from __future__ import annotations

import re
from pathlib import Path

import psutil
import pytest

from tests.utils.cli import lumiku

pytestmark = [pytest.mark.slow]


def test_demo_replays_and_fixes_the_incident(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    result = lumiku(
        "demo", "--no-smoke-test", "--reports", str(tmp_path / "reports"),
        LUMIKU_DATA_DIR=str(data_dir), timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ALL CHECKS PASSED" in result.stdout
    (index,) = (tmp_path / "reports").glob("*/index.html")
    page = index.read_text()
    assert "MIGRATION_NOT_CREATED" in page
    assert "schema-equivalent to the committed revision 0002" in page
    for path in ("subscription", "jobs", "stats"):
        row = re.search(rf"GET /api/background-remover/{path}</code></td>(.*?)</tr>", page)
        assert row is not None
        assert re.findall(r">(\d{3}|no answer)<", row.group(1)) == ["500", "200"]
    for name in ("01_diagnose_500s", "02_create_migration", "03_apply_migration", "04_verify_endpoints"):
        assert (index.parent / f"{name}.html").exists()
        assert (index.parent / f"{name}.code.html").exists()
    # Stopping it leaves nothing behind: no server on its data directory, no service.
    leftovers = [
        p.info for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and any(str(data_dir) in arg or str(index.parent) in arg for arg in p.info["cmdline"])
    ]
    assert leftovers == []
