"""The secret the reference service signs its tokens with."""

from __future__ import annotations

import secrets
from pathlib import Path

from lumiku_ops.errors import ConfigError
from lumiku_ops.settings import Settings, validate_jwt_secret


def _secret_file(settings: Settings) -> Path:
    return settings.lumiku_dir / "jwt-secret"


def resolve_jwt_secret(settings: Settings) -> str:
    """``LUMIKU_JWT_SECRET`` (validated), or, on the embedded database only, a local one.

    The embedded demo generates a random secret once and keeps it beside the data
    directory (mode 0600), so ``serve`` and ``token`` agree without any set-up.

    Raises:
        ConfigError: no secret on a real database, or an unsafe one.
    """
    if settings.jwt_secret:
        return validate_jwt_secret(settings.jwt_secret)
    if not settings.embedded:
        raise ConfigError(
            "LUMIKU_JWT_SECRET is not set; the service needs it to verify tokens "
            "(at least 32 random characters)"
        )
    path = _secret_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return validate_jwt_secret(path.read_text().strip())
