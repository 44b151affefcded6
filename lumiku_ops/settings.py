"""One settings object, built explicitly and passed to every command.

Precedence: a flag or notebook parameter > the environment > the default. Nothing here
runs at import time, so ``import lumiku_ops`` works with an empty environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from lumiku_ops.errors import ConfigError
from lumiku_ops.project import Project, load_project

DEFAULT_API_URL = "http://127.0.0.1:8000"

# Values copied from templates and tutorials; a service must never run with them.
PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "change-me", "changeme", "secret", "your-secret-key", "jwt-secret"}
)
MIN_SECRET_LENGTH = 32


def normalize_database_url(url: str, *, name: str = "DATABASE_URL") -> str:
    """Return ``url`` with the psycopg 3 driver, rejecting anything not PostgreSQL.

    Raises:
        ConfigError: the URL cannot be parsed or is not a PostgreSQL URL.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ConfigError(
            f"{name} is not a valid database URL; expected "
            "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"
        ) from None
    if parsed.get_backend_name() not in {"postgresql", "postgres"}:
        raise ConfigError(
            f"{name} uses '{parsed.get_backend_name()}'; only PostgreSQL is supported "
            "(postgresql+psycopg://...)"
        )
    schema = parsed.query.get("schema")
    if schema is not None and schema != "public":
        raise ConfigError(
            f"{name} asks for ?schema={schema if isinstance(schema, str) else ','.join(schema)}"
            "; lumiku-ops reads the public schema only: point it at a database whose tables "
            "are in public, or drop ?schema="
        )
    # What Prisma's URLs carry for Prisma's own pool and TLS, which libpq would refuse
    # ("invalid connection option"): ?schema=public is the default search path anyway.
    parsed = parsed.difference_update_query(_PRISMA_ONLY)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


_PRISMA_ONLY = (
    "schema",
    "connection_limit",
    "pool_timeout",
    "pgbouncer",
    "statement_cache_size",
    "socket_timeout",
    "sslaccept",
    "sslidentity",
)


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
    project_dir: Path = field(default_factory=Path.cwd)
    migrations_override: Path | None = None
    shadow_url: str | None = field(default=None, repr=False)
    data_dir: Path | None = None
    media_root: Path | None = None
    model_home: Path | None = None
    cache_home: Path | None = None

    @property
    def embedded(self) -> bool:
        """True when no database URL was given and the embedded server is used."""
        return self.database_url is None

    @property
    def project(self) -> Project:
        """The project in ``project_dir`` (read once; ``ConfigError`` when not described)."""
        return _project(self.project_dir, self.migrations_override)

    @property
    def migrations_dir(self) -> Path:
        """``--migrations`` if given, else the project's Alembic ``script_location``."""
        return self.migrations_override or self.project.migrations_dir

    @property
    def lumiku_dir(self) -> Path:
        """Where lumiku-ops keeps its own files: the embedded server's parent folder."""
        return (self.data_dir or self.project_dir / ".lumiku" / "pgdata").parent

    @property
    def cache_dir(self) -> Path:
        """Where shadow replays are cached: the user's cache folder, never the project."""
        return self.cache_home or user_cache_dir()

    @property
    def effective_shadow_url(self) -> str | None:
        """``--shadow-url``/``$LUMIKU_SHADOW_URL``, else the project's ``shadow_url``."""
        if self.shadow_url:
            return self.shadow_url
        try:
            configured = self.project.shadow_url
        except ConfigError:
            return None
        return normalize_database_url(configured, name="shadow_url") if configured else None

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the non-``None`` overrides applied."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "migrations_dir" in given:
            given["migrations_override"] = Path(given.pop("migrations_dir")).resolve()
        return replace(self, **given)


@cache
def _project(folder: Path, migrations: Path | None) -> Project:
    # Read once per process: every command asks for it many times, and it never changes
    # under a running command.
    return load_project(folder, migrations_dir=migrations)


def load_settings(
    *, token_env: str | None = None, database_url_env: str | None = None, **overrides: Any
) -> Settings:
    """Build Settings from the environment, then apply explicit overrides.

    Reads ``DATABASE_URL``, ``LUMIKU_API_URL``, ``LUMIKU_TOKEN``, ``LUMIKU_JWT_SECRET``,
    ``LUMIKU_PROJECT``, ``LUMIKU_MIGRATIONS_DIR``, ``LUMIKU_SHADOW_URL``,
    ``LUMIKU_DATA_DIR``, ``LUMIKU_MEDIA_ROOT``, ``U2NET_HOME`` and the cache folder's
    ``LUMIKU_CACHE_DIR``/``XDG_CACHE_HOME``/``HOME``; an override of ``None``
    means "not given" and keeps the environment. This is the only reader of the
    environment in the package.

    Args:
        token_env: read the token from this variable instead of ``LUMIKU_TOKEN`` (runbooks
            take secrets by variable name, never by value); ``""`` means no token.
        database_url_env: likewise for the database URL; ``""`` means the embedded server.
    """
    env = os.environ
    url_variable = "DATABASE_URL" if database_url_env is None else database_url_env
    database_url = overrides.pop("database_url", None) or (
        env.get(url_variable) if url_variable else None
    )
    token_variable = "LUMIKU_TOKEN" if token_env is None else token_env
    data_dir = overrides.pop("data_dir", None) or env.get("LUMIKU_DATA_DIR") or None
    project_dir = overrides.pop("project_dir", None) or env.get("LUMIKU_PROJECT") or "."
    migrations = overrides.pop("migrations_dir", None) or env.get("LUMIKU_MIGRATIONS_DIR")
    shadow_url = overrides.pop("shadow_url", None) or env.get("LUMIKU_SHADOW_URL") or None
    settings = Settings(
        database_url=normalize_database_url(database_url) if database_url else None,
        api_url=(env.get("LUMIKU_API_URL") or DEFAULT_API_URL).rstrip("/"),
        token=(env.get(token_variable) if token_variable else None) or None,
        jwt_secret=env.get("LUMIKU_JWT_SECRET") or None,
        project_dir=Path(project_dir).expanduser().resolve(),
        migrations_override=_path_from(migrations),
        shadow_url=normalize_database_url(shadow_url, name="shadow_url") if shadow_url else None,
        data_dir=_path_from(data_dir),
        media_root=_path_from(env.get("LUMIKU_MEDIA_ROOT")),
        model_home=_path_from(env.get("U2NET_HOME")),
        cache_home=user_cache_dir(env),
    )
    if overrides.get("api_url"):
        overrides["api_url"] = str(overrides["api_url"]).rstrip("/")
    return settings.with_overrides(**overrides)


def user_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$LUMIKU_CACHE_DIR``, else ``$XDG_CACHE_HOME/lumiku-ops``, else ``~/.cache/lumiku-ops``.

    Replays are cached per user, outside every project, so nothing of lumiku-ops's appears
    untracked in a repository.
    """
    env = os.environ if env is None else env
    if env.get("LUMIKU_CACHE_DIR"):
        return Path(env["LUMIKU_CACHE_DIR"]).expanduser().resolve()
    base = env.get("XDG_CACHE_HOME") or ""
    if not Path(base).is_absolute():  # the XDG rule: a relative value is ignored
        base = str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "lumiku-ops"


def _path_from(value: str | Path | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None
