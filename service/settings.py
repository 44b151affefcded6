"""The reference service's settings, built by the caller (the CLI or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_model_home() -> Path:
    """rembg's own default model folder, used when ``U2NET_HOME`` is not set."""
    return Path.home() / ".u2net"


def default_media_root() -> Path:
    """Where uploads, outputs, thumbnails and ZIPs go by default (git-ignored)."""
    return REPO_ROOT / ".lumiku" / "media"


@dataclass(frozen=True)
class ServiceSettings:
    """What the service needs: a database, a signing secret, migrations, files and models.

    ``media_root`` holds the files behind ``/storage/...`` URLs; ``model_home`` is
    rembg's model folder (``U2NET_HOME``). Worker timings apply to batch workers.
    """

    database_url: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    migrations_dir: Path = REPO_ROOT / "migrations"
    log_file: Path | None = None
    media_root: Path = field(default_factory=default_media_root)
    model_home: Path = field(default_factory=default_model_home)
