"""The masking rules on each secret form, one at a time: the secret goes, the context stays."""

from __future__ import annotations

import pytest

from lumiku_ops.logs.parsers import LogParser
from lumiku_ops.redaction import MASK, mask_url, redact
from tests.utils.secret_forms import EVIDENCE, SECRET_FORMS, SecretForm


@pytest.mark.parametrize("form", SECRET_FORMS, ids=[form.name for form in SECRET_FORMS])
def test_each_secret_form_is_masked_and_its_context_kept(form: SecretForm) -> None:
    masked = redact(f"before {form.text} after")
    for hidden in form.hidden:
        assert hidden not in masked
    assert form.kept in masked and MASK in masked
    assert masked.startswith("before ") and (form.to_end or masked.endswith(" after"))
    assert redact(masked) == masked  # masking twice (source, then output) changes nothing


@pytest.mark.parametrize("text", EVIDENCE)
def test_evidence_without_a_secret_is_left_as_it_was(text: str) -> None:
    assert redact(text) == text


def test_a_url_password_runs_to_the_authoritys_last_at() -> None:
    assert mask_url("postgresql+psycopg://svc:p@ss@db:5432/x") == (
        "postgresql+psycopg://svc:***@db:5432/x"
    )
    assert mask_url("postgresql://svc:pa/ss@db/x") == "postgresql://svc:***@db/x"


def test_the_parser_masks_the_path_message_and_statement_it_keeps() -> None:
    parser = LogParser()
    parser.feed(
        '{"request_id": "r1", "method": "GET", "status": 500, "sqlstate": "42P01", '
        '"path": "/api/background-remover/jobs?token=Pw30path&page=2", '
        '"exc_info": "psycopg.errors.UndefinedTable: relation \\"BackgroundRemovalJob\\" '
        "does not exist PGPASSWORD=Pw30msg\\n[SQL: SELECT 1 WHERE password = 'Pw30sql']\"}"
    )
    (event,) = parser.events()
    assert event.path == "/api/background-remover/jobs?token=***&page=2"
    assert event.message == 'relation "BackgroundRemovalJob" does not exist PGPASSWORD=***'
    assert event.statement == "SELECT 1 WHERE password = '***'"
    assert event.fields == {"object": "BackgroundRemovalJob"}
