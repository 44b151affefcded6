from __future__ import annotations

from lumiku_ops.redaction import mask_url, redact

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1MSJ9.c2lnbmF0dXJlLXZhbHVl"


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql+psycopg://ops:hunter2@db:5432/prod") == (
        "postgresql+psycopg://ops:***@db:5432/prod"
    )
    assert mask_url("postgresql://ops@db/prod") == "postgresql://ops@db/prod"


def test_redact_removes_known_secrets_tokens_and_url_passwords() -> None:
    text = (
        f"curl -H 'Authorization: Bearer {TOKEN}' ; token={TOKEN} ; "
        "postgresql://ops:hunter2@db/prod ; api key sk-live-123456"
    )
    cleaned = redact(text, ["sk-live-123456", None, ""])
    for secret in (TOKEN, "hunter2", "sk-live-123456"):
        assert secret not in cleaned
    assert "Authorization: Bearer ***" in cleaned
    assert "postgresql://ops:***@db/prod" in cleaned


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "GET /api/background-remover/jobs -> 500 (relation does not exist)"
    assert redact(text) == text


def test_every_libpq_password_form_is_masked() -> None:
    # A password may sit in the query string or a key=value string, not only in userinfo.
    assert mask_url("postgresql+psycopg://ops@db/prod?password=S3cret&sslmode=require") == (
        "postgresql+psycopg://ops@db/prod?password=***&sslmode=require"
    )
    assert "/home/ops/.pgpass" not in mask_url(
        "postgresql://ops@db/prod?passfile=/home/ops/.pgpass"
    )
    cleaned = redact("dsn: host=db user=ops password='it s3cret' dbname=prod; x?password=abc&y=1")
    assert "s3cret" not in cleaned and "abc" not in cleaned
    assert "host=db user=ops password='***' dbname=prod" in cleaned
    assert "http://ops:***@api.example.com/x" in redact("http://ops:pw1234@api.example.com/x")
