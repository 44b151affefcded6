"""Secrets in the service's log reach no output: ``diagnose --json``, the text report, runbook
01's notebook and its two HTML files, ``incident.md`` and ``incident.html``.

Each secret form of ``tests/utils/secret_forms.py`` is logged as a failing request (in its
path and in its error message) and as a PostgreSQL server line. Every output is read back:
no secret may appear, and each line's non-secret context must, so that masking never drops
the evidence.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from lumiku_ops.runbooks.run import run_runbook
from tests.conftest import JWT_SECRET
from tests.utils.cli import lumiku
from tests.utils.db import upgrade
from tests.utils.factories import user_with_token
from tests.utils.migrations import scratch
from tests.utils.secret_forms import SECRET_FORMS
from tests.utils.service import RunningService

pytestmark = [pytest.mark.db, pytest.mark.http, pytest.mark.slow]
PASSWORD = "Masked-Pw-8812"
JOBS = "/api/background-remover/jobs"


def _log_lines() -> list[str]:
    now = datetime.now(UTC).isoformat()
    lines = []
    for number, form in enumerate(SECRET_FORMS):
        message = f'relation "BackgroundRemovalJob" does not exist near {form.text}'
        lines.append(
            json.dumps(
                {
                    "time": now,
                    "request_id": f"case{number:02d}",
                    "method": "GET",
                    "path": f"{JOBS}?case={number:02d}&{form.text}",
                    "status": 500,
                    "sqlstate": "42P01",
                    "exc_info": f"Traceback\npsycopg.errors.UndefinedTable: {message}\n"
                    f"[SQL: SELECT 1 FROM \"BackgroundRemovalJob\" WHERE note = '{form.text}']",
                }
            )
        )
        lines.append(f"2026-11-23 05:51:01.123 UTC [{number}] svc@prod ERROR:  {message}")
        lines.append(f"2026-11-23 05:51:01.123 UTC [{number}] svc@prod STATEMENT:  {form.text}")
    return lines


def test_no_secret_of_the_log_reaches_any_output(
    fresh_db: str,
    service_factory: Callable[[str], RunningService],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upgrade(fresh_db, "0001")
    _, token = user_with_token(fresh_db, JWT_SECRET, email="mask@lumiku.local", credits=10)
    service = service_factory(fresh_db)
    migrations = scratch(tmp_path, without=("0002",))
    url = make_url(fresh_db).set(password=PASSWORD).render_as_string(hide_password=False)
    env = {
        "LUMIKU_TOKEN": token,
        "DATABASE_URL": url,
        "LUMIKU_API_URL": service.base_url,
        "LUMIKU_MIGRATIONS_DIR": str(migrations),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    log = tmp_path / "service.log"
    log.write_text("\n".join(_log_lines()) + "\n", encoding="utf-8")

    as_json = lumiku("diagnose", "--log", str(log), "--json", **env)
    as_text = lumiku("diagnose", "--log", str(log), **env)
    assert as_json.returncode == 3, as_json.stderr
    assert as_text.returncode == 3, as_text.stderr
    errors = json.loads(as_json.stdout)["evidence"]["log"]["errors"]
    assert len(errors) == 2 * len(SECRET_FORMS)  # each request and each server line

    out = tmp_path / "out"
    diagnosed = run_runbook("01_diagnose_500s", parameters={"log_file": str(log)}, out_dir=out)
    assert diagnosed.passed, diagnosed.error
    assert len(diagnosed.recorded["log_chain"]) >= len(SECRET_FORMS)  # one row per request
    report = lumiku("report", str(out), **env)
    assert report.returncode == 3, report.stderr  # written; runbook 04 did not run

    outputs = {
        "diagnose --json": as_json.stdout,
        "diagnose (text)": as_text.stdout,
        **{
            path.name: html.unescape(path.read_text(encoding="utf-8"))
            for path in sorted(out.iterdir())
            if path.suffix in (".ipynb", ".html", ".md")
        },
    }
    assert set(outputs) >= {
        "01_diagnose_500s.ipynb",
        "01_diagnose_500s.html",
        "01_diagnose_500s.code.html",
        "incident.md",
        "incident.html",
    }
    # A notebook stores its outputs as JSON strings: compare the text, not its escapes.
    outputs["01_diagnose_500s.ipynb"] = json.dumps(
        json.loads(outputs["01_diagnose_500s.ipynb"]), ensure_ascii=False
    ).replace('\\"', '"')
    outputs["diagnose --json"] = json.dumps(errors, ensure_ascii=False).replace('\\"', '"')
    for where, content in outputs.items():
        for form in SECRET_FORMS:
            for hidden in form.hidden:
                assert hidden not in content, f"{form.name}: {hidden!r} in {where}"
            assert form.kept in content, f"{form.name}: {form.kept!r} missing from {where}"
        assert token not in content and PASSWORD not in content, where
        assert "BackgroundRemovalJob" in content and "42P01" in content, where
