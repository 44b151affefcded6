"""Where a URL really connects decides whether a migration needs --confirm."""

from __future__ import annotations

import pytest

from lumiku_ops.errors import ConfirmationRequiredError
from lumiku_ops.migrate.confirm import is_local, require_confirmation, runbook_dry_run

LOCAL = [
    "postgresql+psycopg://postgres@/lumiku?host=/tmp/pgsock",
    "postgresql+psycopg://postgres@localhost/db",
    "postgresql+psycopg://postgres:pw@127.0.0.1:5432/db",
    "postgresql://u@[::1]:5432/db",
    "postgresql://u@/db",
    "postgresql://u@db.example.com/db?hostaddr=127.0.0.1",
    "postgresql://u@/db?host=%2Fvar%2Frun%2Fpostgresql",
    "postgresql://u@localhost,127.0.0.2/db",
]
REMOTE = [
    "postgresql+psycopg://u@/prod?host=db.example.com",
    "postgresql+psycopg://u@localhost/prod?host=db.example.com",
    "postgresql+psycopg://u@localhost/prod?hostaddr=10.1.2.3",
    "postgresql+psycopg://u@/prod?host=/tmp&hostaddr=192.0.2.7",
    "postgresql://u@db.example.com:5432/prod",
    "postgresql://u@localhost,db.example.com/prod",
    "postgresql://u@/prod?host=/tmp,db.example.com",
    "postgresql://u@10.0.0.5/prod",
]


@pytest.mark.parametrize("url", LOCAL)
def test_local_forms(url: str) -> None:
    assert is_local(url) is True


@pytest.mark.parametrize("url", REMOTE)
def test_remote_forms_need_confirmation(url: str) -> None:
    assert is_local(url) is False
    with pytest.raises(ConfirmationRequiredError, match="--confirm"):
        require_confirmation(url, action="apply", dry_run=False, confirm=False)
    require_confirmation(url, action="apply", dry_run=False, confirm=True)
    require_confirmation(url, action="apply", dry_run=True, confirm=False)


def test_the_confirmation_message_masks_a_query_password() -> None:
    url = "postgresql://u@/prod?host=db.example.com&password=S3cretPw"
    with pytest.raises(ConfirmationRequiredError) as caught:
        require_confirmation(url, action="apply", dry_run=False, confirm=False)
    assert "S3cretPw" not in str(caught.value)
    assert "db.example.com" in str(caught.value)


@pytest.mark.parametrize(
    ("dry_run", "confirm", "expected"),
    [(True, True, True), (False, False, True), (True, False, True), (False, True, False)],
)
def test_a_runbook_changes_a_database_only_when_both_say_so(
    dry_run: bool, confirm: bool, expected: bool
) -> None:
    assert runbook_dry_run(dry_run=dry_run, confirm=confirm) is expected
