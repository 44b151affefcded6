"""No command prints a database password or a token, whatever happens."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from tests.utils.cli import lumiku
from tests.utils.db import upgrade

PASSWORD = "Pw-0f-The-Day-7731"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJzZWNyZXQifQ.c2VjcmV0LXNpZ25hdHVyZQ"


@pytest.mark.db
def test_no_output_contains_the_password_or_the_token(fresh_db: str) -> None:
    upgrade(fresh_db, "0001")
    # Trust authentication ignores the password, so the URL works and carries a secret.
    url = make_url(fresh_db).set(password=PASSWORD).render_as_string(hide_password=False)
    dead = f"postgresql://ops:{PASSWORD}@127.0.0.1:1/prod"
    runs = [
        ("diagnose", "--database-url", url, "--api-url", "http://127.0.0.1:1", "--json"),
        ("diagnose", "--database-url", dead, "--api-url", "http://127.0.0.1:1"),
        ("migrate", "plan", "--database-url", url),
        ("migrate", "lint", "--database-url", url, "--json"),
        ("migrate", "apply", "--database-url", url, "--dry-run", "--json"),
        ("migrate", "apply", "--database-url", dead),
        ("migrate", "status", "--database-url", url, "--json"),
        ("migrate", "verify", "--database-url", url),
        ("check", "--database-url", url, "--json"),
        ("verify", "--api-url", "http://127.0.0.1:1", "--deadline", "0s"),
    ]
    for args in runs:
        result = lumiku(*args, LUMIKU_TOKEN=TOKEN)
        output = result.stdout + result.stderr
        assert PASSWORD not in output, args
        assert TOKEN not in output, args
        assert "Traceback" not in output, args
