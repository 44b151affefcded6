"""The reference service's settings, built by the caller (the CLI or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSettings:
    """What the service needs: a database URL, a signing secret, the migrations folder."""

    database_url: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    migrations_dir: Path = REPO_ROOT / "migrations"
    log_file: Path | None = None
