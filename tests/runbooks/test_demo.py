"""The main job end to end: the incident replayed and fixed, a report written, nothing left."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import psutil
import pytest

from tests.utils.cli import lumiku

pytestmark = [pytest.mark.slow]


def test_demo_replays_and_fixes_the_incident(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    jwt_secret = "demo-test-" + "s" * 30 + "-7d1e"
    result = lumiku(
        "demo", "--no-smoke-test", "--reports", str(tmp_path / "reports"),
        LUMIKU_DATA_DIR=str(data_dir), LUMIKU_JWT_SECRET=jwt_secret, timeout=600,
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
    # The incident report: written, linked first, and saying what happened without a secret.
    assert re.findall(r"href='([^']+)'", page)[0] == "incident.html"
    incident = (index.parent / "incident.md").read_text()
    assert incident.startswith("# Incident report: MIGRATION_NOT_CREATED\n")
    assert "- revision `0002` (after `0001`)" in incident
    assert "- **Status:** fixed and verified." in incident
    assert "unusable; `/api/apps`, `/api/credits/balance` kept working." in incident
    for path in ("subscription", "jobs", "stats"):
        assert f"| `GET /api/background-remover/{path}` | 500 | 200 |" in incident
    assert "| `GET /api/apps` | 200 | not checked |" in incident
    chain = incident.split("## Evidence chain")[1].split("## ")[0]
    assert chain.count("| 42P01 undefined_table: relation") == 3
    assert chain.count("| no revision (none) |") == 3
    assert re.search(r"applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by `", incident)
    # The demo's own "before" probes failed first: the timeline starts with them, not with 01.
    timeline = incident.split("## Root-cause timeline")[1].split("## ")[0]
    first = re.findall(r"^\| [^|]+ \| (.+?) \|$", timeline, re.MULTILINE)[1]  # [0]: header
    assert first == "first logged 5xx of the 6 the chain explains", timeline
    html_report = (index.parent / "incident.html").read_text()
    assert "<h2>Evidence chain</h2>" in html_report and "<table>" in html_report
    for text in (incident, html_report):
        assert jwt_secret not in text
        assert "eyJ" not in text  # no JWT, the demo's token included
        assert re.search(r"Bearer (?!\*\*\*)", text) is None
    # Stopping it leaves nothing behind: no server on its data directory, no service.
    leftovers = [
        p.info for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and any(str(data_dir) in arg or str(index.parent) in arg for arg in p.info["cmdline"])
    ]
    assert leftovers == []


def screenshot(page: Path, out: Path) -> Path:
    """Headless Chromium's picture of ``page``, as a reviewer would see it."""
    import subprocess

    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={out.parent / 'chromium-profile'}",
         "--window-size=1200,1400", f"--screenshot={out}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    return out


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_the_report_renders_with_the_verdict_and_green_results(tmp_path: Path) -> None:
    from PIL import Image

    from lumiku_ops.reference.demo import DemoResult
    from lumiku_ops.reference.index_page import write_index

    result = DemoResult(report_dir=tmp_path, verdict="MIGRATION_NOT_CREATED", revision_created="0002")
    result.before = dict.fromkeys(("/a", "/b"), 500)
    result.after = dict.fromkeys(("/a", "/b"), 200)
    write_index(result)
    image = Image.open(screenshot(tmp_path / "index.html", tmp_path / "index.png")).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20) or []}
    assert (0x15, 0x65, 0xC0) in colours  # the verdict badge
    assert (0xC6, 0x28, 0x28) in colours  # red: the FAILED banner and the 500s
    assert (0x2E, 0x7D, 0x32) in colours  # green: the 200s after the fix
