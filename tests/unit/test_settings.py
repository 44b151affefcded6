from __future__ import annotations

from pathlib import Path

import pytest

from lumiku_ops.errors import ConfigError
from lumiku_ops.settings import load_settings, normalize_database_url, validate_jwt_secret


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@/db?host=/tmp/x", "postgresql+psycopg://u@/db?host=%2Ftmp%2Fx"),
    ],
)
def test_urls_are_normalised_to_psycopg3(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


@pytest.mark.parametrize("bad", ["sqlite:///x.db", "not a url", "mysql://root@h/db"])
def test_non_postgres_urls_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        normalize_database_url(bad)


@pytest.mark.parametrize("secret", ["changethis", "please-change-me-" + "x" * 30, "short"])
def test_unsafe_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ConfigError):
        validate_jwt_secret(secret)


def test_flags_beat_environment_beats_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@h/db")
    monkeypatch.setenv("LUMIKU_API_URL", "http://env:1/")
    monkeypatch.setenv("LUMIKU_TOKEN", "tok-from-env")
    settings = load_settings(api_url="http://flag:2/", migrations_dir="migrations")
    assert settings.database_url == "postgresql+psycopg://env@h/db"
    assert settings.api_url == "http://flag:2"
    assert settings.migrations_dir == Path("migrations").resolve()
    assert "tok-from-env" not in repr(settings)
    assert load_settings(database_url="postgresql://flag@h/db").database_url.startswith(
        "postgresql+psycopg://flag@"
    )


def test_no_database_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert load_settings().embedded


def test_the_cache_lives_in_the_users_cache_folder_never_the_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("LUMIKU_CACHE_DIR", "XDG_CACHE_HOME", "LUMIKU_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert load_settings().cache_dir == tmp_path / "home" / ".cache" / "lumiku-ops"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert load_settings().cache_dir == tmp_path / "home" / ".cache" / "lumiku-ops"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert load_settings().cache_dir == tmp_path / "xdg" / "lumiku-ops"
    monkeypatch.setenv("LUMIKU_CACHE_DIR", str(tmp_path / "moved"))
    monkeypatch.setenv("LUMIKU_DATA_DIR", str(tmp_path / "data" / "pgdata"))
    assert load_settings().cache_dir == tmp_path / "moved"


def test_prisma_style_urls_keep_only_what_libpq_accepts() -> None:
    """A Prisma team's DATABASE_URL: ``?schema=public`` and Prisma's pool options would be
    refused by libpq ("invalid connection option"); libpq's own options stay."""
    from sqlalchemy.engine import make_url

    from lumiku_ops.settings import normalize_database_url

    url = normalize_database_url(
        "postgresql://app:pw@db:5432/shop?schema=public&connection_limit=5&pool_timeout=10"
        "&pgbouncer=true&connect_timeout=3&sslmode=require"
    )
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert dict(parsed.query) == {"connect_timeout": "3", "sslmode": "require"}
    assert parsed.password == "pw"


def test_a_schema_other_than_public_is_one_clear_error() -> None:
    """Every catalog read is of ``public``: another schema would be diagnosed wrongly."""
    import pytest

    from lumiku_ops.errors import ConfigError
    from lumiku_ops.settings import normalize_database_url

    with pytest.raises(ConfigError, match=r"\?schema=app.*public schema only"):
        normalize_database_url("postgresql://app@db/shop?schema=app")
