"""No command prints a database password or a token, whatever happens, and each still
does its job: every run is checked for its exit code and a piece of its real output."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.utils.cli import lumiku
from tests.utils.db import upgrade

PASSWORD = "Pw-0f-The-Day-7731"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJzZWNyZXQifQ.c2VjcmV0LXNpZ25hdHVyZQ"
DEAD = f"postgresql://ops:{PASSWORD}@127.0.0.1:1/prod"


@pytest.mark.db
@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_no_output_contains_the_password_or_the_token(fresh_db: str, form: str) -> None:
    upgrade(fresh_db, "0001")
    # Trust authentication ignores the password, so the URL works and carries a secret,
    # in either form libpq accepts: user:password@ or ?password=.
    parsed = make_url(fresh_db)
    if form == "userinfo":
        url = parsed.set(password=PASSWORD).render_as_string(hide_password=False)
    else:
        url = parsed.update_query_dict({"password": PASSWORD}).render_as_string(False)
    runs: list[tuple[tuple[str, ...], int, str]] = [
        (
            ("diagnose", "--database-url", url, "--api-url", "http://127.0.0.1:1", "--json"),
            3,
            '"verdict": "MIGRATION_NOT_APPLIED"',
        ),
        (
            ("diagnose", "--database-url", DEAD, "--api-url", "http://127.0.0.1:1"),
            3,
            "DATABASE_UNREACHABLE",
        ),
        (("migrate", "plan", "--database-url", url), 0, 'CREATE TABLE "BackgroundRemovalJob"'),
        (("migrate", "lint", "--database-url", url, "--json"), 0, '"passed": true'),
        (
            ("migrate", "apply", "--database-url", url, "--dry-run", "--json"),
            0,
            '"outcome": "dry-run"',
        ),
        (
            ("migrate", "apply", "--database-url", DEAD),
            1,
            "error: cannot connect to postgresql+psycopg://ops:***@127.0.0.1:1/prod",
        ),
        (("migrate", "status", "--database-url", url, "--json"), 3, '"current": "0001"'),
        (("migrate", "verify", "--database-url", url), 3, "BackgroundRemovalJob"),
        (("check", "--database-url", url, "--json"), 3, "pending: 0002"),
        (
            ("verify", "--api-url", "http://127.0.0.1:1", "--deadline", "0s"),
            3,
            "Authorization: Bearer ***",
        ),
    ]
    for args, code, expected in runs:
        result = lumiku(*args, LUMIKU_TOKEN=TOKEN)
        output = result.stdout + result.stderr
        assert result.returncode == code, (args, output[-2000:])
        assert expected in output, (args, output[-2000:])
        assert PASSWORD not in output, args
        assert TOKEN not in output, args
        assert "Traceback" not in output, args
