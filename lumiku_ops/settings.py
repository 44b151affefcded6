"""One settings object, built explicitly and passed to every command.

Precedence: a flag or notebook parameter > the environment > the default. Nothing here
runs at import time, so ``import lumiku_ops`` works with an empty environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lumiku_ops.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIGRATIONS_DIR = REPO_ROOT / "migrations"
DEFAULT_API_URL = "http://127.0.0.1:8000"

# Values copied from templates and tutorials; a service must never run with them.
PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "change-me", "changeme", "secret", "your-secret-key", "jwt-secret"}
)
MIN_SECRET_LENGTH = 32


def normalize_database_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver, rejecting anything not PostgreSQL.

    Raises:
        ConfigError: the URL cannot be parsed or is not a PostgreSQL URL.
    """
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL is not a valid database URL; expected "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"
        ) from None
    if parsed.get_backend_name() not in {"postgresql", "postgres"}:
        raise ConfigError(
            f"DATABASE_URL uses '{parsed.get_backend_name()}'; only PostgreSQL is supported "
            "(postgresql+psycopg://...)"
        )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def validate_jwt_secret(secret: str) -> str:
    """Return ``secret`` if it is safe to sign tokens with, else raise ConfigError."""
    lowered = secret.strip().lower()
    if lowered in PLACEHOLDER_SECRETS or "change" in lowered or "placeholder" in lowered:
        raise ConfigError(
            "LUMIKU_JWT_SECRET is a placeholder; set it to a random value, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"LUMIKU_JWT_SECRET is {len(secret)} characters; use at least {MIN_SECRET_LENGTH}"
        )
    return secret


@dataclass(frozen=True)
class Settings:
    """Where the database, the API and the migrations are, and the secrets to reach them.

    ``database_url`` of ``None`` means the embedded PostgreSQL. Secrets are excluded from
    ``repr`` so a settings object printed in a notebook or a log reveals nothing.
    """

    database_url: str | None = None
    api_url: str = DEFAULT_API_URL
    token: str | None = field(default=None, repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    migrations_dir: Path = DEFAULT_MIGRATIONS_DIR
    data_dir: Path | None = None
    media_root: Path | None = None
    model_home: Path | None = None

    @property
    def embedded(self) -> bool:
        """True when no database URL was given and the embedded server is used."""
        return self.database_url is None

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-``None`` overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment, then apply explicit overrides.

    Reads ``DATABASE_URL``, ``LUMIKU_API_URL``, ``LUMIKU_TOKEN``, ``LUMIKU_JWT_SECRET``,
    ``LUMIKU_DATA_DIR``, ``LUMIKU_MEDIA_ROOT`` and ``U2NET_HOME``; an override of ``None``
    means "not given" and keeps the environment.
    """
    env = os.environ
    database_url = overrides.pop("database_url", None) or env.get("DATABASE_URL") or None
    data_dir = overrides.pop("data_dir", None) or env.get("LUMIKU_DATA_DIR") or None
    settings = Settings(
        database_url=normalize_database_url(database_url) if database_url else None,
        api_url=(env.get("LUMIKU_API_URL") or DEFAULT_API_URL).rstrip("/"),
        token=env.get("LUMIKU_TOKEN") or None,
        jwt_secret=env.get("LUMIKU_JWT_SECRET") or None,
        data_dir=Path(data_dir).expanduser().resolve() if data_dir else None,
        media_root=_path_from(env.get("LUMIKU_MEDIA_ROOT")),
        model_home=_path_from(env.get("U2NET_HOME")),
    )
    if overrides.get("api_url"):
        overrides["api_url"] = str(overrides["api_url"]).rstrip("/")
    if overrides.get("migrations_dir"):
        overrides["migrations_dir"] = Path(overrides["migrations_dir"]).resolve()
    return settings.with_overrides(**overrides)


def _path_from(value: str | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None
